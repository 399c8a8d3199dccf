"""Faults against real worker processes: the batch still finishes with exact counts.

Workers are `celery -A fer_site worker` subprocesses (prefork, beat embedded for the sweeper)
on the configured broker (a file-system queue locally, Redis in CI) and the test database.
Lost messages are recovered by the sweeper; batches without progress are resumed after 12 s
here, and a killed worker's claims go stale after INGEST_CLAIM_TIMEOUT.
"""

from __future__ import annotations

import io
import os
import shutil
import signal
import stat
import subprocess
import time
import zipfile
from collections import Counter
from urllib.parse import urlparse

import pytest
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db.models import Count
from django.urls import reverse

from campaigns.models import BatchStatus, Face, ImageStatus, UploadBatch
from campaigns.services import batches
from tests import factories
from tests.ingest_support import batch_wait, plain_photo, zip_build
from tests.service_support import service_missing

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def ad():
    team = factories.team_create()
    return factories.ad_create(campaign=factories.campaign_create(team=team))


def _assert_exact(batch: UploadBatch, *, processed: int) -> None:
    """Counters match the rows, and no face was written twice."""
    assert batch.images_processed == processed
    assert batch.images_processed == batch.images.filter(status=ImageStatus.DONE).count()
    faces = Face.objects.filter(image__batch=batch)
    assert batch.faces_found == faces.count() > 0
    repeated = (
        faces.values("image", "x", "y", "w", "h", "model_version")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
    )
    assert not repeated.exists(), list(repeated)


def test_kill_9_of_the_worker_mid_batch_a_new_worker_takes_its_photos_within_seconds(
    ad, active_model, many_photos, worker_start, settings, report_figure
):
    settings.INGEST_CHUNK_SIZE = 3
    # given a worker with the production timings (a killed worker's claims used to wait for
    # INGEST_CHUNK_TIME_LIMIT, 300 s, and the sweeper after it: six minutes in all) processing
    # a batch of 36 photos in chunks of 3
    timings = {
        "INGEST_CHUNK_TIME_LIMIT": "300",
        "INGEST_CLAIM_TIMEOUT": str(settings.INGEST_CLAIM_TIMEOUT),
        "INGEST_SWEEP_SECONDS": str(settings.INGEST_SWEEP_SECONDS),
    }
    first = worker_start(**timings)
    members = {f"p{i:02}.jpg": data for i, data in enumerate(many_photos)}
    batch = batches.batch_create(
        ad=ad, upload=ContentFile(zip_build(members), "b.zip"), source_name="b.zip"
    )
    batch_wait(
        batch,
        until=lambda b: (
            b.images.filter(status=ImageStatus.DONE).count() >= 3
            and b.images.filter(status=ImageStatus.PROCESSING).exists()
        ),
        timeout=90,
        workers=[first],
    )
    # when it is killed with SIGKILL in the middle of a chunk, and another worker is started
    first.kill()
    killed_at = time.monotonic()
    batch.refresh_from_db()
    assert not batch.is_finished, "the batch finished before the kill: make it larger"
    held = list(batch.images.filter(status=ImageStatus.PROCESSING).values_list("pk", flat=True))
    assert held, "no chunk was in flight at the kill: try again"
    second = worker_start(**timings)
    started_at = time.monotonic()
    # then the killed worker's claims are given back and sent again within seconds
    in_flight = {"status": ImageStatus.PROCESSING, "attempts": 1}
    batch_wait(
        batch,
        until=lambda b: b.images.filter(pk__in=held).exclude(**in_flight).exists(),
        timeout=60,
        workers=[first, second],
    )
    released = time.monotonic()
    # and the new worker analyses them, whatever else was queued before them
    batch_wait(
        batch,
        until=lambda b: b.images.filter(pk__in=held, status=ImageStatus.DONE).exists(),
        timeout=90,
        workers=[first, second],
    )
    taken = time.monotonic()
    # and the batch is done, every photo analysed once, no face duplicated
    batch = batch_wait(batch, until=lambda b: b.is_finished, timeout=120, workers=[first, second])
    assert batch.status == BatchStatus.DONE, batch.error
    _assert_exact(batch, processed=len(many_photos))
    report_figure(
        f"whole worker kill -9 -> its claims sent again {released - killed_at:.1f} s after the "
        f"kill, analysed {taken - started_at:.1f} s after a new worker started (with the rest "
        f"of the batch), batch done {time.monotonic() - killed_at:.1f} s after the kill "
        f"(INGEST_CLAIM_TIMEOUT={settings.INGEST_CLAIM_TIMEOUT} s, sweep every "
        f"{settings.INGEST_SWEEP_SECONDS} s, INGEST_CHUNK_TIME_LIMIT=300 s)"
    )


def test_kill_9_of_the_pool_process_mid_chunk_the_chunk_comes_back_at_once(
    ad, active_model, many_photos, worker_start, settings, report_figure
):
    # given a worker without the sweeper, analysing a batch of 36 photos in one chunk
    settings.INGEST_CHUNK_SIZE = 36
    worker = worker_start(beat=False, INGEST_CHUNK_TIME_LIMIT="300")
    members = {f"p{i:02}.jpg": data for i, data in enumerate(many_photos)}
    batch = ingest_upload(ad, members, "pool.zip")
    batch_wait(
        batch,
        until=lambda b: b.images.filter(status=ImageStatus.PROCESSING).exists(),
        timeout=90,
        workers=[worker],
    )
    # when the pool process running the chunk is killed with SIGKILL mid-chunk
    (pool,) = worker.pool_processes()
    os.kill(pool, signal.SIGKILL)
    killed_at = time.monotonic()
    batch.refresh_from_db()
    assert not batch.is_finished, "the chunk finished before the kill: make it larger"
    # then the chunk's message comes back to the new pool process, which takes its own fresh
    # claims back at once (no sweeper runs, and the claims would expire only after 300 s)
    batch = batch_wait(batch, until=lambda b: b.is_finished, timeout=120, workers=[worker])
    recovery = time.monotonic() - killed_at
    assert batch.status == BatchStatus.DONE, batch.error
    _assert_exact(batch, processed=len(many_photos))
    assert set(batch.images.values_list("attempts", flat=True)) == {2}
    report_figure(f"pool process kill -9 mid-chunk -> batch done in {recovery:.1f} s")


def test_an_extraction_that_fails_every_time_fails_its_batch_in_seconds(
    ad, active_model, worker_start, media_root, settings, report_figure
):
    # given storage that cannot take photos, and a worker without the sweeper
    worker = worker_start(beat=False)
    media_root.mkdir(parents=True, exist_ok=True)
    batch = ingest_upload(ad, {"a.png": plain_photo(1)}, "stuck.zip")
    (media_root / "photos").write_text("not a folder")
    started = time.monotonic()
    # when its extraction fails on every delivery
    batch = batch_wait(batch, until=lambda b: b.is_finished, timeout=90, workers=[worker])
    # then the task's own retries end in a failed batch with the reason, not a loop
    assert batch.status == BatchStatus.FAILED
    assert f"could not be unpacked in {settings.INGEST_MAX_ATTEMPTS} attempts" in batch.error
    assert batch.extract_attempts == settings.INGEST_MAX_ATTEMPTS
    report_figure(f"failing extraction -> batch failed in {time.monotonic() - started:.1f} s")


def ingest_upload(ad, members: dict[str, bytes], name: str) -> UploadBatch:
    return batches.batch_create(
        ad=ad, upload=ContentFile(zip_build(members), name), source_name=name
    )


def _redis_endpoint() -> tuple[str, int]:
    url = urlparse(settings.CELERY_BROKER_URL)
    if url.scheme != "redis":
        service_missing(f"the broker is {url.scheme}://, not Redis: nothing to restart")
    if url.hostname not in ("127.0.0.1", "localhost") or not shutil.which("redis-server"):
        service_missing("Redis is not a local server that this test can restart")
    return url.hostname, url.port or 6379


def _redis_ping(host: str, port: int) -> bool:
    result = subprocess.run(
        ["redis-cli", "-h", host, "-p", str(port), "ping"],
        check=False,
        capture_output=True,
        text=True,
    )
    return result.stdout.strip() == "PONG"


def _redis_start(host: str, port: int) -> None:
    subprocess.run(
        ["redis-server", "--daemonize", "yes", "--bind", host, "--port", str(port),
         "--save", "", "--appendonly", "no"],
        check=True, capture_output=True,
    )  # fmt: skip
    deadline = time.monotonic() + 20
    while not _redis_ping(host, port):
        if time.monotonic() > deadline:
            pytest.fail("Redis did not come back")
        time.sleep(0.2)


def test_redis_restart_mid_batch_the_batch_still_finishes(
    ad, active_model, many_photos, worker_start, settings
):
    host, port = _redis_endpoint()
    settings.INGEST_CHUNK_SIZE = 3
    # given a worker processing a batch
    worker = worker_start()
    members = {f"p{i:02}.jpg": data for i, data in enumerate(many_photos)}
    batch = batches.batch_create(
        ad=ad, upload=ContentFile(zip_build(members), "r.zip"), source_name="r.zip"
    )
    batch_wait(
        batch,
        until=lambda b: b.images.filter(status=ImageStatus.DONE).count() >= 3,
        timeout=90,
        workers=[worker],
    )
    # when Redis shuts down without saving (every queued message is lost) and starts again
    try:
        subprocess.run(
            ["redis-cli", "-h", host, "-p", str(port), "shutdown", "nosave"], check=False
        )
        deadline = time.monotonic() + 20
        while _redis_ping(host, port) and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(1)
    finally:
        _redis_start(host, port)
    # then the worker reconnects, the sweeper re-sends the lost work, and the batch finishes
    batch = batch_wait(batch, until=lambda b: b.is_finished, timeout=120, workers=[worker])
    assert batch.status == BatchStatus.DONE, batch.error
    _assert_exact(batch, processed=len(many_photos))


def test_an_upload_while_the_broker_is_down_is_kept_and_analysed_when_it_is_back(
    ad, active_model, face_photos, worker_start, client, report_figure
):
    host, port = _redis_endpoint()
    user = factories.user_create(team=ad.campaign.team)
    client.force_login(user)
    upload = SimpleUploadedFile("late.zip", zip_build({"a.jpg": face_photos[0]}))
    # given the broker is down
    try:
        subprocess.run(
            ["redis-cli", "-h", host, "-p", str(port), "shutdown", "nosave"], check=False
        )
        deadline = time.monotonic() + 20
        while _redis_ping(host, port) and time.monotonic() < deadline:
            time.sleep(0.1)
        # when a ZIP is uploaded through the page's script
        response = client.post(
            reverse("campaigns:batch_upload", args=[ad.pk]),
            {"archive": upload},
            headers={"accept": "application/json"},
        )
    finally:
        _redis_start(host, port)
    # then the upload is accepted and kept, and the user is told it waits for the queue
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["queued"] is False and "cannot be reached right now" in body["message"]
    batch = UploadBatch.objects.get(pk=body["batch"])
    assert batch.status == BatchStatus.RECEIVED and batch.archive
    status = client.get(reverse("campaigns:batch_status", args=[batch.pk])).json()
    assert status["stage"].startswith("waiting for the task queue")
    # and once the broker is back, the sweeper's next run sends it on and it is analysed
    back = time.monotonic()
    worker = worker_start()
    batch = batch_wait(batch, until=lambda b: b.is_finished, timeout=120, workers=[worker])
    assert batch.status == BatchStatus.DONE, batch.error
    report_figure(f"broker back -> upload analysed in {time.monotonic() - back:.1f} s")


def _bad_case_archive(good: list[bytes], extra: bytes) -> tuple[bytes, dict[str, str]]:
    """A ZIP of every bad case plus good photos; returns it and the expected reason prefixes."""
    expected = {
        "../escape.jpg": "unsafe path",
        "/abs/path.jpg": "unsafe path",
        "link.jpg": "symbolic link",
        "inner.zip": "nested archive",
        "renamed-archive.jpg": "nested archive",
        "notes.txt": "not a photo or a video (.txt file)",
        "empty.jpg": "empty file",
        "bomb.png": "compression ratio",
        "damaged.png": "corrupt archive member",
        "copy-of-good0.jpg": "duplicate of good0.jpg",
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for i, data in enumerate(good):
            zf.writestr(f"good{i}.jpg", data)
        zf.writestr("copy-of-good0.jpg", good[0])
        zf.writestr("café-ünïcode/visage.jpg", extra)
        zf.writestr("poison.jpg", good[0][:300])  # a JPEG cut short: fails in the decoder
        zf.writestr("../escape.jpg", good[1])
        zf.writestr("/abs/path.jpg", good[1])
        link = zipfile.ZipInfo("link.jpg")
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(link, "/etc/passwd")
        zf.writestr("inner.zip", zip_build({"x.png": plain_photo(1)}))
        zf.writestr("renamed-archive.jpg", zip_build({"y.png": plain_photo(2)}))
        zf.writestr("notes.txt", b"hello")
        zf.writestr("empty.jpg", b"")
        zf.writestr("bomb.png", b"\x00" * (20 * 1024**2))
        zf.writestr("__MACOSX/._good0.jpg", b"\x00\x05\x16\x07")
        zf.writestr(".DS_Store", b"junk")
        zf.writestr("damaged.png", plain_photo(3), compress_type=zipfile.ZIP_STORED)
    data = bytearray(buffer.getvalue())
    damaged = plain_photo(3)
    data[data.find(damaged) + 200] ^= 0xFF
    return bytes(data), expected


def test_an_archive_of_every_bad_case_processes_the_good_photos_and_reports_the_rest(
    ad, active_model, face_photos, worker_start
):
    # given a ZIP with 4 good photos (one under a non-ASCII folder), a duplicate, a poison
    # JPEG, and every unsafe or unusable kind of member
    good = face_photos[:3]
    data, expected = _bad_case_archive(good, face_photos[3])
    worker = worker_start()
    # when it is uploaded and processed by a real worker
    batch = batches.batch_create(ad=ad, upload=ContentFile(data, "bad.zip"), source_name="bad.zip")
    batch = batch_wait(batch, until=lambda b: b.is_finished, timeout=120, workers=[worker])
    # then the good photos are analysed, the poison one failed alone, and the batch is partial
    statuses = dict(batch.images.values_list("original_name", "status"))
    assert batch.status == BatchStatus.PARTIAL
    assert {n for n, s in statuses.items() if s == ImageStatus.DONE} == {
        "good0.jpg", "good1.jpg", "good2.jpg", "café-ünïcode/visage.jpg"
    }  # fmt: skip
    poison = batch.images.get(original_name="poison.jpg")
    assert poison.status == ImageStatus.FAILED and poison.error
    # and every bad member is recorded as skipped with its reason; ignored litter is absent
    reasons = dict(
        batch.images.filter(status=ImageStatus.SKIPPED).values_list("original_name", "error")
    )
    assert set(reasons) == set(expected)
    for name, prefix in expected.items():
        assert reasons[name].startswith(prefix), (name, reasons[name])
    # and the counts are exact and the uploaded ZIP is no longer stored
    assert Counter(statuses.values()) == {"done": 4, "failed": 1, "skipped": len(expected)}
    assert (batch.images_total, batch.images_processed, batch.images_failed) == (15, 4, 1)
    assert (batch.images_skipped, batch.images_duplicate) == (10, 1)
    _assert_exact(batch, processed=4)
    assert not batch.archive and not default_storage.listdir("uploads")[1]


def test_an_encrypted_archive_fails_the_batch_with_a_clear_message(ad, active_model, worker_start):
    # given a ZIP whose members are encrypted (flag set as `zip -e` writes it)
    data = bytearray(zip_build({"a.png": plain_photo(1)}, compression=zipfile.ZIP_STORED))
    for signature, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        data[data.find(signature) + offset] |= 0x1
    worker = worker_start()
    # when it is uploaded
    batch = batches.batch_create(
        ad=ad, upload=ContentFile(bytes(data), "e.zip"), source_name="e.zip"
    )
    batch = batch_wait(batch, until=lambda b: b.is_finished, timeout=90, workers=[worker])
    # then the batch failed, says why, and recorded nothing
    assert batch.status == BatchStatus.FAILED
    assert "password-protected" in batch.error
    assert not batch.images.exists()
