"""MODEL_CARD.md: the sections of the whole-pipeline evaluations, and rebuilding it from files."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from inference.evaluate_fairness import Person, ScoredPhoto, fairness_report
from inference.evaluate_photos import photo_report
from ml import CLASSES, SHIPPED_MODEL_DIR
from ml.artifact import ArtifactMetadata, write_metadata
from ml.calibration import Calibration, calibration_report
from ml.card import LONDON_SET_CREDIT, rebuild_model_card, record_evaluation, write_model_card
from ml.metrics import classification_report
from ml.preprocessing import PreprocessSpec
from ml.share_error import share_calibration_report


def fer_reports() -> dict[str, dict[str, Any]]:
    """A FER2013 test report of the shape training writes, from random probabilities."""
    rng = np.random.default_rng(1)
    labels = np.arange(140) % len(CLASSES)
    return {"test": classification_report(rng.dirichlet(np.ones(7), 140), labels, CLASSES)}


def single_network() -> ArtifactMetadata:
    return ArtifactMetadata(name="fer-cnn", version="9.9", config={"name": "cpu-small"}, seed=4)


def real_photos_section() -> dict[str, Any]:
    """evaluate_photos' JSON for 7 photos: ours finds every face, the peer misses two."""
    labels = ["happy", "happy", "sad", "neutral", "neutral", "fear", "angry"]
    ours = ["happy", "sad", "sad", "neutral", "happy", "fear", "angry"]
    peer = ["happy", None, "sad", None, "neutral", "angry", "angry"]
    return {
        "manifest": "/data/real-photos-dev/manifest.csv",
        "detector": "blazeface",
        "reports": {
            "ours fer-cnn-9.9 (blazeface, float32)": photo_report(labels, ours, seconds=1.0),
            "fer 25.10.3 (Haar)": photo_report(labels, peer, seconds=2.0),
        },
    }


def fairness_section() -> dict[str, Any]:
    women = [Person(f"{i:03}", 20 + i, "female", "white") for i in range(40)]
    men = [Person(f"{i:03}", 30 + i % 10, "male", "black") for i in range(40, 80)]
    scored = [
        ScoredPhoto(person=p, expression=e, found=True, correct=e == "neutral" or p in women)
        for p in women + men
        for e in ("neutral", "happy")
    ]
    return {"detector": "blazeface", "age_bands": ["18-29", "30-44", "45+"]} | fairness_report(
        scored
    )


def card_text(tmp_path: Path, reports: dict[str, Any]) -> str:
    return write_model_card(tmp_path, single_network(), reports, epochs_run=12).read_text()


def test_without_evaluations_the_card_has_only_the_training_sections(tmp_path):
    card = card_text(tmp_path, fer_reports())

    assert "## Results on PrivateTest" in card
    assert "## Real photos" not in card
    assert "## Fairness" not in card


def test_real_photos_section_gives_both_systems_with_counts_intervals_and_caveats(tmp_path):
    # given
    section = real_photos_section()
    ours = next(iter(section["reports"].values()))
    trained = card_text(tmp_path, fer_reports())

    # when
    card = card_text(tmp_path, fer_reports() | {"real_photos": section})

    # then: the training text is untouched, the new section follows it
    assert card.startswith(trained)
    real = card[card.index("## Real photos") :]
    assert "(real-photos-dev)" in real
    assert "detect with blazeface" in real
    low, high = ours["accuracy_ci95"]
    assert (
        f"| ours fer-cnn-9.9 (blazeface, float32) | 7 | 100.0% (7/7) | 71.4% (5/7) | "
        f"{100 * low:.1f}-{100 * high:.1f}% |" in real
    )
    assert "| fer 25.10.3 (Haar) | 7 | 71.4% (5/7) | 57.1% (4/7) |" in real
    # happy: ours 1 of 2 right, 1 of 2 read as happy right; the peer 1 of 2, 1 of 1
    assert "| happy | 2 | 50.0% (1/2) |" in real
    happy_row = next(line for line in real.splitlines() if line.startswith("| happy |"))
    assert happy_row.count("(1/2)") == 3 and "100.0% (1/1)" in happy_row
    assert "10-20%" in real
    assert "fear has only 1 photo:" in real


def test_real_photos_section_takes_our_report_alone(tmp_path):
    ours = next(iter(real_photos_section()["reports"].values()))

    card = card_text(tmp_path, fer_reports() | {"real_photos": ours})

    assert "| ours | 7 | 100.0% (7/7) | 71.4% (5/7) |" in card
    assert "fer recall" not in card


def test_fairness_section_has_the_breakdown_with_counts_and_the_credit(tmp_path):
    # given: women's smiles always read right, men's never
    section = fairness_section()

    # when
    card = card_text(tmp_path, fer_reports() | {"fairness": section})

    # then
    fairness = card[card.index("## Fairness (London Face Research Lab set)") :]
    assert "| all | 80 | 160 | 160 | 120 | 75.0% |" in fairness
    assert "| gender: female | 40 | 80 | 80 | 80 | 100.0% |" in fairness
    assert "| gender: male | 40 | 80 | 80 | 40 | 50.0% |" in fairness
    assert "| 40/40 | 0/40 |" in fairness  # men: neutral right, happy right
    assert "| ethnicity: black | 40 |" in fairness
    assert "| age band: 18-29 |" in fairness and "| age band: 30-44 |" in fairness
    assert "By gender: male 50.0%" in fairness and "do not overlap" in fairness
    assert "smiles read right: 0/40 against 40/40." in fairness
    assert "age bands 18-29, 30-44, 45+" in fairness
    assert f"{LONDON_SET_CREDIT} (CC BY 4.0)" in fairness


def test_recording_an_evaluation_keeps_the_training_report_and_card(tmp_path):
    # given: an artifact folder as training leaves it, without history.csv
    reports = fer_reports()
    write_metadata(tmp_path, single_network())
    (tmp_path / "report.json").write_text(json.dumps(reports, indent=2) + "\n")
    trained = card_text(tmp_path, reports)
    assert "12 epochs run" in trained

    # when
    record_evaluation(tmp_path, key="real_photos", section=real_photos_section())
    record_evaluation(tmp_path, key="fairness", section=fairness_section())

    # then
    stored = json.loads((tmp_path / "report.json").read_text())
    assert set(stored) == {"test", "real_photos", "fairness"}
    assert stored["test"] == reports["test"]
    card = (tmp_path / "MODEL_CARD.md").read_text()
    assert card.startswith(trained)
    assert card.index("## Real photos") < card.index("## Fairness")


def test_recording_refuses_to_overwrite_a_training_report(tmp_path):
    write_metadata(tmp_path, single_network())
    (tmp_path / "report.json").write_text(json.dumps(fer_reports()))

    with pytest.raises(ValueError, match="'test' is not one of"):
        record_evaluation(tmp_path, key="test", section={})


def test_the_shipped_card_is_what_its_model_json_and_report_json_give(tmp_path):
    for name in ("model.json", "report.json", "MODEL_CARD.md"):
        shutil.copy(SHIPPED_MODEL_DIR / name, tmp_path / name)

    rebuilt = rebuild_model_card(tmp_path).read_text()

    assert rebuilt == (SHIPPED_MODEL_DIR / "MODEL_CARD.md").read_text()


def test_a_photo_model_card_credits_diffusionfer_and_reports_its_calibration(tmp_path):
    # given: an aligned network trained with DiffusionFER, calibrated on real photos
    rng = np.random.default_rng(2)
    labels = np.arange(210) % len(CLASSES)
    photos = rng.dirichlet(np.ones(7), 210)
    public = rng.dirichlet(np.ones(7), 140)
    calibration, section = calibration_report(
        photos,
        np.ones(210, dtype=bool),
        labels,
        public_probabilities=public,
        public_labels=np.arange(140) % len(CLASSES),
        folds=3,
    )
    meta = single_network()
    meta.preprocessing = PreprocessSpec(align=True)
    meta.calibration = Calibration(temperature=1.2, offsets=(0.1,) * len(CLASSES))
    counts = {"photos": 1289, "no_face": 1, "variants": 3, "images": 3864}
    meta.training_data = {"extra_train": {"/data/diffusionfer": {**counts, "classes": {"sad": 9}}}}
    reports = fer_reports() | {"calibration": section, "real_photos": real_photos_section()}
    # when
    card = write_model_card(tmp_path, meta, reports, epochs_run=3).read_text()
    # then
    assert "turned upright by its eye line" in card
    assert "DiffusionFER" in card and "CC0 1.0" in card and "3864 images" in card
    assert "## Calibration" in card and "out-of-fold" in card
    for name in CLASSES:
        assert f"| {name} | 30 |" in card
    assert "fitted on these same photos" in card
    assert len(calibration.offsets) == len(CLASSES)


def test_a_calibration_fitted_for_shares_reports_the_headline_error_before_and_out_of_fold(
    tmp_path,
):
    # given: a calibration fitted for corrected shares on 140 photos of 70 people
    rng = np.random.default_rng(3)
    labels = np.arange(140) % len(CLASSES)
    _, section = share_calibration_report(
        rng.dirichlet(np.ones(7), 140),
        np.ones(140, dtype=bool),
        labels,
        [f"images/Person_{i // 2}_{i % 2:04d}.jpg" for i in range(140)],
        public_probabilities=rng.dirichlet(np.ones(7), 70),
        public_labels=np.arange(70) % len(CLASSES),
        public_floor=0.0,
        ads_per_fold=4,
    )

    # when
    card = card_text(tmp_path, fer_reports() | {"calibration": section})

    # then: the offsets, how the ads were drawn, and a row per mix before and after
    assert "## Calibration" in card
    assert "for the error of corrected headline shares" in card
    assert "disgust at least 0" in card
    assert "4 from each of 5 person-disjoint folds (70 people)" in card
    for mix in ("random", "calm"):
        assert f"| {mix} | uncalibrated | " in card
        assert f"| {mix} | calibrated | " in card
