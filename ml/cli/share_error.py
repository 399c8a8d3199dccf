"""The headline-level error of corrected shares: how far a model's corrected positive and
negative shares land from the truth on simulated ads of labelled real photos, and a
calibration chosen to bring them closer (issue 29; the rule is the README's "Choosing a model
for corrected shares").

    python -m ml.cli.share_error --photos OUT.npz [--json REPORT.json]

The photos (an `inference.cli.evaluate_photos --probabilities` file; those with a face) are split
into person-disjoint folds. For each fold the correction is measured on the other folds
(`GroupCorrection.from_confusion` of their confusion at confidence step 0), as a shipped
measurement is applied to viewers it never saw, and ads are drawn from the fold
(`ml.simulation.simulated_ads`); an ad's estimate is its label shares through the
correction's weights, projected onto the simplex. The score is the mean absolute error of the
positive and of the negative share, averaged, in points.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ml.share_error import (
    ADS_PER_FOLD,
    FOLDS,
    SCORED,
    SEED,
    photo_share_error,
    read_photos,
)


def print_share_error(report: Mapping[str, Any]) -> None:
    print(
        f"{report['photos']} photos with a face, {report['people']} people, "
        f"{report['folds']} person-disjoint folds; {report['ads_per_fold']} ads of "
        f"{report['photos_per_ad']} photos per fold (seed {report['seed']})"
    )
    print(
        f"{'mix':<7} {'shares':<14} {'score':>6} "
        + " ".join(f"{n + ' bias, MAE':>18}" for n in SCORED)
    )
    for mix, summary in report["shares"].items():
        for kind in ("corrected", "as_classified"):
            row = summary[kind]
            print(
                f"{mix:<7} {kind:<14} {row['score']:6.2f} "
                + " ".join(
                    f"{row[n]['bias']:+9.2f} {row[n]['mean_absolute_error']:8.2f}" for n in SCORED
                )
            )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m ml.cli.share_error", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--photos",
        type=Path,
        required=True,
        help=".npz of `python -m inference.cli.evaluate_photos --probabilities`",
    )
    parser.add_argument("--folds", type=int, default=FOLDS)
    parser.add_argument("--ads-per-fold", type=int, default=ADS_PER_FOLD)
    parser.add_argument("--seed", type=int, default=SEED, help="of the ads (folds: seed 0)")
    parser.add_argument("--json", type=Path, help="write the report here")
    args = parser.parse_args(argv)
    probabilities, found, labels, paths = read_photos(args.photos)
    report = photo_share_error(
        probabilities,
        found,
        labels,
        paths,
        folds=args.folds,
        ads_per_fold=args.ads_per_fold,
        seed=args.seed,
    )
    print_share_error(report)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
