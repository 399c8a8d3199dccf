"""The whole pipeline (decode, detect, frame, classify) on labelled real photos, beside `fer`.

    python -m inference.cli.evaluate_photos --manifest DIR/manifest.csv [--model DIR]
        [--detector NAME] [--peer-python /path/to/fer-venv/bin/python] [--json OUT.json]
        [--probabilities OUT.npz] [--limit N] [--write-into ARTIFACT_DIR]

The manifest is a CSV with the columns `path` (relative to the manifest's folder) and `label`
(one of the seven expressions). Each photo shows one person: its largest face is the one
scored, and a photo where no face is found counts as wrong. Reported: faces found, accuracy
and macro-F1 with 95% intervals (Wilson; a bootstrap over photos for macro-F1), per-class
recall and precision with their counts, the confusion matrix and photos/s. The labels of
such sets are noisy (10-20% errors): read the figures with their counts. `--write-into` stores
the reports as the artifact's report.json "real_photos" and rebuilds its MODEL_CARD.md.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from inference.classifier import DEFAULT_MODEL_DIR, EmotionClassifier
from inference.evaluate_photos import check_write_target, photo_report, read_manifest, run_pipeline
from inference.peer import run_peer
from ml import CLASSES
from ml.artifact import ArtifactError
from ml.card import REAL_PHOTOS_KEY, record_evaluation
from ml.datasets import recorded_path
from ml.detection import DEFAULT_DETECTOR, DETECTOR_NAMES, get_detector
from ml.precision import PRECISIONS


def photos_and_classifier(
    parser: argparse.ArgumentParser, args: argparse.Namespace
) -> tuple[list[tuple[Path, str]], EmotionClassifier]:
    """For a command over a labelled manifest: its photos (`--manifest`, `--limit`), every
    one present, and the classifier (`--model`, `--precision`) with its detector loaded,
    checked against `--write-into`; a usage error otherwise."""
    photos = read_manifest(args.manifest, limit=args.limit)
    missing = [str(path) for path, _ in photos if not path.is_file()]
    if missing:
        parser.error(f"{len(missing)} photos of the manifest are missing, e.g. {missing[0]}")
    classifier = EmotionClassifier.load(args.model, precision=args.precision)
    if args.write_into:
        try:
            check_write_target(args.write_into, classifier)
        except ArtifactError as exc:
            parser.error(str(exc))
    get_detector(args.detector)
    return photos, classifier


def print_reports(reports: dict[str, dict[str, Any]], *, title: str) -> None:
    def pct(value: float) -> str:
        return f"{100 * value:5.1f}%"

    def ci(bounds: list[float]) -> str:
        return f"[{100 * bounds[0]:.1f}, {100 * bounds[1]:.1f}]"

    print(f"\n{title}")
    header = (
        f"{'system':<30} {'photos':>6} {'face found':>10} {'accuracy':>8} {'95% CI':>13} "
        f"{'macro-F1':>8} {'95% CI':>13} {'disgust recall':>14} {'photos/s':>8}"
    )
    print(header)
    print("-" * len(header))
    for system, report in reports.items():
        disgust = report["per_class"]["disgust"]
        print(
            f"{system:<30} {report['photos']:>6} {pct(report['with_face_share']):>10} "
            f"{pct(report['accuracy']):>8} {ci(report['accuracy_ci95']):>13} "
            f"{pct(report['macro_f1']):>8} {ci(report['macro_f1_ci95']):>13} "
            f"{pct(disgust['recall']):>7} ({disgust['correct']}/{disgust['support']})"
            f" {report.get('photos_per_second', float('nan')):>8.1f}"
        )
    for system, report in reports.items():
        print(f"\n{system}: per class (recall = found and right / photos of the class)")
        print(f"{'class':<10} {'photos':>6} {'recall':>7} {'95% CI':>13} {'precision':>9}")
        for name, row in report["per_class"].items():
            print(
                f"{name:<10} {row['support']:>6} {pct(row['recall']):>7} "
                f"{ci(row['recall_ci95']):>13} {pct(row['precision']):>9}"
            )
        matrix = report["confusion_matrix"]
        print("confusion (rows: true label; columns: predicted)")
        print(" " * 10 + "".join(f"{c[:8]:>9}" for c in matrix["columns"]))
        for name, counts in zip(matrix["rows_true"], matrix["counts"], strict=True):
            print(f"{name:<10}" + "".join(f"{count:>9}" for count in counts))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m inference.cli.evaluate_photos", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--manifest", type=Path, required=True, help="CSV of path,label")
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL_DIR)
    parser.add_argument("--detector", default=DEFAULT_DETECTOR, choices=DETECTOR_NAMES)
    parser.add_argument("--precision", choices=PRECISIONS, default="float32")
    parser.add_argument("--chunk", type=int, default=32, help="photos per analyze_images call")
    parser.add_argument(
        "--decode-threads",
        type=int,
        default=0,
        help="feeder threads that decode and detect while the classifier runs (0: in turn)",
    )
    parser.add_argument("--limit", type=int, help="only the first N photos of the manifest")
    parser.add_argument("--peer-python", help="python of a virtualenv with `fer` installed")
    parser.add_argument("--json", type=Path, help="write the reports here")
    parser.add_argument(
        "--probabilities", type=Path, help="write our per-photo probabilities here (.npz)"
    )
    parser.add_argument(
        "--write-into",
        type=Path,
        metavar="ARTIFACT_DIR",
        help="store the reports as this artifact's report.json 'real_photos' and rebuild its card",
    )
    args = parser.parse_args(argv)

    photos, classifier = photos_and_classifier(parser, args)
    outcomes, seconds = run_pipeline(
        photos,
        classifier=classifier,
        detector=args.detector,
        chunk=args.chunk,
        decode_threads=args.decode_threads,
    )
    labels = [label for _, label in photos]
    name = f"ours {classifier.name} ({args.detector}, {classifier.precision})"
    reports = {name: photo_report(labels, [o.predicted for o in outcomes], seconds=seconds)}
    if args.peer_python:
        row, predictions = run_peer(
            [path for path, _ in photos], peer_python=args.peer_python, mode="photos"
        )
        peer_labels: list[str | None] = []
        for path, _ in photos:
            faces = predictions.get(path.name, [])
            largest = max(faces, key=lambda face: face[0][2] * face[0][3], default=None)
            peer_labels.append(largest[1] if largest else None)
        reports["fer 25.10.3 (Haar)"] = photo_report(labels, peer_labels, seconds=row.seconds)
    print_reports(reports, title=f"{len(photos)} labelled photos of {args.manifest}")
    summary = {
        "manifest": recorded_path(args.manifest),
        "detector": args.detector,
        "reports": reports,
    }
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2) + "\n")
    if args.write_into:
        card = record_evaluation(args.write_into, key=REAL_PHOTOS_KEY, section=summary)
        print(f"stored as {REAL_PHOTOS_KEY} in {args.write_into}; card rewritten: {card}")
    if args.probabilities:
        found = np.array([o.probabilities is not None for o in outcomes])
        probabilities = (
            np.stack(
                [
                    o.probabilities
                    if o.probabilities is not None
                    else np.full(len(CLASSES), np.nan)
                    for o in outcomes
                ]
            )
            if outcomes
            else np.zeros((0, len(CLASSES)))
        )
        np.savez(
            args.probabilities,
            probabilities=probabilities,
            found=found,
            labels=np.array([CLASSES.index(label) for label in labels]),
            paths=np.array([str(path) for path, _ in photos]),
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
