"""Workers on other hosts: web and workers share nothing but the database, the broker and an
S3 bucket (moto's S3 server on a loopback port, spoken to over HTTP).

Each worker is a real `celery worker` process with a local media folder, model cache and
temporary folder of its own, unlike the test process's (the web side), as on another host.
"""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.db.models import Count

from campaigns.models import BatchStatus, Face, ImageKind, ImageStatus, UploadBatch
from campaigns.services import batches
from campaigns.storage import STORE_UNREACHABLE
from inference.models import ModelVersion
from inference.services import model_version_register
from tests import factories
from tests.ingest_support import S3Store, Worker, batch_wait, zip_build
from tests.shared_data import fer_test_faces
from tests.video_support import face_scene, video_bytes

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def ad():
    team = factories.team_create()
    return factories.ad_create(campaign=factories.campaign_create(team=team))


@pytest.fixture
def s3_model(s3_store: S3Store, model_artifacts, model_cache) -> ModelVersion:
    """The tiny test model registered into the bucket (from the web side) and active."""
    return model_version_register(
        source_dir=model_artifacts[0], activate=True, allow_unmeasured=True
    )


@pytest.fixture
def expected_faces(many_photos, model_artifacts, settings) -> dict[bytes, int]:
    """Faces in each photo, found here by the same pipeline on the bytes themselves."""
    from inference.api import analyze_images

    results = analyze_images(
        many_photos, detector=settings.FACE_DETECTOR, classifier=model_artifacts[0]
    )
    return {photo: len(result.faces) for photo, result in zip(many_photos, results, strict=True)}


def _host(folder: Path, store: S3Store) -> dict[str, str]:
    """A worker's environment on another host: its own folders, the shared bucket."""
    for sub in ("media", "model-cache", "tmp"):
        (folder / sub).mkdir(parents=True)
    return {
        **store.env(),
        "MEDIA_ROOT": str(folder / "media"),
        "MODEL_CACHE_DIR": str(folder / "model-cache"),
        "TMPDIR": str(folder / "tmp"),
    }


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def _upload(ad, members: dict[str, bytes], name: str) -> UploadBatch:
    return batches.batch_create(
        ad=ad, upload=ContentFile(zip_build(members), name), source_name=name
    )


def _assert_exact_faces(batch: UploadBatch, members: dict[str, bytes], expected) -> None:
    """Each analysed photo has exactly the faces the pipeline finds in it, none twice, and
    the batch's counters are its rows'."""
    per_photo = dict(
        Face.objects.filter(image__batch=batch, image__kind=ImageKind.PHOTO)
        .values_list("image__original_name")
        .annotate(n=Count("id"))
    )
    for image in batch.images.filter(kind=ImageKind.PHOTO, status=ImageStatus.DONE):
        assert per_photo.get(image.original_name, 0) == expected[members[image.original_name]]
    repeated = (
        Face.objects.filter(image__batch=batch)
        .values("image", "x", "y", "w", "h", "model_version")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
    )
    assert not repeated.exists(), list(repeated)
    counts = Counter(batch.images.values_list("status", flat=True))
    assert batch.images_processed == counts[ImageStatus.DONE]
    assert batch.images_failed == counts[ImageStatus.FAILED]
    assert batch.faces_found == Face.objects.filter(image__batch=batch).count()


def _wait_for_log(worker: Worker, text: str, *, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in worker.log.read_text():
            return
        time.sleep(0.3)
    pytest.fail(f"{text!r} never appeared in {worker.log.name}:\n{worker.log.read_text()[-6000:]}")


def test_a_worker_on_another_host_analyses_a_whole_batch_through_the_bucket(
    ad,
    s3_store,
    s3_model,
    many_photos,
    expected_faces,
    worker_start,
    media_root,
    tmp_path,
    settings,
):
    settings.INGEST_CHUNK_SIZE = 6
    # given a worker whose local folders are not the web side's, and the bucket in common
    host = tmp_path / "worker-host"
    worker = worker_start(**_host(host, s3_store))
    # when a ZIP of 12 photos and a 3 s reaction video is uploaded on the web side
    members = {f"p{i:02}.jpg": data for i, data in enumerate(many_photos[:12])}
    (face, _), *_ = fer_test_faces(1, limit=1)
    scene = face_scene(face, seed=3)
    members["viewer-7.mp4"] = video_bytes(lambda t: scene, seconds=3, fps=10)
    batch = _upload(ad, members, "hosts.zip")
    batch = batch_wait(batch, until=lambda b: b.is_finished, timeout=180, workers=[worker])
    # then it is done, every photo and frame analysed, with exactly their faces
    assert batch.status == BatchStatus.DONE, batch.error
    frames = batch.images.filter(kind=ImageKind.FRAME)
    assert frames.count() == 6 and not frames.exclude(status=ImageStatus.DONE).exists()
    assert batch.images_processed == 12 + 6
    _assert_exact_faces(batch, members, expected_faces)
    assert Face.objects.filter(image__in=frames).count() <= 6  # the viewer's own face only
    # and every file is in the bucket: photos and the video, the upload deleted once unpacked
    photos = sorted(batch.images.filter(kind=ImageKind.PHOTO).values_list("file", flat=True))
    assert s3_store.object_names("photos/") == photos
    assert len(s3_store.object_names("videos/")) == 1
    assert s3_store.object_names("uploads/") == []
    # and no photo, video or temporary copy on either host's disk; the worker's model is its
    # own local copy
    assert _files(media_root) == []
    assert _files(host / "media") == []
    # (TensorFlow writes its traced functions' source there; nothing else may stay)
    left = [p for p in _files(host / "tmp") if not p.name.startswith("__autograph_generated")]
    assert left == []
    assert any(p.name == "model.json" for p in _files(host / "model-cache"))


def test_the_store_going_away_mid_batch_retries_the_photos_and_loses_none(
    ad,
    s3_store,
    s3_model,
    many_photos,
    expected_faces,
    worker_start,
    tmp_path,
    settings,
    report_figure,
):
    settings.INGEST_CHUNK_SIZE = 2
    # given a worker on another host analysing 36 photos in chunks of 2
    worker = worker_start(**_host(tmp_path / "worker-host", s3_store))
    members = {f"p{i:02}.jpg": data for i, data in enumerate(many_photos)}
    batch = _upload(ad, members, "outage.zip")
    batch_wait(
        batch,
        until=lambda b: b.images.filter(status=ImageStatus.DONE).exists(),
        timeout=120,
        workers=[worker],
    )
    # when the store goes away until the worker has failed to read from it, then comes back
    s3_store.stop()
    gone = time.monotonic()
    try:
        batch.refresh_from_db()
        assert not batch.is_finished, "the batch finished before the outage: make it larger"
        # (the project's own message: botocore's "Could not connect to the endpoint URL"
        # reaches the log only when a traceback does, which a cleanly retried chunk has not)
        _wait_for_log(worker, STORE_UNREACHABLE, timeout=60)
        time.sleep(3)  # a few more chunks meet the closed port
    finally:
        s3_store.start()
    back = time.monotonic()
    batch = batch_wait(batch, until=lambda b: b.is_finished, timeout=180, workers=[worker])
    # then no photo is left unfinished or silently dropped: each is analysed, or failed with
    # its reason, and the counters and faces are exact
    assert batch.images_total == len(members)
    assert batch.images_processed + batch.images_failed == len(members)
    assert not batch.images.filter(status=ImageStatus.FAILED, error="").exists()
    _assert_exact_faces(batch, members, expected_faces)
    # (a chunk that met the outage gave its claims back uncounted and its task was retried)
    retries = [
        line
        for line in worker.log.read_text().splitlines()
        if "retry: Retry in" in line and STORE_UNREACHABLE in line
    ]
    assert retries, "no chunk was caught by the outage"
    assert batch.status == BatchStatus.DONE, batch.error
    report_figure(
        f"store down {back - gone:.1f} s mid-batch -> batch done {time.monotonic() - back:.1f} s "
        f"after it came back; {len(retries)} chunk deliveries retried, "
        f"{batch.images_failed} of {len(members)} photos failed"
    )


def test_two_inference_workers_on_other_hosts_share_one_batch_with_exact_counts(
    ad, s3_store, s3_model, many_photos, expected_faces, worker_start, tmp_path, settings
):
    settings.INGEST_CHUNK_SIZE = 3
    # given two workers, each on a host of its own, both ready
    workers = [worker_start(**_host(tmp_path / f"host-{n}", s3_store)) for n in (1, 2)]
    for worker in workers:
        _wait_for_log(worker, " ready.", timeout=120)
    # when one batch of 36 photos (12 chunks) is uploaded
    members = {f"p{i:02}.jpg": data for i, data in enumerate(many_photos)}
    batch = _upload(ad, members, "two.zip")
    batch = batch_wait(batch, until=lambda b: b.is_finished, timeout=180, workers=workers)
    # then both took chunks, and the batch is done with every photo's faces exactly once
    assert batch.status == BatchStatus.DONE, batch.error
    assert batch.images_processed == len(members)
    _assert_exact_faces(batch, members, expected_faces)
    for worker in workers:
        assert "images_classify_task" in worker.log.read_text().split(" ready.", 1)[1]
    for n in (1, 2):
        assert _files(tmp_path / f"host-{n}" / "media") == []
