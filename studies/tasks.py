"""Celery tasks of the studies app: thin, take ids or nothing, safe to run twice."""

from __future__ import annotations

from celery import shared_task

from campaigns.services.extraction import TRANSIENT_ERRORS
from studies.services import sessions


@shared_task(autoretry_for=TRANSIENT_ERRORS, retry_backoff=True, max_retries=3)
def sessions_close_abandoned_task() -> None:
    """Periodic (beat): end the capture sessions whose browser went silent mid-ad."""
    sessions.sessions_close_abandoned()


@shared_task(autoretry_for=TRANSIENT_ERRORS, retry_backoff=True, max_retries=3)
def sessions_quality_refresh_task() -> None:
    """Periodic (beat): each completed session's quality, decided again on all its frames."""
    sessions.sessions_quality_refresh()
