"""A short real training run on a tiny generated set yields an artifact that loads and predicts."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from ml import CLASSES
from ml.artifact import load_keras_model, read_metadata
from ml.cli.evaluate import main as evaluate_main
from ml.cli.export import main as export_main
from ml.cli.train import main as train_main
from ml.networks import build_model, get_config
from ml.tflite import TFLiteRunner
from ml.train import class_weights, load_initial_weights, resumed_settings


@pytest.mark.slow
def test_one_short_epoch_produces_a_loadable_artifact(image_tree: Path, tmp_path: Path):
    out = tmp_path / "run"

    code = train_main(
        [
            "--data",
            str(image_tree),
            "--config",
            "tiny",
            "--out",
            str(out),
            "--epochs",
            "1",
            "--seed",
            "3",
            "--version",
            "0.0-test",
        ]
    )

    assert code == 0
    for name in (
        "model.keras",
        "model.json",
        "report.json",
        "confusion.png",
        "MODEL_CARD.md",
        "history.csv",
        "best.keras",
        "last.keras",
    ):
        assert (out / name).is_file(), name
    model, meta = load_keras_model(out)
    assert meta.classes == list(CLASSES) and meta.version == "0.0-test" and meta.seed == 3
    assert meta.training_data["sizes"] == {"train": 14, "valid": 14, "test": 14}
    faces = np.random.default_rng(0).integers(0, 256, (5, 48, 48, 1)).astype(np.float32)
    probabilities = np.asarray(model(faces, training=False))
    assert probabilities.shape == (5, 7)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)

    # the evaluation CLI reproduces the test accuracy that model.json records
    report_path = tmp_path / "eval.json"
    assert (
        evaluate_main(
            [
                "--model",
                str(out),
                "--data",
                str(image_tree),
                "--split",
                "PrivateTest",
                "--json",
                str(report_path),
            ]
        )
        == 0
    )
    report = json.loads(report_path.read_text())
    assert report["accuracy"] == pytest.approx(read_metadata(out).metrics["accuracy"])
    assert (tmp_path / "eval.png").is_file()

    # --resume continues after the finished epoch instead of starting again
    assert (
        train_main(
            [
                "--data",
                str(image_tree),
                "--config",
                "tiny",
                "--out",
                str(out),
                "--epochs",
                "2",
                "--resume",
            ]
        )
        == 0
    )
    history = (out / "history.csv").read_text().strip().splitlines()
    assert [line.split(",")[0] for line in history[1:]] == ["0", "1"]
    # ... and records the seed the run started with, not the resuming command's default
    assert read_metadata(out).seed == 3

    # --init-from starts a new run from the artifact's weights and records where they came from
    warm = tmp_path / "warm"
    assert (
        train_main(
            [
                "--data",
                str(image_tree),
                "--config",
                "tiny",
                "--out",
                str(warm),
                "--epochs",
                "1",
                "--init-from",
                str(out),
                "--learning-rate",
                "0.0005",
            ]
        )
        == 0
    )
    warm_config = read_metadata(warm).config
    assert warm_config["init_from"] == f"fer-cnn {read_metadata(out).version} ({out})"
    assert warm_config["learning_rate"] == 0.0005
    assert "warm-started from the weights of fer-cnn" in (warm / "MODEL_CARD.md").read_text()

    # the TFLite export agrees with the Keras model
    assert export_main(["--model", str(out), "--faces", "64", "--batch", "32"]) == 0
    runner = TFLiteRunner.from_path(out / "model.tflite")
    np.testing.assert_allclose(runner.predict(faces), probabilities, atol=1e-5)


def test_initial_weights_are_copied_and_other_architectures_refused(tmp_path: Path):
    import keras

    donor = build_model(get_config("tiny"), (48, 48, 1))
    donor.save(tmp_path / "model.keras")

    model = build_model(get_config("tiny"), (48, 48, 1))
    load_initial_weights(model, tmp_path)

    for mine, theirs in zip(model.get_weights(), donor.get_weights(), strict=True):
        np.testing.assert_array_equal(mine, theirs)
    keras.utils.set_random_seed(1)
    with pytest.raises(ValueError, match="different architecture"):
        load_initial_weights(build_model(get_config("cpu-small"), (48, 48, 1)), tmp_path)
    with pytest.raises(FileNotFoundError, match="no model"):
        load_initial_weights(model, tmp_path / "missing")


def test_class_weights_lift_rare_classes_and_average_one():
    labels = np.array([0] * 90 + [1] * 10)
    weights = class_weights(labels, power=0.5)
    assert weights[1] / weights[0] == pytest.approx(3.0)  # sqrt(90 / 10)
    assert weights[labels].mean() == pytest.approx(1.0)


def test_a_resumed_run_keeps_the_config_and_seed_it_started_with(tmp_path: Path):
    import dataclasses

    started = dataclasses.replace(get_config("tiny"), learning_rate=5e-4, init_from="fer-cnn 0.9")
    (tmp_path / "last.keras").write_bytes(b"checkpoint")
    (tmp_path / "state.json").write_text(
        json.dumps({"config": started.to_dict(), "seed": 7, "epochs": 12, "epochs_done": 4})
    )

    config, seed, epochs = resumed_settings(tmp_path, get_config("tiny"), 1, None)

    assert (config, seed, epochs) == (started, 7, 12)
    assert resumed_settings(tmp_path, get_config("tiny"), 1, 20)[2] == 20
    with pytest.raises(ValueError, match="started with config 'tiny', not 'cpu-small'"):
        resumed_settings(tmp_path, get_config("cpu-small"), 1, None)
    # nothing to resume yet: the command's own settings start the run
    fresh = tmp_path / "fresh"
    assert resumed_settings(fresh, get_config("cpu-small"), 2, None) == (
        get_config("cpu-small"),
        2,
        None,
    )
