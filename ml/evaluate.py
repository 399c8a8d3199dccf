"""Evaluate a model artifact on a dataset split.

The command line: `python -m ml.cli.evaluate`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ml import KerasModel
from ml.artifact import load_keras_model
from ml.metrics import classification_report
from ml.precision import resolve_precision, with_precision

logger = logging.getLogger(__name__)


def predict_probabilities(
    model: KerasModel, images: np.ndarray, *, tta: bool = False, batch_size: int = 256
) -> np.ndarray:
    """Class probabilities for a uint8 batch; with `tta`, averaged over flips and shifted crops."""
    import tensorflow as tf

    # tf.function as a decorator, typed (TensorFlow has no stubs).
    traced: Callable[[Callable[[Any], Any]], Callable[[Any], Any]]
    traced = tf.function(reduce_retracing=True)

    @traced
    def forward(batch: Any) -> Any:
        return model(batch, training=False)

    def run(batch_images: np.ndarray) -> np.ndarray:
        outputs: list[np.ndarray] = []
        for start in range(0, len(batch_images), batch_size):
            chunk = tf.convert_to_tensor(batch_images[start : start + batch_size], tf.float32)
            outputs.append(forward(chunk).numpy())
        return np.concatenate(outputs) if outputs else np.empty((0, model.output_shape[-1]))

    if not tta:
        return run(images)
    views = [images, images[:, :, ::-1]]
    # Shifted views: 2-pixel translations with edge replication, plain and flipped.
    padded = np.pad(images, ((0, 0), (2, 2), (2, 2), (0, 0)), mode="edge")
    size = images.shape[1]
    for dy, dx in ((0, 0), (0, 4), (4, 0), (4, 4)):
        shifted = padded[:, dy : dy + size, dx : dx + size]
        views.extend([shifted, shifted[:, :, ::-1]])
    averaged: np.ndarray = np.mean([run(np.ascontiguousarray(v)) for v in views], axis=0)
    return averaged


def save_confusion_png(report: dict[str, Any], path: str | Path, title: str) -> None:
    """Row-normalised confusion matrix with counts, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    classes = report["confusion_matrix"]["classes"]
    counts = np.array(report["confusion_matrix"]["rows_true_cols_predicted"])
    rates = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(7, 6), dpi=110)
    ax.imshow(rates, cmap="Blues", vmin=0, vmax=1)
    for i in range(len(classes)):
        for j in range(len(classes)):
            ax.text(
                j,
                i,
                f"{rates[i, j]:.2f}\n{counts[i, j]}",
                ha="center",
                va="center",
                fontsize=7,
                color="white" if rates[i, j] > 0.5 else "black",
            )
    ax.set_xticks(range(len(classes)), classes, rotation=45, ha="right")
    ax.set_yticks(range(len(classes)), classes)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def evaluate_artifact(
    model_dir: str | Path,
    data: str | Path,
    split: str,
    *,
    tta: bool = False,
    cache_dir: str | Path | None = None,
    precision: str = "float32",
) -> dict[str, Any]:
    """Load the artifact and dataset with the artifact's own preprocessing, and report, with
    the calibration it serves with applied."""
    from ml.datasets import load_dataset

    model, meta = load_keras_model(model_dir)
    precision = resolve_precision(precision)
    model = with_precision(model, precision)
    dataset = load_dataset(data, meta.preprocessing, cache_dir=cache_dir)
    subset = dataset.split(split)
    probabilities = meta.calibration.apply(
        predict_probabilities(model, subset.images, tta=tta), meta.classes
    )
    report = classification_report(probabilities, subset.labels, meta.classes)
    report.update(
        {
            "split": split,
            "tta": tta,
            "precision": precision,
            "model": f"{meta.name}-{meta.version}",
            "data_fingerprint": dataset.fingerprint(),
        }
    )
    return report
