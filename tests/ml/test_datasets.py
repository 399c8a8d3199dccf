"""The loaders: every form users bring, and a clear error for every bad case."""

from __future__ import annotations

import tarfile
from pathlib import Path

import numpy as np
import pytest

from ml import CLASSES
from ml.datasets import GRAY_WEIGHTS, DatasetError, load_dataset
from ml.preprocessing import PreprocessSpec
from tests.shared_data import shared_file

from .conftest import face_pixels, write_csv, write_image


def test_csv_labels_are_mapped_to_the_canonical_order(tmp_path: Path):
    # given a CSV where sad=4, surprise=5, neutral=6 (FER2013's own order)
    rows = [(name, face_pixels(i), "Training") for i, name in enumerate(CLASSES)]
    rows.append(("sad", face_pixels(100), "PublicTest"))
    rows.append(("neutral", face_pixels(101), "PrivateTest"))
    path = write_csv(tmp_path / "fer.csv", rows)

    # when it is loaded
    dataset = load_dataset(path)

    # then every image keeps its class by name and lands in the right split
    train = dataset.split("Training")
    assert [CLASSES[i] for i in train.labels] == list(CLASSES)
    assert CLASSES[dataset.split("PublicTest").labels[0]] == "sad"
    assert CLASSES[dataset.split("PrivateTest").labels[0]] == "neutral"
    assert train.images.shape == (7, 48, 48, 1) and train.images.dtype == np.uint8
    np.testing.assert_array_equal(train.images[3, :, :, 0], face_pixels(3))


def test_csv_pixel_string_of_wrong_length_names_the_line(tmp_path: Path):
    path = tmp_path / "bad.csv"
    path.write_text("emotion,pixels,Usage\n3," + " ".join(["1"] * 100) + ",Training\n")
    with pytest.raises(DatasetError, match=r"bad.csv:2: pixels has 100 values, expected 2304"):
        load_dataset(path)


def test_csv_without_usage_column_is_rejected(tmp_path: Path):
    path = tmp_path / "bad.csv"
    path.write_text("emotion,pixels\n3,1 2 3\n")
    with pytest.raises(DatasetError, match="lacks the column"):
        load_dataset(path)


def test_image_folders_of_any_size_and_color_are_resized(image_tree: Path):
    # given one RGB image of another size among the gray PNGs
    rgb = np.random.default_rng(5).integers(0, 256, (96, 80, 3), dtype=np.uint8)
    write_image(image_tree / "train" / "happy" / "big_rgb.jpg", rgb)

    dataset = load_dataset(image_tree)

    train = dataset.split("train")
    assert len(train) == 15 and train.images.shape[1:] == (48, 48, 1)
    assert train.class_counts()["happy"] == 3
    assert len(dataset.split("valid")) == 14 and len(dataset.split("test")) == 14


def test_unknown_class_folder_is_a_clear_error(image_tree: Path):
    write_image(image_tree / "train" / "contempt" / "x.png", face_pixels(999))
    with pytest.raises(DatasetError, match="unknown class folder 'contempt'"):
        load_dataset(image_tree)


def test_unreadable_images_are_skipped_and_reported(image_tree: Path):
    broken = image_tree / "train" / "sad" / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff not really a jpeg")

    dataset = load_dataset(image_tree)

    assert [Path(p).name for p, _ in dataset.unreadable] == ["broken.jpg"]
    assert dataset.summary()["unreadable"] == 1
    assert len(dataset.split("train")) == 14


def test_empty_split_is_a_clear_error(tmp_path: Path):
    write_image(tmp_path / "d" / "train" / "happy" / "a.png", face_pixels(1))
    dataset = load_dataset(tmp_path / "d")
    with pytest.raises(DatasetError, match="split 'PrivateTest' is empty"):
        dataset.split("PrivateTest")


def test_folder_without_images_is_a_clear_error(tmp_path: Path):
    (tmp_path / "empty" / "train").mkdir(parents=True)
    with pytest.raises(DatasetError, match="no images found"):
        load_dataset(tmp_path / "empty")


def test_duplicates_are_counted_and_cross_split_ones_dropped_from_training(image_tree: Path):
    # given: one test image copied into train twice, and one train image copied within train
    test_copy = face_pixels(999)
    write_image(image_tree / "test" / "fear" / "t.png", test_copy)
    write_image(image_tree / "train" / "fear" / "dup_a.png", test_copy)
    write_image(image_tree / "train" / "fear" / "dup_b.png", test_copy)
    write_image(image_tree / "train" / "happy" / "again.png", face_pixels(1 + 2 * 3))

    dataset = load_dataset(image_tree)

    report = dataset.duplicates
    assert report.within["train"] == 2  # dup_b repeats dup_a; again.png repeats a happy image
    assert report.across["train~test"] == 1  # one test image also stands in train
    assert report.dropped_from_train == 2
    assert len(dataset.split("train")) == 14 + 3 - 2


def test_release_tarball_uses_the_file_name_prefix_for_the_split(tmp_path: Path):
    # given the FER2013 release layout: PublicTest_ and PrivateTest_ files share test/
    root = tmp_path / "release"
    write_image(root / "train" / "happy" / "Training_1.jpg", face_pixels(1))
    write_image(root / "test" / "happy" / "PublicTest_2.jpg", face_pixels(2))
    write_image(root / "test" / "sad" / "PrivateTest_3.jpg", face_pixels(3))
    archive = tmp_path / "fer.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(root / "train", arcname="train")
        tar.add(root / "test", arcname="test")

    dataset = load_dataset(archive, cache_dir=tmp_path / "cache")
    cached = load_dataset(archive, cache_dir=tmp_path / "cache")

    assert {k: len(v) for k, v in dataset.splits.items()} == {"train": 1, "valid": 1, "test": 1}
    assert CLASSES[dataset.split("PrivateTest").labels[0]] == "sad"
    assert cached.fingerprint() == dataset.fingerprint()
    assert list((tmp_path / "cache").glob("*.npz"))


def test_photo_folders_join_training_through_the_serving_path(image_tree, tmp_path, monkeypatch):
    # given: three real photos in class folders of the data folder, beside a small FER-style tree

    photos = tmp_path / "photos"
    for label, name in (
        ("happy", "demo_7.jpg"),
        ("angry", "images_1.jpg"),
        ("sad", "images_2.jpg"),
    ):
        (photos / label).mkdir(parents=True)
        (photos / label / name).write_bytes(shared_file(f"sample-photos/{name}").read_bytes())
    spec = PreprocessSpec(align=True)
    monkeypatch.setenv("FER_DATA_DIR", str(tmp_path))
    # when
    dataset = load_dataset(image_tree, spec, extra_train=[photos], extra_variants=3)
    # then: each photo's face joins the training split as three gray conversions
    train = dataset.split("train")
    assert len(train) == 14 + 9
    assert train.class_counts()["angry"] == 2 + 3
    assert dataset.summary()["extra_train"]["photos"]["images"] == 9
    variants = train.images[-3:].astype(int)
    assert len({variant.tobytes() for variant in variants}) == 3
    assert np.abs(variants[0] - variants[1]).mean() < 20
    assert GRAY_WEIGHTS[0] == (0.299, 0.587, 0.114)
    assert dataset.fingerprint() != load_dataset(image_tree, spec).fingerprint()
