"""An uploaded archive becomes stored photos and one row per member, then goes to inference.

Photos are stored by content hash, so storing one twice is harmless; the rows are written in
one transaction that also moves the batch from extracting to processing, so a second delivery
of the same extraction finds the batch already moved on and writes nothing.

A member that cannot be read fails alone. An archive that cannot be used fails its batch at
once (`ArchiveError`); any other failure of the extraction is retried, and the batch fails
with the reason after INGEST_MAX_ATTEMPTS deliveries, never loops.
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import InterfaceError, OperationalError, transaction
from django.db.models import F
from django.utils import timezone

from campaigns.archives import (
    ArchiveError,
    ArchiveLimits,
    archive_members,
    open_archive,
    photo_candidates,
    sniff_image_format,
)
from campaigns.models import Ad, BatchStatus, ImageStatus, ReactionImage, UploadBatch
from campaigns.services.batches import batch_fail, batch_fan_out, batch_recount
from campaigns.services.transitions import IN_CHUNK, status_change, status_rows_create
from inference.models import ModelVersion
from inference.selectors import model_version_active

logger = logging.getLogger(__name__)

# Seconds between signs of life of a long extraction (the sweeper resumes silent batches).
_HEARTBEAT_S = 10
# Errors that a retry can pass: the task retries them itself, they are not the archive's.
TRANSIENT_ERRORS = (OperationalError, InterfaceError)


class ExtractionRetry(Exception):
    """This delivery of an extraction failed; another delivery may pass (the task retries)."""


def archive_limits() -> ArchiveLimits:
    """The archive limits of the settings (INGEST_MAX_*)."""
    return ArchiveLimits(
        max_entries=settings.INGEST_MAX_ENTRIES,
        max_total_bytes=settings.INGEST_MAX_EXPANDED_BYTES,
        max_expansion=float(settings.INGEST_MAX_EXPANSION),
        max_entry_bytes=settings.INGEST_MAX_PHOTO_BYTES,
        max_ratio=float(settings.INGEST_MAX_RATIO),
    )


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
    """Unpack the batch's archive, store its photos and record every member (safe to rerun).

    Raises `ExtractionRetry` when this delivery failed for a reason another may not meet.
    """
    now = timezone.now()
    claimed = status_change(
        UploadBatch.objects.filter(pk=batch_id),
        to=BatchStatus.EXTRACTING,
        started_at=now,
        progress_at=now,
        extract_attempts=F("extract_attempts") + 1,
    )
    if not claimed:
        return  # gone, or already extracted by an earlier delivery
    batch = UploadBatch.objects.select_related("ad").get(pk=batch_id)
    limit = settings.INGEST_MAX_ATTEMPTS
    if batch.extract_attempts > limit:
        # The last delivery died (worker killed, out of memory, past the time limit): stop here.
        _extraction_fail(
            batch,
            f"it could not be unpacked in {limit} attempts (the last one's worker was killed "
            "or ran out of time)",
        )
        return
    try:
        _extract(batch)
    except ArchiveError as exc:
        _extraction_fail(batch, str(exc))
    except TRANSIENT_ERRORS:
        raise
    except SoftTimeLimitExceeded:
        _extraction_fail(
            batch,
            f"unpacking took longer than the {settings.INGEST_EXTRACT_TIME_LIMIT} s limit "
            "(INGEST_EXTRACT_TIME_LIMIT)",
        )
    except Exception as exc:
        cause = f"{type(exc).__name__}: {exc}"
        logger.exception(
            "extracting batch %s failed (attempt %s)", batch_id, batch.extract_attempts
        )
        if batch.extract_attempts >= limit:
            _extraction_fail(batch, f"it could not be unpacked in {limit} attempts ({cause})")
            return
        attempt = f"attempt {batch.extract_attempts} of {limit}"
        UploadBatch.objects.filter(pk=batch_id).update(
            error=f"Unpacking failed on {attempt}, retrying: {cause}"
        )
        raise ExtractionRetry(cause) from exc


def _extract(batch: UploadBatch) -> None:
    members = _archive_read(batch)
    model_version = model_version_active()
    if model_version is None:
        batch_fail(batch=batch, error="No model version is active; nothing was imported.")
        return
    if _members_record(batch=batch, members=members, model_version=model_version):
        batch_id = batch.pk
        transaction.on_commit(lambda: _after_extraction(batch_id))


def _extraction_fail(batch: UploadBatch, reason: str) -> None:
    """The batch fails with `reason`; nothing of the archive was imported, and it is deleted."""
    batch_fail(batch=batch, error=f"{batch.source_name}: {reason}. Nothing was imported.")
    _archive_delete(batch)


def _archive_read(batch: UploadBatch) -> list[_Member]:
    if not batch.archive:
        raise ArchiveError("the uploaded file is no longer stored")
    limits = archive_limits()
    members = []
    heartbeat = time.monotonic()
    try:
        with batch.archive.open("rb") as handle, open_archive(handle) as archive:
            listed = archive_members(archive, limits=limits, archive_bytes=batch.archive.size)
            for member, data, reason in photo_candidates(archive, listed):
                if data is None or reason is not None:
                    sha = hashlib.sha256(data).hexdigest() if data is not None else ""
                    members.append(_Member(name=member.name, sha256=sha, skip_reason=reason))
                    continue
                sha = hashlib.sha256(data).hexdigest()
                members.append(
                    _Member(name=member.name, sha256=sha, file=photo_store(data=data, sha256=sha))
                )
                if time.monotonic() - heartbeat > _HEARTBEAT_S:
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
        won = status_change(
            UploadBatch.objects.filter(pk=batch.pk, status=BatchStatus.EXTRACTING),
            to=BatchStatus.PROCESSING,
            model_version=model_version,
            progress_at=now,
            error="",
        )
        if not won:
            return False
        batch.status, batch.model_version = BatchStatus.PROCESSING, model_version
        # Two batches of one ad extracting at once must agree on which copy is the original.
        list(Ad.objects.select_for_update().filter(pk=batch.ad_id).values_list("pk"))
        shas = sorted({m.sha256 for m in members if m.file})
        originals: dict[str, int] = {}
        for start in range(0, len(shas), IN_CHUNK):
            for sha, pk in (
                ReactionImage.objects.filter(
                    batch__ad_id=batch.ad_id, sha256__in=shas[start : start + IN_CHUNK]
                )
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
                    ReactionImage(
                        batch=batch,
                        original_name=m.name,
                        sha256=m.sha256,
                        file=m.file,
                        status=ImageStatus.PENDING,
                    )
                )
        for row in status_rows_create(first_rows):
            originals.setdefault(row.sha256, row.pk)
        repeated = sorted({originals[m.sha256] for m in repeats})
        names: dict[int, str] = {}
        for start in range(0, len(repeated), IN_CHUNK):
            names.update(
                ReactionImage.objects.filter(pk__in=repeated[start : start + IN_CHUNK]).values_list(
                    "pk", "original_name"
                )
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
        status_rows_create(skipped)
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
        batch.archive.name = ""
