"""Metrics against values worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as sk_metrics

from ml.metrics import (
    classification_report,
    confusion_matrix,
    expected_calibration_error,
)


def test_report_on_known_predictions():
    # given 3 classes; true = [0,0,0,1,1,2], predicted = [0,0,1,1,2,2]
    true = np.array([0, 0, 0, 1, 1, 2])
    predicted = np.array([0, 0, 1, 1, 2, 2])
    probabilities = np.eye(3)[predicted] * 0.7 + 0.1

    report = classification_report(probabilities, true, ["a", "b", "c"])

    # then, by hand: class a P=2/2 R=2/3 F1=0.8; b P=1/2 R=1/2 F1=0.5; c P=1/2 R=1 F1=2/3
    assert report["accuracy"] == pytest.approx(4 / 6)
    assert report["per_class"]["a"] == pytest.approx(
        {"precision": 1.0, "recall": 2 / 3, "f1": 0.8, "support": 3}
    )
    assert report["per_class"]["b"]["f1"] == pytest.approx(0.5)
    assert report["per_class"]["c"]["f1"] == pytest.approx(2 / 3)
    assert report["macro_f1"] == pytest.approx((0.8 + 0.5 + 2 / 3) / 3)
    assert report["weighted_f1"] == pytest.approx((3 * 0.8 + 2 * 0.5 + 1 * 2 / 3) / 6)
    assert report["confusion_matrix"]["rows_true_cols_predicted"] == [
        [2, 1, 0],
        [0, 1, 1],
        [0, 0, 1],
    ]


def test_confusion_matrix_rows_are_true_classes():
    matrix = confusion_matrix(np.array([2, 2, 0]), np.array([1, 2, 0]), 3)
    assert matrix.tolist() == [[1, 0, 0], [0, 0, 0], [0, 1, 1]]


@pytest.mark.parametrize("size", [1, 7, 500])
def test_confusion_matrix_is_scikit_learns(size):
    # given labels and predictions over 8 classes (7 emotions and "no face"), some unused
    rng = np.random.default_rng(size)
    true, predicted = rng.integers(0, 6, size=size), rng.integers(0, 8, size=size)
    # then the counts are scikit-learn's, every class a row and a column
    expected = sk_metrics.confusion_matrix(true, predicted, labels=np.arange(8))
    assert confusion_matrix(true, predicted, 8).tolist() == expected.tolist()


def test_confusion_matrix_of_no_photos_is_all_zeros():
    assert confusion_matrix(np.array([], dtype=int), np.array([], dtype=int), 3).sum() == 0


def test_expected_calibration_error_by_hand():
    # two bins used: confidence 0.9 (2 samples, 1 right) and 0.6 (2 samples, both right)
    probabilities = np.array([[0.9, 0.1], [0.9, 0.1], [0.6, 0.4], [0.4, 0.6]])
    true = np.array([0, 1, 0, 1])
    # |0.5 - 0.9| * 2/4 + |1.0 - 0.6| * 2/4 = 0.2 + 0.2
    assert expected_calibration_error(probabilities, true, n_bins=10) == pytest.approx(0.4)


def test_perfectly_calibrated_certain_predictions_have_zero_ece():
    probabilities = np.eye(4)
    assert expected_calibration_error(probabilities, np.arange(4)) == pytest.approx(0.0)


def test_class_without_predictions_scores_zero_not_nan():
    report = classification_report(np.eye(2)[[0, 0]], np.array([0, 1]), ["a", "b"])
    assert report["per_class"]["b"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1}
