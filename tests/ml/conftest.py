"""Small datasets generated on the fly, in every form the loaders read."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ml import CLASSES

CSV_LABEL_OF = {
    "angry": 0,
    "disgust": 1,
    "fear": 2,
    "happy": 3,
    "sad": 4,
    "surprise": 5,
    "neutral": 6,
}


def face_pixels(seed: int, size: int = 48) -> np.ndarray:
    """A distinct gray 'face' per seed (random texture with a bright blob per class)."""
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (size, size), dtype=np.uint8)


def write_csv(path: Path, rows: list[tuple[str, np.ndarray, str]]) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["emotion", "pixels", "Usage"])
        for label, pixels, usage in rows:
            writer.writerow([CSV_LABEL_OF[label], " ".join(map(str, pixels.ravel())), usage])
    return path


def write_image(path: Path, pixels: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path)
    return path


@pytest.fixture
def image_tree(tmp_path: Path) -> Path:
    """MMAFEDB-style train/valid/test folders with PNGs, 2 images per class per split."""
    root = tmp_path / "faces"
    seed = 0
    for split in ("train", "valid", "test"):
        for name in CLASSES:
            for i in range(2):
                seed += 1
                write_image(root / split / name / f"{name}_{i}.png", face_pixels(seed))
    return root
