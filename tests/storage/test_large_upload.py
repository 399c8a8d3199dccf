"""A 300 MB upload to the bucket and its extraction from it, in bounded memory.

moto's S3 server runs in a process of its own here, so the peak that tracemalloc reports is
this process's alone: the upload path (batch_create) and the extraction (batch_extract), with
Django's temporary upload file as the view hands it over.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import tracemalloc
import zipfile
from collections.abc import Iterator

import numpy as np
import pytest
from django.core.files.uploadedfile import TemporaryUploadedFile

from campaigns.models import BatchStatus, ImageStatus
from campaigns.services import batches, extraction
from inference.models import ModelVersion
from tests import factories
from tests.ingest_support import S3Store, free_port, storages_from_env

pytestmark = [pytest.mark.slow, pytest.mark.django_db]

MEMBERS = 150
MEMBER_BYTES = 2 * 1024**2


@pytest.fixture
def remote_s3(settings, tmp_path) -> Iterator[S3Store]:
    """moto's S3 server as a separate process on a loopback port, and a bucket in it."""
    port = free_port()
    log = (tmp_path / "moto.log").open("w")
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    pytest.fail("moto's server did not start")
                time.sleep(0.2)
        store = S3Store(endpoint=f"http://127.0.0.1:{port}", bucket="fer-large", port=port)
        store.client().create_bucket(Bucket=store.bucket)
        settings.STORAGES = storages_from_env(store.env())
        yield store
    finally:
        server.terminate()
        server.wait(timeout=20)
        log.close()


def _large_upload() -> TemporaryUploadedFile:
    """A stored (uncompressed) ZIP of 150 distinct 2 MiB JPEG-looking members: 300 MiB on disk,
    as Django's upload handler leaves an upload larger than FILE_UPLOAD_MAX_MEMORY_SIZE."""
    rng = np.random.default_rng(0)
    upload = TemporaryUploadedFile("large.zip", "application/zip", 0, None)
    path = upload.temporary_file_path()
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as archive:
        for index in range(MEMBERS):
            data = b"\xff\xd8\xff" + rng.bytes(MEMBER_BYTES - 3)
            archive.writestr(f"p{index:03}.jpg", data)
    upload.size = os.path.getsize(path)
    upload.seek(0)
    return upload


def test_a_300_mb_upload_streams_to_the_bucket_and_is_unpacked_in_bounded_memory(
    remote_s3, report_figure
):
    # given an active model version and an ad
    ModelVersion.objects.filter(pk=factories.model_version_create().pk).update(is_active=True)
    ad = factories.ad_create(campaign=factories.campaign_create(team=factories.team_create()))
    upload = _large_upload()
    size = upload.size
    # when it is uploaded, then unpacked from the bucket, with Python's allocations traced
    tracemalloc.start()
    started = time.monotonic()
    batch = batches.batch_create(ad=ad, upload=upload, source_name="large.zip")
    upload_s = time.monotonic() - started
    _, upload_peak = tracemalloc.get_traced_memory()
    tracemalloc.reset_peak()
    started = time.monotonic()
    extraction.batch_extract(batch_id=batch.pk)
    extract_s = time.monotonic() - started
    _, extract_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    # then the object holds every byte, each member became a photo object, and neither step
    # held the archive in memory (a generous bound: a few 8 MiB parts, one 2 MiB member)
    head = remote_s3.client().head_object(Bucket=remote_s3.bucket, Key=batch.archive.name)
    assert head["ContentLength"] == size
    batch.refresh_from_db()
    assert batch.status == BatchStatus.PROCESSING, batch.error
    assert batch.images.filter(status=ImageStatus.PENDING).count() == MEMBERS
    assert len(remote_s3.object_names("photos/")) == MEMBERS
    assert upload_peak < size / 3 and extract_peak < size / 3
    mib = 1024**2
    report_figure(
        f"{size / mib:.0f} MiB upload to S3: peak Python memory {upload_peak / mib:.1f} MiB "
        f"({size / mib / upload_s:.0f} MiB/s); extraction of its {MEMBERS} members from S3: "
        f"peak {extract_peak / mib:.1f} MiB ({extract_s:.1f} s)"
    )
