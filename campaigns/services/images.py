"""A chunk of photos on an inference worker: claim each, analyse them, store their faces.

A chunk claims each photo with a conditional update and writes its results only if it still
holds the claim, replacing that photo's faces for the model version in one transaction; the
batch is closed by whichever chunk finds nothing left to do.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import threading
import time
from collections import defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict
from typing import TYPE_CHECKING

import numpy as np
from django.conf import settings
from django.core.files.storage import default_storage
from django.db import DatabaseError, connections, transaction
from django.db.models import F, Q
from django.utils import timezone

from campaigns import hooks
from campaigns.models import (
    ATTENTION_FIELDS,
    PROB_FIELDS,
    BatchStatus,
    Face,
    ImageKind,
    ImageStatus,
    ReactionImage,
    UploadBatch,
)
from campaigns.services.batches import batch_close, batch_progress_touch, images_send
from campaigns.services.retention import photos_purge
from campaigns.services.transitions import IN_CHUNK, status_change
from campaigns.storage import STORE_ERRORS, STORE_UNREACHABLE, StoreUnreachable
from inference.models import ModelVersion
from inference.video import VideoError, read_frames

if TYPE_CHECKING:
    # The inference core (OpenCV, the detectors) loads on the worker, at its first chunk.
    from inference.api import ImageResult, StageTimings
    from ml.attention import FaceAttention

logger = logging.getLogger(__name__)

_ATTEMPTS_USED_UP = (
    f"analysis did not finish in {settings.INGEST_MAX_ATTEMPTS} attempts: the worker was "
    "killed or ran out of time on this photo"
)
# Starts the log line of each chunk's stage timings (read back by `manage.py bench_ingest`).
CHUNK_TIMINGS_PREFIX = "chunk timings "


def images_claim(
    *,
    image_ids: Sequence[int],
    model_version_id: int,
    claim_token: str = "",
    now: dt.datetime | None = None,
) -> list[int]:
    """Claim each pending (or abandoned) photo of the chunk at `now`; return the ids won.

    A claim whose worker stopped refreshing it (`claims_kept_alive`) for INGEST_CLAIM_TIMEOUT
    is abandoned (the worker was killed) and may be taken over, and so is a claim made under
    the same `claim_token` (the chunk task's id: its message came back because its worker
    process was killed). A photo claimed INGEST_MAX_ATTEMPTS times fails alone.
    """
    now = now or timezone.now()
    taken_over = Q(status=ImageStatus.PROCESSING) & claims_abandoned(now=now)
    if claim_token:
        taken_over |= Q(status=ImageStatus.PROCESSING, claim_token=claim_token)
    claimable = Q(status=ImageStatus.PENDING) | taken_over
    # A photo of a batch since re-sent for another model version is not this chunk's.
    batch_ids = sorted(
        set(
            UploadBatch.objects.filter(
                images__pk__in=image_ids, model_version_id=model_version_id
            ).values_list("pk", flat=True)
        )
    )
    won = []
    with transaction.atomic():
        status_change(
            ReactionImage.objects.filter(
                taken_over,
                pk__in=image_ids,
                batch_id__in=batch_ids,
                attempts__gte=settings.INGEST_MAX_ATTEMPTS,
            ),
            to=ImageStatus.FAILED,
            error=_ATTEMPTS_USED_UP,
            processed_at=now,
        )
        for image_id in image_ids:
            # Plain column conditions only: PostgreSQL re-checks them on the row a concurrent
            # claimer just committed, so exactly one of two racing claims updates it.
            if status_change(
                ReactionImage.objects.filter(claimable, pk=image_id, batch_id__in=batch_ids),
                to=ImageStatus.PROCESSING,
                claimed_at=now,
                claim_alive_at=now,
                claim_token=claim_token,
                error="",
                attempts=F("attempts") + 1,
            ):
                won.append(image_id)
        if won:
            batch_progress_touch(batch_ids=batch_ids, now=now)
    return won


def claims_abandoned(*, now: dt.datetime) -> Q:
    """The claims (of photos being analysed) whose worker stopped refreshing them: none for
    INGEST_CLAIM_TIMEOUT; a claim never refreshed (made before claims were) after
    INGEST_CHUNK_TIME_LIMIT."""
    stale = now - dt.timedelta(seconds=settings.INGEST_CLAIM_TIMEOUT)
    expired = now - dt.timedelta(seconds=settings.INGEST_CHUNK_TIME_LIMIT)
    return Q(claim_alive_at__lt=stale) | Q(claim_alive_at__isnull=True, claimed_at__lt=expired)


@contextmanager
def claims_kept_alive(*, image_ids: Sequence[int], claimed_at: dt.datetime) -> Iterator[None]:
    """While the caller analyses the photos it claimed at `claimed_at`, a thread refreshes
    their claims every quarter of INGEST_CLAIM_TIMEOUT, so a claim that goes stale means its
    worker is gone (killed, out of memory) and not that it is slow. Inside a transaction (a
    test's) the claims are not visible to another connection: nothing to refresh."""
    if transaction.get_connection().in_atomic_block:
        yield
        return
    ids, stop = list(image_ids), threading.Event()
    period = settings.INGEST_CLAIM_TIMEOUT / 4

    def beat() -> None:
        try:
            while not stop.wait(period):
                try:
                    ReactionImage.objects.filter(
                        pk__in=ids, status=ImageStatus.PROCESSING, claimed_at=claimed_at
                    ).update(claim_alive_at=timezone.now())
                except DatabaseError as exc:
                    logger.warning("claims of a chunk not refreshed: %s", exc)
        finally:
            connections.close_all()  # this thread's own connection

    thread = threading.Thread(target=beat, name="claims-kept-alive", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


# Abandoned claims taken back by one sweep at the most (the next sweep takes the rest).
_RESUME_LIMIT = 10_000


def images_resume_abandoned(*, now: dt.datetime | None = None) -> int:
    """Send again the photos whose claims were abandoned (`claims_abandoned`: their worker
    was killed); returns how many. Each is pending again first, so one sweeper alone sends
    it, and its attempt counts: a photo claimed INGEST_MAX_ATTEMPTS times fails alone
    instead (it may be what kills its workers). Periodic (beat, every INGEST_SWEEP_SECONDS):
    with INGEST_CLAIM_TIMEOUT, a killed worker's photos are sent again within about 30 s."""
    now = now or timezone.now()
    abandoned = ReactionImage.objects.filter(
        claims_abandoned(now=now),
        status=ImageStatus.PROCESSING,
        batch__status=BatchStatus.PROCESSING,
    )
    ids = list(abandoned.order_by("pk").values_list("pk", flat=True)[:_RESUME_LIMIT])
    if not ids:
        return 0
    with transaction.atomic():
        for start in range(0, len(ids), IN_CHUNK):
            part = abandoned.filter(pk__in=ids[start : start + IN_CHUNK])
            status_change(
                part.filter(attempts__gte=settings.INGEST_MAX_ATTEMPTS),
                to=ImageStatus.FAILED,
                error=_ATTEMPTS_USED_UP,
                processed_at=now,
            )
            status_change(
                part, to=ImageStatus.PENDING, claimed_at=None, claim_alive_at=None, claim_token=""
            )
    resent = 0
    rows = ReactionImage.objects.filter(pk__in=ids).order_by("pk")
    by_batch: dict[int, list[int]] = defaultdict(list)
    for pk, batch_id, status in rows.values_list("pk", "batch_id", "status"):
        if status == ImageStatus.PENDING:
            by_batch[batch_id].append(pk)
        else:
            by_batch.setdefault(batch_id, [])
    for batch in UploadBatch.objects.filter(pk__in=list(by_batch)):
        pending = by_batch[batch.pk]
        if not pending:
            batch_close(batch_id=batch.pk)  # its last photos failed
            continue
        logger.warning(
            "sending again %s photos of batch %s: their worker stopped", len(pending), batch.pk
        )
        images_send(batch=batch, image_ids=pending)
        resent += len(pending)
    return resent


def images_release(*, image_ids: Sequence[int], claimed_at: dt.datetime) -> int:
    """Give back the claims made at `claimed_at` (the store failed before any photo could be
    read): the photos are pending again and this attempt is not counted against them."""
    return status_change(
        ReactionImage.objects.filter(
            pk__in=list(image_ids), status=ImageStatus.PROCESSING, claimed_at=claimed_at
        ),
        to=ImageStatus.PENDING,
        claimed_at=None,
        claim_token="",
        attempts=F("attempts") - 1,
    )


def images_classify(
    *, image_ids: Sequence[int], model_version_id: int, claim_token: str = ""
) -> list[int]:
    """Analyse a chunk of photos, store their faces and close the batches left with nothing to
    do; returns the batches the chunk belongs to. `claim_token` names the delivery's task (see
    `images_claim`).

    Photos another worker holds are left alone; a photo that cannot be read or decoded fails
    alone with its reason; results of photos whose claim was lost meanwhile are dropped.
    """
    from inference.api import StageTimings, analyze_images
    from inference.registry import classifier_get, detector_get

    now = timezone.now()
    started = time.perf_counter()
    model_version = ModelVersion.objects.get(pk=model_version_id)
    claimed = images_claim(
        image_ids=image_ids, model_version_id=model_version_id, claim_token=claim_token, now=now
    )
    if claimed:
        images = list(
            ReactionImage.objects.filter(pk__in=claimed)
            .select_related("video")
            .order_by("video_id", "frame_seconds", "pk")
        )
        claimed_s = time.perf_counter() - started
        with claims_kept_alive(image_ids=claimed, claimed_at=now):
            try:
                sources, readable, errors = _chunk_sources(images)
            except STORE_ERRORS as exc:
                images_release(image_ids=claimed, claimed_at=now)
                raise StoreUnreachable(f"{STORE_UNREACHABLE}: {type(exc).__name__}") from exc
            read_s = time.perf_counter() - started - claimed_s
            timings = StageTimings()
            # The process's pipeline: feeder threads decode and detect while its classifier
            # thread runs batches filled across photos and across the chunks this process
            # runs at once.
            results = analyze_images(
                sources,
                detector=detector_get(),
                classifier=classifier_get(model_version=model_version),
                batch_size=settings.INFERENCE_BATCH_SIZE,
                decode_threads=settings.INFERENCE_DECODE_THREADS,
                batch_wait_ms=settings.INFERENCE_BATCH_WAIT_MS,
                timeout=settings.INGEST_CHUNK_TIME_LIMIT,
                timings=timings,
            )
            analysed_at = time.perf_counter()
            outcomes = {image.pk: result for image, result in zip(readable, results, strict=True)}
            image_results_store(
                images=images,
                outcomes=outcomes,
                errors=errors,
                model_version_id=model_version_id,
                claimed_at=now,
            )
        _chunk_timings_log(
            timings,
            claim=claimed_s,
            read=read_s,
            analyse=analysed_at - started - claimed_s - read_s,
            store=time.perf_counter() - analysed_at,
        )
        if settings.PHOTO_RETENTION == "immediate":
            photos_purge(image_ids=[image.pk for image in images], cutoff=timezone.now())
    batch_ids = sorted(
        set(ReactionImage.objects.filter(pk__in=image_ids).values_list("batch_id", flat=True))
    )
    for batch_id in batch_ids:
        batch_close(batch_id=batch_id)
    return batch_ids


def _chunk_timings_log(timings: StageTimings, **wall: float) -> None:
    """One log line per chunk: seconds per stage (decode, detect and preprocess summed over
    the feeder threads), wall seconds of the chunk's own steps, and the process's classifier
    totals so far; `manage.py bench_ingest` adds them up from its worker's log."""
    from inference.pipeline import pipeline_stats

    record = {
        "pid": os.getpid(),
        **{name: round(value, 6) for name, value in asdict(timings).items()},
        **{name: round(value, 6) for name, value in wall.items()},
    }
    stats = pipeline_stats()
    if stats is not None:
        record["classifier"] = asdict(stats)
    logger.info("%s%s", CHUNK_TIMINGS_PREFIX, json.dumps(record))


def _chunk_sources(
    images: Sequence[ReactionImage],
) -> tuple[list[bytes | np.ndarray], list[ReactionImage], dict[int, str]]:
    """What to analyse for each claimed row: a photo's stored bytes, a frame's pixels decoded
    from its video (one pass over each video's range of the chunk); and why a row has none."""
    sources: list[bytes | np.ndarray] = []
    readable: list[ReactionImage] = []
    errors: dict[int, str] = {}
    frames_by_video: dict[int, list[ReactionImage]] = defaultdict(list)
    for image in images:
        if image.kind == ImageKind.FRAME and image.video_id is not None:
            frames_by_video[image.video_id].append(image)
            continue
        try:
            with default_storage.open(image.file.name, "rb") as handle:
                sources.append(handle.read())
            readable.append(image)
        except (OSError, ValueError):
            errors[image.pk] = (
                "the stored photo is no longer there (it may have been deleted under the "
                "photo retention policy)"
            )
    for frames in frames_by_video.values():
        video = frames[0].video
        assert video is not None  # noqa: S101  narrows the type for mypy
        by_time = {float(frame.frame_seconds or 0.0): frame for frame in frames}
        try:
            with default_storage.open(video.file.name, "rb") as handle:
                for seconds, pixels in read_frames(handle, sorted(by_time)):
                    sources.append(pixels)
                    readable.append(by_time.pop(seconds))
        except (OSError, ValueError) as exc:
            reason = (
                str(exc)
                if isinstance(exc, VideoError)
                else "the stored video is no longer there (it may have been deleted under the "
                "photo retention policy)"
            )
            for frame in by_time.values():
                errors[frame.pk] = reason
            continue
        for frame in by_time.values():
            errors[frame.pk] = (
                f"no frame at {frame.frame_seconds:.2f} s: the video ends earlier "
                "(damaged or truncated)"
            )
    return sources, readable, errors


def image_results_store(
    *,
    images: Sequence[ReactionImage],
    outcomes: dict[int, ImageResult],
    errors: dict[int, str],
    model_version_id: int,
    claimed_at: dt.datetime,
) -> None:
    """One transaction: each photo's status, and its faces for the version, replaced; a photo
    whose claim at `claimed_at` was lost meanwhile is left to the worker that took it over."""
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
                error = errors.get(image.pk) or (
                    (result.error or "not analysed") if result else "not analysed"
                )
                status_change(owned, to=ImageStatus.FAILED, error=error[:2000], processed_at=now)
                continue
            if not status_change(
                owned,
                to=ImageStatus.DONE,
                width=result.width,
                height=result.height,
                error="",
                processed_at=now,
            ):
                continue  # the claim expired and another worker took the photo over
            done.append(image.pk)
            # A photo or frame of a known viewer shows that viewer: their face is the largest,
            # others (someone behind them) are not counted.
            kept = result.faces
            if image.viewer_id is not None and len(kept) > 1:
                kept = [max(kept, key=lambda face: face.w * face.h)]
            for face in kept:
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
                        **_attention_fields(face.attention),
                    )
                )
        # The faces are replaced, and what analytics counts from them, in this transaction.
        with hooks.faces_replacing(image_ids=done, model_version_id=model_version_id):
            for start in range(0, len(done), IN_CHUNK):
                Face.objects.filter(
                    image_id__in=done[start : start + IN_CHUNK], model_version_id=model_version_id
                ).delete()
            Face.objects.bulk_create(faces, batch_size=IN_CHUNK)
        batch_progress_touch(batch_ids=sorted({image.batch_id for image in images}), now=now)


def _attention_fields(measured: FaceAttention | None) -> dict[str, float | None]:
    """The Face columns of a face's pose, eyes, gaze and quality (all null when not measured)."""
    if measured is None:
        return dict.fromkeys(ATTENTION_FIELDS)
    return {name: float(getattr(measured, name)) for name in ATTENTION_FIELDS}
