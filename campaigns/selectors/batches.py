"""Reads of one upload batch: its counts, live progress and the members it could not use."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Prefetch, Q, QuerySet

from campaigns.models import (
    BATCH_FINISHED,
    Ad,
    Campaign,
    Face,
    ImageKind,
    ImageStatus,
    ReactionImage,
    ReactionVideo,
    UploadBatch,
    Viewer,
)
from inference.models import ModelVersion


def batch_counts(*, batch: UploadBatch) -> dict[str, int]:
    """Images by status and faces of a batch, counted in the database.

    Skipped includes duplicates. Faces are those of the model version the batch was analysed
    with: results are kept per version.
    """
    counts = ReactionImage.objects.filter(batch=batch).aggregate(
        total=Count("id"),
        done=Count("id", filter=Q(status=ImageStatus.DONE)),
        failed=Count("id", filter=Q(status=ImageStatus.FAILED)),
        skipped=Count("id", filter=Q(status=ImageStatus.SKIPPED)),
        duplicates=Count("id", filter=Q(status=ImageStatus.SKIPPED, duplicate_of__isnull=False)),
        frames=Count("id", filter=Q(kind=ImageKind.FRAME)),
    )
    counts["videos"] = ReactionVideo.objects.filter(batch=batch).count()
    faces = Face.objects.filter(image__batch=batch)
    if batch.model_version_id is not None:
        faces = faces.filter(model_version_id=batch.model_version_id)
    counts["faces"] = faces.count()
    return counts


def batch_progress(*, batch: UploadBatch) -> dict[str, Any]:
    """Live progress of a batch for its page and JSON endpoint, counted in the database."""
    counts = batch_counts(batch=batch)
    to_analyse = counts["total"] - counts["skipped"]
    analysed = counts["done"] + counts["failed"]
    if not batch.is_finished and batch.progress_at is None:
        stage = "waiting for the task queue (it starts on its own when the queue is back)"
    elif batch.status == UploadBatch.Status.PROCESSING:
        stage = f"processing {analysed}/{to_analyse}"
    else:
        stage = batch.get_status_display().lower()
    return {
        "id": batch.pk,
        "status": batch.status,
        "stage": stage,
        "finished": batch.is_finished,
        "error": batch.error,
        "members": counts["total"],
        "to_analyse": to_analyse,
        "analysed": analysed,
        "processed": counts["done"],
        "failed": counts["failed"],
        "skipped": counts["skipped"] - counts["duplicates"],
        "duplicates": counts["duplicates"],
        "faces": counts["faces"],
        "videos": counts["videos"],
        "frames": counts["frames"],
        "viewers": Viewer.objects.filter(images__batch=batch).distinct().count(),
        "notes": list(batch.notes),
        "model_version": str(batch.model_version) if batch.model_version_id else None,
    }


def batch_problem_images(*, batch: UploadBatch) -> QuerySet[ReactionImage]:
    """Members of the batch that were not analysed, or failed, with their reasons."""
    return ReactionImage.objects.filter(
        batch=batch, status__in=(ImageStatus.FAILED, ImageStatus.SKIPPED)
    ).order_by("status", "pk")


def unfinished_upload_count(*, campaign: Campaign) -> int:
    """Uploads of the campaign still being unpacked or analysed."""
    return (
        UploadBatch.objects.filter(ad__campaign=campaign).exclude(status__in=BATCH_FINISHED).count()
    )


def batch_list(*, ad: Ad) -> QuerySet[UploadBatch]:
    """The ad's uploads, newest first, with their stored counters."""
    return UploadBatch.objects.filter(ad=ad).select_related("uploaded_by")


def photo_page(*, ad: Ad, model_version: ModelVersion | None) -> QuerySet[ReactionImage]:
    """The ad's photos for the grid, newest upload first, each with its faces of
    `model_version` (all versions' faces when None) in `shown_faces`."""
    faces = Face.objects.order_by("id")
    if model_version is not None:
        faces = faces.filter(model_version=model_version)
    return (
        ReactionImage.objects.filter(batch__ad=ad)
        .order_by("-batch__created_at", "id")
        .prefetch_related(Prefetch("faces", queryset=faces, to_attr="shown_faces"))
    )
