"""Evaluate a model artifact on a dataset split.

python -m ml.cli.evaluate --model DIR --data PATH
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from ml.evaluate import evaluate_artifact, save_confusion_png
from ml.precision import PRECISIONS


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", required=True, help="artifact folder (model.keras + model.json)")
    parser.add_argument("--data", required=True, help="FER2013 CSV, image folder or .tar.gz")
    parser.add_argument("--split", default="PrivateTest")
    parser.add_argument("--tta", action="store_true", help="average over flips and shifted crops")
    parser.add_argument("--json", dest="json_out", help="write the report here")
    parser.add_argument("--confusion-png", help="write the confusion matrix image here")
    parser.add_argument("--cache-dir", help="cache decoded arrays here between runs")
    parser.add_argument(
        "--precision",
        choices=PRECISIONS,
        default="float32",
        help="compute precision (model.json's figures are float32; serving may use bfloat16)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")

    report = evaluate_artifact(
        args.model,
        args.data,
        args.split,
        tta=args.tta,
        cache_dir=args.cache_dir,
        precision=args.precision,
    )
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(report, indent=2) + "\n")
        png = args.confusion_png or str(Path(args.json_out).with_suffix(".png"))
        save_confusion_png(report, png, f"{report['model']} on {args.split}")
    elif args.confusion_png:
        save_confusion_png(report, args.confusion_png, f"{report['model']} on {args.split}")
    print(
        f"{report['model']} on {args.split} ({report['n']} faces, tta={args.tta}, "
        f"{report['precision']})"
    )
    print(
        f"accuracy {report['accuracy']:.4f}  macro-F1 {report['macro_f1']:.4f}  "
        f"weighted-F1 {report['weighted_f1']:.4f}  ECE {report['ece']:.4f}"
    )
    print(f"{'class':10s} {'precision':>9s} {'recall':>7s} {'f1':>6s} {'support':>8s}")
    for name, scores in report["per_class"].items():
        print(
            f"{name:10s} {scores['precision']:9.3f} {scores['recall']:7.3f} "
            f"{scores['f1']:6.3f} {scores['support']:8d}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
