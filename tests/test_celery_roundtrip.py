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

import pytest
from django.core.files.base import ContentFile
from kombu import Queue

from campaigns.models import BatchStatus, UploadBatch
from campaigns.services.transitions import status_rows_create
from campaigns.tasks import batch_extract_task
from fer_site.celery import app
from inference.services import model_version_activate
from tests import factories
from tests.ingest_support import database_url, plain_photo, process_stop, zip_build

WORKER_TIMEOUT_S = 120


@pytest.fixture
def worker_queue(tmp_path, settings):
    """A `celery worker` process on a queue of its own, so no other task reaches it."""
    queue = f"roundtrip-{uuid.uuid4().hex[:8]}"
    env = {**os.environ, "DATABASE_URL": database_url(), "MEDIA_ROOT": str(settings.MEDIA_ROOT)}
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
        # The extraction fanned its photos out to the inference queue: later tests' workers
        # must not receive chunks of this test's rows.
        with app.connection_for_write() as connection:
            Queue("inference").bind(connection.default_channel).purge()
        process_stop(process)
        log.close()


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_worker_consumes_a_task_from_the_broker_and_writes_the_database(worker_queue):
    queue, process, log = worker_queue
    # given a committed batch whose ZIP of three photos is stored but not yet extracted
    model_version_activate(model_version=factories.model_version_create())
    team = factories.team_create()
    ad = factories.ad_create(campaign=factories.campaign_create(team=team))
    batch = UploadBatch(ad=ad, source_name="three.zip", status=BatchStatus.RECEIVED)
    archive = zip_build({f"p{i}.png": plain_photo(i) for i in range(3)})
    batch.archive.save("three.zip", ContentFile(archive), save=False)
    (batch,) = status_rows_create([batch])
    # when the extraction task is sent through the broker
    batch_extract_task.apply_async(args=(batch.pk,), queue=queue)
    # then the worker process records the photos in the database
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
    assert (batch.status, batch.images_total) == (BatchStatus.PROCESSING, 3)
    assert sorted(batch.images.values_list("original_name", flat=True)) == [
        "p0.png", "p1.png", "p2.png"
    ]  # fmt: skip
