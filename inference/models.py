"""Registered classifier artifacts; the one active version labels every new face."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone


class ModelVersion(models.Model):
    """A trained CNN artifact copied into storage under `artifact` (a folder prefix)."""

    name = models.CharField(max_length=100)
    version = models.CharField(max_length=50)
    # Storage prefix of the artifact folder, e.g. "models/fer-cnn/1.0/" (ends with "/").
    artifact = models.CharField(max_length=300)
    # Class names in the model's output order (model.json "classes").
    classes = models.JSONField()
    metrics = models.JSONField(default=dict, blank=True)
    # model.json "measurement": the pipeline's errors on labelled real photos, from which
    # dashboards correct shares (`ml.quantification`); empty: shares are shown as classified.
    measurement = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # Set each time the artifact's files are (re)written to storage: workers key their
    # loaded model on it, so a re-registered artifact reloads without asking storage.
    artifact_registered_at = models.DateTimeField(default=timezone.now)
    is_active = models.BooleanField(default=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["name", "version"], name="modelversion_unique"),
            models.UniqueConstraint(
                fields=["is_active"],
                condition=Q(is_active=True),
                name="modelversion_one_active",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} {self.version}" + (" (active)" if self.is_active else "")
