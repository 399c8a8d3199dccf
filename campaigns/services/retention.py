"""Stored photos and reaction videos deleted under the retention policy (PHOTO_RETENTION,
PHOTO_RETENTION_DAYS).

Boxes and results always stay; a row remembers that its photo or video is gone.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence

from django.conf import settings
from django.core.files.storage import default_storage
from django.db.models import Q
from django.utils import timezone

from campaigns.models import ImageStatus, ReactionImage, ReactionVideo
from campaigns.services.transitions import IN_CHUNK
from campaigns.storage import STORE_ERRORS

logger = logging.getLogger(__name__)


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
    deleted = _videos_purge(
        cutoff=cutoff,
        video_ids=(
            set(
                ReactionImage.objects.filter(pk__in=image_ids, video__isnull=False).values_list(
                    "video_id", flat=True
                )
            )
            if image_ids is not None
            else None
        ),
        now=now,
    )
    for start in range(0, len(names), IN_CHUNK):
        part = names[start : start + IN_CHUNK]
        blocked = set(
            ReactionImage.objects.filter(file__in=part)
            .exclude(eligible)
            .values_list("file", flat=True)
        )
        removable = _stored_delete([name for name in part if name not in blocked])
        deleted += len(removable)
        ReactionImage.objects.filter(file__in=removable).update(file="", photo_deleted_at=now)
    return deleted


def _videos_purge(*, cutoff: dt.datetime, video_ids: set[int] | None, now: dt.datetime) -> int:
    """Delete stored videos whose every frame was analysed before `cutoff` (frames keep their
    results); a file shared by several videos goes when all of them are past it."""
    unfinished_or_recent = ~Q(
        status__in=(ImageStatus.DONE, ImageStatus.FAILED), processed_at__lte=cutoff
    )
    candidates = ReactionVideo.objects.filter(file_deleted_at__isnull=True).exclude(file="")
    if video_ids is not None:
        candidates = candidates.filter(pk__in=video_ids)
    names = sorted(set(candidates.values_list("file", flat=True)))
    deleted = 0
    for start in range(0, len(names), IN_CHUNK):
        part = names[start : start + IN_CHUNK]
        blocked = set(
            ReactionImage.objects.filter(video__file__in=part)
            .filter(unfinished_or_recent)
            .values_list("video__file", flat=True)
        )
        removable = _stored_delete([name for name in part if name not in blocked])
        deleted += len(removable)
        ReactionVideo.objects.filter(file__in=removable).update(file="", file_deleted_at=now)
    return deleted


def _stored_delete(names: Sequence[str]) -> list[str]:
    """Delete each stored file; the names deleted. A file the store failed to delete keeps its
    row pointing at it, so the next purge (hourly under beat) deletes it then."""
    deleted = []
    for name in names:
        try:
            default_storage.delete(name)
        except STORE_ERRORS:
            logger.warning("retention: %s not deleted, the file store failed", name)
            continue
        deleted.append(name)
    return deleted
