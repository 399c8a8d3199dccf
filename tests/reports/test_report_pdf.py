"""The campaign report: parsed back (text, pages) and drawn as images, it holds the
dashboard's own figures, charts and key moments, and says which model made them."""

from __future__ import annotations

import io
import time

import numpy as np
import pypdfium2
from django.core.management import call_command
from django.urls import reverse
from pypdf import PdfReader

from analytics.charts import AD_COLOURS, EMOTION_COLOURS
from analytics.templatetags.figures import points


def _text(reader: PdfReader) -> list[str]:
    """Each page's text with its line breaks and runs of spaces made single spaces."""
    return [" ".join((page.extract_text() or "").split()) for page in reader.pages]


def _colour_pixels(body: bytes, page_index: int, colour: str, tolerance: int = 40) -> int:
    """How many pixels of the page, drawn at 100 dpi, are within `tolerance` of `colour`."""
    document = pypdfium2.PdfDocument(body)
    pixels = np.asarray(document[page_index].render(scale=100 / 72).to_pil().convert("RGB"))
    target = np.array([int(colour[i : i + 2], 16) for i in (1, 3, 5)])
    return int((np.abs(pixels.astype(int) - target).max(axis=2) <= tolerance).sum())


def _page_with(pages: list[str], words: str) -> int:
    return next(i for i, page in enumerate(pages) if words in page)


def test_the_report_holds_the_dashboards_figures_in_words_and_charts(client, reported):
    client.force_login(reported.user)
    dashboard = client.get(reverse("campaigns:campaign_dashboard", args=[reported.campaign.pk]))
    # when the marketer downloads the report from the dashboard
    response = client.get(reverse("reports:campaign_report", args=[reported.campaign.pk]))
    # then it is a PDF named for its campaign
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert 'filename="launch-report-' in response["Content-Disposition"]
    body = response.content
    reader = PdfReader(io.BytesIO(body))
    pages = _text(reader)
    assert len(reader.pages) >= 3
    first = pages[0]
    # its first page says, in words, the verdict, the key moment, the segments, the audience,
    # the model and the filters
    verdict = dashboard.context["verdict"]
    assert " ".join(verdict.summary.split()) in first
    assert "the positive share falls by" in first and "0:05-0:06" in first
    assert "24 viewers" in first and "480 faces" in first
    assert "fer-cnn 7.0" in first and "Filters in force" in first
    assert "broken down by market" in first
    # what the model cannot measure is said, not shown as a share
    assert "disgust" in first and "unknown, not none" in first
    whole = " ".join(pages)
    assert "not measured" in whole
    # every ad's figure is the dashboard's, with its interval and unit
    for standing in verdict.standings:
        interval = standing.estimate.interval
        assert (
            f"{points(standing.estimate.value)}% (95% CI {points(interval.low)} to "
            f"{points(interval.high)}; {standing.estimate.units} viewers)"
        ) in whole
    # an ad name that is markup or a formula elsewhere prints as written
    assert "=Spot B <&>" in whole
    # every page names the model
    assert all("figures by fer-cnn 7.0" in page for page in pages)
    # and the charts are drawn: the ads' lines on the timeline's page, the happy share's
    # colour on the emotion mix's
    timeline_page = _page_with(pages, "over the ad's seconds")
    for colour in AD_COLOURS[:2]:
        assert _colour_pixels(body, timeline_page, colour, tolerance=30) > 200, colour
    mix_page = _page_with(pages, "Emotion mix per ad")
    assert (
        _colour_pixels(body, mix_page + 1, EMOTION_COLOURS["happy"], 30)
        + _colour_pixels(body, mix_page, EMOTION_COLOURS["happy"], 30)
        > 2000
    )


def test_the_report_follows_the_dashboards_filters(client, reported):
    client.force_login(reported.user)
    url = reverse("reports:campaign_report", args=[reported.campaign.pk])
    # when the page is narrowed to DE viewers and ranks by the negative share
    response = client.get(url, {"segment": "market=DE", "headline": "negative"})
    dashboard = client.get(
        reverse("campaigns:campaign_dashboard", args=[reported.campaign.pk]),
        {"segment": "market=DE", "headline": "negative"},
    )
    pages = _text(PdfReader(io.BytesIO(response.content)))
    # then the report says so and shows the same verdict as the page
    assert "Only viewers with market: DE." in pages[0]
    assert "Ads ranked by negative." in pages[0]
    assert " ".join(dashboard.context["verdict"].summary.split()) in pages[0]


def test_the_report_command_writes_the_same_report(reported, tmp_path, report_figure):
    output = tmp_path / "launch.pdf"
    started = time.perf_counter()
    call_command("report", campaign=reported.campaign.pk, output=str(output))
    seconds = time.perf_counter() - started
    reader = PdfReader(str(output))
    assert "Launch: how viewers reacted" in _text(reader)[0]
    report_figure(
        f"report of 2 ads, 24 viewers, 480 faces: {len(reader.pages)} pages, "
        f"{output.stat().st_size / 1024:.0f} KiB in {seconds:.2f} s"
    )


def test_the_dashboard_offers_the_report_and_prints_without_its_controls(client, reported):
    client.force_login(reported.user)
    response = client.get(
        reverse("campaigns:campaign_dashboard", args=[reported.campaign.pk]),
        {"segment": "market=DE"},
    )
    html = response.content.decode()
    # the report and the workbook carry the page's filters
    report_url = reverse("reports:campaign_report", args=[reported.campaign.pk])
    assert f'href="{report_url}?segment=market%3DDE"' in html
    assert reverse("reports:campaign_workbook", args=[reported.campaign.pk]) in html
    assert "dialect=eu" in html
    # printed, the filters and buttons go and a line names the model and the filters
    print_css = html[html.index("@media print") :]
    assert "#dashboard-filters" in print_css and "header" in print_css
    assert 'id="print-summary"' in html and "only market: DE" in html


def test_a_campaign_without_faces_still_gets_a_report_that_says_so(client, reported):
    # given a campaign whose only ad has nothing analysed yet
    client.force_login(reported.user)
    response = client.get(reverse("reports:campaign_report", args=[reported.other_campaign.pk]))
    # then the report is made and says there is nothing to report
    assert response.status_code == 200
    pages = _text(PdfReader(io.BytesIO(response.content)))
    assert "No faces to report yet" in pages[0]
    assert "Other: how viewers reacted" in pages[0]


def test_names_in_other_scripts_and_with_dollars_print_as_written(client, reported):
    # given an ad whose name is Cyrillic and holds what matplotlib would read as mathematics
    type(reported.ads["a"]).objects.filter(pk=reported.ads["a"].pk).update(name="Ролик $1$")
    client.force_login(reported.user)
    response = client.get(reverse("reports:campaign_report", args=[reported.campaign.pk]))
    whole = " ".join(_text(PdfReader(io.BytesIO(response.content))))
    assert "Ролик $1$ is the best ad on positive" in whole
