"""Celery tasks of the ingest workflow: thin, take ids, call one service, safe to run twice.

`images_classify_task` runs the detector and the CNN, so fer_site/celery.py routes it to the
`inference` queue (the GPU worker); every other task here goes to `ingest`.
"""

from __future__ import annotations

from celery import Task, shared_task
from django.conf import settings

from campaigns.services import batches, extraction, images, retention
from campaigns.storage import StoreUnreachable

# Database hiccups pass; everything else is a bug or bad input that a retry would repeat.
_TRANSIENT = extraction.TRANSIENT_ERRORS


@shared_task(
    # A failed delivery comes back in seconds; the batch itself counts its attempts and fails
    # with the reason after INGEST_MAX_ATTEMPTS (extraction.batch_extract).
    autoretry_for=(*_TRANSIENT, extraction.ExtractionRetry),
    retry_backoff=True,
    retry_backoff_max=60,
    max_retries=8,
    soft_time_limit=settings.INGEST_EXTRACT_TIME_LIMIT,
    time_limit=settings.INGEST_EXTRACT_TIME_LIMIT + 30,
)
def batch_extract_task(batch_id: int) -> None:
    """Unpack an uploaded archive into photo rows, then fan its photos out for inference."""
    extraction.batch_extract(batch_id=batch_id)


@shared_task(
    bind=True,
    # A store outage gives the chunk's claims back (StoreUnreachable): retried for minutes;
    # past that the photos stay pending and the sweeper re-sends them.
    autoretry_for=(*_TRANSIENT, StoreUnreachable),
    retry_backoff=True,
    retry_backoff_max=60,
    max_retries=8,
    soft_time_limit=max(1, settings.INGEST_CHUNK_TIME_LIMIT - 15),
    time_limit=settings.INGEST_CHUNK_TIME_LIMIT,
)
def images_classify_task(self: Task, image_ids: list[int], model_version_id: int) -> None:
    """Detect and classify a chunk of photos, store their faces, close the batch when last.

    Safe to run twice: photos held or finished by another run are skipped, and a photo's
    faces for this model version are replaced, never added to. The task's id is its claim
    token: a redelivery after its worker process died takes its photos back at once.
    """
    images.images_classify(
        image_ids=image_ids, model_version_id=model_version_id, claim_token=self.request.id or ""
    )


@shared_task(autoretry_for=_TRANSIENT, retry_backoff=True, max_retries=3)
def batches_resume_stalled_task() -> None:
    """Periodic (beat): re-send the work of batches whose messages were lost."""
    batches.batches_resume_stalled()


@shared_task(autoretry_for=_TRANSIENT, retry_backoff=True, max_retries=3)
def images_resume_abandoned_task() -> None:
    """Periodic (beat): send again the photos whose worker was killed while analysing them."""
    images.images_resume_abandoned()


@shared_task(autoretry_for=_TRANSIENT, retry_backoff=True, max_retries=3)
def photos_purge_task() -> None:
    """Periodic (beat): delete stored photos past the retention period."""
    retention.photos_purge()


@shared_task(autoretry_for=_TRANSIENT, retry_backoff=True, max_retries=3)
def stored_orphans_delete_task() -> None:
    """Periodic (beat, daily): delete stored files that no row uses, a day old or more."""
    batches.stored_orphans_delete()
