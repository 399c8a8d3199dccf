"""Several chunks at once in one worker process (Celery's threads pool, the GPU worker's set-up):
their faces share the classifier's batches and still land on their own photos, exactly once,
and a kill -9 of that worker loses nothing."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from django.core.files.base import ContentFile

from campaigns.models import BatchStatus, Face, ImageStatus, UploadBatch
from campaigns.services import batches
from inference.api import analyze_images
from inference.classifier import EmotionClassifier
from tests import factories
from tests.ingest_support import Worker, batch_wait, plain_photo, zip_build

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def ad():
    team = factories.team_create()
    return factories.ad_create(campaign=factories.campaign_create(team=team))


@pytest.fixture
def threads_worker_start(worker_start) -> Callable[[], Worker]:
    """A real `celery worker --pool threads --concurrency 3` on the test database (beat
    embedded), with 2 feeder threads in its one process."""

    def start() -> Worker:
        return worker_start(
            pool="threads",
            concurrency=3,
            INFERENCE_DECODE_THREADS="2",
            INFERENCE_BATCH_WAIT_MS="200",
            # float32 on every CPU, so the results compare with the plain path's to 1e-5.
            INFERENCE_PRECISION="float32",
        )

    return start


def _upload(ad, members: dict[str, bytes]) -> UploadBatch:
    return batches.batch_create(
        ad=ad, upload=ContentFile(zip_build(members), "b.zip"), source_name="b.zip"
    )


def test_chunks_sharing_one_classifier_store_each_photos_own_faces(
    ad, active_model, face_photos, threads_worker_start, settings, model_artifacts
):
    # given: 12 photos with faces, a corrupt one and one without faces, in chunks of 2
    settings.INGEST_CHUNK_SIZE = 2
    members = {f"p{i:02}.jpg": data for i, data in enumerate(face_photos)}
    members["broken.jpg"] = face_photos[0][:200]
    members["plain.png"] = plain_photo(1)
    worker = threads_worker_start()
    # when: one threads-pool worker runs the 7 chunks, 3 at a time
    batch = batch_wait(
        _upload(ad, members), until=lambda b: b.is_finished, timeout=180, workers=[worker]
    )
    # then: exact counts, and the corrupt photo failed alone with its reason
    assert batch.status == BatchStatus.PARTIAL, batch.error
    assert batch.images_processed == len(face_photos) + 1
    broken = batch.images.get(status=ImageStatus.FAILED)
    assert broken.original_name == "broken.jpg" and broken.error
    # and every photo holds exactly the faces the plain path finds in it alone
    classifier = EmotionClassifier.load(model_artifacts[0], precision="float32")
    for name, data in members.items():
        if name == "broken.jpg":
            continue
        image = batch.images.get(original_name=name)
        (expected,) = analyze_images([data], classifier=classifier)
        stored = sorted(Face.objects.filter(image=image), key=lambda f: (f.x, f.y))
        assert [(f.x, f.y, f.w, f.h) for f in stored] == [face.box for face in expected.faces]
        for face, reference in zip(stored, expected.faces, strict=True):
            assert face.label == reference.label
            assert face.prob_happy == pytest.approx(reference.probabilities["happy"], abs=1e-5)
    assert "inference pipeline: 2 feeder threads" in worker.log.read_text()


def test_kill_9_of_a_threads_worker_mid_batch_loses_nothing(
    ad, active_model, face_photos, threads_worker_start, worker_start, settings, report_figure
):
    # given: a threads-pool worker analysing 24 photos in chunks of 2
    settings.INGEST_CHUNK_SIZE = 2
    members = {f"p{i:02}.jpg": data for i, data in enumerate(face_photos)}
    # Bytes after the end of a JPEG make other files of the same photos (not duplicates).
    members |= {f"q{i:02}.jpg": data + b"\0" for i, data in enumerate(face_photos)}
    first = threads_worker_start()
    batch = _upload(ad, members)
    batch_wait(
        batch,
        until=lambda b: b.images.filter(status=ImageStatus.DONE).count() >= 2,
        timeout=120,
        workers=[first],
    )
    # when: it is killed with SIGKILL with chunks in flight, and a prefork worker takes over
    first.kill()
    killed_at = time.monotonic()
    batch.refresh_from_db()
    assert not batch.is_finished, "the batch finished before the kill: make it larger"
    second = worker_start()
    batch = batch_wait(batch, until=lambda b: b.is_finished, timeout=180, workers=[first, second])
    # then: every photo analysed, once; no face written twice
    assert batch.status == BatchStatus.DONE, batch.error
    assert batch.images_processed == len(members)
    faces = Face.objects.filter(image__batch=batch)
    assert batch.faces_found == faces.count() > 0
    assert faces.count() == len({(f.image_id, f.x, f.y, f.w, f.h) for f in faces})
    report_figure(
        f"threads-pool worker kill -9 -> batch done in {time.monotonic() - killed_at:.1f} s "
        f"(claims abandoned after INGEST_CLAIM_TIMEOUT={settings.INGEST_CLAIM_TIMEOUT} s, "
        "sweeper every 2 s)"
    )
