"""The worker's one place to get a classifier for a ModelVersion: loaded once per process.

Artifacts live in default_storage (possibly remote); a worker copies one into
MODEL_CACHE_DIR once (a folder named by the version and its registration time), then loads it
through `inference.classifier.get_classifier`, the one in-process cache of loaded models, and
validates it against the ModelVersion row. Tasks name the version they want, so activating
another version in the admin takes effect for the next chunk sent, without a worker restart.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from pathlib import Path

from django.conf import settings
from django.core.files.storage import default_storage

from inference.classifier import EmotionClassifier, get_classifier
from inference.models import ModelVersion
from inference.selectors import model_version_active
from ml.artifact import METADATA_FILE, ArtifactError
from ml.detection import FaceDetector, get_detector

logger = logging.getLogger(__name__)


def classifier_get(*, model_version: ModelVersion) -> EmotionClassifier:
    """The classifier of `model_version`, from this process's cache or loaded now.

    Raises `ArtifactError` when the stored artifact is missing or contradicts the row.
    """
    local_dir = _artifact_local_copy(model_version, stamp=_artifact_stamp(model_version))
    classifier = get_classifier(
        local_dir, batch_size=settings.INFERENCE_BATCH_SIZE, precision=settings.INFERENCE_PRECISION
    )
    _check_matches(classifier, model_version)
    return classifier


def _artifact_stamp(model_version: ModelVersion) -> str:
    """Changes when the artifact is registered again under the same name and version.

    Read from the row the task already fetched, so a chunk costs no storage request.
    """
    return str(int(model_version.artifact_registered_at.timestamp() * 1000))


def detector_get() -> FaceDetector:
    """The face detector named by FACE_DETECTOR (built once per process by `get_detector`)."""
    return get_detector(settings.FACE_DETECTOR)


def registry_warm() -> None:
    """Load the detector and the active classifier now, so the first task does not wait."""
    detector_get()
    model_version = model_version_active()
    if model_version is None:
        logger.warning(
            "classifier not preloaded: no model version is active; register one with "
            "`python manage.py register_model DIR --activate`"
        )
        return
    try:
        classifier_get(model_version=model_version)
    except ArtifactError as exc:
        # The worker still starts: each task then fails with this message, visibly.
        logger.warning("classifier not preloaded: %s", exc)


def _check_matches(classifier: EmotionClassifier, model_version: ModelVersion) -> None:
    """Refuse a stored artifact whose model.json contradicts its registered version."""
    meta = classifier.metadata
    if list(meta.classes) != list(model_version.classes):
        raise ArtifactError(
            f"{model_version}: model.json lists classes {list(meta.classes)} but the "
            f"registered version says {model_version.classes}"
        )
    if (meta.name, meta.version) != (model_version.name, model_version.version):
        raise ArtifactError(
            f"{model_version}: the stored artifact is {meta.name} {meta.version}, "
            "not the registered version"
        )


def _storage_files(prefix: str) -> list[str]:
    """Every file below a storage prefix, as storage names, recursively."""
    folders, files = default_storage.listdir(prefix)
    names = [prefix + name for name in files]
    for folder in folders:
        names.extend(_storage_files(f"{prefix}{folder}/"))
    return names


def _artifact_local_copy(model_version: ModelVersion, *, stamp: str) -> Path:
    """A complete local copy of the artifact folder, made once per machine.

    Copied into a temporary sibling and renamed into place, so a process never sees a
    half-copied folder while another one is still writing it.
    """
    root = Path(settings.MODEL_CACHE_DIR)
    target = root / f"{model_version.name}-{model_version.version}-{model_version.pk}-{stamp}"
    if (target / METADATA_FILE).is_file():
        return target
    prefix = model_version.artifact
    try:
        names = _storage_files(prefix)
    except FileNotFoundError:
        names = []
    if not any(name.endswith("/" + METADATA_FILE) for name in names):
        raise ArtifactError(f"{model_version}: no {METADATA_FILE} in storage under {prefix!r}")
    root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".copy-", dir=root))
    try:
        for name in names:
            local = staging / name[len(prefix) :]
            local.parent.mkdir(parents=True, exist_ok=True)
            with default_storage.open(name, "rb") as source, local.open("wb") as dest:
                shutil.copyfileobj(source, dest, 1024**2)
        try:
            os.rename(staging, target)
        except OSError:
            # Another process finished its copy first; theirs is as good as ours.
            if not (target / METADATA_FILE).is_file():
                raise
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return target
