import json

import pytest
from django.core.files.storage import default_storage
from django.core.management import CommandError, call_command
from django.db import IntegrityError, transaction

from inference.models import ModelVersion
from inference.services import model_version_activate, model_version_register
from ml import SHIPPED_MODEL_DIR
from ml.artifact import ArtifactError, read_metadata
from tests import factories

pytestmark = pytest.mark.django_db


def test_database_allows_at_most_one_active_model_version():
    # given an active model version
    factories.model_version_create(version="1.0")
    ModelVersion.objects.filter(version="1.0").update(is_active=True)
    other = factories.model_version_create(version="2.0")
    # when a second one is marked active directly
    # then the database refuses it
    with pytest.raises(IntegrityError), transaction.atomic():
        ModelVersion.objects.filter(pk=other.pk).update(is_active=True)


def test_name_and_version_are_unique():
    factories.model_version_create(version="1.0")
    with pytest.raises(IntegrityError), transaction.atomic():
        factories.model_version_create(version="1.0")


def test_activate_moves_the_active_flag():
    # given an active version and another one
    old = model_version_activate(model_version=factories.model_version_create(version="1.0"))
    new = factories.model_version_create(version="2.0")
    # when the other is activated
    model_version_activate(model_version=new)
    # then it is the only active one
    assert list(ModelVersion.objects.filter(is_active=True)) == [new]
    old.refresh_from_db()
    assert not old.is_active


def test_register_copies_the_artifact_into_storage_and_records_it(tmp_path):
    # given an artifact folder as ml/ writes it, its errors on real photos measured
    measurement = factories.measurement_create()
    source = factories.artifact_dir_create(
        tmp_path / "src", version="1.0", accuracy=0.66, measurement=measurement
    )
    # when it is registered
    model_version = model_version_register(source_dir=source)
    # then storage holds every file under models/<name>/<version>/, byte for byte
    assert model_version.artifact == "models/fer-cnn/1.0/"
    for name in ("model.json", "model.keras", "report.json"):
        with default_storage.open(model_version.artifact + name, "rb") as fh:
            assert fh.read() == (source / name).read_bytes()
    # and the row holds its classes and metrics, not yet active
    stored = ModelVersion.objects.get(name="fer-cnn", version="1.0")
    assert stored.classes == json.loads((source / "model.json").read_text())["classes"]
    assert stored.metrics == {"accuracy": 0.66}
    assert stored.measurement == measurement
    assert not stored.is_active


def test_register_model_command_is_idempotent_and_activates(tmp_path, capsys):
    # given an artifact, registered once
    source = factories.artifact_dir_create(
        tmp_path / "src", version="1.0", accuracy=0.60, measurement=factories.measurement_create()
    )
    call_command("register_model", str(source))
    # when its files change and it is registered again with --activate
    (source / "model.keras").write_bytes(b"retrained")
    model_json = json.loads((source / "model.json").read_text())
    model_json["metrics"] = {"accuracy": 0.70}
    (source / "model.json").write_text(json.dumps(model_json))
    call_command("register_model", str(source), "--activate")
    # then there is still one row, now active, with the new metrics and files (no copies)
    stored = ModelVersion.objects.get()
    assert stored.is_active and stored.metrics == {"accuracy": 0.70}
    with default_storage.open("models/fer-cnn/1.0/model.keras", "rb") as fh:
        assert fh.read() == b"retrained"
    _, files = default_storage.listdir("models/fer-cnn/1.0/")
    assert sorted(files) == ["model.json", "model.keras", "report.json"]
    assert "Registered fer-cnn 1.0 at models/fer-cnn/1.0/ (active)." in capsys.readouterr().out


def test_register_model_refuses_a_folder_without_model_json(tmp_path):
    with pytest.raises(CommandError, match=r"model\.json not found"):
        call_command("register_model", str(tmp_path))
    assert not ModelVersion.objects.exists()


def test_register_model_shipped_registers_the_shipped_artifact(tmp_path, settings):
    # given a shipped model folder
    settings.SHIPPED_MODEL_DIR = factories.artifact_dir_create(
        tmp_path, version="1.0", measurement=factories.measurement_create()
    )
    # when the set-up path registers the shipped model
    call_command("register_model", "--shipped", "--activate")
    # then it is the active version
    assert ModelVersion.objects.get(is_active=True).version == "1.0"


def test_register_model_shipped_skips_when_no_model_ships(tmp_path, settings, capsys):
    settings.SHIPPED_MODEL_DIR = tmp_path / "absent"
    call_command("register_model", "--shipped", "--activate")
    assert "nothing registered" in capsys.readouterr().out
    assert not ModelVersion.objects.exists()


def test_register_refuses_a_name_that_is_not_a_folder_name(tmp_path):
    source = factories.artifact_dir_create(tmp_path / "src", name="evil", version="1.0")
    model_json = json.loads((source / "model.json").read_text())
    model_json["name"] = "../../etc"
    (source / "model.json").write_text(json.dumps(model_json))
    with pytest.raises(ArtifactError, match="must be letters, digits"):
        model_version_register(source_dir=source, allow_unmeasured=True)
    assert not ModelVersion.objects.exists()


def test_register_refuses_an_artifact_without_a_measurement_and_says_how_to_make_one(tmp_path):
    # given an artifact whose errors on real photos were never measured
    source = factories.artifact_dir_create(tmp_path / "src", version="1.0")
    # when it is registered, by the service or the command, then it is refused with the remedy
    with pytest.raises(ArtifactError, match="no measurement of its errors on real photos"):
        model_version_register(source_dir=source)
    with pytest.raises(CommandError, match=r"inference\.cli\.measure_errors .* --unmeasured"):
        call_command("register_model", str(source))
    # and nothing was stored
    assert not ModelVersion.objects.exists()
    assert not default_storage.exists("models/fer-cnn/1.0/model.json")


def test_register_model_unmeasured_registers_it_and_warns_its_shares_stay_uncorrected(
    tmp_path, capsys
):
    # given an artifact without a measurement
    source = factories.artifact_dir_create(tmp_path / "src", version="1.0")
    # when it is registered on purpose
    call_command("register_model", str(source), "--unmeasured", "--activate")
    # then it is registered, and the warning says what its dashboards will show
    stored = ModelVersion.objects.get()
    assert stored.is_active and stored.measurement == {}
    err = capsys.readouterr().err
    assert "fer-cnn 1.0 has no measurement of its errors on real photos" in err
    assert "shares as classified, uncorrected" in err


def test_register_model_refuses_a_measurement_that_is_not_valid(tmp_path):
    # given an artifact whose measurement lacks a confidence step
    measurement = factories.measurement_create()
    del measurement["confusion"]["90"]
    source = factories.artifact_dir_create(tmp_path / "src", version="1.0", measurement=measurement)
    # when it is registered, even on purpose without one, then it is refused
    with pytest.raises(CommandError, match=r"measurement is not valid: .*confusion at 90%"):
        call_command("register_model", str(source), "--unmeasured")
    assert not ModelVersion.objects.exists()


def test_register_model_shipped_registers_the_real_shipped_artifact_with_its_measurement():
    # when the set-up path (`make run`) registers the model the code ships
    call_command("register_model", "--shipped", "--activate")
    # then it is active and carries the measurement of its model.json
    stored = ModelVersion.objects.get(is_active=True)
    assert stored.measurement == read_metadata(SHIPPED_MODEL_DIR).measurement
    assert stored.measurement["data"] == "real-photos-dev"
