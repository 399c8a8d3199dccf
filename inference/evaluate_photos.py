"""The whole pipeline (decode, detect, frame, classify) on labelled real photos, beside `fer`.

The command line: `python -m inference.cli.evaluate_photos`.
"""

from __future__ import annotations

import csv
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ml import CLASSES
from ml.artifact import ArtifactError, read_metadata
from ml.metrics import confusion_matrix, per_class_scores, wilson_interval

from .api import FaceResult, ImageResult, analyze_images
from .classifier import EmotionClassifier

NO_FACE = "no face"
BOOTSTRAP_SAMPLES = 1000


@dataclass
class PhotoOutcome:
    """One labelled photo and what the pipeline made of it."""

    path: Path
    label: str
    faces: int
    # Of the photo's largest face, in `ml.CLASSES` order; None when no face was found.
    probabilities: np.ndarray | None = None
    error: str | None = None

    @property
    def predicted(self) -> str | None:
        if self.probabilities is None:
            return None
        return CLASSES[int(np.argmax(self.probabilities))]


def read_manifest(manifest: Path, *, limit: int | None = None) -> list[tuple[Path, str]]:
    """(photo path, label) rows of a `path,label` CSV; paths are relative to its folder."""
    rows = []
    with manifest.open(newline="", encoding="utf-8-sig") as handle:
        for number, row in enumerate(csv.DictReader(handle), start=2):
            label = (row.get("label") or "").strip().lower()
            if label not in CLASSES:
                raise ValueError(f"{manifest}:{number}: label {label!r} is not one of {CLASSES}")
            rows.append((manifest.parent / (row.get("path") or "").strip(), label))
    return rows[:limit] if limit else rows


def largest_face(result: ImageResult) -> FaceResult | None:
    """The face a one-person photo is about: the largest one found."""
    return max(result.faces, key=lambda face: face.w * face.h, default=None)


def check_write_target(artifact_dir: Path, classifier: EmotionClassifier) -> None:
    """Refuse to store one model's figures in another artifact's report.json and card."""
    target = read_metadata(artifact_dir)
    if (target.name, target.version) != (classifier.metadata.name, classifier.metadata.version):
        raise ArtifactError(
            f"{artifact_dir} holds {target.name} {target.version}, but the figures are of "
            f"{classifier.name} (from {classifier.model_dir})"
        )


def run_pipeline(
    photos: Sequence[tuple[Path, str]],
    *,
    classifier: EmotionClassifier,
    detector: str,
    chunk: int = 32,
    decode_threads: int = 0,
) -> tuple[list[PhotoOutcome], float]:
    """Every photo through `analyze_images`, in chunks as a worker does (with
    `decode_threads` feeder threads, as a worker's setting INFERENCE_DECODE_THREADS);
    (outcomes, seconds)."""
    if photos:
        analyze_images(  # warm-up
            [photos[0][0]], detector=detector, classifier=classifier, decode_threads=decode_threads
        )
    outcomes = []
    started = time.perf_counter()
    for start in range(0, len(photos), chunk):
        part = photos[start : start + chunk]
        results = analyze_images(
            [path for path, _ in part],
            detector=detector,
            classifier=classifier,
            decode_threads=decode_threads,
        )
        for (path, label), result in zip(part, results, strict=True):
            face = largest_face(result)
            probabilities = (
                np.array([face.probabilities[name] for name in CLASSES]) if face else None
            )
            outcomes.append(
                PhotoOutcome(
                    path=path,
                    label=label,
                    faces=len(result.faces),
                    probabilities=probabilities,
                    error=result.error,
                )
            )
    return outcomes, time.perf_counter() - started


def photo_report(
    labels: Sequence[str], predicted: Sequence[str | None], *, seconds: float | None = None
) -> dict[str, Any]:
    """Accuracy, macro-F1, per-class scores and the confusion matrix of one system, JSON-ready.

    A photo without a face is a wrong answer: it lowers its true class's recall (and the
    accuracy), not any class's precision.
    """
    columns = [*CLASSES, NO_FACE]
    true = np.array([CLASSES.index(label) for label in labels], dtype=np.int64)
    guess = np.array(
        [CLASSES.index(p) if p is not None else len(CLASSES) for p in predicted], dtype=np.int64
    )
    n = len(true)
    matrix = confusion_matrix(true, guess, len(columns))
    scores = per_class_scores(matrix)
    correct = int((true == guess).sum())
    with_face = int((guess < len(CLASSES)).sum())
    macro_f1 = float(scores["f1"][: len(CLASSES)].mean())
    rng = np.random.default_rng(0)
    resampled = []
    for _ in range(BOOTSTRAP_SAMPLES if n else 0):
        pick = rng.integers(0, n, size=n)
        f1 = per_class_scores(confusion_matrix(true[pick], guess[pick], len(columns)))["f1"]
        resampled.append(float(f1[: len(CLASSES)].mean()))
    accuracy_ci = wilson_interval(correct, n)
    report: dict[str, Any] = {
        "photos": n,
        "with_face": with_face,
        "with_face_share": with_face / n if n else 0.0,
        "correct": correct,
        "accuracy": correct / n if n else 0.0,
        "accuracy_ci95": [accuracy_ci.low, accuracy_ci.high],
        "accuracy_with_face": (
            int(((true == guess) & (guess < len(CLASSES))).sum()) / with_face if with_face else 0.0
        ),
        "macro_f1": macro_f1,
        "macro_f1_ci95": (
            [float(np.percentile(resampled, 2.5)), float(np.percentile(resampled, 97.5))]
            if resampled
            else [0.0, 0.0]
        ),
        "per_class": {},
        "confusion_matrix": {"rows_true": list(CLASSES), "columns": columns, "counts": []},
    }
    for index, name in enumerate(CLASSES):
        support = int(matrix[index].sum())
        hits = int(matrix[index, index])
        predicted_as = int(matrix[:, index].sum())
        recall_ci = wilson_interval(hits, support)
        report["per_class"][name] = {
            "support": support,
            "correct": hits,
            "predicted": predicted_as,
            "recall": hits / support if support else 0.0,
            "recall_ci95": [recall_ci.low, recall_ci.high],
            "precision": hits / predicted_as if predicted_as else 0.0,
            "f1": float(scores["f1"][index]),
        }
    report["confusion_matrix"]["counts"] = matrix[: len(CLASSES)].tolist()
    if seconds is not None:
        report["seconds"] = seconds
        report["photos_per_second"] = n / seconds if seconds > 0 else 0.0
    return report
