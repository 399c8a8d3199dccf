"""The whole pipeline's errors on labelled real photos, stored in a model artifact: what the
dashboards correct its shares with (`ml.measurement`, `ml.quantification`).

    python -m inference.cli.measure_errors --manifest DIR/manifest.csv [--model DIR]
        [--detector NAME] [--precision P] [--limit N] [--json OUT.json]
        [--write-into ARTIFACT_DIR]

Every photo goes through what a worker does (decode, detect, align, frame, classify, in
chunks) and its largest face is the one counted. A photo without a face is left out of the
confusion, as a dashboard never sees it, but stays in the photo count. The manifest is
`inference.cli.evaluate_photos`' (`path,label`). `--write-into` stores the measurement as the
artifact's model.json "measurement" and rebuilds its MODEL_CARD.md; `register_model` then
carries it to the dashboards.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from inference.classifier import DEFAULT_MODEL_DIR
from inference.cli.evaluate_photos import photos_and_classifier
from inference.evaluate_photos import run_pipeline
from inference.measure_errors import outcomes_measurement, store_measurement
from ml.artifact import REPORT_FILE
from ml.detection import DEFAULT_DETECTOR, DETECTOR_NAMES
from ml.precision import PRECISIONS


def print_measurement(measurement: dict[str, Any]) -> None:
    headline = measurement["headline_confusion"]
    groups = headline["groups"]
    print(
        f"\n{measurement['photos']} labelled photos of {measurement['data']} "
        f"({measurement.get('people', '?')} people), a face found in {measurement['with_face']}"
    )
    print(
        "headline groups (rows: true; columns: what the pipeline said), share of the row (photos)"
    )
    print(" " * 10 + "".join(f"{name:>16}" for name in groups))
    for name, row in zip(groups, headline["rows_true_columns_predicted"], strict=True):
        total = max(sum(row), 1)
        print(f"{name:<10}" + "".join(f"{count / total:>9.0%} ({count:>4})" for count in row))
    print(f"\n{'emotion':<10} {'photos':>6} {'recall':>7} {'AUC':>5}  measured reliably")
    for name, row in measurement["emotions"].items():
        auc = f"{row['auc']:.2f}" if row["auc"] is not None else "-"
        state = "yes" if row["measured"] else f"no: {row['reason']}"
        print(f"{name:<10} {row['photos']:>6} {row['recall']:>7.1%} {auc:>5}  {state}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m inference.cli.measure_errors", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--manifest", type=Path, required=True, help="CSV of path,label")
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL_DIR)
    parser.add_argument("--detector", default=DEFAULT_DETECTOR, choices=DETECTOR_NAMES)
    parser.add_argument(
        "--precision",
        choices=PRECISIONS,
        default="float32",
        help="the classifier's compute precision (a worker's INFERENCE_PRECISION)",
    )
    parser.add_argument("--limit", type=int, help="only the first N photos of the manifest")
    parser.add_argument("--json", type=Path, help="write the measurement here")
    parser.add_argument(
        "--write-into",
        type=Path,
        metavar="ARTIFACT_DIR",
        help="store it as this artifact's model.json 'measurement' and rebuild its card",
    )
    args = parser.parse_args(argv)

    photos, classifier = photos_and_classifier(parser, args)
    outcomes, _ = run_pipeline(photos, classifier=classifier, detector=args.detector)
    measurement = outcomes_measurement(
        outcomes,
        # The set's folder name, never a path of this machine: the artifact travels.
        data=args.manifest.resolve().parent.name,
        pipeline={
            "model": f"{classifier.metadata.name} {classifier.metadata.version}",
            "detector": args.detector,
            "precision": classifier.precision,
            "face": "the largest face of each photo",
        },
    )
    print_measurement(measurement)
    if args.json:
        args.json.write_text(json.dumps(measurement, indent=2) + "\n")
    if args.write_into:
        card = store_measurement(args.write_into, measurement)
        print(
            f"\nstored as model.json 'measurement' in {args.write_into}; "
            + (f"card rewritten: {card}" if card else f"no {REPORT_FILE}, so no card to rewrite")
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
