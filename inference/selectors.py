"""Reads of model versions: the one place that says which version is active, and what its
report says."""

from __future__ import annotations

import functools
import json
from typing import Any

from django.core.files.storage import default_storage

from inference.models import ModelVersion
from ml.artifact import REPORT_FILE


def model_version_active() -> ModelVersion | None:
    """The version that labels every new batch, or None before an admin activates one."""
    return ModelVersion.objects.filter(is_active=True).first()


def model_version_report(model_version: ModelVersion) -> dict[str, Any]:
    """The version's report.json (FER2013, real photos, fairness), {} when it has none."""
    return _report(model_version.artifact, model_version.artifact_registered_at.timestamp())


@functools.lru_cache(maxsize=8)
def _report(artifact: str, registered: float) -> dict[str, Any]:
    # Keyed by the registration time too: re-registering an artifact reads it afresh.
    name = artifact + REPORT_FILE
    try:
        with default_storage.open(name, "rb") as handle:
            report = json.load(handle)
    except (OSError, ValueError):
        return {}
    return report if isinstance(report, dict) else {}
