"""The path of an uploaded batch: archive -> stored photos -> chunks -> faces -> a closed batch.

Delivery is at-least-once (acks_late, redelivery, the sweeper re-sending stalled work), so
every step here is safe to run twice:
- extraction writes all rows in one transaction guarded by the batch's status;
- a chunk claims each photo with a conditional UPDATE and writes its results only if it still
  holds the claim, replacing that photo's faces for the model version in one transaction;
- the batch is closed by whichever chunk finds nothing left to do, with a conditional UPDATE.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import tempfile
import time
import uuid
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.core.files import File
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from campaigns.archives import (
    ArchiveError,
    ArchiveLimits,
    archive_members,
    open_archive,
    photo_candidates,
    sniff_image_format,
)
from campaigns.models import (
    PROB_FIELDS,
    Ad,
    BatchStatus,
    Face,
    ImageStatus,
    ReactionImage,
    UploadBatch,
)
from campaigns.services import batch_fail, batch_recount
from inference.models import ModelVersion

logger = logging.getLogger(__name__)

UNFINISHED_IMAGE = (ImageStatus.PENDING, ImageStatus.PROCESSING)
UNFINISHED_BATCH = (BatchStatus.RECEIVED, BatchStatus.EXTRACTING, BatchStatus.PROCESSING)
FINISHED_BATCH = (BatchStatus.DONE, BatchStatus.PARTIAL, BatchStatus.FAILED)
# Query parameters per IN (...) list: well under SQLite's variable limit.
_IN_CHUNK = 500


def archive_limits() -> ArchiveLimits:
    return ArchiveLimits(
        max_entries=settings.INGEST_MAX_ENTRIES,
        max_total_bytes=settings.INGEST_MAX_EXPANDED_BYTES,
        max_entry_bytes=settings.INGEST_MAX_PHOTO_BYTES,
        max_ratio=float(settings.INGEST_MAX_RATIO),
    )


def retention_description() -> str:
    """The retention policy in words, for the batch page and the command line."""
    if settings.PHOTO_RETENTION == "immediate":
        return "Photos are deleted right after analysis; boxes and results are kept."
    if settings.PHOTO_RETENTION_DAYS > 0:
        return (
            f"Photos are deleted {settings.PHOTO_RETENTION_DAYS} days after analysis; "
            "boxes and results are kept."
        )
    return "Photos are kept until deleted by an administrator (no retention period set)."


def _model_version_active() -> ModelVersion | None:
    return ModelVersion.objects.filter(is_active=True).first()


def _chunks(items: Sequence[int], size: int) -> Iterable[list[int]]:
    for start in range(0, len(items), size):
        yield list(items[start : start + size])


# Upload ---------------------------------------------------------------------------------------


def batch_create(
    *,
    ad: Ad,
    upload: File,
    source_name: str,
    user: AbstractBaseUser | None = None,
) -> UploadBatch:
    """Store an uploaded ZIP (streamed in chunks) as a new batch and queue its extraction."""
    size = upload.size or 0
    if size > settings.UPLOAD_MAX_BYTES:
        raise ValidationError(
            f"{source_name} is {size / 1024**2:,.0f} MiB; the upload limit is "
            f"{settings.UPLOAD_MAX_BYTES / 1024**2:,.0f} MiB."
        )
    if size == 0:
        raise ValidationError(f"{source_name} is empty.")
    if _model_version_active() is None:
        raise ValidationError(
            "No model version is active, so photos cannot be analysed yet; an administrator "
            "must register and activate one first."
        )
    batch = UploadBatch(
        ad=ad,
        uploaded_by=user,
        source_name=PurePosixPath(source_name.replace("\\", "/")).name[:255] or "upload.zip",
        progress_at=timezone.now(),
    )
    # The stored name is ours: the uploader's file name never becomes a path.
    batch.archive.save(f"{uuid.uuid4().hex}.zip", upload, save=False)
    with transaction.atomic():
        batch.save()
        transaction.on_commit(lambda: _extract_enqueue(batch.pk))
    return batch


def batch_create_from_photos(
    *,
    ad: Ad,
    photos: Sequence[File],
    user: AbstractBaseUser | None = None,
) -> UploadBatch:
    """Loose photos become a batch too: packed into a stored (uncompressed) ZIP on disk."""
    if not photos:
        raise ValidationError("Choose a ZIP file or at least one photo.")
    with tempfile.TemporaryFile() as spool:
        with zipfile.ZipFile(spool, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
            for photo in photos:
                name = PurePosixPath((photo.name or "photo").replace("\\", "/")).name
                with zf.open(name or "photo", "w", force_zip64=True) as member:
                    for part in photo.chunks():
                        member.write(part)
        spool.seek(0)
        label = photos[0].name if len(photos) == 1 else f"{len(photos)} photos"
        return batch_create(
            ad=ad, upload=File(spool, name="photos.zip"), source_name=label, user=user
        )


def _extract_enqueue(batch_id: int) -> None:
    from campaigns.tasks import batch_extract_task

    batch_extract_task.delay(batch_id)


# Extraction -----------------------------------------------------------------------------------


@dataclass
class _Member:
    name: str
    sha256: str = ""
    file: str = ""
    skip_reason: str | None = None


def photo_store(*, data: bytes, sha256: str) -> str:
    """Store photo bytes under their content hash (photos/ab/abcd....jpg); idempotent."""
    fmt = sniff_image_format(data) or "bin"
    name = f"photos/{sha256[:2]}/{sha256}.{fmt}"
    if not default_storage.exists(name):
        saved = default_storage.save(name, ContentFile(data))
        if saved != name:
            # Another process stored the same content a moment earlier; keep one copy.
            default_storage.delete(saved)
    return name


def batch_extract(*, batch_id: int) -> None:
    """Unpack the batch's archive, store its photos and record every member (safe to rerun)."""
    claimed = UploadBatch.objects.filter(
        pk=batch_id, status__in=(BatchStatus.RECEIVED, BatchStatus.EXTRACTING)
    ).update(status=BatchStatus.EXTRACTING, started_at=timezone.now(), progress_at=timezone.now())
    if not claimed:
        return  # gone, or already extracted by an earlier delivery
    batch = UploadBatch.objects.select_related("ad").get(pk=batch_id)
    try:
        members = _archive_read(batch)
    except ArchiveError as exc:
        batch_fail(batch=batch, error=f"{batch.source_name}: {exc}. Nothing was imported.")
        _archive_delete(batch)
        return
    model_version = _model_version_active()
    if model_version is None:
        batch_fail(batch=batch, error="No model version is active; nothing was imported.")
        return
    if _members_record(batch=batch, members=members, model_version=model_version):
        transaction.on_commit(lambda: _after_extraction(batch_id))


def _archive_read(batch: UploadBatch) -> list[_Member]:
    if not batch.archive:
        raise ArchiveError("the uploaded file is no longer stored")
    limits = archive_limits()
    members = []
    heartbeat = time.monotonic()
    try:
        with batch.archive.open("rb") as handle, open_archive(handle) as archive:
            for member, data, reason in photo_candidates(
                archive, archive_members(archive, limits=limits)
            ):
                if data is None or reason is not None:
                    sha = hashlib.sha256(data).hexdigest() if data is not None else ""
                    members.append(_Member(name=member.name, sha256=sha, skip_reason=reason))
                    continue
                sha = hashlib.sha256(data).hexdigest()
                members.append(
                    _Member(name=member.name, sha256=sha, file=photo_store(data=data, sha256=sha))
                )
                if time.monotonic() - heartbeat > 10:
                    # A long extraction is alive: keep the sweeper from starting another.
                    UploadBatch.objects.filter(pk=batch.pk).update(progress_at=timezone.now())
                    heartbeat = time.monotonic()
    except FileNotFoundError as exc:
        raise ArchiveError("the uploaded file is no longer stored") from exc
    return members


def _skipped_row(
    batch: UploadBatch, member: _Member, *, error: str, duplicate_of_id: int | None = None
) -> ReactionImage:
    """The row that records why an archive member was not analysed."""
    return ReactionImage(
        batch=batch,
        original_name=member.name,
        sha256=member.sha256,
        status=ImageStatus.SKIPPED,
        duplicate_of_id=duplicate_of_id,
        error=error,
    )


def _members_record(
    *, batch: UploadBatch, members: list[_Member], model_version: ModelVersion
) -> bool:
    """Write every member's row in one transaction; False when another delivery did it first."""
    now = timezone.now()
    with transaction.atomic():
        # First statement a write: it takes SQLite's write lock before any read, and on
        # PostgreSQL it locks the batch row so a concurrent duplicate waits, then finds 0 rows.
        won = UploadBatch.objects.filter(pk=batch.pk, status=BatchStatus.EXTRACTING).update(
            status=BatchStatus.PROCESSING, model_version=model_version, progress_at=now
        )
        if not won:
            return False
        # Two batches of one ad extracting at once must agree on which copy is the original.
        list(Ad.objects.select_for_update().filter(pk=batch.ad_id).values_list("pk"))
        shas = sorted({m.sha256 for m in members if m.file})
        originals: dict[str, int] = {}
        for part in _chunks(shas, _IN_CHUNK):  # type: ignore[arg-type]
            for sha, pk in (
                ReactionImage.objects.filter(batch__ad_id=batch.ad_id, sha256__in=part)
                .exclude(status=ImageStatus.SKIPPED)
                .order_by("pk")
                .values_list("sha256", "pk")
            ):
                originals.setdefault(sha, pk)
        first_rows: list[ReactionImage] = []
        repeats: list[_Member] = []
        skipped: list[ReactionImage] = []
        in_batch: set[str] = set()
        for m in members:
            if m.skip_reason is not None:
                skipped.append(_skipped_row(batch, m, error=m.skip_reason))
            elif m.sha256 in originals or m.sha256 in in_batch:
                repeats.append(m)
            else:
                in_batch.add(m.sha256)
                first_rows.append(
                    ReactionImage(batch=batch, original_name=m.name, sha256=m.sha256, file=m.file)
                )
        created = ReactionImage.objects.bulk_create(first_rows, batch_size=_IN_CHUNK)
        for row in created:
            originals.setdefault(row.sha256, row.pk)
        names = (
            dict(
                ReactionImage.objects.filter(pk__in=set(originals.values())).values_list(
                    "pk", "original_name"
                )
            )
            if repeats
            else {}
        )
        for m in repeats:
            original = originals[m.sha256]
            skipped.append(
                _skipped_row(
                    batch,
                    m,
                    error=f"duplicate of {names.get(original, 'another photo')} in this ad",
                    duplicate_of_id=original,
                )
            )
        ReactionImage.objects.bulk_create(skipped, batch_size=_IN_CHUNK)
        batch_recount(batch=batch)
    return True


def _after_extraction(batch_id: int) -> None:
    batch = UploadBatch.objects.filter(pk=batch_id).first()
    if batch is None:
        return
    # Every photo is stored on its own now; the archive would only keep a second copy.
    _archive_delete(batch)
    batch_fan_out(batch=batch)


def _archive_delete(batch: UploadBatch) -> None:
    if batch.archive:
        default_storage.delete(batch.archive.name)
        UploadBatch.objects.filter(pk=batch.pk).update(archive="")
        batch.archive = ""


# Processing -----------------------------------------------------------------------------------


def batch_fan_out(*, batch: UploadBatch) -> int:
    """Send the batch's unfinished photos to the inference queue in chunks; closes it if none.

    Safe to call again for the same photos: a chunk skips photos that another one holds.
    """
    from inference.tasks import classify_images_task

    ids = list(
        ReactionImage.objects.filter(batch=batch, status__in=UNFINISHED_IMAGE)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    if not ids:
        batch_close(batch_id=batch.pk)
        return 0
    chunks = list(_chunks(ids, max(1, settings.INGEST_CHUNK_SIZE)))
    for chunk in chunks:
        classify_images_task.delay(chunk, batch.model_version_id)
    return len(chunks)


def _claim_images(
    image_ids: Sequence[int], *, model_version_id: int, now: dt.datetime
) -> list[int]:
    """Claim each pending (or abandoned) photo of the chunk; return the ids this call won."""
    abandoned = now - dt.timedelta(seconds=settings.INGEST_CHUNK_TIME_LIMIT)
    claimable = Q(status=ImageStatus.PENDING) | Q(
        status=ImageStatus.PROCESSING, claimed_at__lt=abandoned
    )
    # A photo of a batch since re-sent for another model version is not this chunk's.
    batch_ids = set(
        UploadBatch.objects.filter(
            images__pk__in=image_ids, model_version_id=model_version_id
        ).values_list("pk", flat=True)
    )
    won = []
    with transaction.atomic():
        ReactionImage.objects.filter(
            pk__in=image_ids,
            batch_id__in=batch_ids,
            status=ImageStatus.PROCESSING,
            claimed_at__lt=abandoned,
            attempts__gte=settings.INGEST_MAX_ATTEMPTS,
        ).update(
            status=ImageStatus.FAILED,
            error=(
                f"analysis did not finish in {settings.INGEST_MAX_ATTEMPTS} attempts: the worker "
                "was killed or ran out of time on this photo"
            ),
            processed_at=now,
        )
        for image_id in image_ids:
            # Plain column conditions only: PostgreSQL re-checks them on the row a concurrent
            # claimer just committed, so exactly one of two racing claims updates it.
            if ReactionImage.objects.filter(claimable, pk=image_id, batch_id__in=batch_ids).update(
                status=ImageStatus.PROCESSING, claimed_at=now, error="", attempts=F("attempts") + 1
            ):
                won.append(image_id)
        if won:
            UploadBatch.objects.filter(pk__in=batch_ids).update(progress_at=now)
    return won


def images_classify(*, image_ids: Sequence[int], model_version_id: int) -> list[int]:
    """Analyse a chunk of photos and store their faces; returns the batches it touched.

    Photos another worker holds are left alone; a photo that cannot be read or decoded fails
    alone with its reason; results of photos whose claim was lost meanwhile are dropped.
    """
    from inference.api import analyze_images
    from inference.registry import classifier_get, detector_get

    now = timezone.now()
    model_version = ModelVersion.objects.get(pk=model_version_id)
    claimed = _claim_images(image_ids, model_version_id=model_version_id, now=now)
    if not claimed:
        return sorted(
            set(ReactionImage.objects.filter(pk__in=image_ids).values_list("batch_id", flat=True))
        )
    images = list(ReactionImage.objects.filter(pk__in=claimed).order_by("pk"))
    sources: list[bytes] = []
    readable: list[ReactionImage] = []
    errors: dict[int, str] = {}
    for image in images:
        try:
            with default_storage.open(image.file.name, "rb") as handle:
                sources.append(handle.read())
            readable.append(image)
        except (OSError, ValueError):
            errors[image.pk] = "the stored photo is missing (deleted under the retention policy?)"
    results = analyze_images(
        sources,
        detector=detector_get(),
        classifier=classifier_get(model_version=model_version),
        batch_size=settings.INFERENCE_BATCH_SIZE,
    )
    outcomes = {image.pk: result for image, result in zip(readable, results, strict=True)}
    _results_store(
        images=images,
        outcomes=outcomes,
        errors=errors,
        model_version_id=model_version_id,
        claimed_at=now,
    )
    if settings.PHOTO_RETENTION == "immediate":
        photos_purge(image_ids=[image.pk for image in images], cutoff=timezone.now())
    return sorted({image.batch_id for image in images})


def _results_store(
    *,
    images: list[ReactionImage],
    outcomes: dict,
    errors: dict[int, str],
    model_version_id: int,
    claimed_at: dt.datetime,
) -> None:
    """One transaction: each photo's status, and its faces for the version, replaced."""
    now = timezone.now()
    faces: list[Face] = []
    with transaction.atomic():
        done: list[int] = []
        for image in images:
            owned = ReactionImage.objects.filter(
                pk=image.pk, status=ImageStatus.PROCESSING, claimed_at=claimed_at
            )
            result = outcomes.get(image.pk)
            if result is None or not result.ok:
                error = errors.get(image.pk) or (result.error if result else "not analysed")
                owned.update(status=ImageStatus.FAILED, error=error[:2000], processed_at=now)
                continue
            if not owned.update(
                status=ImageStatus.DONE,
                width=result.width,
                height=result.height,
                error="",
                processed_at=now,
            ):
                continue  # the claim expired and another worker took the photo over
            done.append(image.pk)
            for face in result.faces:
                probabilities = {
                    f"prob_{name}": min(1.0, max(0.0, float(p)))
                    for name, p in face.probabilities.items()
                }
                faces.append(
                    Face(
                        image_id=image.pk,
                        x=face.x,
                        y=face.y,
                        w=face.w,
                        h=face.h,
                        detector_score=float(face.score),
                        label=face.label,
                        model_version_id=model_version_id,
                        **{field: probabilities[field] for field in PROB_FIELDS},
                    )
                )
        for part in _chunks(done, _IN_CHUNK):
            Face.objects.filter(image_id__in=part, model_version_id=model_version_id).delete()
        Face.objects.bulk_create(faces, batch_size=_IN_CHUNK)
        UploadBatch.objects.filter(pk__in={image.batch_id for image in images}).update(
            progress_at=now
        )


def batch_close(*, batch_id: int) -> bool:
    """processing -> done / partial / failed once no photo is left; True for the one caller that
    closed it. Counters are recounted from the rows, so they are exact however often chunks ran.
    """
    if ReactionImage.objects.filter(batch_id=batch_id, status__in=UNFINISHED_IMAGE).exists():
        return False
    batch = UploadBatch.objects.filter(pk=batch_id, status=BatchStatus.PROCESSING).first()
    if batch is None:
        return False
    batch_recount(batch=batch)
    skipped = batch.images_skipped
    if batch.images_failed == 0 and batch.images_processed > 0:
        status, error = BatchStatus.DONE, ""
    elif batch.images_processed == 0 and batch.images_failed == 0:
        status, error = BatchStatus.FAILED, f"No photos to analyse ({skipped} members skipped)."
    elif batch.images_processed == 0:
        status, error = BatchStatus.FAILED, f"All {batch.images_failed} photos failed."
    else:
        status, error = BatchStatus.PARTIAL, f"{batch.images_failed} photos failed."
    return bool(
        UploadBatch.objects.filter(pk=batch_id, status=BatchStatus.PROCESSING).update(
            status=status, error=error, finished_at=timezone.now()
        )
    )


def batches_resume_stalled(*, now: dt.datetime | None = None) -> list[int]:
    """Re-send the work of batches without progress for a chunk's time limit.

    Messages are lost when a broker restarts without persistence or a worker dies after
    taking them; this is what makes such batches finish. Each stalled batch is resumed by one
    sweeper only (conditional update of its progress time).
    """
    now = now or timezone.now()
    stale = now - dt.timedelta(seconds=settings.INGEST_CHUNK_TIME_LIMIT)
    resumed = []
    stalled = UploadBatch.objects.filter(status__in=UNFINISHED_BATCH).filter(
        Q(progress_at__lt=stale) | Q(progress_at__isnull=True)
    )
    for batch in stalled:
        if not UploadBatch.objects.filter(
            pk=batch.pk, status=batch.status, progress_at=batch.progress_at
        ).update(progress_at=now):
            continue
        logger.warning("resuming stalled batch %s (%s)", batch.pk, batch.status)
        if batch.status == BatchStatus.PROCESSING:
            batch_fan_out(batch=batch)
        else:
            _extract_enqueue(batch.pk)
        resumed.append(batch.pk)
    return resumed


# Reprocessing ---------------------------------------------------------------------------------


def batch_reprocess(*, batch: UploadBatch, model_version: ModelVersion) -> UploadBatch:
    """Analyse a finished batch again with `model_version`; results of other versions stay."""
    analysed = ReactionImage.objects.filter(
        batch=batch, status__in=(ImageStatus.DONE, ImageStatus.FAILED)
    )
    if not analysed.exists():
        raise ValidationError(f"Batch {batch.source_name} has no photos to analyse again.")
    if analysed.filter(photo_deleted_at__isnull=False).exists():
        raise ValidationError(
            f"Photos of {batch.source_name} were deleted under the retention policy; "
            "it cannot be analysed again."
        )
    now = timezone.now()
    with transaction.atomic():
        if not UploadBatch.objects.filter(pk=batch.pk, status__in=FINISHED_BATCH).update(
            status=BatchStatus.PROCESSING,
            model_version=model_version,
            progress_at=now,
            finished_at=None,
            error="",
        ):
            raise ValidationError(f"Batch {batch.source_name} is still being processed.")
        analysed.update(
            status=ImageStatus.PENDING, claimed_at=None, error="", processed_at=None, attempts=0
        )
        batch.model_version = model_version
        batch_recount(batch=batch)
        transaction.on_commit(lambda: batch_fan_out(batch=batch))
    batch.refresh_from_db()
    return batch


def ad_reprocess(*, ad: Ad, model_version: ModelVersion) -> list[UploadBatch]:
    """Analyse every finished batch of an ad again with `model_version`."""
    batches = []
    for batch in ad.batches.filter(status__in=FINISHED_BATCH).order_by("pk"):
        try:
            batches.append(batch_reprocess(batch=batch, model_version=model_version))
        except ValidationError:
            continue  # nothing to analyse in it, or its photos are gone: the others still go
    if not batches:
        raise ValidationError(f"No batch of {ad.name} can be analysed again.")
    return batches


def ads_reprocess(
    *, ads: Sequence[Ad], model_version: ModelVersion
) -> tuple[list[UploadBatch], list[str]]:
    """`ad_reprocess` for several ads: the batches queued, and why the other ads were not."""
    queued: list[UploadBatch] = []
    problems: list[str] = []
    for ad in ads:
        try:
            queued.extend(ad_reprocess(ad=ad, model_version=model_version))
        except ValidationError as exc:
            problems.extend(exc.messages)
    return queued, problems


# Retention ------------------------------------------------------------------------------------


def photos_purge(
    *, image_ids: Sequence[int] | None = None, cutoff: dt.datetime | None = None
) -> int:
    """Delete stored photos analysed before `cutoff` (default: the retention period ago).

    Results and boxes stay. A photo file shared by several rows (same content in several ads)
    is deleted only when every row using it is finished and past the cutoff. Returns the
    number of files deleted.
    """
    now = timezone.now()
    if cutoff is None:
        if settings.PHOTO_RETENTION == "immediate":
            cutoff = now
        elif settings.PHOTO_RETENTION_DAYS > 0:
            cutoff = now - dt.timedelta(days=settings.PHOTO_RETENTION_DAYS)
        else:
            return 0
    eligible = Q(status__in=(ImageStatus.DONE, ImageStatus.FAILED), processed_at__lte=cutoff) | Q(
        status=ImageStatus.SKIPPED
    )
    candidates = ReactionImage.objects.filter(eligible, photo_deleted_at__isnull=True).exclude(
        file=""
    )
    if image_ids is not None:
        candidates = candidates.filter(pk__in=image_ids)
    names = sorted(set(candidates.values_list("file", flat=True)))
    deleted = 0
    for part in _chunks(names, _IN_CHUNK):  # type: ignore[arg-type]
        blocked = set(
            ReactionImage.objects.filter(file__in=part)
            .exclude(eligible)
            .values_list("file", flat=True)
        )
        removable = [name for name in part if name not in blocked]
        for name in removable:
            default_storage.delete(name)
        deleted += len(removable)
        ReactionImage.objects.filter(file__in=removable).update(file="", photo_deleted_at=now)
    return deleted
