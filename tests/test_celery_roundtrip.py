"""A real worker process consumes a real task from the configured broker and writes the DB.

No eager mode: the test enqueues through the broker in settings (a file-system queue locally,
Redis in CI) and a `celery worker` subprocess, pointed at the test database, does the work.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connection

from campaigns.models import ImageStatus, UploadBatch
from campaigns.tasks import batch_recount_task
from tests import factories

WORKER_TIMEOUT_S = 120


def _database_url() -> str:
    """URL of the database this test run uses (the test database, not the configured one)."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    if connection.vendor == "postgresql":
        credentials = quote(db["USER"] or "", safe="")
        if db["PASSWORD"]:
            credentials += ":" + quote(db["PASSWORD"], safe="")
        host = db["HOST"] or "localhost"
        port = db["PORT"] or 5432
        return f"postgres://{credentials}@{host}:{port}/{quote(db['NAME'], safe='')}"
    pytest.skip(f"no worker database URL for {connection.vendor}")


@pytest.fixture
def worker_queue(tmp_path):
    """A `celery worker` process on a queue of its own, so no other task reaches it."""
    queue = f"roundtrip-{uuid.uuid4().hex[:8]}"
    env = {**os.environ, "DATABASE_URL": _database_url()}
    # A file, not a pipe: a chatty worker must never block on a full pipe buffer.
    log = (tmp_path / "worker.log").open("w+")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "fer_site",
            "worker",
            "--queues",
            queue,
            "--pool",
            "solo",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "--loglevel",
            "INFO",
        ],
        cwd=settings.BASE_DIR,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        yield queue, process, tmp_path / "worker.log"
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_worker_consumes_a_task_from_the_broker_and_writes_the_database(worker_queue):
    queue, process, log = worker_queue
    # given a committed batch whose counters are stale (3 photos, counters all 0)
    team = factories.team_create()
    ad = factories.ad_create(campaign=factories.campaign_create(team=team))
    batch = factories.batch_create(ad=ad, status=UploadBatch.Status.PROCESSING)
    for status in (ImageStatus.DONE, ImageStatus.DONE, ImageStatus.FAILED):
        factories.image_create(batch=batch, status=status)
    # when the recount task is sent through the broker
    batch_recount_task.apply_async(args=[batch.pk], queue=queue)
    # then the worker process updates the row in the database
    deadline = time.monotonic() + WORKER_TIMEOUT_S
    while time.monotonic() < deadline:
        batch.refresh_from_db()
        if batch.images_total:
            break
        if process.poll() is not None:
            pytest.fail(f"worker exited with {process.returncode}:\n{log.read_text()}")
        time.sleep(0.5)
    else:
        pytest.fail(
            f"no worker wrote the batch within {WORKER_TIMEOUT_S}s; worker log:\n{log.read_text()}"
        )
    assert (batch.images_total, batch.images_processed, batch.images_failed) == (3, 2, 1)
