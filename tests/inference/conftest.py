"""Fixtures of the Django-free inference core: a tiny model artifact and real photos."""

from pathlib import Path

import numpy as np
import pytest

from ml import CLASSES
from ml.artifact import ArtifactMetadata, write_metadata
from tests.shared_data import fer_test_faces, shared_file


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    """A model artifact with a random-weight CNN of the real contract (uint8 in, softmax out)."""
    import keras

    keras.utils.set_random_seed(7)
    inputs = keras.Input(shape=(48, 48, 1))
    x = keras.layers.Rescaling(1.0 / 255.0)(inputs)
    x = keras.layers.Conv2D(4, 3, activation="relu")(x)
    x = keras.layers.MaxPooling2D(4)(x)
    x = keras.layers.Conv2D(8, 3, activation="relu")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(len(CLASSES), activation="softmax")(x)
    model = keras.Model(inputs, outputs)
    folder = tmp_path_factory.mktemp("tiny-artifact")
    model.save(folder / "model.keras")
    write_metadata(folder, ArtifactMetadata(name="tiny", version="0.0.1"))
    return folder


@pytest.fixture(scope="session")
def sample_photos() -> Path:
    folder = shared_file("sample-photos")
    shared_file("sample-photos/images_1.jpg")
    return folder


@pytest.fixture(scope="session")
def fer_faces() -> list[tuple[np.ndarray, str]]:
    """Two FER2013 PrivateTest faces per class, read straight from the shared archive."""
    return fer_test_faces(2)
