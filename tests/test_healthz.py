import pytest
from django.core.files.storage import default_storage
from django.test import override_settings
from django.urls import reverse

from inference.services import model_version_register
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def health_token(settings):
    """These tests read the checks' details, which the token's holder sees."""
    settings.HEALTHZ_TOKEN = "probe-token"


def _health(client):
    return client.get(reverse("healthz"), HTTP_AUTHORIZATION="Bearer probe-token")


@pytest.fixture
def active_model(tmp_path):
    return model_version_register(
        source_dir=factories.artifact_dir_create(tmp_path / "artifact"),
        activate=True,
        allow_unmeasured=True,
    )


def test_healthz_is_green_with_database_broker_and_active_model(client, active_model):
    # given the configured database and broker, and an active registered model
    # when /healthz is asked
    response = _health(client)
    # then every check passes and the status is 200
    body = response.json()
    assert response.status_code == 200, body
    assert body["ok"] is True
    assert all(body[name]["ok"] for name in ("database", "broker", "model"))
    assert body["model"]["detail"] == f"{active_model.name} {active_model.version}"


@override_settings(CELERY_BROKER_URL="redis://127.0.0.1:1/0", CELERY_BROKER_TRANSPORT_OPTIONS={})
def test_healthz_is_red_when_the_broker_is_down(client, active_model):
    # given a broker URL where nothing listens
    # when /healthz is asked
    response = _health(client)
    # then it answers 503 and names the broker as the problem
    body = response.json()
    assert response.status_code == 503
    assert body["ok"] is False
    assert body["broker"]["ok"] is False
    assert "127.0.0.1:1" in body["broker"]["detail"]
    assert body["database"]["ok"] and body["model"]["ok"]


def test_healthz_is_red_without_an_active_model(client):
    response = _health(client)
    body = response.json()
    assert response.status_code == 503
    assert body["model"]["ok"] is False
    assert "register_model" in body["model"]["detail"]


def test_healthz_is_red_when_the_active_models_files_are_gone(client, active_model):
    # given an active model whose files were deleted from storage
    default_storage.delete(active_model.artifact + "model.json")
    # when /healthz is asked
    response = _health(client)
    # then the model check fails
    assert response.status_code == 503
    assert response.json()["model"]["ok"] is False


def test_healthz_says_the_file_store_cannot_be_reached_when_it_is_down(client, s3_store, tmp_path):
    # given an active model in an S3 bucket, then the store goes away
    model_version_register(
        source_dir=factories.artifact_dir_create(tmp_path / "artifact"),
        activate=True,
        allow_unmeasured=True,
    )
    s3_store.stop()
    try:
        # when /healthz is asked
        response = _health(client)
    finally:
        s3_store.start()
    # then it answers (not a server error), not ok, and names the store
    body = response.json()
    assert response.status_code == 503, body
    assert body["model"]["ok"] is False
    assert body["model"]["detail"].startswith("the file store could not be reached")
