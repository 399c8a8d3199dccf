"""The tasks of the ingest workflow, run in this process and by a real worker."""

from __future__ import annotations

import pytest
from django.core.files.base import ContentFile

from campaigns.models import BatchStatus, Face, ImageStatus
from campaigns.services import batches, extraction
from campaigns.tasks import images_classify_task
from fer_site.celery import app
from inference.services import model_version_activate, model_version_register
from tests import factories
from tests.ingest_support import batch_wait, zip_build


@pytest.fixture
def ad(db):
    team = factories.team_create()
    return factories.ad_create(campaign=factories.campaign_create(team=team))


def test_the_chunk_task_goes_to_the_inference_queue_and_the_rest_to_ingest():
    # given the app's routes
    # when each task of the workflow is routed
    # then only the detector + CNN task reaches the GPU worker's queue
    queues = {
        name: app.amqp.router.route({}, name)["queue"].name
        for name in app.tasks
        if name.startswith(("campaigns.tasks.", "analytics.tasks."))
    }
    assert queues.pop("campaigns.tasks.images_classify_task") == "inference"
    assert queues and set(queues.values()) == {"ingest"}


def test_the_tasks_the_services_send_by_name_are_registered():
    # given the names the ingest services send their tasks by (they never import the tasks)
    names = [batches.EXTRACT_TASK, batches.CLASSIFY_TASK]
    # when the app's tasks are registered
    # then each name is one of them
    assert set(names) <= set(app.tasks)


@pytest.mark.django_db
def test_the_chunk_task_writes_faces_and_closes_the_batch(ad, active_model, face_photos):
    # given an extracted batch of two photos
    upload = ContentFile(zip_build({"a.jpg": face_photos[0], "b.jpg": face_photos[1]}), "x.zip")
    batch = batches.batch_create(ad=ad, upload=upload, source_name="x.zip")
    extraction.batch_extract(batch_id=batch.pk)
    ids = list(batch.images.values_list("pk", flat=True))
    # when the task runs (in this process) for its one chunk, twice
    images_classify_task(ids, active_model.pk)
    images_classify_task(ids, active_model.pk)
    # then the photos are done, the batch is closed, and faces were written once
    batch.refresh_from_db()
    assert batch.status == BatchStatus.DONE
    assert set(batch.images.values_list("status", flat=True)) == {ImageStatus.DONE}
    assert batch.faces_found == Face.objects.filter(image__batch=batch).count() > 0


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_activating_another_version_changes_new_faces_without_a_worker_restart(
    ad, active_model, model_artifacts, face_photos, worker_start
):
    # given a running worker that analysed a batch with version 1
    worker = worker_start()
    upload = ContentFile(zip_build({"a.jpg": face_photos[0]}), "one.zip")
    first = batches.batch_create(ad=ad, upload=upload, source_name="one.zip")
    batch_wait(first, until=lambda b: b.is_finished, timeout=90, workers=[worker])
    # when an admin activates version 2 and a new batch arrives
    v2 = model_version_register(source_dir=model_artifacts[1], allow_unmeasured=True)
    model_version_activate(model_version=v2)
    upload = ContentFile(zip_build({"b.jpg": face_photos[1]}), "two.zip")
    second = batches.batch_create(ad=ad, upload=upload, source_name="two.zip")
    batch_wait(second, until=lambda b: b.is_finished, timeout=60, workers=[worker])
    # then the same worker process labelled the new faces with version 2
    assert worker.process.poll() is None
    assert set(Face.objects.filter(image__batch=first).values_list("model_version", flat=True)) == {
        active_model.pk
    }
    assert set(
        Face.objects.filter(image__batch=second).values_list("model_version", flat=True)
    ) == {v2.pk}
    assert "loaded ingest-test 2" in worker.log.read_text()
