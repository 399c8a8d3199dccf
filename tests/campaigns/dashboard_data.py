"""Test data for dashboards and exports: faces with chosen labels and confidences."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from campaigns.models import Face, ImageStatus, ReactionImage, UploadBatch, Viewer, ViewerAttribute
from campaigns.services.batches import batch_recount
from inference.models import ModelVersion
from ml import CLASSES
from tests import factories


def face_add(
    *,
    image: ReactionImage,
    model_version: ModelVersion,
    label: str,
    confidence: float = 0.9,
    box: tuple[int, int, int, int] = (10, 20, 64, 64),
) -> Face:
    """A face whose top probability is `confidence` on `label`, the rest shared equally."""
    rest = (1.0 - confidence) / (len(CLASSES) - 1)
    probabilities = {f"prob_{n}": (confidence if n == label else rest) for n in CLASSES}
    x, y, w, h = box
    return Face.objects.create(
        image=image,
        x=x,
        y=y,
        w=w,
        h=h,
        detector_score=0.95,
        label=label,
        model_version=model_version,
        **probabilities,
    )


def photo_with_faces(
    *,
    batch: UploadBatch,
    model_version: ModelVersion,
    labels: list[str],
    confidence: float = 0.9,
    name: str | None = None,
) -> ReactionImage:
    image = factories.image_create(batch=batch, status=ImageStatus.DONE)
    image.width, image.height, image.processed_at = 640, 480, timezone.now()
    if name:
        image.original_name = name
    image.save()
    for label in labels:
        face_add(image=image, model_version=model_version, label=label, confidence=confidence)
    batch_recount(batch=batch)
    return image


def batch_on(*, ad, day: dt.date | None = None) -> UploadBatch:
    batch = factories.batch_create(ad=ad, status=UploadBatch.Status.DONE)
    if day is not None:
        created = timezone.make_aware(dt.datetime.combine(day, dt.time(12, 0)))
        UploadBatch.objects.filter(pk=batch.pk).update(created_at=created)
        batch.refresh_from_db()
    return batch


def viewer_reaction(
    *,
    batch: UploadBatch,
    model_version: ModelVersion,
    viewer: Viewer,
    labels_at: list[tuple[float, str]],
) -> None:
    """One viewer's analysed frames: a photo row with one face at each (offset, label)."""
    for offset, label in labels_at:
        image = factories.image_create(batch=batch, status=ImageStatus.DONE)
        image.viewer, image.offset_seconds, image.processed_at = viewer, offset, timezone.now()
        image.save()
        face_add(image=image, model_version=model_version, label=label)


def viewer_create(*, campaign, external_id: str, **attributes: str) -> Viewer:
    viewer = Viewer.objects.create(campaign=campaign, external_id=external_id)
    for name, value in attributes.items():
        ViewerAttribute.objects.create(viewer=viewer, name=name, value=value)
    return viewer
