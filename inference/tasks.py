"""Celery tasks of the inference queue, and the per-process model warm-up."""

from __future__ import annotations

import logging

from celery import shared_task
from celery.signals import worker_init, worker_process_init
from django.conf import settings
from django.db import InterfaceError, OperationalError

logger = logging.getLogger(__name__)


@shared_task(
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=True,
    retry_backoff_max=60,
    max_retries=8,
    soft_time_limit=max(1, settings.INGEST_CHUNK_TIME_LIMIT - 15),
    time_limit=settings.INGEST_CHUNK_TIME_LIMIT,
)
def classify_images_task(image_ids: list[int], model_version_id: int) -> None:
    """Detect and classify a chunk of photos, store their faces, close the batch when last.

    Safe to run twice: photos held or finished by another run are skipped, and a photo's
    faces for this model version are replaced, never added to.
    """
    from campaigns.ingest import batch_close, images_classify

    for batch_id in images_classify(image_ids=image_ids, model_version_id=model_version_id):
        batch_close(batch_id=batch_id)


@worker_process_init.connect
def _warm_pool_process(**kwargs) -> None:
    """Prefork children: load detector and active CNN once, before the first task."""
    _warm()


@worker_init.connect
def _warm_single_process(sender=None, **kwargs) -> None:
    """Solo and thread pools run tasks in the main process, which has no process-init signal.

    The prefork parent must not load TensorFlow: its children are forked from it.
    """
    pool = getattr(sender, "pool_cls", None)
    name = pool if isinstance(pool, str) else getattr(pool, "__module__", "")
    if any(kind in str(name) for kind in ("solo", "thread")):
        _warm()


def _warm() -> None:
    from inference.registry import registry_warm

    try:
        registry_warm()
    except Exception:  # a broken detector install must not stop the worker from reporting it
        logger.exception("could not warm the inference models")
