"""Averaging trained networks into one artifact that serves like any other."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from ml.artifact import ArtifactError, load_keras_model, read_metadata
from ml.cli.ensemble import main as ensemble_main
from ml.cli.export import main as export_main
from ml.cli.train import main as train_main
from ml.ensemble import check_members, make_ensemble
from ml.export import convert_to_tflite
from ml.networks import HorizontalFlip, build_model, get_config
from ml.tflite import TFLiteRunner
from tests.shared_data import shared_file


def _train_tiny(data: Path, out: Path, seed: int) -> Path:
    args = ["--data", str(data), "--config", "tiny", "--out", str(out), "--epochs", "1"]
    assert train_main([*args, "--seed", str(seed), "--version", f"0.0-seed{seed}"]) == 0
    return out


@pytest.fixture
def members(image_tree: Path, tmp_path: Path) -> list[Path]:
    return [_train_tiny(image_tree, tmp_path / f"member{seed}", seed) for seed in (1, 2)]


def test_horizontal_flip_mirrors_left_to_right():
    images = np.arange(2 * 3 * 4 * 1, dtype=np.float32).reshape(2, 3, 4, 1)

    mirrored = np.asarray(HorizontalFlip()(images))

    np.testing.assert_array_equal(mirrored, images[:, :, ::-1])


@pytest.mark.slow
def test_ensemble_artifact_averages_its_members_over_face_and_mirror(
    members: list[Path], image_tree: Path, tmp_path: Path
):
    out = tmp_path / "ensemble"

    code = ensemble_main(
        [
            "--members",
            *map(str, members),
            "--data",
            str(image_tree),
            "--out",
            str(out),
            "--flip",
            "--version",
            "0.0-ens",
        ]
    )

    assert code == 0
    model, meta = load_keras_model(out)
    faces = np.random.default_rng(4).integers(0, 256, (6, 48, 48, 1)).astype(np.float32)
    expected = np.mean(
        [
            np.asarray(member(view, training=False))
            for member, _ in map(load_keras_model, members)
            for view in (faces, faces[:, :, ::-1])
        ],
        axis=0,
    )
    np.testing.assert_allclose(np.asarray(model(faces, training=False)), expected, atol=1e-6)

    assert meta.version == "0.0-ens" and meta.config["name"] == "ensemble"
    assert meta.config["flip"] is True
    assert [m["seed"] for m in meta.config["members"]] == [1, 2]
    assert [m["model"] for m in meta.config["members"]] == [
        "fer-cnn 0.0-seed1",
        "fer-cnn 0.0-seed2",
    ]
    assert meta.config["members"][0]["epochs"] == 1
    report = json.loads((out / "report.json").read_text())
    assert meta.metrics["accuracy"] == report["test"]["accuracy"]
    card = (out / "MODEL_CARD.md").read_text()
    assert "An ensemble of 2 convolutional networks" in card
    assert "costs 4 network passes per face" in card
    assert "fer-cnn 0.0-seed2: tiny, seed 2, 1 epochs from scratch" in card

    # serving and export need nothing new: the classifier and TFLite take it as one model
    from inference.classifier import EmotionClassifier

    classifier = EmotionClassifier.load(out, backend="keras")
    np.testing.assert_allclose(
        classifier.predict_preprocessed(faces.astype(np.uint8)), expected, atol=1e-5
    )
    runner = TFLiteRunner.from_content(convert_to_tflite(model))
    np.testing.assert_allclose(runner.predict(faces), expected, atol=1e-5)

    with pytest.raises(FileExistsError, match="choose a new --out"):
        make_ensemble(members, data=image_tree, out=out, name="fer-cnn", version="0.0-again")


@pytest.mark.slow
def test_members_that_disagree_on_input_or_data_are_refused(
    members: list[Path], image_tree: Path, tmp_path: Path
):
    first, second = (read_metadata(path) for path in members)

    with pytest.raises(ArtifactError, match="at least 2 members"):
        check_members([first])
    wider = dataclasses.replace(second.preprocessing, crop_margin=0.2)
    with pytest.raises(ArtifactError, match="uses preprocessing"):
        check_members([first, dataclasses.replace(second, preprocessing=wider)])
    other_data = dict(second.training_data, fingerprint="0" * 64)
    with pytest.raises(ArtifactError, match="trained on other data"):
        check_members([first, dataclasses.replace(second, training_data=other_data)])

    # evaluating on other data than the members were trained on would report a wrong figure
    other_tree = tmp_path / "other"
    shutil.copytree(image_tree, other_tree)
    shutil.rmtree(other_tree / "valid" / "happy")
    with pytest.raises(ArtifactError, match="not the data the members were trained on"):
        make_ensemble(
            members, data=other_tree, out=tmp_path / "ens", name="fer-cnn", version="0.0-x"
        )


def test_an_ensemble_of_untrained_networks_saves_and_loads(tmp_path: Path):
    import keras

    from ml.ensemble import build_ensemble

    nets = [build_model(get_config("tiny"), (48, 48, 1)) for _ in range(3)]
    ensemble = build_ensemble(nets, (48, 48, 1))
    ensemble.save(tmp_path / "model.keras")

    loaded = keras.saving.load_model(tmp_path / "model.keras", compile=False)

    faces = np.random.default_rng(1).integers(0, 256, (4, 48, 48, 1)).astype(np.float32)
    expected = np.mean([np.asarray(net(faces, training=False)) for net in nets], axis=0)
    np.testing.assert_allclose(np.asarray(loaded(faces, training=False)), expected, atol=1e-6)
    assert [layer.name for layer in loaded.layers][1:] == [
        "member_1",
        "member_2",
        "member_3",
        "emotion",
    ]


@pytest.mark.slow
def test_an_ensemble_given_as_a_member_adds_its_networks_as_equal_members(
    members: list[Path], image_tree: Path, tmp_path: Path
):
    pair = make_ensemble(
        members, data=image_tree, out=tmp_path / "pair", name="fer-cnn", version="0.0-pair"
    )
    third = _train_tiny(image_tree, tmp_path / "member3", 3)

    grown = make_ensemble(
        [tmp_path / "pair", third],
        data=image_tree,
        out=tmp_path / "grown",
        name="fer-cnn",
        version="0.0-grown",
    )

    # the mean of three networks, not the mean of (the pair's mean, the third)
    model, meta = load_keras_model(tmp_path / "grown")
    faces = np.random.default_rng(5).integers(0, 256, (6, 48, 48, 1)).astype(np.float32)
    networks = [*members, third]
    expected = np.mean(
        [np.asarray(load_keras_model(path)[0](faces, training=False)) for path in networks],
        axis=0,
    )
    np.testing.assert_allclose(np.asarray(model(faces, training=False)), expected, atol=1e-6)
    assert meta.config["members"] == [*pair.config["members"], grown.config["members"][2]]
    assert [m["seed"] for m in meta.config["members"]] == [1, 2, 3]
    assert (
        "An ensemble of 3 convolutional networks"
        in (tmp_path / "grown" / "MODEL_CARD.md").read_text()
    )


def test_one_network_of_an_ensemble_can_be_chosen_as_a_member(
    members: list[Path], image_tree: Path, tmp_path: Path
):
    make_ensemble(members, data=image_tree, out=tmp_path / "pair", name="fer-cnn", version="p")
    third = _train_tiny(image_tree, tmp_path / "member3", 3)

    chosen = make_ensemble(
        [f"{tmp_path / 'pair'}#2", third],
        data=image_tree,
        out=tmp_path / "chosen",
        name="fer-cnn",
        version="0.0-chosen",
    )

    # the mean of the pair's second network (seed 2) and the third, nothing of seed 1
    assert [m["seed"] for m in chosen.config["members"]] == [2, 3]
    model, _ = load_keras_model(tmp_path / "chosen")
    faces = np.random.default_rng(6).integers(0, 256, (4, 48, 48, 1)).astype(np.float32)
    expected = np.mean(
        [np.asarray(load_keras_model(p)[0](faces, training=False)) for p in (members[1], third)],
        axis=0,
    )
    np.testing.assert_allclose(np.asarray(model(faces, training=False)), expected, atol=1e-6)

    for spec, message in (
        (f"{tmp_path / 'pair'}#3", "has networks 1 to 2, not '3'"),
        (f"{tmp_path / 'pair'}#x", "not 'x'"),
        (f"{third}#1", "is a single network, not an ensemble"),
    ):
        with pytest.raises(ValueError, match=message):
            make_ensemble(
                [spec, third], data=image_tree, out=tmp_path / "bad", name="n", version="v"
            )


@pytest.mark.slow
def test_export_measures_a_reference_model_in_the_same_run(
    members: list[Path], capsys: pytest.CaptureFixture[str]
):
    first, second = members
    args = ["--model", str(first), "--reference", str(second), "--faces", "64", "--batch", "32"]

    assert export_main([*args, "--check-only"]) == 0

    lines = capsys.readouterr().out.splitlines()
    for precision in ("float32", "bfloat16"):
        model_line, reference_line = (
            line for line in lines if line.split()[:2] == ["keras", precision]
        )
        assert reference_line.endswith("reference: fer-cnn 0.0-seed2")
        model_rate = float(model_line.split()[2])
        reference_rate = float(reference_line.split()[2])
        (ratio_line,) = (
            line for line in lines if line.startswith("speed ") and f"keras {precision}" in line
        )
        ratio = float(ratio_line.removeprefix("speed ").split("x")[0])
        assert ratio == pytest.approx(model_rate / reference_rate, rel=0.02, abs=0.01)
    assert not (first / "model.tflite").exists()


@pytest.mark.slow
def test_members_trained_with_photos_mixed_in_ensemble_on_the_same_data(
    image_tree: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    # given: two aligned networks trained with a folder of real photos (in the data folder)
    photos = tmp_path / "photos"
    (photos / "angry").mkdir(parents=True)
    (photos / "angry" / "images_1.jpg").write_bytes(
        shared_file("sample-photos/images_1.jpg").read_bytes()
    )
    monkeypatch.setenv("FER_DATA_DIR", str(tmp_path))
    extra = ["--align", "--extra-train", str(photos), "--extra-variants", "2"]
    members = []
    for seed in (1, 2):
        out = tmp_path / f"member{seed}"
        args = ["--data", str(image_tree), "--config", "tiny", "--out", str(out), "--epochs", "1"]
        assert train_main([*args, *extra, "--seed", str(seed), "--version", f"0.{seed}"]) == 0
        members.append(out)
    # when
    meta = make_ensemble(
        members, data=image_tree, out=tmp_path / "ensemble", name="fer-cnn", version="0.3"
    )
    # then: the ensemble recognises its members' data, photos included, and stays aligned
    assert (
        meta.training_data["fingerprint"] == read_metadata(members[0]).training_data["fingerprint"]
    )
    assert meta.training_data["extra_train"]["photos"]["images"] == 2
    assert meta.preprocessing.align is True
