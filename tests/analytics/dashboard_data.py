"""Test data for dashboards and exports: faces with chosen labels and confidences."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from django.db.models import F
from django.utils import timezone

from campaigns.hooks import faces_replacing
from campaigns.models import (
    Face,
    ImageKind,
    ImageStatus,
    ReactionImage,
    ReactionVideo,
    UploadBatch,
    Viewer,
    ViewerAttribute,
)
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
    quality: float | None = None,
) -> Face:
    """A face whose top probability is `confidence` on `label`, the rest shared equally
    (and its quality, not measured unless given)."""
    rest = (1.0 - confidence) / (len(CLASSES) - 1)
    probabilities = {f"prob_{n}": (confidence if n == label else rest) for n in CLASSES}
    x, y, w, h = box
    # as the pipeline writes faces: the dashboards' tallies follow
    with faces_replacing(image_ids=[image.pk], model_version_id=model_version.pk):
        face = Face.objects.create(
            image=image,
            x=x,
            y=y,
            w=w,
            h=h,
            detector_score=0.95,
            label=label,
            model_version=model_version,
            quality=quality,
            **probabilities,
        )
    return face


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


def _face(image: ReactionImage, model_version: ModelVersion, label: str, confidence: float) -> Face:
    rest = (1.0 - confidence) / (len(CLASSES) - 1)
    return Face(
        image=image,
        x=10,
        y=20,
        w=64,
        h=64,
        detector_score=0.95,
        label=label,
        model_version=model_version,
        **{f"prob_{n}": (confidence if n == label else rest) for n in CLASSES},
    )


def viewer_reaction(
    *,
    batch: UploadBatch,
    model_version: ModelVersion,
    viewer: Viewer,
    labels_at: list[tuple[float, str]],
    confidence: Mapping[str, float] | None = None,
) -> None:
    """One viewer's analysed frames: a photo row with one face at each (offset, label), its
    confidence 0.9 unless `confidence` (label -> confidence) says otherwise."""
    now = timezone.now()
    images = []
    for offset, _ in labels_at:
        n = next(factories._seq)
        images.append(
            ReactionImage(
                batch=batch,
                original_name=f"frame-{n}.jpg",
                sha256=f"{n:064x}",
                status=ImageStatus.DONE,
                viewer=viewer,
                offset_seconds=offset,
                processed_at=now,
            )
        )
    images = ReactionImage.objects.bulk_create(images)
    if images and images[0].pk is None:  # no RETURNING on this backend's bulk insert
        images = list(ReactionImage.objects.filter(batch=batch, viewer=viewer).order_by("id"))
    image_ids = [image.pk for image in images]
    with faces_replacing(image_ids=image_ids, model_version_id=model_version.pk):
        Face.objects.bulk_create(
            _face(image, model_version, label, (confidence or {}).get(label, 0.9))
            for image, (_, label) in zip(images, labels_at, strict=True)
        )


def viewer_create(*, campaign, external_id: str, **attributes: str) -> Viewer:
    viewer = Viewer.objects.create(campaign=campaign, external_id=external_id)
    for name, value in attributes.items():
        ViewerAttribute.objects.create(viewer=viewer, name=name, value=value)
    return viewer


def viewer_video(
    *,
    batch: UploadBatch,
    model_version: ModelVersion,
    viewer: Viewer,
    labels_at: list[tuple[float, str]],
) -> ReactionVideo:
    """One viewer's reaction video from second 0: its analysed frames, one face at each
    (second, label), as `viewer_reaction` writes them, made the video's frames."""
    viewer_reaction(batch=batch, model_version=model_version, viewer=viewer, labels_at=labels_at)
    video = ReactionVideo.objects.create(
        batch=batch,
        original_name=f"{viewer.external_id}.mp4",
        sha256=f"{viewer.pk:064x}",
        viewer=viewer,
        offset_seconds=0,
        duration_seconds=max((second for second, _ in labels_at), default=0) + 1,
        width=320,
        height=240,
    )
    ReactionImage.objects.filter(batch=batch, viewer=viewer).update(
        kind=ImageKind.FRAME, video=video, frame_seconds=F("offset_seconds")
    )
    return video
