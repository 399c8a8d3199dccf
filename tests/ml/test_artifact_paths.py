"""Artifacts name their data by the data folder (FER_DATA_DIR) and fingerprint, never by the
folders of the machine that trained or measured them."""

from __future__ import annotations

import json
import re
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any

import pytest

from ml import CLASSES
from ml.datasets import DatasetError, load_dataset, recorded_path, recorded_path_found

from .conftest import face_pixels, write_csv

MODELS_DIR = Path(__file__).resolve().parents[2] / "ml" / "models"
TEXT_SUFFIXES = {".json", ".md", ".csv", ".txt"}
# A path that starts at a root or a home: `/work/...`, `~/...`, `C:\...`, `../shared/...`.
MACHINE_PATH = re.compile(r"(?:^|[\s`'\"(=])(?:~?/[\w.-]+/[\w.-]+|[A-Za-z]:\\|\.\./)")


def _strings(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [s for item in value.values() for s in _strings(item)] + [str(k) for k in value]
    if isinstance(value, list):
        return [s for item in value for s in _strings(item)]
    return [value] if isinstance(value, str) else []


def _machine_path(text: str) -> bool:
    return (
        PurePosixPath(text).is_absolute()
        or PureWindowsPath(text).is_absolute()
        or text.startswith("~")
        or ".." in PurePosixPath(text).parts
    )


def _shipped_text_files() -> list[Path]:
    return sorted(p for p in MODELS_DIR.rglob("*") if p.suffix.lower() in TEXT_SUFFIXES)


def test_the_scan_catches_a_machine_path_in_json_and_in_text():
    # given / when / then: the checks below would see what the issue found
    assert _machine_path("/work/shared/datasets/london-faces")
    assert _machine_path("../shared/datasets/fer2013.tar.gz")
    assert _machine_path("C:\\data\\fer2013.tar.gz")
    assert not _machine_path("real-photos-dev/manifest.csv")
    assert MACHINE_PATH.search("measured on /home/ana/datasets/fer2013.tar.gz")
    assert not MACHINE_PATH.search("58.0% (611/1054), 90.4 photos/s, real-photos-dev")


@pytest.mark.parametrize("path", _shipped_text_files(), ids=lambda p: p.relative_to(MODELS_DIR))
def test_a_shipped_artifact_file_names_no_folder_of_the_machine_that_made_it(path: Path):
    # given a text file of a shipped artifact
    text = path.read_text()
    # when its strings (every JSON value and key, or its lines) are read
    if path.suffix == ".json":
        found = [s for s in _strings(json.loads(text)) if _machine_path(s)]
    else:
        found = [line for line in text.splitlines() if MACHINE_PATH.search(line)]
    # then none is a path of the machine that trained or measured the model
    assert not found, f"{path.name} records machine paths: {found}"


def test_a_dataset_in_the_data_folder_is_recorded_relative_to_it(tmp_path, monkeypatch):
    # given a FER2013 CSV inside FER_DATA_DIR
    monkeypatch.setenv("FER_DATA_DIR", str(tmp_path))
    rows = [(name, face_pixels(i), "Training") for i, name in enumerate(CLASSES)]
    rows += [("sad", face_pixels(100), "PublicTest"), ("happy", face_pixels(101), "PrivateTest")]
    (tmp_path / "fer").mkdir()
    path = write_csv(tmp_path / "fer" / "fer2013.csv", rows)
    # when it is loaded and summarised for model.json
    summary = load_dataset(path).summary()
    # then model.json names it from the data folder, and finds it again there
    assert summary["source"] == "fer/fer2013.csv"
    assert recorded_path_found(summary["source"]) == path


def test_a_dataset_outside_the_data_folder_is_recorded_by_its_name(tmp_path, monkeypatch):
    # given a data folder, and a file elsewhere
    monkeypatch.setenv("FER_DATA_DIR", str(tmp_path / "datasets"))
    elsewhere = tmp_path / "downloads" / "fer2013.tar.gz"
    # when / then: its name alone, and no guess where it is when it is not in the data folder
    assert recorded_path(elsewhere) == "fer2013.tar.gz"
    with pytest.raises(DatasetError, match="set FER_DATA_DIR"):
        recorded_path_found("fer2013.tar.gz")
