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
import tempfile
import time
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.core.files import File
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import InterfaceError, OperationalError, transaction
from django.db.models import F, Min, QuerySet
from django.utils import timezone

from campaigns import hooks
from campaigns.archives import (
    MAX_NAME_LENGTH,
    ArchiveError,
    ArchiveLimits,
    ArchiveMember,
    EntryError,
    archive_members,
    content_skip_reason,
    copy_member,
    open_archive,
    read_member,
    shortened,
    sniff_image_format,
)
from campaigns.manifests import Manifest, OffsetBound, default_viewer, manifest_parse
from campaigns.models import (
    Ad,
    BatchStatus,
    ImageKind,
    ImageStatus,
    ReactionImage,
    ReactionVideo,
    UploadBatch,
    Viewer,
    ViewerAttribute,
)
from campaigns.services.batches import (
    ad_tally_generations_bump,
    batch_fail,
    batch_fan_out,
    batch_recount,
    stored_files_release,
)
from campaigns.services.transitions import IN_CHUNK, status_change, status_rows_create
from campaigns.storage import STORE_ERRORS, STORE_UNREACHABLE
from inference.models import ModelVersion
from inference.selectors import model_version_active
from inference.video import VideoError, VideoInfo, probe_video, sample_times

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
        max_video_bytes=settings.INGEST_MAX_VIDEO_BYTES,
        max_ratio=float(settings.INGEST_MAX_RATIO),
    )


@dataclass
class _Member:
    """An archive member as read: its row's name, content hash, stored file, and what it is."""

    name: str
    path: str
    kind: str = ImageKind.PHOTO
    sha256: str = ""
    file: str = ""
    skip_reason: str | None = None
    video: VideoInfo | None = None


def ad_offset_bound(ad: Ad) -> OffsetBound:
    """The latest second of the ad an offset may name: its length when known, else
    AD_MAX_SECONDS. Nothing past it is stored, so the timeline's work never depends on a
    stray offset (milliseconds given as seconds, 3e9)."""
    limit = float(settings.AD_MAX_SECONDS)
    if ad.duration_seconds is not None and 0 < ad.duration_seconds <= limit:
        return OffsetBound(ad.duration_seconds, "the ad's length")
    return OffsetBound(limit, "the longest an ad may be (AD_MAX_SECONDS)")


@dataclass(frozen=True)
class _FramePlan:
    """The times sampled of each new video (by member name), and what the budget trimmed."""

    times: dict[str, list[float]]
    notes: list[str]


def _frame_plan(
    videos: list[tuple[str, float | None, VideoInfo | None]], *, bound: OffsetBound
) -> _FramePlan:
    """Sample times of each video (name, offset, probe): VIDEO_SAMPLE_FPS frames a second of
    the part of it within the ad (no later than `bound`), and at most INGEST_MAX_FRAMES frames
    for the whole upload, reached by sampling every video at a lower rate (so each still covers
    its whole span); past that, videos get no frame and say why."""
    budget = max(1, settings.INGEST_MAX_FRAMES)
    notes = []
    windows = {}
    durations = {name: info.duration if info is not None else 0.0 for name, _, info in videos}
    for name, offset, _ in videos:
        windows[name] = min(durations[name], max(0.0, bound.seconds - (offset or 0.0)))
    cut = [name for name in windows if windows[name] < durations[name]]
    if cut:
        named = ", ".join(cut[:5]) + (f" and {len(cut) - 5} more" if len(cut) > 5 else "")
        notes.append(
            f"{len(cut)} videos run past {bound.source} ({bound.seconds:,g} s) from their "
            f"offset: only the part within it is analysed ({named})"
        )
    fps = float(settings.VIDEO_SAMPLE_FPS)
    rate = fps
    times = {name: sample_times(window, rate) for name, window in windows.items()}
    wanted = total = sum(len(t) for t in times.values())
    # Every video keeps its first frame at any rate; sample_times takes no rate under 1/1000.
    while total > budget and total > len(times) and rate > 0.001:
        rate = max(0.001, min(rate * 0.95, rate * budget / total))
        times = {name: sample_times(window, rate) for name, window in windows.items()}
        total = sum(len(t) for t in times.values())
    if rate < fps:
        notes.append(
            f"The videos of this upload hold {wanted:,} frames at {fps:g} frames a second, more "
            f"than the {budget:,} allowed per upload (INGEST_MAX_FRAMES): they were sampled at "
            f"{rate:.3g} frames a second instead"
        )
    left = budget
    for name in times:
        times[name] = times[name][: max(0, left)]
        left -= len(times[name])
    return _FramePlan(times=times, notes=notes)


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
    # Files this delivery stored (or found stored): released when the batch fails.
    stored: list[str] = []
    try:
        _extract(batch, stored)
    except ArchiveError as exc:
        _extraction_fail(batch, str(exc), stored)
    except TRANSIENT_ERRORS:
        raise
    except SoftTimeLimitExceeded:
        _extraction_fail(
            batch,
            f"unpacking took longer than the {settings.INGEST_EXTRACT_TIME_LIMIT:,} s allowed; "
            "split it into smaller ZIPs",
            stored,
        )
    except Exception as exc:
        # The cause (a storage or server error) goes to the log for the operators; the
        # uploader reads what happened and what comes next.
        logger.exception(
            "extracting batch %s failed (attempt %s)", batch_id, batch.extract_attempts
        )
        cause = STORE_UNREACHABLE if isinstance(exc, STORE_ERRORS) else "a server error"
        if batch.extract_attempts >= limit:
            _extraction_fail(
                batch,
                f"it could not be unpacked in {limit} attempts ({cause}, logged for "
                "the administrators)",
                stored,
            )
            return
        attempt = f"attempt {batch.extract_attempts} of {limit}"
        UploadBatch.objects.filter(pk=batch_id).update(
            error=f"Unpacking failed on {attempt}, retrying: {cause}, logged for the "
            "administrators."
        )
        raise ExtractionRetry(f"{type(exc).__name__}: {exc}") from exc


def _extract(batch: UploadBatch, stored: list[str]) -> None:
    members, manifest = _archive_read(batch, stored)
    model_version = model_version_active()
    if model_version is None:
        batch_fail(batch=batch, error="No model version is active; nothing was imported.")
        _stored_release(stored)
        return
    if _members_record(
        batch=batch, members=members, manifest=manifest, model_version=model_version
    ):
        batch_id = batch.pk
        transaction.on_commit(lambda: _after_extraction(batch_id))


def _extraction_fail(batch: UploadBatch, reason: str, stored: Sequence[str] = ()) -> None:
    """The batch fails with `reason`; nothing of the archive was imported: it is deleted, and
    so are the files stored from it that no row uses."""
    batch_fail(batch=batch, error=f"{batch.source_name}: {reason}. Nothing was imported.")
    _archive_delete(batch)
    _stored_release(stored)


def _stored_release(stored: Sequence[str]) -> None:
    """Delete the files of a failed extraction that no row uses (another upload's rows may
    share a file: photos are stored by content). What a store outage leaves, the daily
    sweep of orphans (`stored_orphans_delete`) removes."""
    try:
        stored_files_release(names=sorted(set(stored)))
    except STORE_ERRORS:
        logger.warning("files of a failed extraction not deleted: the store failed")


def _archive_read(batch: UploadBatch, stored: list[str]) -> tuple[list[_Member], Manifest | None]:
    """Every member, photos and videos stored by content hash (their names added to `stored`
    as they are), and the parsed manifest."""
    if not batch.archive:
        raise ArchiveError("the uploaded file is no longer stored")
    limits = archive_limits()
    members: list[_Member] = []
    manifest_data: bytes | None = None
    manifest_problem = ""
    notes: list[str] = []
    heartbeat = time.monotonic()
    try:
        # zipfile seeks: from object storage the open copies the archive to a temporary file
        # (memory only up to S3's max_memory_size), removed again when it closes.
        with batch.archive.open("rb") as handle, open_archive(handle) as archive:
            listed = archive_members(archive, limits=limits, archive_bytes=batch.archive.size)
            for member in listed:
                if member.kind == "manifest":
                    # Never a row of its own: what is wrong with it is a note of the batch.
                    if manifest_data is not None or manifest_problem:
                        notes.append(f"{member.name}: a second manifest.csv, ignored")
                    elif not member.is_candidate:
                        manifest_problem = f"manifest.csv was not read ({member.skip_reason})"
                    else:
                        try:
                            manifest_data = read_member(archive, member)
                        except EntryError as exc:
                            manifest_problem = f"manifest.csv could not be read ({exc}): ignored"
                    continue
                members.append(_member_read(archive, member))
                if members[-1].file:
                    stored.append(members[-1].file)
                if time.monotonic() - heartbeat > _HEARTBEAT_S:
                    # A long extraction is alive: keep the sweeper from starting another.
                    UploadBatch.objects.filter(pk=batch.pk).update(progress_at=timezone.now())
                    heartbeat = time.monotonic()
    except FileNotFoundError as exc:
        raise ArchiveError("the uploaded file is no longer stored") from exc
    if manifest_data is None:
        manifest = Manifest(notes=[manifest_problem, *notes]) if manifest_problem else None
    else:
        manifest = manifest_parse(
            manifest_data,
            member_paths={m.path for m in members},
            offset_bound=ad_offset_bound(batch.ad),
        )
        manifest.notes += notes
    return members, manifest


def _member_read(archive: zipfile.ZipFile, member: ArchiveMember) -> _Member:
    """One member read: a photo's bytes stored, a video streamed to storage after its probe;
    a skipped member with its reason."""
    kind = ImageKind.VIDEO if member.kind == "video" else ImageKind.PHOTO
    if not member.is_candidate:
        return _Member(
            name=member.name, path=member.path, kind=kind, skip_reason=member.skip_reason
        )
    if kind == ImageKind.VIDEO:
        return _video_read(archive, member)
    try:
        data = read_member(archive, member)
    except EntryError as exc:
        logger.info("archive member %r unreadable: %r", member.path, exc.__cause__)
        return _Member(name=member.name, path=member.path, skip_reason=str(exc))
    sha = hashlib.sha256(data).hexdigest()
    reason = content_skip_reason(member.path, data)
    if reason is not None:
        return _Member(name=member.name, path=member.path, sha256=sha, skip_reason=reason)
    return _Member(
        name=member.name, path=member.path, sha256=sha, file=photo_store(data=data, sha256=sha)
    )


def _video_read(archive: zipfile.ZipFile, member: ArchiveMember) -> _Member:
    """Stream the video to a temporary file (bounded disk: one video at a time), check what
    it holds against the limits, then store it by content hash."""
    suffix = PurePosixPath(member.path).suffix.lower()
    with tempfile.NamedTemporaryFile(suffix=suffix) as local:
        try:
            sha = copy_member(archive, member, local)
        except EntryError as exc:
            return _Member(member.name, member.path, ImageKind.VIDEO, skip_reason=str(exc))
        local.flush()
        local.seek(0)
        info: VideoInfo | None = None
        reason = content_skip_reason(member.path, local.read(64), kind="video")
        if reason is None:
            try:
                info = probe_video(local.name, max_pixels=settings.VIDEO_MAX_PIXELS)
            except VideoError as exc:
                reason = str(exc)
            else:
                reason = _video_limit_reason(info)
        if reason is not None or info is None:
            return _Member(member.name, member.path, ImageKind.VIDEO, sha, skip_reason=reason)
        local.seek(0)
        name = f"videos/{sha[:2]}/{sha}{suffix}"
        if not default_storage.exists(name):
            saved = default_storage.save(name, File(local))
            if saved != name:
                default_storage.delete(saved)
    return _Member(member.name, member.path, ImageKind.VIDEO, sha, file=name, video=info)


def _video_limit_reason(info: VideoInfo) -> str | None:
    if info.duration > settings.VIDEO_MAX_SECONDS:
        return (
            f"the video lasts {info.duration:,.0f} s; the limit is {settings.VIDEO_MAX_SECONDS:,} s"
        )
    return None


def _skipped_row(
    batch: UploadBatch, member: _Member, *, error: str, duplicate_of_id: int | None = None
) -> ReactionImage:
    """The row that records why an archive member was not analysed."""
    return ReactionImage(
        batch=batch,
        kind=member.kind,
        original_name=member.name,
        sha256=member.sha256,
        status=ImageStatus.SKIPPED,
        duplicate_of_id=duplicate_of_id,
        error=error,
    )


@dataclass
class _Placement:
    """Who a member shows and when: from its manifest row, or the defaults."""

    viewer: str | None
    offset_seconds: float | None


def _placements(members: list[_Member], manifest: Manifest | None) -> dict[str, _Placement]:
    """Each usable member's viewer and offset. Without a manifest row a video is its file
    name's viewer from second 0, and a photo has neither."""
    placed = {}
    unlisted = 0
    for m in members:
        if m.skip_reason is not None:
            continue
        row = manifest.rows.get(m.path) if manifest is not None else None
        is_video = m.kind == ImageKind.VIDEO
        if row is None:
            unlisted += manifest is not None and manifest.has_viewers
            placed[m.name] = _Placement(
                viewer=default_viewer(m.path) if is_video else None,
                offset_seconds=0.0 if is_video else None,
            )
        else:
            viewer = row.viewer if row.viewer is not None else None
            if viewer is None and is_video:
                viewer = default_viewer(m.path)
            placed[m.name] = _Placement(viewer=viewer, offset_seconds=row.offset_seconds)
    if unlisted and manifest is not None:
        manifest.note(
            f"{unlisted} files are not in manifest.csv: their photos have no viewer, and a "
            "video's viewer is its file name"
        )
    return placed


def _viewers_upsert(
    batch: UploadBatch, external_ids: set[str], attributes: dict[str, dict[str, str]]
) -> dict[str, Viewer]:
    """The campaign's viewers by external id, created when new; the manifest's attribute
    values replace those stored for the same names (the latest manifest describes them)."""
    campaign_id = batch.ad.campaign_id
    wanted = sorted(external_ids)
    Viewer.objects.bulk_create(
        [Viewer(campaign_id=campaign_id, external_id=external) for external in wanted],
        batch_size=IN_CHUNK,
        ignore_conflicts=True,
    )
    viewers: dict[str, Viewer] = {}
    for start in range(0, len(wanted), IN_CHUNK):
        for viewer in Viewer.objects.filter(
            campaign_id=campaign_id, external_id__in=wanted[start : start + IN_CHUNK]
        ):
            viewers[viewer.external_id] = viewer
    given = [
        (viewers[v], name, value)
        for v, values in attributes.items()
        if v in viewers
        for name, value in values.items()
    ]
    if given:
        ids = sorted({viewer.pk for viewer, _, _ in given})
        stored = {
            (a.viewer_id, a.name): a
            for start in range(0, len(ids), IN_CHUNK)
            for a in ViewerAttribute.objects.filter(viewer_id__in=ids[start : start + IN_CHUNK])
        }
        changed, new = [], []
        for viewer, name, value in given:
            existing = stored.get((viewer.pk, name))
            if existing is None:
                new.append(ViewerAttribute(viewer=viewer, name=name, value=value))
            elif existing.value != value:
                existing.value = value
                changed.append(existing)
        ViewerAttribute.objects.bulk_create(new, batch_size=IN_CHUNK, ignore_conflicts=True)
        ViewerAttribute.objects.bulk_update(changed, ["value"], batch_size=IN_CHUNK)
        if new or changed:
            # the campaign's segments changed: so did every ad's segment timelines
            ad_ids = list(Ad.objects.filter(campaign_id=campaign_id).values_list("pk", flat=True))
            ad_tally_generations_bump(ad_ids=ad_ids)
            hooks.ads_changed(ad_ids=ad_ids)
    return viewers


def _originals(rows: QuerySet[Any], shas: list[str]) -> dict[str, int]:
    """sha256 -> the earliest of `rows` (the ad's photos, or its videos) with that content."""
    found: dict[str, int] = {}
    for start in range(0, len(shas), IN_CHUNK):
        for sha, pk in (
            rows.filter(sha256__in=shas[start : start + IN_CHUNK])
            .order_by("pk")
            .values_list("sha256", "pk")
        ):
            found.setdefault(sha, pk)
    return found


def _frame_rows(
    batch: UploadBatch, video: ReactionVideo, viewer: Viewer | None, times: list[float]
) -> list[ReactionImage]:
    """One pending row per sampled time of the video, each at its second of the ad."""
    return [
        ReactionImage(
            batch=batch,
            kind=ImageKind.FRAME,
            original_name=f"{shortened(video.original_name, MAX_NAME_LENGTH - 20)} @ {t:.2f} s",
            sha256="",
            status=ImageStatus.PENDING,
            viewer=viewer,
            video=video,
            frame_seconds=t,
            offset_seconds=(
                round(video.offset_seconds + t, 3) if video.offset_seconds is not None else None
            ),
        )
        for t in times
    ]


def _members_record(
    *,
    batch: UploadBatch,
    members: list[_Member],
    manifest: Manifest | None,
    model_version: ModelVersion,
) -> bool:
    """Write every member's row (a video's: one per sampled frame), its viewer and the
    batch's notes in one transaction; False when another delivery did it first."""
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
        placements = _placements(members, manifest)
        viewers = _viewers_upsert(
            batch,
            {p.viewer for p in placements.values() if p.viewer is not None},
            manifest.viewer_attributes() if manifest is not None else {},
        )

        photos = [m for m in members if m.file and m.kind == ImageKind.PHOTO]
        videos = [m for m in members if m.file and m.kind == ImageKind.VIDEO]
        ad_photos = ReactionImage.objects.filter(batch__ad_id=batch.ad_id, kind=ImageKind.PHOTO)
        photo_originals = _originals(
            ad_photos.exclude(status=ImageStatus.SKIPPED), sorted({m.sha256 for m in photos})
        )
        video_originals = _originals(
            ReactionVideo.objects.filter(batch__ad_id=batch.ad_id),
            sorted({m.sha256 for m in videos}),
        )
        skipped: list[ReactionImage] = []
        repeats: list[_Member] = []
        first_photos: list[ReactionImage] = []
        first_videos: list[_Member] = []
        in_batch: set[str] = set()
        for m in members:
            if m.skip_reason is not None:
                skipped.append(_skipped_row(batch, m, error=m.skip_reason))
            elif m.sha256 in photo_originals or m.sha256 in video_originals or m.sha256 in in_batch:
                repeats.append(m)
            elif m.kind == ImageKind.VIDEO:
                in_batch.add(m.sha256)
                first_videos.append(m)
            else:
                in_batch.add(m.sha256)
                first_photos.append(
                    ReactionImage(
                        batch=batch,
                        original_name=m.name,
                        sha256=m.sha256,
                        file=m.file,
                        status=ImageStatus.PENDING,
                        viewer=_viewer_of(m, placements, viewers),
                        offset_seconds=placements[m.name].offset_seconds,
                    )
                )
        for row in status_rows_create(first_photos):
            photo_originals.setdefault(row.sha256, row.pk)
        plan = _frame_plan(
            [(m.name, placements[m.name].offset_seconds, m.video) for m in first_videos],
            bound=ad_offset_bound(batch.ad),
        )
        new_videos, over_budget = _video_rows(
            batch, first_videos, plan=plan, placements=placements, viewers=viewers
        )
        skipped += over_budget
        stored_videos = ReactionVideo.objects.bulk_create(new_videos, batch_size=IN_CHUNK)
        frames = [
            frame
            for video in stored_videos
            for frame in _frame_rows(batch, video, video.viewer, plan.times[video.original_name])
        ]
        status_rows_create(frames)
        for video in stored_videos:
            video_originals.setdefault(video.sha256, video.pk)
        skipped += _duplicate_rows(batch, repeats, photo_originals, video_originals)
        status_rows_create(skipped)
        _notes_write(batch, manifest, plan.notes)
        batch_recount(batch=batch)
    return True


def _viewer_of(
    m: _Member, placements: dict[str, _Placement], viewers: dict[str, Viewer]
) -> Viewer | None:
    external = placements[m.name].viewer
    return viewers.get(external) if external is not None else None


def _video_rows(
    batch: UploadBatch,
    videos: list[_Member],
    *,
    plan: _FramePlan,
    placements: dict[str, _Placement],
    viewers: dict[str, Viewer],
) -> tuple[list[ReactionVideo], list[ReactionImage]]:
    """The unsaved rows of the new videos that get frames, and the skipped rows of those the
    upload's frame budget left without any."""
    rows, skipped = [], []
    for m in videos:
        if not plan.times[m.name]:
            skipped.append(
                _skipped_row(
                    batch,
                    m,
                    error="not analysed: the videos before it used up the upload's "
                    f"{settings.INGEST_MAX_FRAMES:,} frames (INGEST_MAX_FRAMES)",
                )
            )
            continue
        assert m.video is not None  # noqa: S101  narrows the type for mypy
        rows.append(
            ReactionVideo(
                batch=batch,
                original_name=m.name,
                sha256=m.sha256,
                file=m.file,
                viewer=_viewer_of(m, placements, viewers),
                offset_seconds=placements[m.name].offset_seconds,
                duration_seconds=m.video.duration,
                width=m.video.width,
                height=m.video.height,
            )
        )
    return rows, skipped


def _notes_write(batch: UploadBatch, manifest: Manifest | None, notes: list[str]) -> None:
    """The batch's notes: the manifest's, then the frame budget's."""
    if manifest is None and not notes:
        return
    if manifest is None:
        manifest = Manifest()
    for note in notes:
        manifest.note(note)
    UploadBatch.objects.filter(pk=batch.pk).update(notes=manifest.bounded_notes())


def _duplicate_rows(
    batch: UploadBatch,
    repeats: list[_Member],
    photo_originals: dict[str, int],
    video_originals: dict[str, int],
) -> list[ReactionImage]:
    """Skipped rows for members whose content is already in the ad, pointing at the original
    (for a video, the original video's first frame)."""
    photo_ids = sorted({photo_originals[m.sha256] for m in repeats if m.sha256 in photo_originals})
    video_ids = sorted({video_originals[m.sha256] for m in repeats if m.sha256 in video_originals})
    names: dict[int, str] = {}
    first_frames: dict[int, int] = {}
    for start in range(0, len(photo_ids), IN_CHUNK):
        names.update(
            ReactionImage.objects.filter(pk__in=photo_ids[start : start + IN_CHUNK]).values_list(
                "pk", "original_name"
            )
        )
    for video_id, name, frame_id in (
        ReactionVideo.objects.filter(pk__in=video_ids)
        .annotate(first_frame=Min("frames__pk"))
        .values_list("pk", "original_name", "first_frame")
    ):
        names[-video_id] = name
        first_frames[video_id] = frame_id
    rows = []
    for m in repeats:
        if m.kind == ImageKind.VIDEO and m.sha256 in video_originals:
            video_id = video_originals[m.sha256]
            original, label = first_frames.get(video_id), names.get(-video_id)
        else:
            original = photo_originals[m.sha256]
            label = names.get(original)
        rows.append(
            _skipped_row(
                batch,
                m,
                error=f"duplicate of {label or 'another file'} in this ad",
                duplicate_of_id=original,
            )
        )
    return rows


def _after_extraction(batch_id: int) -> None:
    batch = UploadBatch.objects.filter(pk=batch_id).first()
    if batch is None:
        return
    # Every photo is stored on its own now; the archive would only keep a second copy.
    _archive_delete(batch)
    batch_fan_out(batch=batch)


def _archive_delete(batch: UploadBatch) -> None:
    if batch.archive:
        try:
            default_storage.delete(batch.archive.name)
        except STORE_ERRORS:
            # Kept on the row: deleting the upload deletes the file once the store answers.
            logger.warning("archive of batch %s not deleted: the store failed", batch.pk)
            return
        UploadBatch.objects.filter(pk=batch.pk).update(archive="")
        batch.archive.name = ""
