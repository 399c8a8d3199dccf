"""The served classifier applies the calibration its artifact's model.json records."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from inference.classifier import EmotionClassifier
from ml.artifact import ArtifactError, read_metadata, write_metadata
from ml.calibration import Calibration


def test_model_json_round_trips_the_calibration_and_refuses_a_bad_one(tiny_model_dir, tmp_path):
    # given
    folder = tmp_path / "artifact"
    shutil.copytree(tiny_model_dir, folder)
    meta = read_metadata(folder)
    meta.calibration = Calibration(temperature=1.5, offsets=(0.5, 1.0, 0, 0, -0.5, 0, 0))
    # when
    write_metadata(folder, meta)
    # then
    stored = json.loads((folder / "model.json").read_text())
    assert stored["calibration"]["log_prior_offsets"]["disgust"] == 1.0
    assert read_metadata(folder).calibration == meta.calibration
    stored["calibration"]["temperature"] = 0
    (folder / "model.json").write_text(json.dumps(stored))
    with pytest.raises(ArtifactError, match="temperature"):
        read_metadata(folder)


def test_the_served_classifier_applies_the_artifacts_calibration(tiny_model_dir, tmp_path):
    # given: the same network with and without a calibration in its model.json
    folder = Path(tmp_path / "calibrated")
    shutil.copytree(tiny_model_dir, folder)
    meta = read_metadata(folder)
    calibration = Calibration(temperature=0.7, offsets=(0.0, 2.0, 0.0, -1.0, 0.3, 0.0, 0.0))
    meta.calibration = calibration
    write_metadata(folder, meta)
    crops = [np.random.default_rng(i).integers(0, 256, (60, 60), dtype=np.uint8) for i in range(6)]
    # when
    plain = EmotionClassifier.load(tiny_model_dir).predict_faces(crops)
    served = EmotionClassifier.load(folder).predict_faces(crops)
    # then
    np.testing.assert_allclose(served, calibration.apply(plain), rtol=1e-4, atol=1e-6)
    assert not np.allclose(served, plain)
