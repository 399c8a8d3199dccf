"""Calibration of a model's probabilities for the photos it serves: a temperature and a
log-prior offset per class, fitted on labelled real photos and applied by the classifier.

FER2013's class mix and look are not those of real viewers' photos: on real photos the
networks under-call some classes (disgust, neutral) and over-call others (angry). Scaling
the log-probabilities by 1/T and adding a per-class offset b_c re-weighs the classes without
retraining: p'_c = softmax(log p_c / T + b_c). T is fitted by likelihood; the offsets by
macro-F1 (every class counts the same, whatever its share of the calibration photos), held
to FER2013 PublicTest accuracy no more than `max_public_drop` below the uncalibrated model's.
Figures for a calibration fitted on the photos it is scored on flatter it, so
`cross_validated` gives out-of-fold predictions: fit on k-1 folds, predict the k-th.
`python -m ml.cli.calibration` fits one for an artifact and stores it (`--objective shares`
fits the offsets for the error of corrected headline shares instead, `ml.share_error`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.model_selection import StratifiedKFold

from ml import CLASSES

# Offsets are searched on this grid, a few sweeps over the classes (coordinate ascent).
OFFSET_GRID = np.round(np.arange(-2.0, 2.0001, 0.1), 2)
TEMPERATURE_GRID = np.round(np.arange(0.5, 3.0001, 0.05), 2)
SWEEPS = 3

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Calibration:
    """Temperature and per-class log-prior offsets (in `ml.CLASSES` order)."""

    temperature: float = 1.0
    offsets: tuple[float, ...] = field(default_factory=lambda: (0.0,) * len(CLASSES))

    @property
    def is_identity(self) -> bool:
        return self.temperature == 1.0 and not any(self.offsets)

    def apply(self, probabilities: np.ndarray, classes: Sequence[str] = CLASSES) -> np.ndarray:
        """Calibrated (N, C) probabilities; `classes` names the columns' order."""
        if self.is_identity:
            return probabilities
        by_name = dict(zip(CLASSES, self.offsets, strict=True))
        offsets = np.array([by_name[name] for name in classes], dtype=np.float64)
        logits = np.log(np.clip(probabilities.astype(np.float64), 1e-12, 1.0))
        logits = logits / self.temperature + offsets
        logits -= logits.max(axis=1, keepdims=True)
        exp = np.exp(logits)
        calibrated: np.ndarray = (exp / exp.sum(axis=1, keepdims=True)).astype(np.float32)
        return calibrated

    def to_dict(self) -> dict[str, Any]:
        return {
            "temperature": self.temperature,
            "log_prior_offsets": dict(zip(CLASSES, self.offsets, strict=True)),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Calibration:
        """model.json's "calibration" (absent in older artifacts: the identity)."""
        if not data:
            return cls()
        offsets = data.get("log_prior_offsets") or {}
        unknown = set(offsets) - set(CLASSES)
        if unknown:
            raise ValueError(f"calibration offsets for unknown classes {sorted(unknown)}")
        temperature = float(data.get("temperature", 1.0))
        if not temperature > 0:
            raise ValueError(f"calibration temperature must be positive, got {temperature}")
        return cls(
            temperature=temperature,
            offsets=tuple(float(offsets.get(name, 0.0)) for name in CLASSES),
        )


def macro_f1(labels: np.ndarray, predicted: np.ndarray, n_classes: int = len(CLASSES)) -> float:
    """Mean F1 over the classes; a prediction of -1 (no face) is wrong for every class."""
    scores = []
    for c in range(n_classes):
        hits = float(np.sum((predicted == c) & (labels == c)))
        called = float(np.sum(predicted == c))
        actual = float(np.sum(labels == c))
        scores.append(2 * hits / (called + actual) if called + actual else 0.0)
    return float(np.mean(scores))


def fit_temperature(probabilities: np.ndarray, labels: np.ndarray) -> float:
    """The temperature of least negative log-likelihood on the grid."""
    logits = np.log(np.clip(probabilities.astype(np.float64), 1e-12, 1.0))
    best, best_nll = 1.0, np.inf
    for temperature in TEMPERATURE_GRID:
        scaled = logits / temperature
        scaled -= scaled.max(axis=1, keepdims=True)
        log_norm = np.log(np.exp(scaled).sum(axis=1))
        nll = float(np.mean(log_norm - scaled[np.arange(len(labels)), labels]))
        if nll < best_nll:
            best, best_nll = float(temperature), nll
    return best


def fit_calibration(
    probabilities: np.ndarray,
    labels: np.ndarray,
    *,
    public_probabilities: np.ndarray | None = None,
    public_labels: np.ndarray | None = None,
    max_public_drop: float = 0.01,
) -> Calibration:
    """Temperature by likelihood, then offsets by coordinate ascent on macro-F1 over the
    photos, keeping FER2013 PublicTest accuracy (when given) within `max_public_drop` of its
    uncalibrated value. Columns of both probability arrays are in `ml.CLASSES` order."""
    temperature = fit_temperature(probabilities, labels)
    logits = np.log(np.clip(probabilities.astype(np.float64), 1e-12, 1.0)) / temperature
    public_logits = None
    floor = -np.inf
    if public_probabilities is not None and public_labels is not None:
        public_logits = np.log(np.clip(public_probabilities.astype(np.float64), 1e-12, 1.0))
        public_logits /= temperature
        floor = float(np.mean(public_logits.argmax(axis=1) == public_labels)) - max_public_drop

    def allowed(offsets: np.ndarray) -> bool:
        if public_logits is None:
            return True
        return float(np.mean((public_logits + offsets).argmax(axis=1) == public_labels)) >= floor

    offsets = np.zeros(len(CLASSES))
    best = macro_f1(labels, (logits + offsets).argmax(axis=1))
    for _ in range(SWEEPS):
        improved = False
        for c in range(len(CLASSES)):
            for value in OFFSET_GRID:
                trial = offsets.copy()
                trial[c] = value
                score = macro_f1(labels, (logits + trial).argmax(axis=1))
                # Ties go to the smaller offset: the least change that scores as well.
                better = score > best + 1e-12 or (
                    abs(score - best) <= 1e-12 and abs(value) < abs(offsets[c])
                )
                if better and allowed(trial):
                    offsets, best, improved = trial, score, True
        if not improved:
            break
    return Calibration(temperature=temperature, offsets=tuple(float(v) for v in offsets))


def stratified_folds(labels: np.ndarray, folds: int, seed: int = 0) -> np.ndarray:
    """Fold index of each sample, each class spread evenly over the folds (scikit-learn's
    `StratifiedKFold`, shuffled by `seed`)."""
    assignment = np.empty(len(labels), dtype=np.int64)
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    for fold, (_, held_out) in enumerate(splitter.split(np.zeros(len(labels)), labels)):
        assignment[held_out] = fold
    return assignment


def cross_validated(
    probabilities: np.ndarray,
    labels: np.ndarray,
    *,
    folds: int = 5,
    seed: int = 0,
    public_probabilities: np.ndarray | None = None,
    public_labels: np.ndarray | None = None,
    max_public_drop: float = 0.01,
) -> tuple[np.ndarray, list[Calibration]]:
    """Out-of-fold calibrated probabilities (each photo by a calibration fitted without it)
    and the calibration of each fold."""
    assignment = stratified_folds(labels, folds, seed)
    calibrated = np.empty_like(probabilities, dtype=np.float32)
    fitted = []
    for fold in range(folds):
        held_out = assignment == fold
        calibration = fit_calibration(
            probabilities[~held_out],
            labels[~held_out],
            public_probabilities=public_probabilities,
            public_labels=public_labels,
            max_public_drop=max_public_drop,
        )
        calibrated[held_out] = calibration.apply(probabilities[held_out])
        fitted.append(calibration)
    return calibrated, fitted


def _photo_scores(labels: np.ndarray, predicted: np.ndarray) -> dict[str, Any]:
    """Accuracy, macro-F1 and recall per class (with counts); -1 is a photo without a face."""
    per_class = {}
    for c, name in enumerate(CLASSES):
        support = int(np.sum(labels == c))
        hits = int(np.sum((labels == c) & (predicted == c)))
        per_class[name] = {
            "support": support,
            "correct": hits,
            "predicted": int(np.sum(predicted == c)),
            "recall": hits / support if support else 0.0,
        }
    correct = int(np.sum(labels == predicted))
    return {
        "photos": len(labels),
        "correct": correct,
        "accuracy": correct / len(labels) if len(labels) else 0.0,
        "macro_f1": macro_f1(labels, predicted),
        "per_class": per_class,
    }


def calibration_report(
    probabilities: np.ndarray,
    found: np.ndarray,
    labels: np.ndarray,
    *,
    public_probabilities: np.ndarray,
    public_labels: np.ndarray,
    folds: int = 5,
    max_public_drop: float = 0.01,
) -> tuple[Calibration, dict[str, Any]]:
    """The calibration fitted on every photo with a face, and what it does: real-photo scores
    uncalibrated and out-of-fold (`folds`-fold cross-validation), PublicTest accuracy before
    and after. A photo without a face stays wrong in every figure."""
    with_face = np.flatnonzero(found)
    face_probabilities, face_labels = probabilities[with_face], labels[with_face]
    out_of_fold, per_fold = cross_validated(
        face_probabilities,
        face_labels,
        folds=folds,
        public_probabilities=public_probabilities,
        public_labels=public_labels,
        max_public_drop=max_public_drop,
    )
    final = fit_calibration(
        face_probabilities,
        face_labels,
        public_probabilities=public_probabilities,
        public_labels=public_labels,
        max_public_drop=max_public_drop,
    )

    def predictions(face_probs: np.ndarray) -> np.ndarray:
        predicted = np.full(len(labels), -1, dtype=np.int64)
        predicted[with_face] = face_probs.argmax(axis=1)
        return predicted

    public_before = float(np.mean(public_probabilities.argmax(axis=1) == public_labels))
    public_after = float(np.mean(final.apply(public_probabilities).argmax(axis=1) == public_labels))
    report = {
        "method": (
            "temperature by likelihood, then per-class log-prior offsets by macro-F1 "
            f"(coordinate ascent, offsets in [-2, 2]), PublicTest held at or above "
            f"{100 * (public_before - max_public_drop):.2f}%"
        ),
        "folds": folds,
        "fitted_on_photos": len(with_face),
        **final.to_dict(),
        "per_fold": [calibration.to_dict() for calibration in per_fold],
        "real_photos": {
            "uncalibrated": _photo_scores(labels, predictions(face_probabilities)),
            "cross_validated": _photo_scores(labels, predictions(out_of_fold)),
        },
        "public_test": {
            "faces": len(public_labels),
            "uncalibrated_accuracy": public_before,
            "calibrated_accuracy": public_after,
        },
    }
    return final, report
