"""Celery tasks of the ingest queue: thin, take ids, safe to run twice."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings
from django.db import InterfaceError, OperationalError

from campaigns import ingest
from campaigns.models import UploadBatch
from campaigns.services import batch_recount


@shared_task(autoretry_for=(OperationalError,), retry_backoff=True, max_retries=5)
def batch_recount_task(batch_id: int) -> None:
    """Recompute a batch's counters from its images; a deleted batch is nothing to do."""
    batch = UploadBatch.objects.filter(pk=batch_id).first()
    if batch is not None:
        batch_recount(batch=batch)


# Ingest: every task takes ids, claims its work with a conditional update, and may run twice.
_TRANSIENT = (OperationalError, InterfaceError)


@shared_task(
    autoretry_for=_TRANSIENT,
    retry_backoff=True,
    retry_backoff_max=60,
    max_retries=8,
    soft_time_limit=settings.INGEST_EXTRACT_TIME_LIMIT,
    time_limit=settings.INGEST_EXTRACT_TIME_LIMIT + 30,
)
def batch_extract_task(batch_id: int) -> None:
    """Unpack an uploaded archive into photo rows, then fan its photos out for inference."""
    ingest.batch_extract(batch_id=batch_id)


@shared_task(autoretry_for=_TRANSIENT, retry_backoff=True, max_retries=5)
def batch_close_task(batch_id: int) -> None:
    ingest.batch_close(batch_id=batch_id)


@shared_task(autoretry_for=_TRANSIENT, retry_backoff=True, max_retries=3)
def batches_resume_stalled_task() -> None:
    """Periodic (beat): re-send the work of batches whose messages were lost."""
    ingest.batches_resume_stalled()


@shared_task(autoretry_for=_TRANSIENT, retry_backoff=True, max_retries=3)
def photos_purge_task() -> None:
    """Periodic (beat): delete stored photos past the retention period."""
    ingest.photos_purge()
