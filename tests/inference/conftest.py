"""Fixtures of the Django-free inference core: a tiny model artifact and real photos."""

import os
import tarfile
from io import BytesIO
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ml import CLASSES
from ml.artifact import ArtifactMetadata, write_metadata

REPO_ROOT = Path(__file__).resolve().parents[2]


def data_dir() -> Path:
    return Path(os.environ.get("FER_DATA_DIR", REPO_ROOT.parent / "shared" / "datasets"))


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
    folder = data_dir() / "sample-photos"
    if not (folder / "images_1.jpg").is_file():
        pytest.skip(f"real sample photos not found in {folder} (set FER_DATA_DIR)")
    return folder


@pytest.fixture(scope="session")
def fer_faces() -> list[tuple[np.ndarray, str]]:
    """Two FER2013 PrivateTest faces per class, read straight from the shared archive."""
    archive = data_dir() / "fer2013.tar.gz"
    if not archive.is_file():
        pytest.skip(f"FER2013 archive not found at {archive} (set FER_DATA_DIR)")
    wanted = {label: 2 for label in CLASSES}
    faces = []
    with tarfile.open(archive) as tar:
        for member in tar:
            parts = Path(member.name).parts
            if len(parts) != 3 or parts[0] != "test" or not parts[2].startswith("PrivateTest"):
                continue
            if wanted.get(parts[1], 0) > 0:
                data = tar.extractfile(member).read()
                faces.append((np.asarray(Image.open(BytesIO(data)).convert("L")), parts[1]))
                wanted[parts[1]] -= 1
            if not any(wanted.values()):
                break
    return faces
