"""Reads of upload batches: counts, live progress, the members one could not use or found no
face in, and what deleting some would delete."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import Count, Exists, OuterRef, Prefetch, Q, QuerySet

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
        # The status's own word, as the README names it; a re-upload is "done", and its
        # error (shown muted) says that its photos were already there.
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


def batch_reprocess_refusal(*, batch: UploadBatch) -> str | None:
    """Why the batch cannot be analysed again with another model version; None when it can
    (the page offers the action only then, and `services.reprocess` refuses the same)."""
    analysed = ReactionImage.objects.filter(
        batch=batch, status__in=(ImageStatus.DONE, ImageStatus.FAILED)
    )
    if not analysed.exists():
        return f"Batch {batch.source_name} has no photos to analyse again."
    if analysed.filter(
        Q(photo_deleted_at__isnull=False) | Q(video__file_deleted_at__isnull=False)
    ).exists():
        return (
            f"Photos of {batch.source_name} were deleted under the retention policy; "
            "it cannot be analysed again."
        )
    return None


def frames_analysed(*, batches: QuerySet[UploadBatch]) -> dict[int, int]:
    """Video frames analysed per ad among `batches`: the rest of their analysed images
    (`images_processed`) are photos. One GROUP BY in the database."""
    return dict(
        ReactionImage.objects.filter(
            batch__in=batches, kind=ImageKind.FRAME, status=ImageStatus.DONE
        )
        .order_by()
        .values("batch__ad_id")
        .annotate(frames=Count("id"))
        .values_list("batch__ad_id", "frames")
    )


def batch_problem_images(*, batch: UploadBatch) -> QuerySet[ReactionImage]:
    """Members of the batch that failed, or were skipped for a reason of their own (not
    duplicates: see `batch_duplicate_images`), with their reasons."""
    return ReactionImage.objects.filter(
        Q(status=ImageStatus.FAILED) | Q(status=ImageStatus.SKIPPED, duplicate_of__isnull=True),
        batch=batch,
    ).order_by("status", "pk")


def batch_duplicate_images(*, batch: UploadBatch) -> QuerySet[ReactionImage]:
    """Members skipped because the same photo or video is already in the ad."""
    return ReactionImage.objects.filter(
        batch=batch, status=ImageStatus.SKIPPED, duplicate_of__isnull=False
    ).order_by("pk")


def batch_faceless_photos(*, batch: UploadBatch) -> QuerySet[ReactionImage]:
    """Photos of the batch analysed without a face found (by the batch's model version)."""
    faces = Face.objects.filter(image=OuterRef("pk"))
    if batch.model_version_id is not None:
        faces = faces.filter(model_version_id=batch.model_version_id)
    return (
        ReactionImage.objects.filter(batch=batch, kind=ImageKind.PHOTO, status=ImageStatus.DONE)
        .filter(~Exists(faces))
        .order_by("pk")
    )


@dataclass(frozen=True)
class UploadsFootprint:
    """What deleting some uploads would delete, for the confirmation page."""

    uploads: int
    photos: int
    videos: int
    faces: int
    unfinished: int


def uploads_footprint(**scope: object) -> UploadsFootprint:
    """Uploads under `scope` (e.g. ad=ad), with the photos, videos and faces (of every model
    version) they hold and how many are still being processed; counted in the database."""
    batches = UploadBatch.objects.filter(**scope)
    ids = batches.values("pk")
    counts = batches.aggregate(
        uploads=Count("pk"), unfinished=Count("pk", filter=~Q(status__in=BATCH_FINISHED))
    )
    return UploadsFootprint(
        uploads=counts["uploads"],
        unfinished=counts["unfinished"],
        photos=ReactionImage.objects.filter(batch__in=ids, kind=ImageKind.PHOTO)
        .exclude(status=ImageStatus.SKIPPED)
        .count(),
        videos=ReactionVideo.objects.filter(batch__in=ids).count(),
        faces=Face.objects.filter(image__batch__in=ids).count(),
    )


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
