"""Neutral versus happy across gender, ethnicity and age: the whole pipeline on the London set.

    python -m inference.evaluate_fairness --london DIR [--model DIR] [--detector NAME]
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
import csv
import json
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ml import CLASSES
from ml.artifact import ArtifactError
from ml.card import FAIRNESS_KEY, LONDON_SET_CREDIT, record_evaluation
from ml.datasets import recorded_path
from ml.detection import DEFAULT_DETECTOR, DETECTOR_NAMES, get_detector
from ml.metrics import wilson_interval

from .classifier import DEFAULT_MODEL_DIR, EmotionClassifier
from .evaluate_photos import check_write_target, run_pipeline

INFO_FILE = "london_info.csv"
EXPRESSIONS = ("neutral", "happy")
# (lowest age, name); a band runs up to the next one's lowest age.
AGE_BANDS = ((18, "18-29"), (30, "30-44"), (45, "45+"))
UNKNOWN = "unknown"
PHOTO_NAME = re.compile(r"^(?P<face_id>[^_]+)_\d+$")


@dataclass(frozen=True)
class Person:
    """One face_id of london_info.csv."""

    face_id: str
    age: int | None
    gender: str
    ethnicity: str


@dataclass(frozen=True)
class ScoredPhoto:
    """One photo of a person showing `expression`, and what the pipeline made of it."""

    person: Person
    expression: str
    found: bool
    correct: bool


def read_people(info: Path) -> dict[str, Person]:
    """london_info.csv by face_id; an age of "NA" (not recorded) becomes None."""
    people = {}
    with info.open(newline="", encoding="utf-8-sig") as handle:
        for row in csv.DictReader(handle):
            age = row["face_age"].strip()
            person = Person(
                face_id=row["face_id"].strip(),
                age=int(age) if age.isdigit() else None,
                gender=row["face_gender"].strip() or UNKNOWN,
                ethnicity=row["face_eth"].strip() or UNKNOWN,
            )
            people[person.face_id] = person
    return people


def london_photos(folder: Path, people: dict[str, Person]) -> list[tuple[Path, str, Person]]:
    """(photo, true expression, person) for every JPEG under neutral/ and happy/."""
    photos = []
    for expression in EXPRESSIONS:
        for path in sorted((folder / expression).glob("*.jpg")):
            match = PHOTO_NAME.match(path.stem)
            if match is None:
                raise ValueError(f"{path}: not named <face_id>_<n>.jpg")
            person = people.get(match["face_id"])
            if person is None:
                raise ValueError(f"{path}: face_id {match['face_id']} is not in {INFO_FILE}")
            photos.append((path, expression, person))
    return photos


def age_band(age: int | None) -> str:
    """The band of AGE_BANDS an age falls in ("unknown" without one, "under 18" below all)."""
    if age is None:
        return UNKNOWN
    band = "under 18"
    for lowest, name in AGE_BANDS:
        if age >= lowest:
            band = name
    return band


def neutral_vs_happy_right(expression: str, probabilities: np.ndarray | None) -> bool:
    """Whether the true one of neutral/happy is strictly more probable than the other one."""
    if probabilities is None:
        return False
    other = EXPRESSIONS[1 - EXPRESSIONS.index(expression)]
    return bool(probabilities[CLASSES.index(expression)] > probabilities[CLASSES.index(other)])


def group_scores(scored: Sequence[ScoredPhoto]) -> dict[str, Any]:
    """People, photos, faces found and accuracy with its Wilson 95% interval, JSON-ready; with
    the right photos per true expression, since a gap between groups may sit in one of them."""
    photos = len(scored)
    correct = sum(photo.correct for photo in scored)
    interval = wilson_interval(correct, photos)
    return {
        "people": len({photo.person.face_id for photo in scored}),
        "photos": photos,
        "with_face": sum(photo.found for photo in scored),
        "correct": correct,
        "accuracy": correct / photos if photos else 0.0,
        "accuracy_ci95": [interval.low, interval.high],
        "by_expression": {
            expression: {
                "photos": sum(photo.expression == expression for photo in scored),
                "correct": sum(
                    photo.expression == expression and photo.correct for photo in scored
                ),
            }
            for expression in EXPRESSIONS
        },
    }


def fairness_report(scored: Sequence[ScoredPhoto]) -> dict[str, Any]:
    """Overall scores and the same broken down by gender, ethnicity, age band and expression.

    Groups are listed largest first (by people), age bands in age order.
    """
    facets: dict[str, Callable[[ScoredPhoto], str]] = {
        "gender": lambda photo: photo.person.gender,
        "ethnicity": lambda photo: photo.person.ethnicity,
        "age_band": lambda photo: age_band(photo.person.age),
        "expression": lambda photo: photo.expression,
    }
    band_order = [name for _, name in AGE_BANDS]
    breakdown: dict[str, dict[str, Any]] = {}
    for facet, group_of in facets.items():
        members: dict[str, list[ScoredPhoto]] = {}
        for photo in scored:
            members.setdefault(group_of(photo), []).append(photo)
        groups = {name: group_scores(photos) for name, photos in members.items()}
        if facet == "age_band":
            order = sorted(
                groups, key=lambda name: band_order.index(name) if name in band_order else 99
            )
        elif facet == "expression":
            order = [name for name in EXPRESSIONS if name in groups]
        else:
            order = sorted(groups, key=lambda name: (-groups[name]["people"], name))
        breakdown[facet] = {name: groups[name] for name in order}
    return {"overall": group_scores(scored), "breakdown": breakdown}


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
        prog="python -m inference.evaluate_fairness", description=__doc__.split("\n")[0]
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
