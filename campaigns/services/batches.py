"""An upload batch from the upload to its close: create, fan out, close, fail, recount, resume;
and its deletion with the stored files only it used.

Delivery is at-least-once (acks_late, redelivery, the sweeper re-sending stalled work), so
every step is safe to run twice: each status change is a conditional update through
`campaigns.services.transitions`, and the batch is closed by whichever chunk finds nothing
left to do.
"""

from __future__ import annotations

import datetime as dt
import logging
import tempfile
import uuid
import warnings
import zipfile
from collections.abc import Iterable, Sequence
from pathlib import PurePosixPath
from typing import Any

from celery import signature
from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q, QuerySet
from django.utils import timezone
from kombu.exceptions import OperationalError as KombuOperationalError

from campaigns import hooks
from campaigns.archives import MANIFEST_NAME, VIDEO_EXTENSIONS, extension
from campaigns.models import (
    BATCH_FINISHED,
    BATCH_UNFINISHED,
    IMAGE_UNFINISHED,
    Ad,
    BatchStatus,
    ReactionImage,
    ReactionVideo,
    UploadBatch,
    Viewer,
)
from campaigns.selectors.batches import batch_counts
from campaigns.services.transitions import IN_CHUNK, status_change, status_rows_create
from inference.selectors import model_version_active

logger = logging.getLogger(__name__)

# What publishing raises while the broker is down: kombu's error, or the socket's own.
BROKER_ERRORS = (KombuOperationalError, ConnectionError, OSError)


# Upload ---------------------------------------------------------------------------------------


def batch_create(
    *,
    ad: Ad,
    upload: File[Any],
    source_name: str,
    user: User | None = None,
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
    if model_version_active() is None:
        raise ValidationError(
            "No model version is active, so photos cannot be analysed yet; an administrator "
            "must register and activate one first."
        )
    batch = UploadBatch(
        ad=ad,
        uploaded_by=user,
        source_name=PurePosixPath(source_name.replace("\\", "/")).name[:255] or "upload.zip",
        status=BatchStatus.RECEIVED,
        progress_at=timezone.now(),
    )
    # The stored name is ours: the uploader's file name never becomes a path.
    batch.archive.save(f"{uuid.uuid4().hex}.zip", upload, save=False)
    with transaction.atomic():
        (batch,) = status_rows_create([batch])
        batch_id = batch.pk
        transaction.on_commit(lambda: _extract_enqueue(batch_id))
    # Whether the extraction could be queued (see `batch_is_queued`).
    batch.refresh_from_db(fields=["progress_at"])
    return batch


def batch_is_queued(batch: UploadBatch) -> bool:
    """False while the batch's next task is waiting for the broker to come back."""
    return batch.progress_at is not None


def batch_create_from_files(
    *,
    ad: Ad,
    files: Sequence[File[Any]],
    manifest: File[Any] | None = None,
    user: User | None = None,
) -> UploadBatch:
    """Loose photos and reaction videos, with an optional manifest, become a batch too: packed
    into a stored (uncompressed) ZIP on disk, the manifest as its top-level manifest.csv, and
    extracted as an uploaded ZIP is."""
    if not files:
        raise ValidationError("Choose a ZIP file or at least one photo or video.")
    members = [(PurePosixPath((f.name or "").replace("\\", "/")).name or "photo", f) for f in files]
    if manifest is not None:
        members.append((MANIFEST_NAME, manifest))
    with tempfile.TemporaryFile() as spool, warnings.catch_warnings():
        # Two photos may share a name: extraction gives each its own row.
        warnings.filterwarnings("ignore", "Duplicate name", UserWarning)
        with zipfile.ZipFile(spool, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
            for name, upload in members:
                with zf.open(name, "w", force_zip64=True) as member:
                    for part in upload.chunks():
                        member.write(part)
        spool.seek(0)
        return batch_create(
            ad=ad, upload=File(spool, name="files.zip"), source_name=files_label(files), user=user
        )


# The ingest tasks, sent by name: campaigns.tasks calls these services, never the other way.
EXTRACT_TASK = "campaigns.tasks.batch_extract_task"
CLASSIFY_TASK = "campaigns.tasks.images_classify_task"


def files_label(files: Sequence[File[Any]]) -> str:
    """What an upload of loose files is called on its pages: the file's name when there is
    one, else how many photos and videos ("3 videos", "12 photos and 2 videos")."""
    if len(files) == 1:
        return files[0].name or "photo"
    videos = sum(extension(f.name or "") in VIDEO_EXTENSIONS for f in files)
    photos = len(files) - videos
    parts = [
        f"{n} {word}{'s' if n != 1 else ''}"
        for n, word in ((photos, "photo"), (videos, "video"))
        if n
    ]
    return " and ".join(parts)


def _extract_enqueue(batch_id: int) -> bool:
    return _task_send(EXTRACT_TASK, batch_id, batch_id=batch_id)


def _task_send(task_name: str, *args: object, batch_id: int) -> bool:
    """Queue the task named `task_name`; when the broker cannot be reached, mark the batch as
    waiting for it (progress_at None) so the sweeper sends the work as soon as it runs, and
    return False.

    The upload is stored either way: a broker outage must not lose it, nor answer an error.
    """
    try:
        signature(task_name, args=args).delay()
    except BROKER_ERRORS as exc:
        logger.warning("could not queue %s for batch %s: %s", task_name, batch_id, exc)
        UploadBatch.objects.filter(pk=batch_id).update(progress_at=None)
        return False
    return True


# Processing -----------------------------------------------------------------------------------


def batch_fan_out(*, batch: UploadBatch) -> int:
    """Send the batch's unfinished photos to the inference queue in chunks; closes it if none.

    Safe to call again for the same photos: a chunk skips photos that another one holds.
    """
    ids = list(
        ReactionImage.objects.filter(batch=batch, status__in=IMAGE_UNFINISHED)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    if not ids:
        batch_close(batch_id=batch.pk)
        return 0
    return images_send(batch=batch, image_ids=ids)


def images_send(*, batch: UploadBatch, image_ids: Sequence[int]) -> int:
    """Send these photos of the batch to the inference queue in chunks of INGEST_CHUNK_SIZE;
    returns how many chunks went (while the broker is down, the sweeper sends the rest)."""
    model_version_id = batch.model_version_id
    if model_version_id is None:
        raise ValueError(f"batch {batch.pk} has photos to analyse but no model version")
    size = max(1, settings.INGEST_CHUNK_SIZE)
    chunks = [list(image_ids[start : start + size]) for start in range(0, len(image_ids), size)]
    for sent, chunk in enumerate(chunks):
        if not _task_send(CLASSIFY_TASK, chunk, model_version_id, batch_id=batch.pk):
            return sent
    return len(chunks)


def batch_close(*, batch_id: int) -> bool:
    """processing -> done / partial / failed once no photo is left; True for the one caller that
    closed it. Counters are recounted from the rows, so they are exact however often chunks ran.

    A batch with no photo to analyse is done when its usable members all repeat photos
    already in the ad (a re-upload: their results are there), else failed: nothing it held
    could be analysed, and the uploader must be told so.
    """
    if ReactionImage.objects.filter(batch_id=batch_id, status__in=IMAGE_UNFINISHED).exists():
        return False
    batch = UploadBatch.objects.filter(pk=batch_id, status=BatchStatus.PROCESSING).first()
    if batch is None:
        return False
    batch_recount(batch=batch)
    processed, failed = batch.images_processed, batch.images_failed
    if failed == 0 and processed > 0:
        status, error = BatchStatus.DONE, ""
    elif processed == 0 and failed == 0 and batch.images_duplicate > 0:
        # The same ZIP uploaded again: its photos' results are already in the ad.
        status = BatchStatus.DONE
        error = (
            f"All {batch.images_duplicate} photos were already uploaded to this ad; "
            "nothing new to analyse."
        )
    elif processed == 0 and failed == 0:
        status = BatchStatus.FAILED
        error = f"No photos to analyse ({batch.images_skipped} members skipped)."
    elif processed == 0:
        status, error = BatchStatus.FAILED, f"All {failed} photos failed."
    else:
        status, error = BatchStatus.PARTIAL, f"{failed} photos failed."
    closed = status_change(
        UploadBatch.objects.filter(pk=batch_id, status=BatchStatus.PROCESSING),
        to=status,
        error=error,
        finished_at=timezone.now(),
    )
    if closed:
        hooks.ads_changed(ad_ids=[batch.ad_id])
    return bool(closed)


def ad_tally_generations_bump(*, ad_ids: Iterable[int]) -> None:
    """Mark these ads' derived figures (tallies, timeline rollups) out of date, in the caller's
    transaction that changes them. Sorted, and last in the transaction, so the ads' rows stay
    locked for as short a time as can be."""
    Ad.objects.filter(pk__in=sorted(set(ad_ids))).update(tally_generation=F("tally_generation") + 1)


def batch_fail(*, batch: UploadBatch, error: str) -> bool:
    """Any unfinished status -> failed, with a message the uploader can act on; False when the
    batch had already finished (a late error changes nothing)."""
    now = timezone.now()
    failed = status_change(
        UploadBatch.objects.filter(pk=batch.pk), to=BatchStatus.FAILED, error=error, finished_at=now
    )
    if failed:
        batch.status, batch.error, batch.finished_at = BatchStatus.FAILED, error, now
    return bool(failed)


def batch_recount(*, batch: UploadBatch) -> UploadBatch:
    """Recompute the batch's counters from its images and faces, in the database."""
    counts = batch_counts(batch=batch)
    fields = {
        "images_total": counts["total"],
        "images_processed": counts["done"],
        "images_failed": counts["failed"],
        "images_skipped": counts["skipped"],
        "images_duplicate": counts["duplicates"],
        "faces_found": counts["faces"],
    }
    UploadBatch.objects.filter(pk=batch.pk).update(**fields)
    for key, value in fields.items():
        setattr(batch, key, value)
    return batch


def batch_progress_touch(*, batch_ids: Sequence[int], now: dt.datetime) -> None:
    """Record a sign of life of these batches, so the sweeper leaves them alone."""
    for start in range(0, len(batch_ids), IN_CHUNK):
        UploadBatch.objects.filter(pk__in=batch_ids[start : start + IN_CHUNK]).update(
            progress_at=now
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
    stalled = UploadBatch.objects.filter(status__in=BATCH_UNFINISHED).filter(
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


# Deletion -------------------------------------------------------------------------------------


def batch_delete(*, batch: UploadBatch) -> None:
    """Delete a finished upload: its photos' and videos' rows and results, and its stored files
    that no other upload's row uses. An upload still being processed is refused."""
    batches_delete(batches=UploadBatch.objects.filter(pk=batch.pk))


def batches_delete(*, batches: QuerySet[UploadBatch], owner: str = "") -> int:
    """Delete the finished uploads of `batches` with everything they hold (what deleting an ad
    or a campaign, named `owner` in the refusal, does to its uploads). ValidationError when
    one of them is still being processed, and then nothing is deleted. Returns how many
    uploads were deleted.

    The rows go at once (faces, photos, videos and frames cascade in the database); the
    stored files once that is committed, each only when no remaining row points at it: photos
    and videos are stored by content hash, so another upload may share the file.
    """
    with transaction.atomic():
        # Locks the rows on PostgreSQL: a reprocessing cannot restart one meanwhile.
        locked = list(
            batches.select_for_update(of=("self",)).values_list(
                "pk", "status", "archive", "source_name"
            )
        )
        unfinished = [name for _, status, _, name in locked if status not in BATCH_FINISHED]
        if unfinished:
            raise ValidationError(
                f"{unfinished[0]} is still being processed; {owner or 'it'} can be deleted "
                "once it has finished."
            )
        ids = [pk for pk, _, _, _ in locked]
        ad_ids = sorted(set(UploadBatch.objects.filter(pk__in=ids).values_list("ad_id", flat=True)))
        # Their tallies go with them (cascade): the ads' timelines are to be rebuilt.
        ad_tally_generations_bump(ad_ids=ad_ids)
        files: set[str] = {archive for _, _, archive, _ in locked if archive}
        viewer_ids: set[int] = set()
        for start in range(0, len(ids), IN_CHUNK):
            part = ids[start : start + IN_CHUNK]
            for rows in (ReactionImage.objects, ReactionVideo.objects):
                viewer_ids.update(
                    rows.filter(batch_id__in=part, viewer__isnull=False)
                    .values_list("viewer_id", flat=True)
                    .distinct()
                )
            files.update(
                ReactionImage.objects.filter(batch_id__in=part)
                .exclude(file="")
                .values_list("file", flat=True)
            )
            files.update(
                ReactionVideo.objects.filter(batch_id__in=part)
                .exclude(file="")
                .values_list("file", flat=True)
            )
        for start in range(0, len(ids), IN_CHUNK):
            UploadBatch.objects.filter(pk__in=ids[start : start + IN_CHUNK]).delete()
        viewers_unused_delete(viewer_ids=sorted(viewer_ids))
        names = sorted(files)
        transaction.on_commit(lambda: stored_files_release(names=names))
        hooks.ads_changed(ad_ids=ad_ids)
    return len(ids)


def viewers_unused_delete(*, viewer_ids: Sequence[int]) -> int:
    """Delete those of `viewer_ids` that no photo, frame or video shows any more, with their
    attributes: a viewer and its segments follow the uploads that brought them, so filters
    stop offering an attribute once its last upload is gone. Returns how many."""
    deleted = 0
    for start in range(0, len(viewer_ids), IN_CHUNK):
        unused = Viewer.objects.filter(pk__in=viewer_ids[start : start + IN_CHUNK]).exclude(
            Exists(ReactionImage.objects.filter(viewer=OuterRef("pk")))
            | Exists(ReactionVideo.objects.filter(viewer=OuterRef("pk")))
        )
        deleted += unused.delete()[1].get(Viewer._meta.label, 0)
    return deleted


def stored_files_release(*, names: Sequence[str]) -> int:
    """Delete the stored files of `names` that no photo, video, upload or ad row points at
    any more; returns how many were deleted."""
    deleted = 0
    for start in range(0, len(names), IN_CHUNK):
        for name in _unused(names[start : start + IN_CHUNK]):
            default_storage.delete(name)
            deleted += 1
    return deleted


def _unused(names: Sequence[str]) -> list[str]:
    """Those of `names` (at most IN_CHUNK) that no photo, video, upload or ad row points at."""
    part = list(names)
    used = set(ReactionImage.objects.filter(file__in=part).values_list("file", flat=True))
    used.update(ReactionVideo.objects.filter(file__in=part).values_list("file", flat=True))
    used.update(UploadBatch.objects.filter(archive__in=part).values_list("archive", flat=True))
    used.update(Ad.objects.filter(creative__in=part).values_list("creative", flat=True))
    return [name for name in part if name not in used]


# Where the app's rows keep their files (model artifacts, under models/, are not theirs).
STORED_FILE_FOLDERS = ("photos", "videos", "uploads", "creatives", "reactions")
# An unused file younger than this may belong to an upload being stored or extracted now.
ORPHAN_MIN_AGE = dt.timedelta(days=1)


def stored_orphans_delete(*, now: dt.datetime | None = None) -> int:
    """Delete the stored files that no row points at and that are older than ORPHAN_MIN_AGE
    (left by an extraction whose worker was killed, or an upload whose row was never
    written); returns how many. Periodic (beat), folder by folder, so memory holds one
    folder's names at a time; a file's age is asked only of the unused ones."""
    cutoff = (now or timezone.now()) - ORPHAN_MIN_AGE
    deleted = 0
    folders = list(STORED_FILE_FOLDERS)
    while folders:
        folder = folders.pop()
        try:
            subfolders, files = default_storage.listdir(folder)
        except FileNotFoundError:
            continue  # a local folder never made (an object store just lists nothing)
        folders += [f"{folder}/{sub}" for sub in subfolders]
        names = [f"{folder}/{name}" for name in files]
        for start in range(0, len(names), IN_CHUNK):
            for name in _unused(names[start : start + IN_CHUNK]):
                if default_storage.get_modified_time(name) < cutoff:
                    default_storage.delete(name)
                    deleted += 1
    if deleted:
        logger.warning("deleted %s stored files that no row used", deleted)
    return deleted
