"""Neutral versus happy by demographic group: the scoring rule, the breakdown and the command."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from inference.cli.evaluate_fairness import main
from inference.evaluate_fairness import (
    Person,
    ScoredPhoto,
    age_band,
    fairness_report,
    london_photos,
    neutral_vs_happy_right,
    read_people,
)
from ml import CLASSES
from ml.card import LONDON_SET_CREDIT
from ml.metrics import wilson_interval
from tests.shared_data import shared_file

INFO_HEADER = "face_id,face_age,face_gender,face_eth\n"


def probabilities(**shares: float) -> np.ndarray:
    return np.array([shares.get(name, 0.0) for name in CLASSES])


def write_london(folder: Path, info: str, names: dict[str, list[str]]) -> Path:
    """A London-set folder: london_info.csv plus empty files under neutral/ and happy/."""
    for expression, files in names.items():
        (folder / expression).mkdir(parents=True, exist_ok=True)
        for name in files:
            (folder / expression / name).touch()
    (folder / "london_info.csv").write_text(INFO_HEADER + info)
    return folder


@pytest.mark.parametrize(
    ("age", "band"),
    [(18, "18-29"), (29, "18-29"), (30, "30-44"), (44, "30-44"), (45, "45+"), (80, "45+")],
)
def test_age_band_edges(age, band):
    assert age_band(age) == band


def test_age_band_without_an_age_is_unknown_and_below_the_bands_is_named():
    assert age_band(None) == "unknown"
    assert age_band(17) == "under 18"


def test_only_neutral_against_happy_decides_whatever_the_other_classes_say():
    # given: surprise is the most probable class, but happy beats neutral
    smiling = probabilities(happy=0.3, neutral=0.2, surprise=0.5)

    assert neutral_vs_happy_right("happy", smiling)
    assert not neutral_vs_happy_right("neutral", smiling)


def test_a_tie_or_a_photo_without_a_face_is_wrong():
    tie = probabilities(happy=0.4, neutral=0.4, sad=0.2)

    assert not neutral_vs_happy_right("happy", tie)
    assert not neutral_vs_happy_right("neutral", tie)
    assert not neutral_vs_happy_right("happy", None)


def test_fairness_report_breaks_accuracy_down_by_gender_ethnicity_and_age_band():
    # given: three people, two photos each
    ann = Person(face_id="001", age=24, gender="female", ethnicity="white")
    bob = Person(face_id="002", age=35, gender="male", ethnicity="black")
    cid = Person(face_id="003", age=None, gender="male", ethnicity="white")
    scored = [
        ScoredPhoto(person=ann, expression="neutral", found=True, correct=True),
        ScoredPhoto(person=ann, expression="happy", found=True, correct=True),
        ScoredPhoto(person=bob, expression="neutral", found=True, correct=True),
        ScoredPhoto(person=bob, expression="happy", found=True, correct=False),
        ScoredPhoto(person=cid, expression="neutral", found=True, correct=True),
        ScoredPhoto(person=cid, expression="happy", found=False, correct=False),
    ]

    # when
    report = fairness_report(scored)

    # then: 4 of 6 right, 5 faces found, 3 people
    overall = report["overall"]
    assert (overall["people"], overall["photos"], overall["with_face"]) == (3, 6, 5)
    assert (overall["correct"], overall["accuracy"]) == (4, pytest.approx(4 / 6))
    interval = wilson_interval(4, 6)
    assert overall["accuracy_ci95"] == [interval.low, interval.high]
    assert overall["by_expression"] == {
        "neutral": {"photos": 3, "correct": 3},
        "happy": {"photos": 3, "correct": 1},
    }
    breakdown = report["breakdown"]
    assert list(breakdown) == ["gender", "ethnicity", "age_band", "expression"]
    gender = breakdown["gender"]
    assert list(gender) == ["male", "female"]  # largest group first
    assert (gender["male"]["people"], gender["male"]["photos"]) == (2, 4)
    assert (gender["male"]["correct"], gender["male"]["with_face"]) == (2, 3)
    assert (gender["female"]["correct"], gender["female"]["accuracy"]) == (2, 1.0)
    ethnicity = breakdown["ethnicity"]
    assert {name: (g["people"], g["correct"]) for name, g in ethnicity.items()} == {
        "white": (2, 3),
        "black": (1, 1),
    }
    assert list(breakdown["age_band"]) == ["18-29", "30-44", "unknown"]  # age order
    assert breakdown["age_band"]["unknown"]["correct"] == 1
    assert breakdown["age_band"]["30-44"]["by_expression"]["happy"] == {"photos": 1, "correct": 0}
    assert breakdown["expression"]["happy"]["accuracy"] == pytest.approx(1 / 3)


def test_london_photos_pairs_each_file_with_its_person_and_expression(tmp_path):
    # given: two people, one without a recorded age
    folder = write_london(
        tmp_path,
        "001,24,female,white\n002,NA,male,east_asian\n",
        {"neutral": ["001_03.jpg", "002_03.jpg"], "happy": ["001_08.jpg"]},
    )

    # when
    photos = london_photos(folder, read_people(folder / "london_info.csv"))

    # then
    assert [(path.name, expression, person.face_id) for path, expression, person in photos] == [
        ("001_03.jpg", "neutral", "001"),
        ("002_03.jpg", "neutral", "002"),
        ("001_08.jpg", "happy", "001"),
    ]
    assert photos[1][2] == Person(face_id="002", age=None, gender="male", ethnicity="east_asian")


def test_london_photos_rejects_a_photo_of_someone_not_in_the_info_file(tmp_path):
    folder = write_london(tmp_path, "001,24,female,white\n", {"happy": ["009_08.jpg"]})

    with pytest.raises(ValueError, match=r"face_id 009 is not in london_info\.csv"):
        london_photos(folder, read_people(folder / "london_info.csv"))


@pytest.mark.slow
def test_main_scores_real_photos_and_writes_the_report(tmp_path, tiny_model_dir, sample_photos):
    # given: a two-person London-style set made of the sample photos
    folder = tmp_path / "london"
    (folder / "neutral").mkdir(parents=True)
    (folder / "happy").mkdir()
    shutil.copy(sample_photos / "images_1.jpg", folder / "neutral" / "001_03.jpg")
    shutil.copy(sample_photos / "demo_7.jpg", folder / "happy" / "001_08.jpg")
    shutil.copy(sample_photos / "images_2.jpg", folder / "happy" / "002_08.jpg")
    (folder / "london_info.csv").write_text(
        INFO_HEADER + "001,24,female,white\n002,50,male,black\n"
    )
    out = tmp_path / "fairness.json"

    # when
    code = main(["--london", str(folder), "--model", str(tiny_model_dir), "--json", str(out)])

    # then
    assert code == 0
    report = json.loads(out.read_text())
    assert report["credit"] == LONDON_SET_CREDIT
    assert report["model"] == "tiny-0.0.1"
    assert (report["overall"]["people"], report["overall"]["photos"]) == (2, 3)
    assert 0 <= report["overall"]["correct"] <= report["overall"]["with_face"] <= 3
    assert list(report["breakdown"]["age_band"]) == ["18-29", "45+"]
    assert report["breakdown"]["expression"]["happy"]["photos"] == 2
    assert sum(g["photos"] for g in report["breakdown"]["gender"].values()) == 3


def test_the_shared_london_set_has_two_photos_of_each_of_its_102_people():
    folder = shared_file("london-faces")

    photos = london_photos(folder, read_people(folder / "london_info.csv"))

    assert len(photos) == 204
    people = {person.face_id for _, _, person in photos}
    assert len(people) == 102
    for expression in ("neutral", "happy"):
        assert {p.face_id for _, e, p in photos if e == expression} == people
