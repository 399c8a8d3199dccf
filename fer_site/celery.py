"""The Celery app: two queues, at-least-once delivery, JSON only.

`ingest` takes CPU bookkeeping (unzip, counters, the sweeper); `inference` takes the detector +
CNN task and is consumed by the GPU worker. Tasks are acked after they finish and re-queued
when a worker dies, so every task must be safe to run twice.
"""

import os

from celery import Celery
from kombu import Queue

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fer_site.settings")

app = Celery("fer_site")
# Broker URL, transport options and time limits come from settings (CELERY_*, read from env).
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.update(
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
    task_ignore_result=True,
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    # One message at a time per process: inference tasks are long, and a prefetched message
    # would wait behind them instead of going to an idle worker.
    worker_prefetch_multiplier=1,
    task_queues=(Queue("ingest"), Queue("inference")),
    task_default_queue="ingest",
    # The one task that runs the detector and the CNN goes to the GPU worker; an exact name
    # is matched before the pattern.
    task_routes={
        "campaigns.tasks.images_classify_task": {"queue": "inference"},
        "campaigns.tasks.*": {"queue": "ingest"},
        "analytics.tasks.*": {"queue": "ingest"},
    },
    # Worker processes load the models once each (worker_process_init), before any task.
    imports=("inference.worker",),
    broker_connection_retry_on_startup=True,
    worker_hijack_root_logger=False,
)
app.autodiscover_tasks()
