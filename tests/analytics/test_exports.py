"""CSV exports: every face once with the database's values, safe in spreadsheets, scoped."""

import csv
import datetime as dt
import io
from typing import Any

import pytest
from django.core.management import call_command
from django.http import StreamingHttpResponse
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from analytics.exports import (
    FACE_COLUMNS,
    ad_columns,
    bom_requested,
    cell_safe,
    csv_lines,
    export_filename,
    streaming_csv_response,
)
from analytics.selectors.dashboards import DashboardFilters
from api.services import api_token_create
from campaigns.models import PROB_FIELDS, Campaign, Face, ReactionImage
from inference.services import model_version_activate
from ml.metrics import wilson_interval
from tests import factories
from tests.analytics.dashboard_data import batch_on, photo_with_faces, viewer_create

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
    text = b"".join(response.streaming_content).decode("utf-8-sig")  # type: ignore[arg-type]
    return list(csv.DictReader(io.StringIO(text)))


def test_face_export_streams_every_face_with_its_database_values(client, exported):
    user, campaign, _ad, model = exported
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
        assert processed_at is not None
        # as Excel parses a date and time: site time zone, no "T", no offset
        local = timezone.localtime(processed_at).replace(microsecond=0, tzinfo=None)
        assert row["processed_at"] == f"{local:%Y-%m-%d %H:%M:%S}"
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
    user, campaign, _ad, _ = exported
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
    rows = list(csv.DictReader(out.open(encoding="utf-8-sig")))
    assert len(rows) == 6 and rows[0]["campaign"].startswith("'=")
    ads = tmp_path / "ads.csv"
    call_command("export_csv", "--ad", str(ad.pk), "--level", "ads", "-o", str(ads), "--bom")
    text = ads.read_text(encoding="utf-8")
    assert text.startswith("\ufeff") and text.count("\n") == 2


def test_export_csv_command_writes_a_bom_unless_told_not_to(tmp_path, exported):
    # given a campaign whose name Excel garbles without a BOM
    _, campaign, _, _ = exported
    Campaign.objects.filter(pk=campaign.pk).update(name="Café crème")
    # when exported with the defaults, and with --no-bom
    default, plain = tmp_path / "default.csv", tmp_path / "plain.csv"
    call_command("export_csv", "--campaign", str(campaign.pk), "-o", str(default))
    call_command("export_csv", "--campaign", str(campaign.pk), "-o", str(plain), "--no-bom")
    # then the default starts with the UTF-8 BOM, the other does not, and both hold "Café"
    assert default.read_bytes().startswith(b"\xef\xbb\xbfcampaign,")
    assert plain.read_bytes().startswith(b"campaign,")
    assert "Café crème" in default.read_text(encoding="utf-8-sig")
    assert default.read_bytes()[3:] == plain.read_bytes()


def test_a_streamed_export_starts_with_a_bom_by_default():
    # when a download is made without saying anything about the BOM
    response = streaming_csv_response(filename="x.csv", header=["name"], rows=[["Café"]])
    body = b"".join(response.streaming_content)  # type: ignore[arg-type]
    # then Excel reads it as UTF-8
    assert body == "\ufeffname\r\nCafé\r\n".encode()
    assert "".join(csv_lines(["a"], [])) == "\ufeffa\r\n"
    assert "".join(csv_lines(["a"], [], bom=False)) == "a\r\n"


@pytest.mark.parametrize(
    ("value", "bom"),
    [(None, True), ("", True), ("1", True), ("0", False), ("false", False), ("off", False)],
)
def test_only_an_explicit_bom_0_turns_the_bom_off(value, bom):
    assert bom_requested(value) is bom


def test_export_file_names_differ_whenever_the_contents_can(exported):
    _, _campaign, _, model = exported
    now = timezone.make_aware(dt.datetime(2025, 3, 1, 14, 15, 2))
    plain = DashboardFilters()

    def name(**changes: Any) -> str:
        arguments: dict[str, Any] = {
            "stem": "Café Spring",
            "level": "faces",
            "filters": plain,
            "now": now,
        }
        return export_filename(**(arguments | changes))

    # the same export twice has the same name; it says what, when, and ends in .csv
    assert name() == name() == "cafe-spring-faces-20250301-141502.csv"
    # and every change of what the rows hold changes it
    variants = [
        name(),
        name(level="ads"),
        name(stem="Café Spring - Ad two"),
        name(bom=False),
        name(filters=DashboardFilters(model_version=model)),
        name(filters=DashboardFilters(date_from=dt.date(2025, 2, 1))),
        name(filters=DashboardFilters(date_to=dt.date(2025, 2, 1))),
        name(filters=DashboardFilters(min_confidence=0.5)),
        name(filters=DashboardFilters(segment=("market", "DE"))),
        name(level="timeline", bin_seconds=1.0),
        name(level="timeline", bin_seconds=0.5),
        name(now=now + dt.timedelta(seconds=1)),
    ]
    assert len(set(variants)) == len(variants), variants
    assert all(v.endswith(".csv") and " " not in v for v in variants)
    # and a name that slugifies to nothing still names the file
    assert export_filename(stem="¿?", level="ads", now=now).startswith("export-ads-")


def test_the_per_ad_summary_leads_with_positive_negative_and_dominant(client, exported):
    user, campaign, _ad, _ = exported
    client.force_login(user)
    # when the per-ad summary is downloaded
    rows = _rows(
        client.get(reverse("campaigns:campaign_export", args=[campaign.pk]), {"level": "ads"})
    )
    by_ad = {row["ad"]: row for row in rows}
    # then ad 1 (happy, sad, fear, neutral) is 1/4 positive, 2/4 negative, with Wilson bounds
    first = by_ad["'+cmd|' /C calc'!A0"]
    assert float(first["positive"]) == pytest.approx(0.25)
    assert float(first["negative"]) == pytest.approx(0.5)
    bounds = wilson_interval(2, 4)
    assert float(first["negative_ci_low"]) == pytest.approx(bounds.low, abs=1e-6)
    assert float(first["negative_ci_high"]) == pytest.approx(bounds.high, abs=1e-6)
    assert float(first["positive_ci_low"]) < 0.25 < float(first["positive_ci_high"])
    # and ad two (two angry faces) is all negative, mostly negative
    second = by_ad["Ad two"]
    assert (float(second["positive"]), float(second["negative"])) == (0.0, 1.0)
    assert second["dominant"] == "negative"
    # and a model without a measurement says its shares are as classified, with the same
    # figures in the as-classified columns
    assert "as classified" in first["shares"]
    assert first["negative_as_classified"] == first["negative"]
    # and the headline comes right after the counts, before the seven emotions
    columns = list(rows[0].keys())
    assert columns.index("dominant") < columns.index("positive") < columns.index("n_angry")


def test_the_per_ad_summary_leaves_the_headline_blank_for_an_ad_without_faces(client, exported):
    user, campaign, _, _ = exported
    factories.ad_create(campaign=campaign, name="Not shown yet")
    client.force_login(user)
    rows = _rows(
        client.get(reverse("campaigns:campaign_export", args=[campaign.pk]), {"level": "ads"})
    )
    empty = {row["ad"]: row for row in rows}["Not shown yet"]
    assert empty["faces"] == "0"
    assert [empty[c] for c in ("dominant", "positive", "negative_ci_high")] == ["", "", ""]


def test_face_times_are_excel_dates_in_the_sites_time_zone(client, exported, settings):
    # given a site in Berlin and faces of a photo analysed at noon UTC
    settings.TIME_ZONE = "Europe/Berlin"
    user, campaign, *_ = exported
    noon_utc = dt.datetime(2025, 3, 1, 12, 0, 0, 123456, tzinfo=dt.UTC)
    ReactionImage.objects.filter(batch__ad__campaign=campaign).update(processed_at=noon_utc)
    client.force_login(user)
    # when the faces are exported
    rows = _rows(client.get(reverse("campaigns:campaign_export", args=[campaign.pk])))
    # then the time is Berlin's, written as Excel parses a date and time
    assert {row["processed_at"] for row in rows} == {"2025-03-01 13:00:00"}


def test_header_cells_named_by_a_manifest_are_neutralised_on_every_path(client, exported, tmp_path):
    # given a viewer whose attribute names (the viewers export's columns, from a manifest)
    # would run as formulas
    user, campaign, ad, _model = exported
    evil = ["=1+2", '=HYPERLINK("https://evil.example","x")', "@SUM(A1)", "+A1*2", "-2+3"]
    viewer = viewer_create(campaign=campaign, external_id="v1", **dict.fromkeys(evil, "x"))
    ReactionImage.objects.filter(batch__ad=ad).update(viewer=viewer)
    # when the viewers export is downloaded from the dashboard, the API and the command
    client.force_login(user)
    web = client.get(reverse("campaigns:campaign_export", args=[campaign.pk]), {"level": "viewers"})
    _, secret = api_token_create(user=user, team=campaign.team, name="export")
    api = Client(headers={"Authorization": f"Bearer {secret}"}).get(
        f"/api/v1/campaigns/{campaign.pk}/export/", {"level": "viewers"}, HTTP_ACCEPT="text/csv"
    )
    out = tmp_path / "viewers.csv"
    call_command("export_csv", "--campaign", str(campaign.pk), "--level", "viewers", "-o", str(out))
    headers = [
        next(csv.reader(io.StringIO(text)))
        for text in (
            b"".join(web.streaming_content).decode("utf-8-sig"),
            b"".join(api.streaming_content).decode("utf-8-sig"),  # type: ignore[attr-defined]
            out.read_text(encoding="utf-8-sig"),
        )
    ]
    # then every header cell that a spreadsheet would run starts with a quote, on all three
    for header in headers:
        assert sorted(h for h in header if h.startswith("'")) == sorted(f"'{name}" for name in evil)
        assert not any(h.startswith(("=", "+", "-", "@")) for h in header)
