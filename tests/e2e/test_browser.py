"""The marketer's path in a real browser: Debian's Chromium driven by Playwright.

log in -> create a campaign and an ad -> upload a ZIP -> watch the batch finish (a real Celery
worker process on the test database) -> the dashboard shows the right counts and draws its
charts -> the CSV download equals the database. A user of another team gets 404s.
A failing step leaves a screenshot in var/test-artifacts/.
"""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import pytest

from analytics.selectors.dashboards import READABLE
from campaigns.models import Ad, BatchStatus, Campaign, Face, UploadBatch
from tests import factories
from tests.browser_support import log_in, needs_chromium, step
from tests.ingest_support import batch_wait, zip_build

BATCH_TIMEOUT_S = 240

pytestmark = [
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    needs_chromium,
]


def test_marketer_uploads_photos_and_reads_the_dashboard_and_export(
    browser,
    live_server,
    active_model,
    face_photos,
    worker_start,
    tmp_path,
):
    base = live_server.url
    team = factories.team_create(name="Browser team")
    user = factories.user_create(username="marketer", team=team)
    worker = worker_start()
    context = browser.new_context(accept_downloads=True)
    page = context.new_page()

    with step(page, "1-log-in"):
        log_in(page, base, user.username)

    with step(page, "2-create-campaign-and-ad"):
        page.click("text=New campaign")
        page.fill("input[name=name]", "Summer drinks")
        page.select_option("select[name=team]", label="Browser team")
        page.click("main button[type=submit], main input[type=submit]")
        page.wait_for_url(re.compile(r".*/campaigns/\d+/$"))
        page.click("text=New ad")
        page.fill("input[name=name]", "Beach spot")
        page.click("main button[type=submit], main input[type=submit]")
        # a new ad opens on its own page, where its photos are uploaded
        page.wait_for_url(re.compile(r".*/ads/\d+/$"))
        campaign = Campaign.objects.get(team=team, name="Summer drinks")
        ad = Ad.objects.get(campaign=campaign, name="Beach spot")
        assert page.url == f"{base}/ads/{ad.pk}/"
        assert "No uploads yet" in page.inner_text("main")

    with step(page, "3-upload-zip"):
        archive = tmp_path / "reactions.zip"
        archive.write_bytes(
            zip_build({f"viewer-{i:02d}.jpg": data for i, data in enumerate(face_photos[:6])})
        )
        page.click("#upload-photos")
        page.set_input_files("input[type=file]", str(archive))
        page.click("#upload-form button[type=submit]")
        page.wait_for_url(re.compile(r".*/batches/\d+/$"))
        batch = UploadBatch.objects.get(ad=ad)

    with step(page, "4-progress-to-done"):
        batch = batch_wait(
            batch, until=lambda b: b.is_finished, timeout=BATCH_TIMEOUT_S, workers=[worker]
        )
        assert batch.status == BatchStatus.DONE, batch.error
        faces = Face.objects.filter(image__batch=batch)
        assert faces.count() > 0
        # the batch page polls its status endpoint and shows the final counts
        page.wait_for_function(
            "n => document.getElementById('faces').textContent.trim() === String(n)",
            arg=faces.count(),
            timeout=30_000,
        )

    with step(page, "5-dashboard"):
        page.goto(f"{base}/campaigns/{campaign.pk}/dashboard/")
        row = page.locator(f"#ad-comparison tr[data-ad-id='{ad.pk}']")
        # faces too poor to read (quality below the threshold) are kept but not counted
        readable = faces.filter(READABLE).count()
        assert row.locator("[data-col=faces]").inner_text() == str(readable)
        assert row.locator("[data-col=photos]").inner_text() == str(batch.images_processed)
        page.wait_for_selector("#emotion-mix-chart[data-rendered=true] .main-svg")
        # one stacked bar segment per emotion the model measures (the others one grey
        # part), drawn by Plotly from local static files
        drawn = page.locator("#emotion-mix-chart .trace.bars").count()
        traces = json.loads(page.inner_text("#bar-chart-data"))["traces"]
        assert drawn == len(traces) >= 5
        # and the ad is said to be mostly what its shares say
        dominant = row.locator("[data-col=dominant]").inner_text()
        shares = {
            key: float(row.locator(f"[data-col={key}]").inner_text().split("%")[0])
            for key in ("positive", "negative")
        }
        neither = 100 - sum(shares.values())
        expected = max([*shares.items(), ("neither", neither)], key=lambda item: item[1])[0]
        assert dominant == expected

    with step(page, "6-csv-download"):
        with page.expect_download() as download_info:
            page.click("#export-faces")
        path = download_info.value.path()
        # utf-8-sig: the file may start with a BOM for Excel
        rows = list(csv.DictReader(io.StringIO(Path(path).read_text(encoding="utf-8-sig"))))
        ordered = faces.order_by("image_id", "id")
        assert len(rows) == ordered.count()
        for row_data, face in zip(rows, ordered, strict=True):
            assert row_data["label"] == face.label
            assert float(row_data["prob_happy"]) == pytest.approx(face.prob_happy, abs=1e-6)
            assert row_data["image"] == face.image.original_name

    with step(page, "7-photo-grid"):
        page.goto(f"{base}/ads/{ad.pk}/")
        assert page.locator("#photo-grid .face-box").count() == faces.count()
        page.wait_for_function(
            "() => [...document.querySelectorAll('#photo-grid img')]"
            ".every(img => img.complete && img.naturalWidth > 0)"
        )

    stranger = factories.user_create(username="stranger", team=factories.team_create())
    other = browser.new_context().new_page()
    with step(other, "8-other-team-gets-404"):
        log_in(other, base, stranger.username)
        first_face = faces.first()
        assert first_face is not None
        image = first_face.image
        for url in (
            f"/campaigns/{campaign.pk}/",
            f"/campaigns/{campaign.pk}/dashboard/",
            f"/campaigns/{campaign.pk}/export.csv",
            f"/ads/{ad.pk}/",
            f"/batches/{batch.pk}/",
            f"/photos/{image.pk}/",
            f"/photos/{image.pk}/file",
        ):
            response = other.request.get(base + url)
            assert response.status == 404, url
        assert "Summer drinks" not in other.inner_text("main")
    context.close()
