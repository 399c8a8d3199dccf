"""The model the project ships reproduces its recorded PrivateTest accuracy."""

from __future__ import annotations

import pytest

from ml import SHIPPED_MODEL_DIR as SHIPPED
from ml.artifact import read_metadata
from ml.evaluate import evaluate_artifact
from tests.shared_data import fer2013_archive


@pytest.mark.slow
def test_shipped_model_matches_its_recorded_private_test_accuracy():
    archive = fer2013_archive()
    recorded = read_metadata(SHIPPED).metrics

    report = evaluate_artifact(SHIPPED, archive, "PrivateTest")

    assert report["n"] == 3589
    assert abs(report["accuracy"] - recorded["accuracy"]) <= 0.005
    assert abs(report["macro_f1"] - recorded["macro_f1"]) <= 0.005
