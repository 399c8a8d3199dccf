"""CSV exports: every face once with the database's values, safe in spreadsheets, scoped."""

import csv
import io

import pytest
from django.core.management import call_command
from django.http import StreamingHttpResponse
from django.urls import reverse

from campaigns.exports import FACE_COLUMNS, ad_columns, cell_safe
from campaigns.models import PROB_FIELDS, Face
from inference.services import model_version_activate
from tests import factories
from tests.campaigns.dashboard_data import batch_on, photo_with_faces

pytestmark = pytest.mark.django_db


@pytest.fixture
def exported():
    """A campaign whose names try formula injection; ad 1 has 2 photos with 3 + 1 faces."""
    team = factories.team_create()
    user = factories.user_create(team=team)
    campaign = factories.campaign_create(team=team, name='=HYPERLINK("http://x")')
    model = model_version_activate(model_version=factories.model_version_create(version="2.0"))
    ad = factories.ad_create(campaign=campaign, name="+cmd|' /C calc'!A0")
    other_ad = factories.ad_create(campaign=campaign, name="Ad two")
    batch = batch_on(ad=ad)
    photo_with_faces(
        batch=batch, model_version=model, labels=["happy", "sad", "fear"], name="@a.jpg"
    )
    photo_with_faces(batch=batch, model_version=model, labels=["neutral"], name="-b.jpg")
    photo_with_faces(batch=batch_on(ad=other_ad), model_version=model, labels=["angry"] * 2)
    return user, campaign, ad, model


def _rows(response: StreamingHttpResponse) -> list[dict[str, str]]:
    text = b"".join(response.streaming_content).decode("utf-8")  # type: ignore[arg-type]
    return list(csv.DictReader(io.StringIO(text)))


def test_face_export_streams_every_face_with_its_database_values(client, exported):
    user, campaign, ad, model = exported
    client.force_login(user)
    # when the campaign's faces are downloaded
    response = client.get(reverse("campaigns:campaign_export", args=[campaign.pk]))
    # then it streams one row per face, equal to the database rows
    assert isinstance(response, StreamingHttpResponse)
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = _rows(response)
    assert list(rows[0].keys()) == list(FACE_COLUMNS)
    faces = Face.objects.filter(image__batch__ad__campaign=campaign).order_by("image_id", "id")
    assert len(rows) == faces.count() == 6
    for row, face in zip(rows, faces, strict=True):
        assert row["label"] == face.label
        assert (int(row["x"]), int(row["y"]), int(row["w"]), int(row["h"])) == (
            face.x,
            face.y,
            face.w,
            face.h,
        )
        for field in PROB_FIELDS:
            assert float(row[field]) == pytest.approx(getattr(face, field), abs=1e-6)
        assert float(row["confidence"]) == pytest.approx(max(face.probabilities.values()))
        assert row["model_version"] == f"{model.name} 2.0"
        processed_at = face.image.processed_at
        assert processed_at is not None and row["processed_at"] == processed_at.isoformat()
    # face index counts faces within each photo
    assert [r["face_index"] for r in rows[:4]] == ["0", "1", "2", "0"]


def test_export_neutralises_spreadsheet_formulas(client, exported):
    user, campaign, *_ = exported
    client.force_login(user)
    rows = _rows(client.get(reverse("campaigns:campaign_export", args=[campaign.pk])))
    assert rows[0]["campaign"] == '\'=HYPERLINK("http://x")'
    assert rows[0]["ad"] == "'+cmd|' /C calc'!A0"
    assert rows[0]["image"] == "'@a.jpg"
    assert rows[3]["image"] == "'-b.jpg"
    assert cell_safe("\tx") == "'\tx" and cell_safe("\rx") == "'\rx"
    assert cell_safe(-1.5) == -1.5 and cell_safe("ok") == "ok"


def test_excel_export_starts_with_a_bom(client, exported):
    user, campaign, *_ = exported
    client.force_login(user)
    response = client.get(reverse("campaigns:campaign_export", args=[campaign.pk]), {"bom": "1"})
    body = b"".join(response.streaming_content)
    assert body.startswith(b"\xef\xbb\xbfcampaign,")


def test_ad_level_export_has_counts_shares_and_interval_bounds(client, exported):
    user, campaign, ad, _ = exported
    client.force_login(user)
    rows = _rows(
        client.get(reverse("campaigns:campaign_export", args=[campaign.pk]), {"level": "ads"})
    )
    assert list(rows[0].keys()) == list(ad_columns())
    by_ad = {row["ad"]: row for row in rows}
    first = by_ad["'+cmd|' /C calc'!A0"]
    assert (first["photos"], first["faces"], first["n_happy"]) == ("2", "4", "1")
    assert float(first["share_happy"]) == pytest.approx(0.25)
    assert float(first["share_happy_ci_low"]) < 0.25 < float(first["share_happy_ci_high"])
    assert by_ad["Ad two"]["n_angry"] == "2"


def test_ad_export_holds_only_that_ads_faces(client, exported):
    user, _, ad, _ = exported
    client.force_login(user)
    rows = _rows(client.get(reverse("campaigns:ad_export", args=[ad.pk])))
    assert len(rows) == 4


def test_unknown_export_level_is_a_404(client, exported):
    user, campaign, *_ = exported
    client.force_login(user)
    url = reverse("campaigns:campaign_export", args=[campaign.pk])
    assert client.get(url, {"level": "pixels"}).status_code == 404


def test_export_csv_command_writes_the_same_rows(tmp_path, exported):
    _, campaign, ad, _ = exported
    out = tmp_path / "faces.csv"
    call_command("export_csv", "--campaign", str(campaign.pk), "--output", str(out))
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert len(rows) == 6 and rows[0]["campaign"].startswith("'=")
    ads = tmp_path / "ads.csv"
    call_command("export_csv", "--ad", str(ad.pk), "--level", "ads", "-o", str(ads), "--bom")
    text = ads.read_text(encoding="utf-8")
    assert text.startswith("\ufeff") and text.count("\n") == 2
