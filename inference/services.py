"""Writes to inference's data: registering model artifacts and choosing the active one."""

from __future__ import annotations

import logging
import re
from pathlib import Path

from django.core.files import File
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from inference.models import ModelVersion
from ml.artifact import ArtifactError, ArtifactMetadata, read_metadata
from ml.measurement import measurement_check

logger = logging.getLogger(__name__)

# Names and versions become storage folders: keep them to one safe path segment.
_SAFE_SEGMENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def model_artifact_prefix(*, name: str, version: str) -> str:
    """Storage folder of an artifact, e.g. models/fer-cnn/1.0/."""
    for label, value in (("name", name), ("version", version)):
        if not _SAFE_SEGMENT.match(value) or value in (".", ".."):
            raise ArtifactError(
                f"model {label} {value!r} must be letters, digits, '.', '_' or '-' "
                "(it names a storage folder)"
            )
    return f"models/{name}/{version}/"


def unmeasured_warning(*, name: str, version: str) -> str:
    """What registering a model without a measurement means for its dashboards."""
    return (
        f"{name} {version} has no measurement of its errors on real photos: its dashboards "
        "will show shares as classified, uncorrected for the model's known errors, and no "
        "emotion as 'not measured reliably'."
    )


def artifact_measurement_check(*, meta: ArtifactMetadata, allow_unmeasured: bool) -> bool:
    """Whether model.json carries a valid measurement (`ml.measurement`); ArtifactError when
    it carries an invalid one, or none and the caller did not say it registers one without
    on purpose (`allow_unmeasured`)."""
    if meta.measurement:
        try:
            measurement_check(meta.measurement)
        except ValueError as exc:
            raise ArtifactError(
                f"{meta.name} {meta.version}: model.json's measurement is not valid: {exc}"
            ) from exc
        return True
    if not allow_unmeasured:
        raise ArtifactError(
            f"{meta.name} {meta.version} has no measurement of its errors on real photos "
            "(model.json 'measurement'), so dashboards could not correct its shares. Measure "
            "it first: python -m inference.cli.measure_errors --manifest DIR/manifest.csv --model "
            "ARTIFACT_DIR --write-into ARTIFACT_DIR; or register it uncorrected on purpose "
            "(register_model --unmeasured)."
        )
    return False


def model_version_register(
    *, source_dir: Path, activate: bool = False, allow_unmeasured: bool = False
) -> ModelVersion:
    """Copy an artifact folder into default_storage and record it (idempotent per name+version).

    Reads only model.json (no TensorFlow), so registering is fast; workers load the Keras file
    from storage when they start. An artifact without a measurement of its errors on real
    photos is refused unless `allow_unmeasured` (its shares are then shown uncorrected).
    """
    source_dir = Path(source_dir)
    meta = read_metadata(source_dir)
    if not artifact_measurement_check(meta=meta, allow_unmeasured=allow_unmeasured):
        logger.warning(unmeasured_warning(name=meta.name, version=meta.version))
    prefix = model_artifact_prefix(name=meta.name, version=meta.version)
    files = sorted(p for p in source_dir.rglob("*") if p.is_file())
    for path in files:
        target = prefix + path.relative_to(source_dir).as_posix()
        # Replace, not rename: storage.save() would add a suffix next to an existing file.
        if default_storage.exists(target):
            default_storage.delete(target)
        with path.open("rb") as fh:
            saved = default_storage.save(target, File(fh))
        if saved != target:
            raise ArtifactError(f"storage saved {path.name} as {saved!r}, expected {target!r}")
    with transaction.atomic():
        model_version, _ = ModelVersion.objects.update_or_create(
            name=meta.name,
            version=meta.version,
            defaults={
                "artifact": prefix,
                "classes": list(meta.classes),
                "metrics": meta.metrics,
                "measurement": meta.measurement,
                "artifact_registered_at": timezone.now(),
            },
        )
        if activate:
            model_version_activate(model_version=model_version)
    return model_version


def model_version_activate(*, model_version: ModelVersion) -> ModelVersion:
    """Make `model_version` the one that labels new faces; the previous one is deactivated."""
    with transaction.atomic():
        # Deactivate first: the database allows at most one active row at any moment.
        ModelVersion.objects.filter(is_active=True).exclude(pk=model_version.pk).update(
            is_active=False
        )
        ModelVersion.objects.filter(pk=model_version.pk).update(is_active=True)
    model_version.is_active = True
    return model_version
