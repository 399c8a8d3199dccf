"""The worker's model registry: a stored artifact copied once, loaded once per process."""

from __future__ import annotations

import gc
import weakref

import pytest
from django.core.files.storage import default_storage

from inference import registry
from inference.services import model_version_register
from ml.artifact import ArtifactError


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
    v2_row = model_version_register(source_dir=model_artifacts[1], allow_unmeasured=True)
    # when version 2 is asked for
    v2 = registry.classifier_get(model_version=v2_row)
    # then it is a different model, and the process no longer holds version 1
    assert v2.metadata.version == "2" and v2 is not v1
    held = weakref.ref(v1)
    del v1
    gc.collect()
    assert held() is None


@pytest.mark.django_db
def test_the_same_version_registered_again_is_reloaded(active_model, model_artifacts):
    # given version 1 loaded by this worker
    before = registry.classifier_get(model_version=active_model)
    # when its artifact is registered again (retrained files under the same version)
    again = model_version_register(source_dir=model_artifacts[0], allow_unmeasured=True)
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
    with pytest.raises(ArtifactError, match=r"no model\.json in storage"):
        registry.classifier_get(model_version=active_model)
