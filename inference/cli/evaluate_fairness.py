"""Neutral versus happy across gender, ethnicity and age: the whole pipeline on the London set.

    python -m inference.cli.evaluate_fairness --london DIR [--model DIR] [--detector NAME]
        [--json OUT.json] [--write-into ARTIFACT_DIR]

Data: DeBruine, L., & Jones, B. (2017). Face Research Lab London Set (CC BY 4.0): 102
consenting adults photographed frontally under studio light, once neutral (`neutral/`) and
once smiling (`happy/`), files named `<face_id>_<n>.jpg`; `london_info.csv` gives each
face_id's age, gender and ethnicity (face_age, face_gender, face_eth).

Rule: a photo is right when its largest face's probability of its true class (neutral or
happy) is higher than its probability of the other of the two; the other five classes are
ignored, and a photo where no face is found counts as wrong. Reported: faces found and
accuracy with Wilson 95% intervals and counts, overall and by gender, by ethnicity (as the
set records it), by age band (18-29, 30-44, 45+; "unknown" where no age is recorded) and by
true expression. Only this pair of expressions can be scored on the set: it tells whether
reading a smile holds across groups, not how the seven-class figures do.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from inference.classifier import DEFAULT_MODEL_DIR, EmotionClassifier
from inference.evaluate_fairness import (
    AGE_BANDS,
    EXPRESSIONS,
    INFO_FILE,
    ScoredPhoto,
    fairness_report,
    london_photos,
    neutral_vs_happy_right,
    read_people,
)
from inference.evaluate_photos import check_write_target, run_pipeline
from ml.artifact import ArtifactError
from ml.card import FAIRNESS_KEY, LONDON_SET_CREDIT, record_evaluation
from ml.datasets import recorded_path
from ml.detection import DEFAULT_DETECTOR, DETECTOR_NAMES, get_detector


def print_fairness(report: dict[str, Any], *, title: str) -> None:
    print(f"\n{title}")
    header = (
        f"{'group':<28} {'people':>6} {'photos':>6} {'face found':>10} {'right':>6} "
        f"{'accuracy':>8} {'95% CI':>13} {'neutral right':>13} {'happy right':>11}"
    )
    print(header)
    print("-" * len(header))
    rows = [("all", report["overall"])] + [
        (f"{facet}: {name}", scores)
        for facet, groups in report["breakdown"].items()
        for name, scores in groups.items()
    ]
    for label, scores in rows:
        low, high = scores["accuracy_ci95"]
        neutral, happy = (
            "{correct}/{photos}".format(**scores["by_expression"][name]) for name in EXPRESSIONS
        )
        print(
            f"{label:<28} {scores['people']:>6} {scores['photos']:>6} {scores['with_face']:>10} "
            f"{scores['correct']:>6} {100 * scores['accuracy']:>7.1f}% "
            f"{f'[{100 * low:.1f}, {100 * high:.1f}]':>13} "
            f"{neutral:>13} {happy:>11}"
        )
    print(f"\nData: {LONDON_SET_CREDIT} (CC BY 4.0).")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m inference.cli.evaluate_fairness", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--london", type=Path, required=True, help="the London set's folder")
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL_DIR)
    parser.add_argument("--detector", default=DEFAULT_DETECTOR, choices=DETECTOR_NAMES)
    parser.add_argument("--chunk", type=int, default=32, help="photos per analyze_images call")
    parser.add_argument("--json", type=Path, help="write the report here")
    parser.add_argument(
        "--write-into",
        type=Path,
        metavar="ARTIFACT_DIR",
        help="store the report as this artifact's report.json 'fairness' and rebuild its card",
    )
    args = parser.parse_args(argv)

    if not (args.london / INFO_FILE).is_file():
        parser.error(f"{args.london / INFO_FILE} not found: not the London set's folder")
    try:
        photos = london_photos(args.london, read_people(args.london / INFO_FILE))
    except (ValueError, KeyError) as exc:
        parser.error(f"{args.london}: {exc}")
    classifier = EmotionClassifier.load(args.model)
    if args.write_into:
        try:
            check_write_target(args.write_into, classifier)
        except ArtifactError as exc:
            parser.error(str(exc))
    get_detector(args.detector)
    outcomes, seconds = run_pipeline(
        [(path, expression) for path, expression, _ in photos],
        classifier=classifier,
        detector=args.detector,
        chunk=args.chunk,
    )
    scored = [
        ScoredPhoto(
            person=person,
            expression=expression,
            found=outcome.probabilities is not None,
            correct=neutral_vs_happy_right(expression, outcome.probabilities),
        )
        for (_, expression, person), outcome in zip(photos, outcomes, strict=True)
    ]
    report: dict[str, Any] = {
        "dataset": "Face Research Lab London Set",
        "credit": LONDON_SET_CREDIT,
        "license": "CC BY 4.0",
        "source": recorded_path(args.london),
        "model": classifier.name,
        "detector": args.detector,
        "precision": classifier.precision,
        "rule": (
            "right when the largest face's probability of its true class (neutral or happy) "
            "is higher than of the other of the two; no face found counts as wrong"
        ),
        "age_bands": [name for _, name in AGE_BANDS],
        **fairness_report(scored),
        "seconds": seconds,
        "photos_per_second": len(photos) / seconds if seconds > 0 else 0.0,
    }
    print_fairness(
        report,
        title=f"neutral versus happy, {len(photos)} photos of {args.london} ({classifier.name}, "
        f"{args.detector})",
    )
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    if args.write_into:
        card = record_evaluation(args.write_into, key=FAIRNESS_KEY, section=report)
        print(f"stored as {FAIRNESS_KEY} in {args.write_into}; card rewritten: {card}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
