"""The model the project ships reproduces its recorded PrivateTest accuracy."""

from __future__ import annotations

import pytest

from ml import SHIPPED_MODEL_DIR as SHIPPED
from ml.artifact import CARD_FILE, read_metadata
from ml.evaluate import evaluate_artifact
from ml.measurement import measurement_check
from tests.shared_data import fer2013_archive


@pytest.mark.slow
def test_shipped_model_matches_its_recorded_private_test_accuracy():
    archive = fer2013_archive()
    recorded = read_metadata(SHIPPED).metrics

    report = evaluate_artifact(SHIPPED, archive, "PrivateTest")

    assert report["n"] == 3589
    assert abs(report["accuracy"] - recorded["accuracy"]) <= 0.005
    assert abs(report["macro_f1"] - recorded["macro_f1"]) <= 0.005


def test_shipped_model_carries_a_valid_measurement_of_its_errors_on_real_photos():
    meta = read_metadata(SHIPPED)

    measurement_check(meta.measurement)

    assert meta.measurement["data"] == "real-photos-dev"
    assert meta.measurement["pipeline"]["model"] == f"{meta.name} {meta.version}"
    assert "## Measured errors on real photos" in (SHIPPED / CARD_FILE).read_text()
