"""The model the project ships reproduces its recorded PrivateTest accuracy."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ml import SHIPPED_MODEL_DIR as SHIPPED
from ml.artifact import read_metadata
from ml.evaluate import evaluate_artifact

REPO = Path(__file__).resolve().parents[2]
DATA = Path(os.environ.get("FER_DATA_DIR", REPO.parent / "shared" / "datasets"))


@pytest.mark.slow
def test_shipped_model_matches_its_recorded_private_test_accuracy():
    archive = DATA / "fer2013.tar.gz"
    if not archive.is_file():
        pytest.skip(f"FER2013 not found at {archive} (set FER_DATA_DIR)")
    recorded = read_metadata(SHIPPED).metrics

    report = evaluate_artifact(SHIPPED, archive, "PrivateTest")

    assert report["n"] == 3589
    assert abs(report["accuracy"] - recorded["accuracy"]) <= 0.005
    assert abs(report["macro_f1"] - recorded["macro_f1"]) <= 0.005
