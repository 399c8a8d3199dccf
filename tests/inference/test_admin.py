"""Model version admin: metrics in the list, checked ZIP upload, activation."""

import io
import json
import shutil
import zipfile
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from inference.models import ModelVersion
from inference.services import model_version_activate, model_version_register
from ml.artifact import CARD_FILE, ArtifactMetadata, write_metadata
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    client.force_login(get_user_model().objects.create_superuser("root", password="x"))
    return client


def _zip(folder: Path, *, under: str = "") -> SimpleUploadedFile:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for path in folder.rglob("*"):
            if path.is_file():
                zf.write(path, f"{under}{path.relative_to(folder).as_posix()}")
    return SimpleUploadedFile("artifact.zip", buffer.getvalue(), content_type="application/zip")


def _artifact(tmp_path: Path, tiny_model_dir: Path, *, version: str, measured: bool = True) -> Path:
    folder = tmp_path / f"tiny-{version}"
    shutil.copytree(tiny_model_dir, folder)
    write_metadata(
        folder,
        ArtifactMetadata(
            name="tiny",
            version=version,
            metrics={"accuracy": 0.6612, "macro_f1": 0.6401},
            measurement=factories.measurement_create() if measured else {},
        ),
    )
    return folder


def _measured_version(measurement: dict) -> ModelVersion:
    """fer-cnn 1.0 with FER2013 figures and `measurement` (its errors on real photos)."""
    return ModelVersion.objects.create(
        name="fer-cnn",
        version="1.0",
        artifact="models/fer-cnn/1.0/",
        classes=[],
        metrics={"accuracy": 0.6612, "macro_f1": 0.6401},
        measurement=measurement,
    )


def test_list_shows_real_photo_accuracy_beside_fer2013s(admin_client):
    # given a measured version (230 of its 280 labelled photos read right) and an unmeasured one
    _measured_version(factories.measurement_create())
    factories.model_version_create(version="0.9")
    # when the list is opened
    html = admin_client.get(reverse("admin:inference_modelversion_changelist")).content.decode()
    # then both accuracies are columns, each labelled with what it is measured on
    assert "FER2013 accuracy" in html and "Real-photo accuracy" in html
    assert '<td class="field-accuracy">66.1%</td>' in html
    assert '<td class="field-macro_f1">64.0%</td>' in html
    assert '<td class="field-real_photo_accuracy">82.1% (230/280)</td>' in html
    assert '<td class="field-real_photo_accuracy">not measured</td>' in html


def test_uploaded_artifact_is_checked_registered_and_activated(
    admin_client, tmp_path, tiny_model_dir
):
    # given a ZIP of a working artifact folder (inside a top-level folder, as zip -r makes it)
    upload = _zip(_artifact(tmp_path, tiny_model_dir, version="3.0"), under="tiny-3.0/")
    # when it is uploaded with "activate"
    response = admin_client.post(
        reverse("admin:inference_modelversion_add"), {"archive": upload, "activate": "on"}
    )
    # then it is registered, stored and active
    model_version = ModelVersion.objects.get(name="tiny", version="3.0")
    assert response.status_code == 302
    assert model_version.is_active
    assert model_version.metrics["accuracy"] == pytest.approx(0.6612)
    assert model_version.measurement == factories.measurement_create()
    assert default_storage.exists(model_version.artifact + "model.keras")


def test_an_artifact_without_a_measurement_is_refused_unless_uploaded_so_on_purpose(
    admin_client, tmp_path, tiny_model_dir
):
    # given an artifact whose errors on real photos were never measured
    folder = _artifact(tmp_path, tiny_model_dir, version="5.0", measured=False)
    add = reverse("admin:inference_modelversion_add")
    # when it is uploaded, then the form says why it is refused, and nothing is stored
    refused = admin_client.post(add, {"archive": _zip(folder)}).content.decode()
    assert "no measurement of its errors on real photos" in refused
    assert not ModelVersion.objects.exists()
    # when it is uploaded with the box that says so ticked
    response = admin_client.post(add, {"archive": _zip(folder), "unmeasured": "on"}, follow=True)
    # then it is registered, with a warning of what its dashboards will show
    assert ModelVersion.objects.get(name="tiny", version="5.0").measurement == {}
    assert "shares as classified, uncorrected" in response.content.decode()


def test_artifact_whose_model_cannot_load_is_refused_and_nothing_stored(
    admin_client, tmp_path, tiny_model_dir
):
    # given an artifact whose model.keras is not a model
    folder = _artifact(tmp_path, tiny_model_dir, version="4.0")
    (folder / "model.keras").write_bytes(b"not a keras file")
    # when uploaded
    response = admin_client.post(
        reverse("admin:inference_modelversion_add"), {"archive": _zip(folder)}
    )
    # then the form says why, and nothing was registered or stored
    assert response.status_code == 200
    assert "could not be loaded" in response.content.decode()
    assert not ModelVersion.objects.exists()
    assert not default_storage.exists("models/tiny/4.0/model.json")


def test_artifact_whose_model_breaks_the_contract_is_refused(admin_client, tmp_path):
    # given a model with 7 sigmoid outputs (no softmax)
    import keras

    folder = tmp_path / "logits"
    folder.mkdir()
    inputs = keras.Input(shape=(48, 48, 1))
    outputs = keras.layers.Dense(7, activation="sigmoid")(keras.layers.Flatten()(inputs))
    keras.Model(inputs, outputs).save(folder / "model.keras")
    write_metadata(folder, ArtifactMetadata(name="logits", version="1.0"))
    # when uploaded
    response = admin_client.post(
        reverse("admin:inference_modelversion_add"), {"archive": _zip(folder), "unmeasured": "on"}
    )
    # then it is refused with the reason
    assert "do not sum to 1" in response.content.decode()
    assert not ModelVersion.objects.exists()


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"plain text", "not a ZIP archive"),
        ("traversal", "points outside the folder"),
        ("empty", "no model.json in the ZIP"),
    ],
)
def test_bad_archives_get_a_clear_error(admin_client, payload, message):
    if payload == "traversal":
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as zf:
            zf.writestr("../../evil.json", "{}")
        payload = buffer.getvalue()
    elif payload == "empty":
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as zf:
            zf.writestr("readme.txt", "hello")
        payload = buffer.getvalue()
    response = admin_client.post(
        reverse("admin:inference_modelversion_add"),
        {"archive": SimpleUploadedFile("a.zip", payload)},
    )
    assert message in response.content.decode()
    assert not ModelVersion.objects.exists()


def test_activate_action_keeps_exactly_one_active(admin_client):
    old = model_version_activate(model_version=factories.model_version_create(version="1.0"))
    new = factories.model_version_create(version="2.0")
    admin_client.post(
        reverse("admin:inference_modelversion_changelist"),
        {"action": "activate", "_selected_action": [new.pk]},
    )
    assert list(ModelVersion.objects.filter(is_active=True)) == [new]
    old.refresh_from_db()
    assert not old.is_active


def test_change_page_shows_confusion_matrix_and_report(admin_client, tmp_path):
    # given a registered artifact with a report and a confusion image
    folder = factories.artifact_dir_create(tmp_path)
    report = {
        "test": {
            "accuracy": 0.66,
            "per_class": {"happy": {"precision": 0.85, "recall": 0.88, "f1": 0.865, "support": 9}},
        }
    }
    (folder / "report.json").write_text(json.dumps(report))
    (folder / "confusion.png").write_bytes(b"\x89PNG fake image bytes")
    model_version = model_version_register(source_dir=folder, allow_unmeasured=True)
    # when the change page is opened
    html = admin_client.get(
        reverse("admin:inference_modelversion_change", args=[model_version.pk])
    ).content.decode()
    # then it embeds the confusion image (served from storage) and the per-class table
    image_url = reverse(
        "admin:inference_modelversion_file", args=[model_version.pk, "confusion.png"]
    )
    assert image_url in html
    assert "<td>happy</td><td>0.850</td><td>0.880</td><td>0.865</td><td>9</td>" in html
    image = admin_client.get(image_url)
    assert b"".join(image.streaming_content) == b"\x89PNG fake image bytes"
    assert (
        admin_client.get(
            reverse("admin:inference_modelversion_file", args=[model_version.pk, "model.keras"])
        ).status_code
        == 404
    )


def test_admin_is_staff_only(client):
    client.force_login(factories.user_create(team=factories.team_create()))
    response = client.get(reverse("admin:inference_modelversion_changelist"))
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def _staff(client, *codenames: str):
    user = factories.user_create(team=factories.team_create())
    user.is_staff = True
    user.save()
    user.user_permissions.set(Permission.objects.filter(codename__in=codenames))
    client.force_login(user)
    return client


def test_view_only_staff_can_read_model_versions_but_not_activate_or_upload(client, tmp_path):
    # given an active version and another one, and a staff member who may only view them
    old = model_version_activate(model_version=factories.model_version_create(version="1.0"))
    new = factories.model_version_create(version="2.0")
    staff = _staff(client, "view_modelversion")
    changelist = reverse("admin:inference_modelversion_changelist")
    # when they list the versions, then they see them, without the activate action
    page = staff.get(changelist)
    assert page.status_code == 200 and "2.0" in page.content.decode()
    assert 'value="activate"' not in page.content.decode()
    # when they post the activate action anyway, then nothing changes for anyone
    staff.post(changelist, {"action": "activate", "_selected_action": [new.pk]})
    assert list(ModelVersion.objects.filter(is_active=True)) == [old]
    # and the upload page is refused
    assert staff.get(reverse("admin:inference_modelversion_add")).status_code == 403


def test_staff_with_the_change_permission_activates_a_version(client):
    old = model_version_activate(model_version=factories.model_version_create(version="1.0"))
    new = factories.model_version_create(version="2.0")
    staff = _staff(client, "view_modelversion", "change_modelversion")
    changelist = reverse("admin:inference_modelversion_changelist")
    assert 'value="activate"' in staff.get(changelist).content.decode()
    staff.post(changelist, {"action": "activate", "_selected_action": [new.pk]})
    assert list(ModelVersion.objects.filter(is_active=True)) == [new]
    old.refresh_from_db()
    assert not old.is_active


def test_change_page_shows_the_measured_errors_with_rates_counts_and_reliability(
    admin_client, tmp_path
):
    # given a version whose errors on 280 labelled real photos were measured
    folder = factories.artifact_dir_create(tmp_path, measurement=factories.measurement_create())
    model_version = model_version_register(source_dir=folder)
    # when its page is opened
    html = admin_client.get(
        reverse("admin:inference_modelversion_change", args=[model_version.pk])
    ).content.decode()
    # then it says what the measurement rests on
    assert "on 280 labelled real photos of labelled-photos (140 people)" in html
    # and the headline errors as shares of the row with their photos: of 80 photos showing
    # neutral or surprise, 10 (a quarter of the neutral ones) were read as negative
    assert (
        "<tr><th>other</th><td>0% (0)</td><td>12% (10)</td><td>88% (70)</td><td>80</td></tr>"
        in html
    )
    # and per emotion its photos, recall, AUC and whether it is measured reliably, or why not
    assert "<tr><td>neutral</td><td>40</td><td>75.0%</td><td>0.79</td><td>yes</td></tr>" in html
    assert (
        "<tr><td>disgust</td><td>40</td><td>0.0%</td><td>0.50</td><td>no: its probability" in html
    )


def test_change_page_of_an_unmeasured_version_says_its_shares_are_uncorrected(admin_client):
    model_version = factories.model_version_create(version="1.0")
    html = admin_client.get(
        reverse("admin:inference_modelversion_change", args=[model_version.pk])
    ).content.decode()
    assert "Not measured: its dashboards show shares as classified, uncorrected." in html


def test_list_shows_real_photo_mean_recall_beside_fer2013s_macro_f1(admin_client):
    # given a measured version: its emotions' recalls on real photos in model.json
    measurement = factories.measurement_create()
    _measured_version(measurement)
    recalls = [row["recall"] for row in measurement["emotions"].values()]
    # when the list is opened
    html = admin_client.get(reverse("admin:inference_modelversion_changelist")).content.decode()
    # then the real-photo figure stands beside FER2013's
    assert "Real-photo mean recall" in html
    mean = 100 * sum(recalls) / len(recalls)
    assert f'<td class="field-real_photo_recall">{mean:.1f}%</td>' in html


def test_change_page_shows_metrics_once_and_the_model_card_as_html(admin_client, tmp_path):
    # given a registered artifact whose model card has a heading, a table and raw HTML
    folder = factories.artifact_dir_create(tmp_path)
    (folder / CARD_FILE).write_text(
        "# Model card: tiny 1\n\nIt is **small**.\n\n| class | recall |\n|---|---|\n"
        "| happy | 88% |\n\n<script>alert(1)</script>\n"
    )
    model_version = model_version_register(source_dir=folder, allow_unmeasured=True)
    # when its change page is opened
    html = admin_client.get(
        reverse("admin:inference_modelversion_change", args=[model_version.pk])
    ).content.decode()
    # then the metrics are one table (the raw JSON field is not shown beside it)
    assert 'class="form-row field-metrics_table"' in html
    assert "field-metrics " not in html and 'field-metrics"' not in html
    assert "field-measurement " not in html and 'field-measurement"' not in html
    # and the card is HTML: heading, emphasis and table rendered, its raw HTML escaped
    assert "<h1>Model card: tiny 1</h1>" in html
    assert "<strong>small</strong>" in html
    assert "<td>happy</td>" in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<script>alert(1)</script>" not in html
