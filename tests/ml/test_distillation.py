"""Distilling a trained teacher (the shipped ensemble) into a network, and warm-starting a
network from one member of an ensemble."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from ml import CLASSES
from ml.artifact import ArtifactError, read_metadata
from ml.cli.train import main as train_main
from ml.distill import distillation_targets
from ml.ensemble import build_ensemble
from ml.networks import build_model, get_config
from ml.train import load_initial_weights, make_train_dataset
from tests.ml.conftest import face_pixels, write_image


def test_targets_mix_the_label_with_the_softened_teacher():
    teacher = np.zeros((2, 7))
    teacher[0, :2] = [0.6, 0.4]
    teacher[1, 3] = 1.0
    labels = np.array([1, 3])

    plain = distillation_targets(teacher, labels, weight=0.5)
    softened = distillation_targets(teacher, labels, weight=0.5, temperature=2.0)

    # 0.5 * one-hot + 0.5 * teacher
    np.testing.assert_allclose(plain[0, :2], [0.3, 0.7], atol=1e-6)
    np.testing.assert_allclose(plain[1, 3], 1.0, atol=1e-6)
    # T = 2: sqrt(0.6) / (sqrt(0.6) + sqrt(0.4)) = 0.5505 of the teacher's half on angry
    np.testing.assert_allclose(softened[0, :2], [0.27526, 0.72474], atol=1e-4)
    np.testing.assert_allclose(plain.sum(axis=1), 1.0, atol=1e-6)
    np.testing.assert_allclose(softened.sum(axis=1), 1.0, atol=1e-6)
    # weight 0 is the plain one-hot label
    np.testing.assert_array_equal(
        distillation_targets(teacher, labels, weight=0.0), np.eye(7, dtype=np.float32)[labels]
    )


@pytest.mark.parametrize(
    ("probabilities", "weight", "temperature", "message"),
    [
        (np.full((2, 7), 1 / 7), 1.5, 1.0, "weight must lie in"),
        (np.full((2, 7), 1 / 7), 0.5, 0.0, "temperature must be positive"),
        (np.full((3, 7), 1 / 7), 0.5, 1.0, "expected \\(2, 7\\)"),
    ],
)
def test_targets_refuse_bad_settings(probabilities, weight, temperature, message):
    with pytest.raises(ValueError, match=message):
        distillation_targets(
            probabilities, np.array([0, 1]), weight=weight, temperature=temperature
        )


def test_the_pipeline_keeps_each_face_with_its_own_target():
    # Constant faces stay constant under flips and reflect-padded warps, so a face's gray
    # level still names it after shuffling and augmentation.
    count = 40
    images = np.repeat(np.arange(count, dtype=np.uint8)[:, None, None, None] * 5, 48, axis=1)
    images = np.repeat(images, 48, axis=2)
    labels = np.arange(count) % len(CLASSES)
    targets = np.random.default_rng(0).dirichlet(np.ones(len(CLASSES)), count).astype("float32")
    config = dataclasses.replace(
        get_config("tiny"), augment={**get_config("tiny").augment, "erase_prob": 0.0}
    )

    batches = make_train_dataset(images, labels, config, seed=3, targets=targets).take(3)

    seen = 0
    for x, y, _ in batches:
        index = np.round(x.numpy().reshape(len(x), -1).mean(axis=1) / 5).astype(int)
        np.testing.assert_allclose(y.numpy(), targets[index], atol=1e-6)
        seen += len(x)
    assert seen == 3 * config.batch_size


def _train_tiny(data: Path, out: Path, *extra: str) -> int:
    args = ["--data", str(data), "--config", "tiny", "--out", str(out), "--epochs", "1"]
    return train_main([*args, "--seed", "5", "--version", "0.0-kd", *extra])


@pytest.mark.slow
def test_a_distilled_run_records_its_teacher_and_refuses_one_from_other_data(
    image_tree: Path, tmp_path: Path
):
    assert _train_tiny(image_tree, tmp_path / "teacher") == 0

    code = _train_tiny(
        image_tree,
        tmp_path / "student",
        "--teacher",
        str(tmp_path / "teacher"),
        "--teacher-weight",
        "0.7",
    )

    assert code == 0
    config = read_metadata(tmp_path / "student").config
    assert config["teacher"] == f"fer-cnn 0.0-kd ({tmp_path / 'teacher'})"
    assert config["teacher_weight"] == 0.7
    state = json.loads((tmp_path / "student" / "state.json").read_text())
    assert state["teacher_path"] == str(tmp_path / "teacher")
    assert "distilled from fer-cnn 0.0-kd" in (tmp_path / "student" / "MODEL_CARD.md").read_text()

    # a teacher trained on other faces could have seen this run's test faces
    write_image(image_tree / "train" / "happy" / "extra.png", face_pixels(999))
    with pytest.raises(ArtifactError, match="trained on other data"):
        _train_tiny(image_tree, tmp_path / "leaky", "--teacher", str(tmp_path / "teacher"))


def test_a_network_is_warm_started_from_one_member_of_an_ensemble(tmp_path: Path):
    nets = [build_model(get_config("tiny"), (48, 48, 1)) for _ in range(2)]
    build_ensemble(nets, (48, 48, 1)).save(tmp_path / "model.keras")
    model = build_model(get_config("tiny"), (48, 48, 1))

    load_initial_weights(model, tmp_path, member=2)

    for mine, theirs in zip(model.get_weights(), nets[1].get_weights(), strict=True):
        np.testing.assert_array_equal(mine, theirs)
    with pytest.raises(ValueError, match="choose one with --init-member"):
        load_initial_weights(model, tmp_path)
    with pytest.raises(ValueError, match="no such member"):
        load_initial_weights(model, tmp_path, member=3)
