"""Distillation: a trained model's probabilities on the Training faces become part of the
target of the network being trained (`ml.cli.train --teacher`). The teacher is a Keras artifact
folder, or the probabilities file a GPU-trained teacher gave back (`ml.gpu_teacher`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from ml import CLASSES
from ml.artifact import check_same_data, check_same_training, load_keras_model
from ml.datasets import Dataset
from ml.preprocessing import PreprocessSpec


def distillation_targets(
    teacher_probabilities: np.ndarray,
    labels: np.ndarray,
    *,
    weight: float,
    temperature: float = 1.0,
) -> np.ndarray:
    """Training targets: (1 - weight) * one-hot label + weight * the teacher's probabilities
    softened by `temperature` (p ** (1 / T), renormalised; T > 1 flattens them)."""
    if not 0.0 <= weight <= 1.0:
        raise ValueError(f"teacher weight must lie in [0, 1], got {weight}")
    if temperature <= 0:
        raise ValueError(f"teacher temperature must be positive, got {temperature}")
    if teacher_probabilities.shape != (len(labels), len(CLASSES)):
        raise ValueError(
            f"teacher probabilities have shape {teacher_probabilities.shape}, expected "
            f"{(len(labels), len(CLASSES))}"
        )
    logits = np.log(np.clip(teacher_probabilities.astype(np.float64), 1e-12, 1.0)) / temperature
    softened = np.exp(logits - logits.max(axis=1, keepdims=True))
    softened /= softened.sum(axis=1, keepdims=True)
    onehot = np.eye(len(CLASSES))[labels]
    targets: np.ndarray = ((1.0 - weight) * onehot + weight * softened).astype(np.float32)
    return targets


def teacher_probabilities(teacher: Path, dataset: Dataset) -> np.ndarray:
    """The teacher's probabilities on the Training faces, averaged over each face and its
    mirror image (training flips faces at random, so the target must not depend on it).

    The teacher must have been trained on exactly this data: one that saw PublicTest or
    PrivateTest would leak them into the student."""
    if teacher.is_file():
        return _probabilities_from_file(teacher, dataset)
    from ml.evaluate import predict_probabilities

    model, meta = load_keras_model(teacher)
    fingerprint = dataset.fingerprint()
    check_same_training(
        meta,
        classes=list(CLASSES),
        preprocessing=dataset.spec,
        fingerprint=fingerprint,
        against=f"this run's data (fingerprint {fingerprint})",
        label=f"teacher {teacher}",
    )
    images = dataset.split("train").images
    mirrored = np.ascontiguousarray(images[:, :, ::-1])
    averaged: np.ndarray = (
        predict_probabilities(model, images) + predict_probabilities(model, mirrored)
    ) / 2
    return averaged


def describe_teacher_file(path: Path) -> str:
    """What a probabilities file says its teacher was (for model.json and the model card)."""
    return f"{read_teacher_file(path)[0].get('teacher', 'a teacher')} ({path})"


def read_teacher_file(path: Path) -> tuple[dict[str, Any], np.ndarray]:
    """(meta, Training probabilities) of an `ml.gpu_teacher` probabilities file."""
    try:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
            train = data["train"]
    except (OSError, ValueError, KeyError) as exc:
        raise ValueError(
            f"{path} is not a teacher's probabilities file (ml.gpu_teacher): {exc}"
        ) from exc
    return meta, train


def _probabilities_from_file(path: Path, dataset: Dataset) -> np.ndarray:
    meta, train = read_teacher_file(path)
    fingerprint = dataset.fingerprint()
    check_same_data(
        f"teacher {path}",
        seen=(
            list(meta.get("classes", [])),
            PreprocessSpec.from_dict(meta.get("preprocessing", {})),
            meta.get("fingerprint"),
        ),
        expected=(list(CLASSES), dataset.spec, fingerprint),
        against=f"this run's data (fingerprint {fingerprint})",
    )
    return train.astype(np.float32)
