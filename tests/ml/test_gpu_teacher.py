"""A teacher trained on a lent GPU (ml.gpu_teacher, PyTorch) and distilled here: the faces
that travel to it, the probabilities that come back, and a student trained on them.

The PyTorch half runs on CPU where torch is installed (it is not a dependency of the
project: the GPU machine has it), and is skipped elsewhere."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ml import CLASSES
from ml.artifact import ArtifactError, read_metadata
from ml.cli.train import main as train_main
from ml.datasets import Dataset, SplitData, load_dataset
from ml.distill import teacher_probabilities
from ml.gpu_teacher import decode_images, encode_images, load_faces
from ml.preprocessing import PreprocessSpec
from ml.teacher_faces import pack_faces
from tests.ml.conftest import face_pixels, write_image


def test_faces_travel_losslessly_and_a_third_smaller():
    rng = np.random.default_rng(0)
    # Smooth faces with noise, as photos are (random noise alone would not compress).
    base = np.linspace(0, 200, 48 * 48).reshape(48, 48)
    images = np.clip(base + rng.normal(0, 4, (60, 48, 48)), 0, 255).astype(np.uint8)[..., None]

    blob, offsets = encode_images(images)

    np.testing.assert_array_equal(decode_images(blob, offsets, channels=1), images)
    assert len(offsets) == len(images) + 1
    assert blob.nbytes < 0.8 * images.nbytes


def test_packed_faces_are_the_runs_own_with_its_fingerprint(image_tree: Path, tmp_path: Path):
    dataset = load_dataset(image_tree)

    pack_faces(dataset, tmp_path / "faces.npz")
    faces = load_faces(tmp_path / "faces.npz")

    assert faces.fingerprint == dataset.fingerprint()
    assert faces.classes == list(CLASSES)
    assert faces.preprocessing == dataset.spec.to_dict()
    assert sorted(faces.images) == ["train", "valid"]  # PrivateTest stays here by default
    for split in ("train", "valid"):
        np.testing.assert_array_equal(faces.images[split], dataset.split(split).images)
        np.testing.assert_array_equal(faces.labels[split], dataset.split(split).labels)


def _teacher_file(path: Path, train: np.ndarray, fingerprint: str, spec: dict) -> Path:
    """A probabilities file as ml.gpu_teacher writes it."""
    meta = {
        "classes": list(CLASSES),
        "fingerprint": fingerprint,
        "preprocessing": spec,
        "teacher": "gpu-teacher resnet [8, 16], 3 epochs on cpu, best epoch 2",
    }
    np.savez(path, meta=np.array(json.dumps(meta)), train=train, valid=train[:2])
    return path


def test_a_student_distils_a_gpu_teachers_probabilities(image_tree: Path, tmp_path: Path):
    dataset = load_dataset(image_tree)
    probabilities = np.random.default_rng(1).dirichlet(np.ones(7), len(dataset.split("train")))
    teacher = _teacher_file(
        tmp_path / "teacher.npz", probabilities, dataset.fingerprint(), dataset.spec.to_dict()
    )

    np.testing.assert_allclose(teacher_probabilities(teacher, dataset), probabilities, rtol=1e-6)

    args = ["--data", str(image_tree), "--config", "tiny", "--out", str(tmp_path / "student")]
    assert train_main([*args, "--epochs", "1", "--teacher", str(teacher)]) == 0
    config = read_metadata(tmp_path / "student").config
    assert config["teacher"] == (
        f"gpu-teacher resnet [8, 16], 3 epochs on cpu, best epoch 2 ({teacher})"
    )
    assert config["teacher_weight"] == 0.5


def test_a_gpu_teachers_probabilities_on_other_faces_are_refused(image_tree: Path, tmp_path: Path):
    dataset = load_dataset(image_tree)
    probabilities = np.full((len(dataset.split("train")), 7), 1 / 7)
    teacher = _teacher_file(
        tmp_path / "teacher.npz", probabilities, dataset.fingerprint(), dataset.spec.to_dict()
    )
    write_image(image_tree / "train" / "happy" / "extra.png", face_pixels(999))

    with pytest.raises(ArtifactError, match="trained on other data"):
        teacher_probabilities(teacher, load_dataset(image_tree))
    not_a_teacher = tmp_path / "other.npz"
    np.savez(not_a_teacher, probabilities=probabilities)
    with pytest.raises(ValueError, match="not a teacher's probabilities file"):
        teacher_probabilities(not_a_teacher, dataset)


# --- the PyTorch half, on CPU ---------------------------------------------------------------


def _easy_faces(tmp_path: Path) -> tuple[Path, str]:
    """Faces whose class is the period of horizontal stripes (2 to 8 px), which survives the
    teacher's augmentations: learnable in seconds. Packed as ml.teacher_faces packs a run's
    faces; returns the file and its fingerprint."""
    rng = np.random.default_rng(3)
    rows = np.arange(48, dtype=np.float64)[None, :, None, None]
    splits = {}
    for split, count in (("train", 700), ("valid", 140)):
        labels = np.arange(count) % len(CLASSES)
        period = 2.0 + labels[:, None, None, None]
        phase = rng.uniform(0, 2 * np.pi, (count, 1, 1, 1))
        stripes = 128 + 80 * np.sin(2 * np.pi * rows / period + phase)
        noisy = stripes + rng.normal(0, 10, (count, 48, 48, 1))
        images = np.clip(noisy, 0, 255).astype(np.uint8)
        splits[split] = SplitData(images, labels, [f"{split}/{i}" for i in range(count)])
    dataset = Dataset(splits=splits, spec=PreprocessSpec(), source="stripes")
    pack_faces(dataset, tmp_path / "faces.npz")
    return tmp_path / "faces.npz", dataset.fingerprint()


# The interpreter that runs the teacher: this one, or (env GPU_TEACHER_PYTHON) one with torch,
# numpy and opencv beside the project's, as the GPU machine has.
TEACHER_PYTHON = os.environ.get("GPU_TEACHER_PYTHON", sys.executable)
REPO_ROOT = Path(__file__).resolve().parents[2]


def _has_torch(python: str) -> bool:
    probe = [python, "-c", "import torch, cv2, numpy"]
    try:
        return subprocess.run(probe, capture_output=True, timeout=120, check=False).returncode == 0
    except OSError:
        return False


needs_torch = pytest.mark.skipif(
    not _has_torch(TEACHER_PYTHON),
    reason=f"no torch in {TEACHER_PYTHON}: torch is only on the GPU machine; set "
    "GPU_TEACHER_PYTHON to a Python with torch, numpy and opencv to test ml.gpu_teacher here",
)


def _gpu_teacher(*args: str) -> subprocess.CompletedProcess[str]:
    """`python -m ml.cli.gpu_teacher ...` in its own process, as on the GPU machine (PyTorch and
    TensorFlow in one process can crash it)."""
    return subprocess.run(
        [TEACHER_PYTHON, "-m", "ml.cli.gpu_teacher", *args, "--device", "cpu"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        cwd=REPO_ROOT,
    )


@pytest.mark.slow
@needs_torch
def test_the_teacher_learns_and_gives_back_its_weights_and_probabilities(tmp_path: Path):
    out, (faces_file, fingerprint) = tmp_path / "out", _easy_faces(tmp_path)
    faces = str(faces_file)
    # --part-bytes: weights in several parts, as a large teacher's are (<= 16 MiB come back).
    options = ["--widths", "8,16", "--max-epochs", "6", "--batch-size", "64", "--minutes", "5"]
    options += ["--learning-rate", "0.05", "--part-bytes", "20000"]

    run = _gpu_teacher("train", "--faces", faces, "--out", str(out), *options)

    assert run.returncode == 0, run.stderr[-3000:]
    meta = json.loads((out / "teacher.json").read_text())
    assert meta["epochs_done"] == 6 and meta["fingerprint"] == fingerprint
    assert meta["best_valid_accuracy"] >= 0.9, meta["history"]
    # only the best epoch's weights are kept, in parts
    assert len(meta["weight_files"]) > 1
    assert sorted(p.name for p in out.glob("*.pt.*")) == sorted(meta["weight_files"])
    assert all(
        name.startswith(f"teacher-e{meta['best_epoch']:03d}.pt.") for name in meta["weight_files"]
    )
    with np.load(out / "teacher_probabilities.npz") as data:
        described = json.loads(str(data["meta"]))
        train, valid = data["train"], data["valid"]
    assert train.shape == (700, 7) and valid.shape == (140, 7)
    np.testing.assert_allclose(train.sum(axis=1), 1.0, atol=1e-5)
    assert described["fingerprint"] == fingerprint
    assert described["accuracy"]["valid"] == pytest.approx(
        float((valid.argmax(1) == np.arange(140) % 7).mean())
    )
    # The weights on disk give back the probabilities written (these came from them).
    again = tmp_path / "again.npz"
    run = _gpu_teacher("predict", "--teacher", str(out), "--faces", faces, "--out", str(again))
    assert run.returncode == 0, run.stderr[-3000:]
    with np.load(again) as data:
        np.testing.assert_allclose(data["valid"], valid, atol=1e-6)


@pytest.mark.slow
@needs_torch
def test_the_time_budget_ends_training_with_the_best_checkpoint_kept(tmp_path: Path):
    out = tmp_path / "out"
    options = ["--widths", "8,16", "--max-epochs", "50", "--batch-size", "64"]

    run = _gpu_teacher(
        "train",
        "--faces",
        str(_easy_faces(tmp_path)[0]),
        "--out",
        str(out),
        *options,
        "--minutes",
        "0.001",
    )

    assert run.returncode == 0, run.stderr[-3000:]
    meta = json.loads((out / "teacher.json").read_text())
    # A budget shorter than one epoch still plans the minimum of two, then stops.
    assert meta["epochs_planned"] == 2 and meta["epochs_done"] == 2
    best = max(h["valid_accuracy"] for h in meta["history"])
    assert meta["best_valid_accuracy"] == best
    assert meta["history"][meta["best_epoch"] - 1]["valid_accuracy"] == best
    assert (out / "teacher_probabilities.npz").is_file()
