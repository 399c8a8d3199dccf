"""The Celery app: two queues, at-least-once delivery, JSON only.

`ingest` takes CPU bookkeeping (unzip, counters); `inference` takes detector + CNN work and is
consumed by the GPU worker. Tasks are acked after they finish and re-queued when a worker dies,
so every task must be safe to run twice.
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
    task_routes={
        "inference.tasks.*": {"queue": "inference"},
        "campaigns.tasks.*": {"queue": "ingest"},
    },
    broker_connection_retry_on_startup=True,
    worker_hijack_root_logger=False,
)
app.autodiscover_tasks()
