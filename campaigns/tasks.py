"""Celery tasks of the ingest queue: thin, take ids, safe to run twice."""

from __future__ import annotations

from celery import shared_task
from django.db import OperationalError

from campaigns.models import UploadBatch
from campaigns.services import batch_recount


@shared_task(autoretry_for=(OperationalError,), retry_backoff=True, max_retries=5)
def batch_recount_task(batch_id: int) -> None:
    """Recompute a batch's counters from its images; a deleted batch is nothing to do."""
    batch = UploadBatch.objects.filter(pk=batch_id).first()
    if batch is not None:
        batch_recount(batch=batch)
