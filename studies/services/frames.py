"""Captured frames become the photos of their ad's upload, and the camera check.

A frame is known by (session, ad, index): its row's name in the session's upload of that ad
is `frame-<index>.jpg`, and the upload's unique (batch, name) constraint makes a retried
chunk store nothing twice. The new rows go to the inference queue through the campaigns
pipeline (`images_send`) as soon as they are committed, so the workers analyse the ad while
it plays.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Sum
from django.utils import timezone

from campaigns.models import ImageStatus, ReactionImage, UploadBatch
from campaigns.services.batches import images_send, stored_files_release
from campaigns.services.extraction import ad_offset_bound, photo_store
from campaigns.services.transitions import status_rows_create
from studies.models import CaptureSession, SessionAd, SessionStatus, StudyStatus
from studies.services.quality import DARK_LUMA
from studies.services.sessions import CaptureRefused

# Frames a session may be ahead of the clock: the per-second rate allows this slack, for a
# browser that sends a backlog after a network outage.
_RATE_SLACK_SECONDS = 10.0
_JPEG_MAGIC = b"\xff\xd8\xff"


@dataclass(frozen=True)
class CapturedFrame:
    """One frame as the browser sent it: its index in the ad, the ad's playback time it was
    taken at, the JPEG, and the mean luma the browser measured (None: not given)."""

    index: int
    seconds: float
    data: bytes
    luma: float | None = None


@dataclass
class FramesAdded:
    stored: int = 0
    duplicates: int = 0
    refused: list[dict[str, object]] = field(default_factory=list)


def frame_name(index: int) -> str:
    return f"frame-{index:06d}.jpg"


def _frame_refusal(frame: CapturedFrame, *, bound: float) -> str | None:
    if not 0 <= frame.index < settings.CAPTURE_MAX_SESSION_FRAMES:
        return "the frame index is out of range"
    if not (0.0 <= frame.seconds <= bound):
        return f"the playback time must be between 0 and {bound:g} s"
    if len(frame.data) > settings.CAPTURE_MAX_FRAME_BYTES:
        return (
            f"the frame is {len(frame.data):,} bytes; the limit is "
            f"{settings.CAPTURE_MAX_FRAME_BYTES:,} (CAPTURE_MAX_FRAME_BYTES)"
        )
    if not frame.data.startswith(_JPEG_MAGIC):
        return "the frame is not a JPEG"
    return None


def frames_add(
    *, session: CaptureSession, ad_id: int, frames: Sequence[CapturedFrame]
) -> FramesAdded:
    """Store the session's frames of an ad it is watching and send the new ones to analysis.

    A frame already stored (a retried chunk) is counted as a duplicate and changes nothing;
    a bad frame is refused with its reason and the others are stored.
    """
    if session.study.status != StudyStatus.OPEN:
        raise CaptureRefused("This study is not taking part now.")
    if session.status != SessionStatus.CAPTURING:
        raise CaptureRefused("This session has ended.")
    if len(frames) > settings.CAPTURE_MAX_FRAMES_PER_REQUEST:
        raise CaptureRefused(
            f"at most {settings.CAPTURE_MAX_FRAMES_PER_REQUEST} frames a request", status=413
        )
    session_ad = (
        SessionAd.objects.select_related("ad", "batch").filter(session=session, ad_id=ad_id).first()
    )
    if session_ad is None or session_ad.batch is None:
        raise CaptureRefused("That ad was not started.", status=404)
    if session_ad.ended_at is not None:
        raise CaptureRefused("That ad has ended.")
    batch = session_ad.batch
    bound = ad_offset_bound(session_ad.ad).seconds
    result = FramesAdded()
    good: dict[str, CapturedFrame] = {}
    for frame in frames:
        reason = _frame_refusal(frame, bound=bound)
        if reason is not None:
            result.refused.append({"index": frame.index, "reason": reason})
        else:
            good[frame_name(frame.index)] = frame
    if not good:
        return result
    known = set(
        ReactionImage.objects.filter(batch=batch, original_name__in=list(good)).values_list(
            "original_name", flat=True
        )
    )
    result.duplicates = len(known)
    fresh = {name: frame for name, frame in good.items() if name not in known}
    if not fresh:
        return result
    _rate_check(session, session_ad, len(fresh))
    # Stored before the rows (by content hash: a retry stores nothing new); a refusal below
    # releases the files no row uses.
    files = {}
    for name, frame in fresh.items():
        sha = hashlib.sha256(frame.data).hexdigest()
        files[name] = (sha, photo_store(data=frame.data, sha256=sha))
    try:
        created = _rows_write(session, session_ad, batch, fresh, files)
    except CaptureRefused:
        stored_files_release(names=sorted({f for _, f in files.values()}))
        raise
    result.stored = len(created)
    result.duplicates += len(fresh) - len(created)
    return result


def _rate_check(session: CaptureSession, session_ad: SessionAd, count: int) -> None:
    """Size and rate limits: frames per session, and per ad no more than the study's frame
    rate allows since the ad started (plus a slack for a backlog)."""
    total = SessionAd.objects.filter(session=session).aggregate(n=Sum("frames_received"))["n"] or 0
    if total + count > settings.CAPTURE_MAX_SESSION_FRAMES:
        raise CaptureRefused(
            f"a session may send at most {settings.CAPTURE_MAX_SESSION_FRAMES:,} frames "
            "(CAPTURE_MAX_SESSION_FRAMES)",
            status=429,
        )
    elapsed = (timezone.now() - session_ad.started_at).total_seconds()
    allowed = (elapsed + _RATE_SLACK_SECONDS) * session.study.capture_fps * 1.5
    if session_ad.frames_received + count > allowed:
        raise CaptureRefused("frames are arriving faster than the study's frame rate", status=429)


def _rows_write(
    session: CaptureSession,
    session_ad: SessionAd,
    batch: UploadBatch,
    fresh: dict[str, CapturedFrame],
    files: dict[str, tuple[str, str]],
) -> list[int]:
    """The new frames' rows, in one transaction that first re-checks that the session still
    captures (a withdrawal between the check and here wins); their ids go to analysis."""
    now = timezone.now()
    rows = [
        ReactionImage(
            batch=batch,
            original_name=name,
            sha256=files[name][0],
            file=files[name][1],
            status=ImageStatus.PENDING,
            viewer_id=session.viewer_id,
            offset_seconds=round(frame.seconds, 3),
        )
        for name, frame in fresh.items()
    ]
    with transaction.atomic():
        # A write first: takes SQLite's write lock, and the session row's on PostgreSQL.
        if not CaptureSession.objects.filter(pk=session.pk, status=SessionStatus.CAPTURING).update(
            last_seen_at=now
        ):
            raise CaptureRefused("This session has ended.")
        if not SessionAd.objects.filter(pk=session_ad.pk, ended_at__isnull=True).exists():
            raise CaptureRefused("That ad has ended.")
        try:
            with transaction.atomic():
                created = [row.pk for row in status_rows_create(rows)]
        except IntegrityError:
            # The same chunk retried while the first try was being written: one at a time.
            created = []
            for row in rows:
                try:
                    with transaction.atomic():
                        created += [r.pk for r in status_rows_create([row])]
                except IntegrityError:
                    continue
        names = {row.original_name for row in rows if row.pk in set(created)}
        dark = sum(
            1
            for name in names
            if fresh[name].luma is not None and (fresh[name].luma or 0.0) < DARK_LUMA
        )
        SessionAd.objects.filter(pk=session_ad.pk).update(
            frames_received=F("frames_received") + len(created),
            frames_dark=F("frames_dark") + dark,
        )
        UploadBatch.objects.filter(pk=batch.pk).update(progress_at=now)
        if created:
            transaction.on_commit(lambda: images_send(batch=batch, image_ids=sorted(created)))
    return created


# Camera check --------------------------------------------------------------------------------

# The detector is loaded once per web process (inference.registry.detector_get); one check
# at a time per process runs it.
_detector_lock = threading.Lock()


@dataclass(frozen=True)
class CameraCheck:
    ok: bool
    problem: str  # "", "dark", "no_face"
    message: str


def camera_check(*, session: CaptureSession, images: Sequence[bytes]) -> CameraCheck:
    """Look for the viewer's face in a few frames with the server's own detector; nothing is
    stored. Says what to fix: too dark, or no face."""
    from inference.decoding import ImageDecodeError, decode_image
    from inference.registry import detector_get

    if session.status != SessionStatus.CAPTURING:
        raise CaptureRefused("This session has ended.")
    if session.study.status != StudyStatus.OPEN:
        raise CaptureRefused("This study is not taking part now.")
    if not 1 <= len(images) <= 5:
        raise CaptureRefused("send 1 to 5 frames", status=400)
    if not CaptureSession.objects.filter(
        pk=session.pk, camera_checks__lt=settings.CAPTURE_MAX_CHECKS
    ).update(camera_checks=F("camera_checks") + 1, last_seen_at=timezone.now()):
        raise CaptureRefused("Too many camera checks for this session.", status=429)
    lumas, faces = [], 0
    for data in images:
        if len(data) > settings.CAPTURE_MAX_FRAME_BYTES:
            raise CaptureRefused("a frame is larger than CAPTURE_MAX_FRAME_BYTES", status=413)
        try:
            decoded = decode_image(data, max_pixels=1920 * 1080)
        except ImageDecodeError as exc:
            raise CaptureRefused(f"a frame could not be read: {exc}", status=400) from exc
        pixels = decoded.pixels.astype(np.float32)
        lumas.append(float((pixels[..., :3] @ np.array([0.299, 0.587, 0.114])).mean()))
        with _detector_lock:
            found = detector_get().detect(decoded.pixels)
        faces += bool(found)
    if faces * 2 >= len(images):
        return CameraCheck(True, "", "We can see your face. You are ready.")
    if float(np.mean(lumas)) < DARK_LUMA:
        return CameraCheck(
            False,
            "dark",
            "It is too dark to see your face. Turn on a light in front of you, or face a window.",
        )
    return CameraCheck(
        False,
        "no_face",
        "We cannot see your face. Sit in front of the camera with your whole face in the "
        "picture, and make sure nothing covers the camera.",
    )
