"""Pack a training run's faces for `ml.gpu_teacher` on the lent GPU machine.

That machine cannot reach ../shared and has no TensorFlow to detect and align faces, so the
faces travel already cut, exactly as `ml.train` would see them with the same options (the
fingerprint says so), in a folder of the repository that git ignores and `carry` names:

    python -m ml.teacher_faces --data ../shared/datasets/fer2013.tar.gz --align \\
        --extra-train ../shared/datasets/diffusionfer --out var/gpu/faces.npz

Training and PublicTest faces only by default: with the repository they must stay under the
64 MiB that travels, and the teacher's PrivateTest figure can be taken here afterwards
(`ml.gpu_teacher predict` on a file packed with `--splits train valid test`).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

import numpy as np

from ml import CLASSES
from ml.datasets import Dataset, add_training_data_arguments, load_training_data, recorded_path
from ml.gpu_teacher import decode_images, encode_images

logger = logging.getLogger(__name__)

# What travels to the device machine, the repository included.
TRAVEL_LIMIT_BYTES = 64 * 1024 * 1024


def pack_faces(dataset: Dataset, out: Path, splits: tuple[str, ...] = ("train", "valid")) -> int:
    """Write the splits' faces (lossless, checked by decoding) with the dataset's classes,
    preprocessing and fingerprint; returns the file's size in bytes."""
    arrays: dict[str, np.ndarray] = {}
    for split in splits:
        data = dataset.split(split)
        blob, offsets = encode_images(data.images)
        if not np.array_equal(decode_images(blob, offsets, dataset.spec.channels), data.images):
            raise ValueError(f"{split}: the packed faces do not decode to the same pixels")
        arrays[f"{split}_webp"], arrays[f"{split}_offsets"] = blob, offsets
        arrays[f"{split}_labels"] = data.labels.astype(np.int64)
    meta = {
        "classes": list(CLASSES),
        "fingerprint": dataset.fingerprint(),
        "preprocessing": dataset.spec.to_dict(),
        "source": recorded_path(dataset.source),
        "extra_train": {
            recorded_path(name): counts for name, counts in dataset.extra_train.items()
        },
        "sizes": {split: len(dataset.split(split)) for split in splits},
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp.npz")
    arrays["meta"] = np.array(json.dumps(meta))
    np.savez(tmp, allow_pickle=False, **arrays)
    tmp.replace(out)
    return out.stat().st_size


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
