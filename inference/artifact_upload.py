"""Register a model artifact uploaded as a ZIP (from the admin): check it works, then store it.

The archive is unpacked into a temporary folder, the Keras model is loaded against its
model.json and run on sample faces; only an artifact that predicts 7 valid probabilities per
face, and carries a valid measurement of its errors on real photos (or is uploaded without one
on purpose), reaches `model_version_register`. Nothing is stored when any check fails.
"""

from __future__ import annotations

import tempfile
import zipfile
from pathlib import Path, PurePosixPath
from typing import BinaryIO

import numpy as np

from inference.models import ModelVersion
from inference.services import artifact_measurement_check, model_version_register
from ml.artifact import METADATA_FILE, ArtifactError, load_keras_model, read_metadata

# A model artifact is a few MB; refuse archives that would unpack to more than this.
MAX_UNPACKED_BYTES = 1024**3
MAX_MEMBERS = 200


def _unpack(archive: BinaryIO, target: Path) -> None:
    try:
        zf = zipfile.ZipFile(archive)
    except zipfile.BadZipFile as exc:
        raise ArtifactError("the upload is not a ZIP archive") from exc
    with zf:
        members = zf.infolist()
        if len(members) > MAX_MEMBERS:
            raise ArtifactError(f"the ZIP holds {len(members)} files; an artifact has a few")
        if sum(m.file_size for m in members) > MAX_UNPACKED_BYTES:
            raise ArtifactError("the ZIP unpacks to more than 1 GiB; that is not a model artifact")
        for member in members:
            path = PurePosixPath(member.filename.replace("\\", "/"))
            if path.is_absolute() or ".." in path.parts:
                raise ArtifactError(f"the ZIP member {member.filename!r} points outside the folder")
            if member.is_dir():
                continue
            destination = target.joinpath(*path.parts)
            destination.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(member) as source, destination.open("wb") as out:
                while chunk := source.read(1024 * 1024):
                    out.write(chunk)


def _artifact_folder(root: Path) -> Path:
    """The folder holding model.json: the ZIP's root, or its single top-level folder."""
    if (root / METADATA_FILE).is_file():
        return root
    candidates = [p.parent for p in root.glob(f"*/{METADATA_FILE}")]
    if len(candidates) == 1:
        return candidates[0]
    if not candidates:
        raise ArtifactError(f"no {METADATA_FILE} in the ZIP: zip the artifact folder itself")
    raise ArtifactError(f"the ZIP holds {len(candidates)} artifact folders; upload one")


def artifact_check(folder: Path) -> None:
    """Load the Keras model against model.json and predict on sample faces."""
    model, meta = load_keras_model(folder)
    rng = np.random.default_rng(0)
    shape = (3, *meta.input_shape)
    samples = np.stack(
        [
            np.zeros(shape[1:]),
            np.full(shape[1:], 255.0),
            rng.integers(0, 256, size=shape[1:]),
        ]
    ).astype("float32")
    try:
        probabilities = np.asarray(model.predict(samples, verbose=0))
    except Exception as exc:  # Keras raises many types for a broken graph
        raise ArtifactError(f"the model failed to predict on a sample face: {exc}") from exc
    if probabilities.shape != (3, len(meta.classes)):
        raise ArtifactError(
            f"the model returned shape {probabilities.shape} for 3 faces, "
            f"expected (3, {len(meta.classes)})"
        )
    if not np.all(np.isfinite(probabilities)) or probabilities.min() < 0:
        raise ArtifactError("the model returned probabilities that are negative or not numbers")
    if not np.allclose(probabilities.sum(axis=1), 1.0, atol=1e-3):
        raise ArtifactError("the model's outputs do not sum to 1: it must end in a softmax")


def model_version_upload(
    *, archive: BinaryIO, activate: bool = False, allow_unmeasured: bool = False
) -> ModelVersion:
    """Validate an artifact ZIP and register it as a new model version (one without a
    measurement of its errors on real photos only with `allow_unmeasured`)."""
    with tempfile.TemporaryDirectory(prefix="artifact-upload-") as tmp:
        root = Path(tmp)
        _unpack(archive, root)
        folder = _artifact_folder(root)
        meta = read_metadata(folder)
        if ModelVersion.objects.filter(name=meta.name, version=meta.version).exists():
            raise ArtifactError(
                f"{meta.name} {meta.version} is already registered; give the new artifact "
                "another version in its model.json"
            )
        artifact_measurement_check(meta=meta, allow_unmeasured=allow_unmeasured)
        artifact_check(folder)
        return model_version_register(
            source_dir=folder, activate=activate, allow_unmeasured=allow_unmeasured
        )
