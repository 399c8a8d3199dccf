"""The worker side: the per-process model registry and the chunk task."""

from __future__ import annotations

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from campaigns import ingest
from campaigns.models import BatchStatus, Face, ImageStatus
from inference import registry
from inference.services import model_version_activate, model_version_register
from inference.tasks import classify_images_task
from ml.artifact import ArtifactError
from tests import factories
from tests.ingest_support import batch_wait, zip_build


@pytest.fixture
def ad(db):
    team = factories.team_create()
    return factories.ad_create(campaign=factories.campaign_create(team=team))


@pytest.mark.django_db
def test_the_classifier_loads_once_per_process_from_storage(active_model, model_cache, monkeypatch):
    # given the active version registered in storage
    # when it is asked for twice, the second time with storage out of reach
    first = registry.classifier_get(model_version=active_model)

    def unreachable(*args, **kwargs):
        raise AssertionError("storage asked again for a model already loaded")

    for method in ("open", "exists", "get_modified_time", "listdir"):
        monkeypatch.setattr(default_storage, method, unreachable)
    second = registry.classifier_get(model_version=active_model)
    # then the same loaded model comes back, loaded from a local copy of the stored artifact
    assert first is second
    assert first.metadata.version == active_model.version
    assert first.model_dir.parent == model_cache


@pytest.mark.django_db
def test_another_version_replaces_the_cached_one(active_model, model_artifacts):
    # given version 1 loaded and version 2 registered
    v1 = registry.classifier_get(model_version=active_model)
    v2_row = model_version_register(source_dir=model_artifacts[1])
    # when version 2 is asked for
    v2 = registry.classifier_get(model_version=v2_row)
    # then it is a different model, and the process keeps only one
    assert v2.metadata.version == "2" and v2 is not v1
    assert len(registry._loaded) == 1


@pytest.mark.django_db
def test_the_same_version_registered_again_is_reloaded(active_model, model_artifacts):
    # given version 1 loaded by this worker
    before = registry.classifier_get(model_version=active_model)
    # when its artifact is registered again (retrained files under the same version)
    again = model_version_register(source_dir=model_artifacts[0])
    # then the next chunk loads it afresh, and keeps using that copy afterwards
    after = registry.classifier_get(model_version=again)
    assert again.pk == active_model.pk
    assert again.artifact_registered_at > active_model.artifact_registered_at
    assert after is not before
    assert registry.classifier_get(model_version=again) is after


@pytest.mark.django_db
def test_a_stored_artifact_that_contradicts_its_version_is_refused(active_model):
    # given a version row whose classes disagree with the stored model.json
    active_model.classes = list(reversed(active_model.classes))
    active_model.save()
    # when a worker loads it, then it refuses with the reason
    with pytest.raises(ArtifactError, match="classes"):
        registry.classifier_get(model_version=active_model)


@pytest.mark.django_db
def test_a_missing_artifact_is_a_clear_error(active_model):
    active_model.artifact = "models/nowhere/0/"
    with pytest.raises(ArtifactError, match="no model.json in storage"):
        registry.classifier_get(model_version=active_model)


@pytest.mark.django_db
def test_the_chunk_task_writes_faces_and_closes_the_batch(ad, active_model, face_photos):
    # given an extracted batch of two photos
    upload = ContentFile(zip_build({"a.jpg": face_photos[0], "b.jpg": face_photos[1]}), "x.zip")
    batch = ingest.batch_create(ad=ad, upload=upload, source_name="x.zip")
    ingest.batch_extract(batch_id=batch.pk)
    ids = list(batch.images.values_list("pk", flat=True))
    # when the task runs (in this process) for its one chunk, twice
    classify_images_task(ids, active_model.pk)
    classify_images_task(ids, active_model.pk)
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
    first = ingest.batch_create(ad=ad, upload=upload, source_name="one.zip")
    batch_wait(first, until=lambda b: b.is_finished, timeout=90, workers=[worker])
    # when an admin activates version 2 and a new batch arrives
    v2 = model_version_register(source_dir=model_artifacts[1])
    model_version_activate(model_version=v2)
    upload = ContentFile(zip_build({"b.jpg": face_photos[1]}), "two.zip")
    second = ingest.batch_create(ad=ad, upload=upload, source_name="two.zip")
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
