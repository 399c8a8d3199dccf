"""`python -m ml.cli.calibration`: fit the calibration of an artifact from its real-photo
probabilities (`ml.calibration`, or `ml.share_error` for corrected shares) and store it in
model.json, report.json and the card. A command composes the library modules, so it sits
above them: `ml.artifact` records a `Calibration` and must not reach back here."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

import numpy as np

from ml import CLASSES
from ml.artifact import CONFUSION_FILE, REPORT_FILE, load_keras_model, write_metadata
from ml.calibration import calibration_report
from ml.card import CALIBRATION_KEY, record_evaluation
from ml.datasets import add_cache_dir_argument, load_dataset
from ml.evaluate import predict_probabilities, save_confusion_png
from ml.metrics import classification_report
from ml.share_error import read_photos, share_calibration_report

logger = logging.getLogger(__name__)


def main(argv: list[str] | None = None) -> int:
    """Fit the calibration of an artifact from its real-photo probabilities and store it."""
    parser = argparse.ArgumentParser(
        prog="python -m ml.cli.calibration", description=main.__doc__ or ""
    )
    parser.add_argument("--model", type=Path, required=True, help="artifact folder")
    parser.add_argument(
        "--photos",
        type=Path,
        required=True,
        help=".npz of `python -m inference.cli.evaluate_photos --probabilities` for this model",
    )
    parser.add_argument("--data", required=True, help="FER2013 (PublicTest holds the limit)")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument(
        "--objective",
        choices=("macro-f1", "shares"),
        default="macro-f1",
        help="what the offsets are fitted for: macro-F1 over the photos (folds stratified by "
        "class), or the headline-level error of corrected shares (`ml.share_error`: folds "
        "by person, disgust and fear never below 0)",
    )
    limit = parser.add_mutually_exclusive_group()
    limit.add_argument(
        "--max-public-drop",
        type=float,
        default=0.01,
        help="PublicTest accuracy the calibration may cost (default 0.01: one point)",
    )
    limit.add_argument(
        "--public-floor",
        type=float,
        help="PublicTest accuracy the calibrated model must keep (e.g. a selection rule's)",
    )
    parser.add_argument("--json", type=Path, help="write the report here")
    parser.add_argument(
        "--write",
        action="store_true",
        help="store the calibration in model.json, its figures in report.json and the card",
    )
    add_cache_dir_argument(parser)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")

    model, meta = load_keras_model(args.model)
    if not meta.calibration.is_identity:
        parser.error(f"{args.model} is calibrated already: fit on an uncalibrated artifact")
    to_canonical = [list(meta.classes).index(name) for name in CLASSES]
    probabilities, found, labels, paths = read_photos(args.photos)
    dataset = load_dataset(args.data, meta.preprocessing, cache_dir=args.cache_dir)
    splits = {name: dataset.split(name) for name in ("valid", "test")}
    raw = {name: predict_probabilities(model, data.images) for name, data in splits.items()}
    public = raw["valid"][:, to_canonical]
    accuracy = float(np.mean(public.argmax(axis=1) == splits["valid"].labels))
    max_public_drop = args.max_public_drop
    if args.public_floor is not None:
        max_public_drop = accuracy - args.public_floor
    if args.objective == "shares":
        calibration, report = share_calibration_report(
            probabilities,
            found,
            labels,
            paths,
            public_probabilities=public,
            public_labels=splits["valid"].labels,
            public_floor=accuracy - max_public_drop,
            folds=args.folds,
        )
    else:
        calibration, report = calibration_report(
            probabilities,
            found,
            labels,
            public_probabilities=public,
            public_labels=splits["valid"].labels,
            folds=args.folds,
            max_public_drop=max_public_drop,
        )
    sys.stdout.write(json.dumps({k: v for k, v in report.items() if k != "per_fold"}, indent=2))
    sys.stdout.write("\n")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    if args.write:
        meta.calibration = calibration
        reports = json.loads((args.model / REPORT_FILE).read_text())
        for name, data in splits.items():
            calibrated = calibration.apply(raw[name], meta.classes)
            reports[name] = classification_report(calibrated, data.labels, meta.classes)
            meta.metrics[f"{name}_accuracy"] = reports[name]["accuracy"]
            meta.metrics[f"{name}_macro_f1"] = reports[name]["macro_f1"]
        test = reports["test"]
        meta.metrics.update(
            accuracy=test["accuracy"],
            macro_f1=test["macro_f1"],
            weighted_f1=test["weighted_f1"],
            ece=test["ece"],
            recall={c: test["per_class"][c]["recall"] for c in CLASSES},
        )
        # The test-time-augmentation figures were of the uncalibrated network.
        for key in ("valid_tta", "test_tta"):
            reports.pop(key, None)
            meta.metrics.pop(f"{key}_accuracy", None)
            meta.metrics.pop(f"{key}_macro_f1", None)
        (args.model / REPORT_FILE).write_text(json.dumps(reports, indent=2) + "\n")
        write_metadata(args.model, meta)
        save_confusion_png(
            test, args.model / CONFUSION_FILE, f"{meta.name} {meta.version} on test, calibrated"
        )
        card = record_evaluation(args.model, key=CALIBRATION_KEY, section=report)
        logger.info("calibration stored in %s; card rewritten: %s", args.model, card)
    return 0


if __name__ == "__main__":
    sys.exit(main())
