"""Reads of model versions: the one place that says which version is active."""

from __future__ import annotations

from inference.models import ModelVersion


def model_version_active() -> ModelVersion | None:
    """The version that labels every new batch, or None before an admin activates one."""
    return ModelVersion.objects.filter(is_active=True).first()
