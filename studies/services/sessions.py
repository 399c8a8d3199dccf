"""A viewer's session from the consent question to its outcome, and its withdrawal.

Nothing is stored before consent: the session row (with the participant id and the kept URL
parameters) is written when the viewer agrees, or, with no token and no viewer, when they
decline. Each ad the session watches is an UploadBatch of that ad, created in `received` and
moved to `processing` when the ad ends, so the campaigns pipeline closes it (and rebuilds the
ad's timeline) once its last frame is analysed; until then its chunks are analysed as they
come, and `batch_close` leaves it open.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import random
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from campaigns import hooks
from campaigns.models import (
    BATCH_UNFINISHED,
    Ad,
    BatchStatus,
    ReactionImage,
    UploadBatch,
    Viewer,
    ViewerAttribute,
)
from campaigns.services.batches import ad_tally_generations_bump, batch_close, batches_delete
from campaigns.services.transitions import status_change, status_rows_create
from inference.selectors import model_version_active
from studies.models import (
    AdOrder,
    CaptureSession,
    LowQualityOutcome,
    SessionAd,
    SessionStatus,
    Study,
    StudyStatus,
)
from studies.services.quality import session_quality_assess

logger = logging.getLogger(__name__)

# The viewer attribute that says whether a captured session passed the quality check.
QUALITY_ATTRIBUTE = "capture_quality"
_MAX_VALUE = 200


class CaptureRefused(Exception):
    """A request the session may not make now; `status` is the HTTP status to answer."""

    def __init__(self, message: str, *, status: int = 409) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Outcome:
    """How a session ended, and where the viewer goes next ("" when the study set no URL)."""

    status: str
    redirect_url: str


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _clean(value: str) -> str:
    return "".join(ch for ch in value if ch.isprintable())[:_MAX_VALUE].strip()


def study_accepting(study: Study) -> str | None:
    """Why the study's link takes no one now, or None when it does."""
    if study.status != StudyStatus.OPEN:
        return "This study is not taking part now. Thank you for your interest."
    if study.quota is not None:
        done = CaptureSession.objects.filter(
            study=study, status=SessionStatus.COMPLETED, low_quality=False
        ).count()
        if done >= study.quota:
            return "This study has all the viewers it needs. Thank you for your interest."
    return None


def redirect_url(*, study: Study, outcome: str, participant_id: str) -> str:
    """The study's URL for `outcome` with `{pid}` replaced by the participant id."""
    template = {
        SessionStatus.COMPLETED: study.complete_url,
        SessionStatus.DECLINED: study.declined_url,
        SessionStatus.WITHDRAWN: study.declined_url,
        SessionStatus.FAILED: study.failed_url,
    }.get(SessionStatus(outcome), "")
    return template.replace("{pid}", quote(participant_id, safe="")) if template else ""


def session_start(*, study: Study, query: Mapping[str, str]) -> tuple[CaptureSession, str]:
    """The viewer agreed: their session, its viewer (participant id and kept parameters as
    attributes) and the token the browser writes with (only its hash is stored)."""
    refusal = study_accepting(study)
    if refusal is not None:
        raise CaptureRefused(refusal)
    if model_version_active() is None:
        raise CaptureRefused("This study cannot record now (no model is active).", status=503)
    participant = _clean(query.get(study.participant_param, ""))
    params = {
        name: _clean(query[name])
        for name in study.kept_param_names
        if name in query and _clean(query[name])
    }
    ad_ids = list(study.study_ads.order_by("position", "id").values_list("ad_id", flat=True))
    if study.ad_order == AdOrder.RANDOM:
        random.SystemRandom().shuffle(ad_ids)
    token = secrets.token_urlsafe(32)
    with transaction.atomic():
        session = CaptureSession.objects.create(
            study=study,
            token_hash=token_hash(token),
            participant_id=participant,
            params=params,
            consent_version=study.consent_version,
            ad_ids=ad_ids,
        )
        external = participant or f"capture-{session.pk}"
        if Viewer.objects.filter(campaign_id=study.campaign_id, external_id=external).exists():
            # The same participant again (a retake): a viewer of their own, so withdrawing
            # one session never deletes another's.
            external = f"{external[: _MAX_VALUE - 20]}~{session.pk}"
        viewer = Viewer.objects.create(campaign_id=study.campaign_id, external_id=external)
        ViewerAttribute.objects.bulk_create(
            [ViewerAttribute(viewer=viewer, name=n, value=v) for n, v in params.items()]
        )
        session.viewer = viewer
        session.save(update_fields=["viewer"])
    return session, token


def session_decline(*, study: Study, query: Mapping[str, str]) -> Outcome:
    """The viewer said no to the consent question: counted, nothing else kept."""
    participant = _clean(query.get(study.participant_param, ""))
    CaptureSession.objects.create(
        study=study,
        token_hash=token_hash(secrets.token_urlsafe(32)),
        participant_id=participant,
        status=SessionStatus.DECLINED,
        reason="declined consent",
        finished_at=timezone.now(),
    )
    return Outcome(
        SessionStatus.DECLINED,
        redirect_url(study=study, outcome=SessionStatus.DECLINED, participant_id=participant),
    )


def session_get(*, study: Study, token: str) -> CaptureSession | None:
    """The session of this study that `token` opens, or None."""
    if not token:
        return None
    return (
        CaptureSession.objects.select_related("study__campaign", "viewer")
        .filter(study=study, token_hash=token_hash(token))
        .first()
    )


def _capturing(session: CaptureSession) -> None:
    if session.status != SessionStatus.CAPTURING:
        raise CaptureRefused("This session has ended.")


def session_ad_start(*, session: CaptureSession, ad_id: int) -> SessionAd:
    """The viewer starts watching an ad: its upload, which the frames join (idempotent)."""
    _capturing(session)
    if session.study.status != StudyStatus.OPEN:
        raise CaptureRefused("This study is not taking part now.")
    if ad_id not in session.ad_ids:
        raise CaptureRefused("That ad is not part of this study.", status=404)
    existing = SessionAd.objects.filter(session=session, ad_id=ad_id).first()
    if existing is not None:
        return existing
    model_version = model_version_active()
    if model_version is None:
        raise CaptureRefused("This study cannot record now (no model is active).", status=503)
    ad = Ad.objects.get(pk=ad_id)
    now = timezone.now()
    with transaction.atomic():
        (batch,) = status_rows_create(
            [
                UploadBatch(
                    ad=ad,
                    source_name=f"Capture: {session.study.name}, viewer "
                    f"{session.viewer.external_id if session.viewer else session.pk}"[:255],
                    status=BatchStatus.RECEIVED,
                    model_version=model_version,
                    progress_at=now,
                    started_at=now,
                )
            ]
        )
        session_ad = SessionAd.objects.create(session=session, ad=ad, batch=batch)
        CaptureSession.objects.filter(pk=session.pk).update(last_seen_at=now)
    return session_ad


def _session_ad_close(session_ad: SessionAd, *, played_seconds: float | None) -> None:
    """The ad's upload takes no more frames: `processing`, closed once its frames are done."""
    now = timezone.now()
    SessionAd.objects.filter(pk=session_ad.pk, ended_at__isnull=True).update(
        ended_at=now, played_seconds=played_seconds
    )
    batch_id = session_ad.batch_id
    if batch_id is None:
        return
    batches = UploadBatch.objects.filter(pk=batch_id)
    status_change(batches, to=BatchStatus.EXTRACTING, progress_at=now)
    if status_change(batches, to=BatchStatus.PROCESSING, progress_at=now):
        transaction.on_commit(lambda: batch_close(batch_id=batch_id))


def session_ad_end(*, session: CaptureSession, ad_id: int, played_seconds: float) -> SessionAd:
    """The ad ended for the viewer after `played_seconds`."""
    session_ad = SessionAd.objects.filter(session=session, ad_id=ad_id).first()
    if session_ad is None:
        raise CaptureRefused("That ad was not started.", status=404)
    bound = float(settings.AD_MAX_SECONDS)
    with transaction.atomic():
        _session_ad_close(session_ad, played_seconds=max(0.0, min(played_seconds, bound)))
        CaptureSession.objects.filter(pk=session.pk).update(last_seen_at=timezone.now())
    return session_ad


def session_finish(*, session: CaptureSession, outcome: str, reason: str = "") -> Outcome:
    """The session ends: `completed` (then its quality decides the redirect), `declined`
    (the camera was refused) or `failed` (the camera check never saw a face). Safe to repeat:
    a finished session answers its own outcome again."""
    study = session.study
    if session.status == SessionStatus.CAPTURING:
        if outcome not in (SessionStatus.COMPLETED, SessionStatus.DECLINED, SessionStatus.FAILED):
            raise CaptureRefused(f"{outcome!r} is not an outcome.", status=400)
        with transaction.atomic():
            for session_ad in SessionAd.objects.filter(session=session, ended_at__isnull=True):
                _session_ad_close(session_ad, played_seconds=None)
            low, figures = False, dict[str, Any]()
            if outcome == SessionStatus.COMPLETED:
                low, figures = session_quality_assess(session=session)
            changed = CaptureSession.objects.filter(
                pk=session.pk, status=SessionStatus.CAPTURING
            ).update(
                status=outcome,
                reason=_clean(reason),
                low_quality=low,
                quality=figures,
                finished_at=timezone.now(),
            )
            if changed and outcome == SessionStatus.COMPLETED and session.viewer_id:
                _quality_attribute_set(session, low=low)
        session.refresh_from_db()
    status = session.status
    redirect_as = status
    if (
        status == SessionStatus.COMPLETED
        and session.low_quality
        and study.low_quality_outcome == LowQualityOutcome.FAILED
    ):
        redirect_as = SessionStatus.FAILED
    return Outcome(
        status,
        redirect_url(study=study, outcome=redirect_as, participant_id=session.participant_id),
    )


def _quality_attribute_set(session: CaptureSession, *, low: bool) -> None:
    """Mark the session's viewer low quality or not (`Viewer.low_quality`: the figures leave
    a marked viewer out unless a filter puts it back), and its `capture_quality` segment (ok
    / low): the dashboards' segment filter shows the sessions that passed, or the others."""
    if session.viewer_id is not None:
        Viewer.objects.filter(pk=session.viewer_id).update(low_quality=low)
    ViewerAttribute.objects.update_or_create(
        viewer_id=session.viewer_id,
        name=QUALITY_ATTRIBUTE,
        defaults={"value": "low" if low else "ok"},
    )
    # The mark and a segment changed: the ads' timeline rollups are out of date.
    ad_ids = list(SessionAd.objects.filter(session=session).values_list("ad_id", flat=True))
    ad_tally_generations_bump(ad_ids=ad_ids)
    hooks.ads_changed(ad_ids=ad_ids)


def session_withdraw(*, session: CaptureSession) -> Outcome:
    """The viewer's "Stop and delete my data": the session's uploads (frames, faces, stored
    files), its viewer and what identified the viewer are deleted; the row stays, as
    `withdrawn`, to be counted."""
    with transaction.atomic():
        CaptureSession.objects.filter(pk=session.pk).update(
            status=SessionStatus.WITHDRAWN, finished_at=timezone.now()
        )
        batch_ids = list(
            SessionAd.objects.filter(session=session, batch__isnull=False).values_list(
                "batch_id", flat=True
            )
        )
        batches = UploadBatch.objects.filter(pk__in=batch_ids)
        # Frames still being analysed are dropped with their upload: a chunk that comes back
        # finds its photos gone and writes nothing.
        status_change(
            batches.exclude(status__in=[BatchStatus.DONE, BatchStatus.PARTIAL]),
            to=BatchStatus.FAILED,
            error="withdrawn by the viewer",
            finished_at=timezone.now(),
        )
        batches_delete(batches=batches, owner="the session")
        viewer_id = session.viewer_id
        CaptureSession.objects.filter(pk=session.pk).update(
            participant_id="", params={}, quality={}, viewer=None
        )
        if viewer_id is not None and not ReactionImage.objects.filter(viewer_id=viewer_id).exists():
            Viewer.objects.filter(pk=viewer_id).delete()
    participant = session.participant_id
    session.refresh_from_db()
    return Outcome(
        SessionStatus.WITHDRAWN,
        redirect_url(
            study=session.study, outcome=SessionStatus.WITHDRAWN, participant_id=participant
        ),
    )


def sessions_close_abandoned(*, now: dt.datetime | None = None) -> int:
    """Sessions silent for CAPTURE_IDLE_SECONDS (the tab closed mid-ad) end as `failed`, and
    their ads' uploads close with the frames they got. Periodic (beat)."""
    cutoff = (now or timezone.now()) - dt.timedelta(seconds=settings.CAPTURE_IDLE_SECONDS)
    closed = 0
    for session in CaptureSession.objects.select_related("study").filter(
        status=SessionStatus.CAPTURING, last_seen_at__lt=cutoff
    ):
        session_finish(session=session, outcome=SessionStatus.FAILED, reason="abandoned")
        closed += 1
    if closed:
        logger.info("closed %s abandoned capture sessions", closed)
    return closed


def sessions_quality_refresh(*, now: dt.datetime | None = None) -> int:
    """Decide again, on all their frames, the quality of the sessions completed in the last
    day whose uploads have all been analysed since (the verdict at the end could read only
    the frames analysed by then; the redirect has gone, the figures and the segment follow
    the final one). Periodic (beat); returns how many were decided."""
    since = (now or timezone.now()) - dt.timedelta(days=1)
    decided = 0
    for session in (
        CaptureSession.objects.select_related("study")
        .filter(status=SessionStatus.COMPLETED, finished_at__gte=since)
        .exclude(quality__has_key="final")
    ):
        if UploadBatch.objects.filter(
            capture__session=session, status__in=BATCH_UNFINISHED
        ).exists():
            continue
        low, figures = session_quality_assess(session=session)
        with transaction.atomic():
            CaptureSession.objects.filter(pk=session.pk).update(
                low_quality=low, quality={**figures, "final": True}
            )
            if session.viewer_id is not None and low != session.low_quality:
                _quality_attribute_set(session, low=low)
        decided += 1
    return decided
