"""Where the tests find ../shared/datasets, and the one way a test skips when data is missing.

A test that needs shared data calls `shared_file` (or `fer2013_archive`); when the data is
absent it skips with a reason starting with `DATA_MISSING`. The root conftest fails the run
when FER_DATA_DIR is set and such a skip still happened, so CI (which sets it) runs every
pipeline test instead of skipping it silently.
"""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ml import CLASSES

REPO_ROOT = Path(__file__).resolve().parents[1]
DATA_MISSING = "shared data missing:"


def data_dir() -> Path:
    return Path(os.environ.get("FER_DATA_DIR", REPO_ROOT.parent / "shared" / "datasets"))


def shared_file(relative: str) -> Path:
    """`relative` under the data folder; skips the test (marked as missing data) when absent."""
    path = data_dir() / relative
    if not path.exists():
        pytest.skip(f"{DATA_MISSING} {path} not found (set FER_DATA_DIR)")
    return path


def fer2013_archive() -> Path:
    return shared_file("fer2013.tar.gz")


def fer_test_faces(per_class: int, *, limit: int | None = None) -> list[tuple[np.ndarray, str]]:
    """Up to `per_class` 48x48 PrivateTest faces of each class (at most `limit` in all), in
    archive order, with their labels."""
    wanted = dict.fromkeys(CLASSES, per_class)
    faces: list[tuple[np.ndarray, str]] = []
    with tarfile.open(fer2013_archive()) as tar:
        for member in tar:
            parts = Path(member.name).parts
            if len(parts) != 3 or parts[0] != "test" or not parts[2].startswith("PrivateTest"):
                continue
            if wanted.get(parts[1], 0) > 0:
                handle = tar.extractfile(member)
                assert handle is not None
                pixels = np.asarray(Image.open(io.BytesIO(handle.read())).convert("L"))
                faces.append((pixels, parts[1]))
                wanted[parts[1]] -= 1
            if not any(wanted.values()) or (limit is not None and len(faces) >= limit):
                break
    return faces
