"""Excel files that open right everywhere: the XLSX workbook (numbers as numbers, dates as
dates, a sheet per level, a sheet of what each column means) and the European CSV dialect
(semicolons, decimal commas), each read back as a spreadsheet user's tool reads it."""

from __future__ import annotations

import csv
import datetime as dt
import io

import openpyxl
import pandas as pd  # type: ignore[import-untyped]
from django.core.management import call_command
from django.urls import reverse

from analytics import exports
from tests import factories
from tests.analytics.dashboard_data import photo_with_faces


def _csv(client, campaign, **query) -> str:
    response = client.get(reverse("campaigns:campaign_export", args=[campaign.pk]), query)
    assert response.status_code == 200
    return b"".join(response.streaming_content).decode("utf-8-sig")


def test_the_workbook_has_a_sheet_per_level_with_numbers_dates_and_exact_text(client, reported):
    # a photo with a face and no viewer, so the faces sheet has a processed time
    batch = reported.ads["a"].batches.get()
    photo_with_faces(batch=batch, model_version=reported.model, labels=["happy"], name="=cmd|x.jpg")
    client.force_login(reported.user)
    response = client.get(reverse("reports:campaign_workbook", args=[reported.campaign.pk]))
    assert response.status_code == 200
    assert response["Content-Disposition"].endswith('.xlsx"')
    book = openpyxl.load_workbook(io.BytesIO(response.content))
    # one sheet per level, then what each column means
    assert book.sheetnames == ["Ads", "Timeline", "Viewers", "Faces", "Columns"]
    ads = list(book["Ads"].iter_rows(values_only=True))
    header = ads[0]
    assert header == exports.ad_columns()
    rows = {row[header.index("ad")]: row for row in ads[1:]}
    # text someone wrote is kept as written, as a string (never a formula)
    assert set(rows) == {"Spot A", "=Spot B <&>"}
    cells = {c.value: c for c in book["Ads"]["B"]}
    assert cells["=Spot B <&>"].data_type == "s"
    # figures are numbers, the unmeasured emotion blank, never 0
    spot_a = rows["Spot A"]
    for name in ("positive", "positive_ci_low", "units", "faces", "n_happy", "share_happy"):
        assert isinstance(spot_a[header.index(name)], int | float), name
    assert spot_a[header.index("share_disgust")] is None
    assert "disgust" in spot_a[header.index("not_measured")]
    # times are dates
    faces = list(book["Faces"].iter_rows(values_only=True))
    processed = faces[0].index("processed_at")
    assert any(isinstance(row[processed], dt.datetime) for row in faces[1:])
    assert any(row[faces[0].index("image")] == "=cmd|x.jpg" for row in faces[1:])
    # the Columns sheet names the model and explains every column
    about = [
        tuple(v for v in row if v is not None)
        for row in book["Columns"].iter_rows(values_only=True)
    ]
    assert ("Figures by", "fer-cnn 7.0") in about
    explained = {(row[0], row[1]) for row in about if row and len(row) == 3}
    assert ("Ads", "positive_ci_low") in explained
    assert all(row[2] for row in about if row and len(row) == 3 and row[0] != "sheet")
    viewers = list(book["Viewers"].iter_rows(values_only=True))
    assert ("Viewers", "market") in explained
    assert any(row[viewers[0].index("market")] == "DE" for row in viewers[1:])


def test_pandas_reads_the_workbook_as_the_csv_without_the_formula_guards_quote(client, reported):
    client.force_login(reported.user)
    response = client.get(
        reverse("reports:campaign_workbook", args=[reported.campaign.pk]), {"level": "ads"}
    )
    from_xlsx = pd.read_excel(io.BytesIO(response.content), sheet_name="Ads")
    from_csv = pd.read_csv(io.StringIO(_csv(client, reported.campaign, level="ads")))
    # the CSV guards the formula-like name for Excel; the workbook needs no guard
    assert sorted(from_xlsx["ad"]) == ["=Spot B <&>", "Spot A"]
    assert "'=Spot B <&>" in set(from_csv["ad"])
    for column in ("positive", "positive_ci_low", "negative_ci_high", "valence", "units"):
        assert from_xlsx[column].dtype.kind in "if", column
        assert from_xlsx[column].tolist() == from_csv[column].tolist(), column


def test_the_european_csv_opens_with_semicolons_and_decimal_commas(client, reported):
    client.force_login(reported.user)
    standard = _csv(client, reported.campaign, level="ads")
    european = _csv(client, reported.campaign, level="ads", dialect="eu")
    rows = list(csv.reader(io.StringIO(european), delimiter=";"))
    header = rows[0]
    assert header == list(exports.ad_columns())
    spot_b = next(row for row in rows if row[1] == "'=Spot B <&>")  # the guard is kept
    assert "," in spot_b[header.index("positive")] and "." not in spot_b[header.index("positive")]
    assert spot_b[header.index("valence")].startswith(("0,", "-0,"))
    # read as a European Excel user's tool reads it, it is the standard file
    read = pd.read_csv(io.StringIO(european), sep=";", decimal=",")
    expected = pd.read_csv(io.StringIO(standard))
    pd.testing.assert_frame_equal(read, expected)
    response = client.get(
        reverse("campaigns:campaign_export", args=[reported.campaign.pk]),
        {"level": "ads", "dialect": "eu"},
    )
    assert "-eu-" in response["Content-Disposition"]


def test_the_european_dialect_from_the_command_and_the_api(client, reported, tmp_path):
    output = tmp_path / "ads.csv"
    call_command(
        "export_csv",
        campaign=reported.campaign.pk,
        level="viewers",
        dialect="eu",
        output=str(output),
    )
    text = output.read_text(encoding="utf-8-sig")
    header = text.splitlines()[0].split(";")
    assert "market" in header and "positive" in header
    client.force_login(reported.user)
    response = client.get(
        f"/api/v1/campaigns/{reported.campaign.pk}/export/", {"level": "ads", "dialect": "eu"}
    )
    assert response.status_code == 200
    body = b"".join(response.streaming_content).decode("utf-8-sig")
    assert body.splitlines()[0].startswith("campaign;ad;photos")


def test_a_viewer_attribute_that_looks_like_a_number_stays_text(client, reported):
    # given an attribute whose values look like figures ("1.5" is a wave, not a number)
    viewer = reported.campaign.viewers.first()
    viewer.attributes.create(name="wave", value="1.5")
    client.force_login(reported.user)
    european = _csv(client, reported.campaign, level="viewers", dialect="eu")
    rows = list(csv.reader(io.StringIO(european), delimiter=";"))
    assert "1.5" in [row[rows[0].index("wave")] for row in rows[1:]]
    response = client.get(
        reverse("reports:campaign_workbook", args=[reported.campaign.pk]), {"level": "viewers"}
    )
    sheet = openpyxl.load_workbook(io.BytesIO(response.content))["Viewers"]
    values = list(sheet.iter_rows(values_only=True))
    assert "1.5" in [row[values[0].index("wave")] for row in values[1:]]


def test_another_teams_workbook_is_a_404(client, reported):
    client.force_login(factories.user_create(team=factories.team_create()))
    assert (
        client.get(reverse("reports:campaign_workbook", args=[reported.campaign.pk])).status_code
        == 404
    )
    assert (
        client.get(reverse("reports:ad_workbook", args=[reported.ads["a"].pk])).status_code == 404
    )
    assert (
        client.get(reverse("reports:campaign_report", args=[reported.campaign.pk])).status_code
        == 404
    )


def test_one_ads_workbook_holds_that_ad_only(client, reported):
    client.force_login(reported.user)
    dashboard = client.get(reverse("campaigns:campaign_dashboard", args=[reported.campaign.pk]))
    url = reverse("reports:ad_workbook", args=[reported.ads["a"].pk])
    assert url in dashboard.content.decode()
    response = client.get(url, {"level": "viewers"})
    book = openpyxl.load_workbook(io.BytesIO(response.content))
    assert book.sheetnames == ["Viewers", "Columns"]
    rows = list(book["Viewers"].iter_rows(values_only=True))
    assert {row[0] for row in rows[1:]} == {"Spot A"} and len(rows) == 13
    assert client.get(url, {"level": "nope"}).status_code == 404
