"""Pack a training run's faces for `ml.gpu_teacher` on the lent GPU machine.

That machine cannot reach ../shared and has no TensorFlow to detect and align faces, so the
faces travel already cut, exactly as `ml.train` would see them with the same options (the
fingerprint says so), in a folder of the repository that git ignores and `carry` names:

    python -m ml.cli.teacher_faces --data ../shared/datasets/fer2013.tar.gz --align \
        --extra-train ../shared/datasets/diffusionfer --out var/gpu/faces.npz

Training and PublicTest faces only by default: with the repository they must stay under the
64 MiB that travels, and the teacher's PrivateTest figure can be taken here afterwards
(`ml.cli.gpu_teacher predict` on a file packed with `--splits train valid test`).
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from ml.datasets import add_training_data_arguments, load_training_data
from ml.teacher_faces import TRAVEL_LIMIT_BYTES, pack_faces

logger = logging.getLogger(__name__)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_training_data_arguments(parser)
    parser.add_argument("--out", required=True, help="the .npz to write (in an ignored folder)")
    parser.add_argument(
        "--splits", nargs="+", default=["train", "valid"], choices=["train", "valid", "test"]
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")

    dataset = load_training_data(args)
    size = pack_faces(dataset, Path(args.out), tuple(args.splits))
    logger.info("%s: %.1f MiB, fingerprint %s", args.out, size / 2**20, dataset.fingerprint())
    if size > TRAVEL_LIMIT_BYTES:
        logger.error(
            "%s is over the %d MiB that travels to the device machine, the repository "
            "included: pack fewer splits",
            args.out,
            TRAVEL_LIMIT_BYTES // 2**20,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
