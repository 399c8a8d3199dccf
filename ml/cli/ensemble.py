"""Average several trained networks into one model artifact.

    python -m ml.cli.ensemble --members DIR DIR [...] --data PATH --out DIR [--flip] [--version V]

Networks trained from different seeds get different faces wrong, so the mean of their
probabilities beats each of them: on a CPU budget it is the cheapest accuracy left once one
network has converged. `--flip` also averages every network over the mirrored face. The
result is an ordinary artifact (one model.keras taking the members' input), so serving,
export and registration need no change; its model.json lists the members. A member may
itself be an ensemble: its networks join the new one as equal members, so a shipped ensemble
grows by one newly trained network without keeping each old network's folder; `DIR#N`
takes only its Nth network.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from ml.datasets import add_cache_dir_argument
from ml.ensemble import make_ensemble

logger = logging.getLogger(__name__)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--members",
        nargs="+",
        required=True,
        help="artifact folders (an ensemble adds its networks; DIR#N only its Nth)",
    )
    parser.add_argument("--data", required=True, help="the members' FER2013 CSV, folder or .tar.gz")
    parser.add_argument("--out", required=True, help="new artifact folder")
    parser.add_argument("--flip", action="store_true", help="also average over mirrored faces")
    parser.add_argument("--name", default="fer-cnn")
    parser.add_argument("--version", required=True)
    add_cache_dir_argument(parser)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    meta = make_ensemble(
        args.members,
        data=args.data,
        out=Path(args.out),
        name=args.name,
        version=args.version,
        flip=args.flip,
        cache_dir=args.cache_dir,
    )
    logger.info(
        "ensemble written to %s: accuracy %.4f, macro-F1 %.4f on %s",
        args.out,
        meta.metrics["accuracy"],
        meta.metrics["macro_f1"],
        meta.metrics["test_split"],
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
