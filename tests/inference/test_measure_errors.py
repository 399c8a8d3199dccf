"""Measuring the whole pipeline's errors on labelled real photos and storing them in an
artifact: the measurement, the command, and the shipped model's own."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from inference.cli.measure_errors import main
from inference.evaluate_photos import PhotoOutcome
from inference.measure_errors import outcomes_measurement
from ml import CLASSES, SHIPPED_MODEL_DIR
from ml.artifact import ArtifactMetadata, read_metadata, write_metadata
from ml.measurement import measurement_check
from tests.inference.test_evaluate_photos import (
    SAMPLE_LABELS,
    trained_artifact_copy,
    write_sample_manifest,
)
from tests.shared_data import shared_file


def outcome(name: str, label: str, read_as: str | None) -> PhotoOutcome:
    probabilities = None
    if read_as is not None:
        probabilities = np.full(len(CLASSES), 0.05)
        probabilities[CLASSES.index(read_as)] = 0.7
    return PhotoOutcome(
        path=Path("images") / name,
        label=label,
        faces=int(read_as is not None),
        probabilities=probabilities,
    )


def test_a_measurement_counts_photos_with_a_face_and_the_people_they_show():
    # given: five photos of three people, one without a face, a neutral face read as sad
    outcomes = [
        outcome("Ann_Lee_0001.jpg", "happy", "happy"),
        outcome("Ann_Lee_0002.jpg", "neutral", "sad"),
        outcome("Bo_Chan_0001.jpg", "neutral", "neutral"),
        outcome("Bo_Chan_0002.jpg", "angry", None),
        outcome("Cy_Dunn_0001.jpg", "sad", "sad"),
    ]

    # when
    measurement = outcomes_measurement(outcomes, data="set", pipeline={"detector": "blazeface"})

    # then: the photo without a face counts as a photo, not in the confusion
    assert (measurement["photos"], measurement["with_face"], measurement["people"]) == (5, 4, 3)
    assert measurement["data"] == "set"
    assert measurement["pipeline"] == {"detector": "blazeface"}
    assert np.array(measurement["confusion"]["0"]).sum() == 4
    assert measurement["headline_confusion"]["rows_true_columns_predicted"] == [
        [1, 0, 0],
        [0, 1, 0],
        [0, 1, 1],
    ]
    # at 0.7 every face is below the 80% step
    assert np.array(measurement["confusion"]["80"]).sum() == 0
    assert measurement["emotions"]["neutral"]["recall"] == pytest.approx(0.5)
    assert measurement["emotions"]["angry"]["photos"] == 0
    measurement_check(measurement)


@pytest.mark.slow
def test_main_stores_the_measurement_into_the_artifact_and_its_card(
    tmp_path, tiny_model_dir, sample_photos, capsys
):
    # given: a copy of the tiny artifact with the report and card training writes
    artifact, _, trained_card = trained_artifact_copy(tmp_path, tiny_model_dir)
    manifest = write_sample_manifest(tmp_path / "labelled-set", sample_photos)

    # when
    code = main(
        [
            "--manifest",
            str(manifest),
            "--model",
            str(tiny_model_dir),
            "--write-into",
            str(artifact),
            "--json",
            str(tmp_path / "measurement.json"),
        ]
    )

    # then: model.json carries the measurement, named by the set's folder, not its path
    assert code == 0
    stored = read_metadata(artifact).measurement
    assert stored == json.loads((tmp_path / "measurement.json").read_text())
    assert stored["data"] == "labelled-set"
    assert stored["photos"] == len(SAMPLE_LABELS)
    assert stored["pipeline"]["model"] == "tiny 0.0.1"
    assert str(tmp_path) not in json.dumps(stored)
    # and the card keeps what training wrote and gains the section
    card = (artifact / "MODEL_CARD.md").read_text()
    assert card.startswith(trained_card)
    assert "## Measured errors on real photos" in card
    assert "labelled real photos of `labelled-set`" in card
    assert "adjusted classify-and-count" in card
    assert "stored as model.json 'measurement'" in capsys.readouterr().out


def test_main_refuses_to_store_one_models_errors_in_another_artifact(
    tmp_path, tiny_model_dir, sample_photos
):
    other = tmp_path / "other"
    other.mkdir()
    write_metadata(other, ArtifactMetadata(name="other", version="9"))
    manifest = write_sample_manifest(tmp_path / "set", sample_photos)

    with pytest.raises(SystemExit):
        main(
            [
                "--manifest",
                str(manifest),
                "--model",
                str(tiny_model_dir),
                "--write-into",
                str(other),
            ]
        )

    assert read_metadata(other).measurement == {}


@pytest.mark.slow
def test_the_shipped_measurement_is_what_the_command_measures_on_real_photos_dev(tmp_path):
    # given: the labelled real photos the shipped model was measured on
    manifest = shared_file("real-photos-dev/manifest.csv")

    # when the command measures the shipped model on them again
    main(["--manifest", str(manifest), "--json", str(tmp_path / "measurement.json")])

    # then it finds what the artifact carries, count for count
    measured = json.loads((tmp_path / "measurement.json").read_text())
    shipped = read_metadata(SHIPPED_MODEL_DIR).measurement
    measurement_check(shipped)
    assert measured["headline_confusion"] == shipped["headline_confusion"]
    assert measured["confusion"] == shipped["confusion"]
    assert (measured["photos"], measured["with_face"]) == (shipped["photos"], shipped["with_face"])
