"""Classification metrics from labels and predicted probabilities.

The ROC AUC is scikit-learn's, the Wilson interval statsmodels'; what they do not provide
(per-class scores from a matrix, the expected calibration error) is plain NumPy, and the
confusion matrix is counted here, checked against scikit-learn's (see there why)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
from scipy import special

# Two-sided 95%: the 0.975 quantile of the standard normal distribution (1.959963984540054).
Z_95 = float(special.ndtri(0.975))


@dataclass(frozen=True)
class Interval:
    low: float
    high: float


def wilson_interval(successes: float, total: float, *, z: float = Z_95) -> Interval:
    """Wilson score interval for a share `successes / total` at the normal quantile `z`
    (statsmodels' `proportion_confint`, method "wilson").

    Unlike the normal approximation it stays inside [0, 1] and is honest for small samples and
    shares near 0 or 1, which is what per-ad emotion shares often are. With no observations it
    says nothing: [0, 1]. `total` may be an effective sample size (not a whole number).
    """
    if total < 0 or successes < 0 or successes > total:
        raise ValueError(f"need 0 <= successes <= total, got {successes} of {total}")
    if total == 0:
        return Interval(0.0, 1.0)
    # Imported here, as scikit-learn in `roc_auc`: every web and worker process imports this
    # module (for `Interval` and `Z_95`), and the two libraries cost it about a second at start.
    from statsmodels.stats.proportion import proportion_confint

    low, high = proportion_confint(successes, total, alpha=_two_sided_alpha(z), method="wilson")
    return Interval(float(low), float(high))


@lru_cache(maxsize=64)
def _two_sided_alpha(z: float) -> float:
    """The level whose two-sided interval reaches `z` standard errors (0.05 for `Z_95`)."""
    return float(2 * special.ndtr(-z))


def confusion_matrix(true: np.ndarray, predicted: np.ndarray, n_classes: int) -> np.ndarray:
    """Rows: true class, columns: predicted class, over classes 0..n-1. What scikit-learn's
    `confusion_matrix(true, predicted, labels=range(n))` gives (`test_metrics.py` checks it),
    counted here because its input checks cost about 1 ms a call against 0.01 ms, and the
    share calibration's descent and the bootstrap of macro-F1 count thousands (a share
    calibration took 6 times as long)."""
    cells = np.asarray(true, dtype=np.int64) * n_classes + np.asarray(predicted, dtype=np.int64)
    return np.bincount(cells, minlength=n_classes * n_classes).reshape(n_classes, n_classes)


def per_class_scores(matrix: np.ndarray) -> dict[str, np.ndarray]:
    """Precision, recall, F1 and support per class; 0 where a denominator is 0."""
    tp = np.diag(matrix).astype(np.float64)
    predicted = matrix.sum(axis=0).astype(np.float64)
    support = matrix.sum(axis=1).astype(np.float64)
    precision = np.divide(tp, predicted, out=np.zeros_like(tp), where=predicted > 0)
    recall = np.divide(tp, support, out=np.zeros_like(tp), where=support > 0)
    total = precision + recall
    f1 = np.divide(2 * precision * recall, total, out=np.zeros_like(tp), where=total > 0)
    return {"precision": precision, "recall": recall, "f1": f1, "support": support.astype(np.int64)}


def expected_calibration_error(
    probabilities: np.ndarray, true: np.ndarray, n_bins: int = 15
) -> float:
    """ECE over equal-width confidence bins: sum_b |B|/N * |accuracy(B) - confidence(B)|."""
    confidence = probabilities.max(axis=1)
    correct = (probabilities.argmax(axis=1) == true).astype(np.float64)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    # Bin b holds confidences in (edges[b], edges[b+1]]; confidence 0 falls in the first bin.
    bins = np.clip(np.searchsorted(edges, confidence, side="left") - 1, 0, n_bins - 1)
    ece = 0.0
    for b in range(n_bins):
        in_bin = bins == b
        if in_bin.any():
            ece += in_bin.mean() * abs(correct[in_bin].mean() - confidence[in_bin].mean())
    return float(ece)


def classification_report(
    probabilities: np.ndarray, true: np.ndarray, classes: Sequence[str]
) -> dict[str, Any]:
    """Accuracy, macro/weighted F1, per-class scores, confusion matrix and ECE (JSON-ready)."""
    true = np.asarray(true)
    predicted = probabilities.argmax(axis=1)
    matrix = confusion_matrix(true, predicted, len(classes))
    scores = per_class_scores(matrix)
    support = scores["support"]
    return {
        "n": int(len(true)),
        "accuracy": float((predicted == true).mean()),
        "macro_f1": float(scores["f1"].mean()),
        "weighted_f1": float((scores["f1"] * support).sum() / max(support.sum(), 1)),
        "ece": expected_calibration_error(probabilities, true),
        "per_class": {
            name: {
                "precision": float(scores["precision"][i]),
                "recall": float(scores["recall"][i]),
                "f1": float(scores["f1"][i]),
                "support": int(support[i]),
            }
            for i, name in enumerate(classes)
        },
        "confusion_matrix": {"classes": list(classes), "rows_true_cols_predicted": matrix.tolist()},
    }


def roc_auc(scores: np.ndarray | Sequence[float], positives: np.ndarray | Sequence[bool]) -> float:
    """Area under the ROC curve of `scores` for telling `positives` from the rest: the
    chance that a random positive scores above a random other, ties counting half
    (scikit-learn's `roc_auc_score`). NaN when either side is empty."""
    scores = np.asarray(scores, dtype=np.float64)
    positives = np.asarray(positives, dtype=bool)
    if positives.all() or not positives.any():
        return float("nan")
    from sklearn.metrics import roc_auc_score  # imported here: see `wilson_interval`

    return float(roc_auc_score(positives, scores))
