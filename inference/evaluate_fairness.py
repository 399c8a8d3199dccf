"""Neutral versus happy across gender, ethnicity and age: the whole pipeline on the London set.

The command line: `python -m inference.cli.evaluate_fairness`.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ml import CLASSES
from ml.metrics import wilson_interval

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
