"""Writes to inference's data: registering model artifacts and choosing the active one."""

from __future__ import annotations

import re
from pathlib import Path

from django.core.files import File
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from inference.models import ModelVersion
from ml.artifact import ArtifactError, read_metadata

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


def model_version_register(*, source_dir: Path, activate: bool = False) -> ModelVersion:
    """Copy an artifact folder into default_storage and record it (idempotent per name+version).

    Reads only model.json (no TensorFlow), so registering is fast; workers load the Keras file
    from storage when they start.
    """
    source_dir = Path(source_dir)
    meta = read_metadata(source_dir)
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
