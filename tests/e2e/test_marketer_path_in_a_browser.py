"""A first-time marketer's pages in Debian's Chromium, on a laptop (1366 px) and a phone
(390 px): the upload page's explanations and example manifest, the ad page's model,
creative and photo grid, the verdict read without scrolling sideways, and the favicon
without a console error. No worker is needed: the rows are written by the test.
"""

from __future__ import annotations

import numpy as np
import pytest
from django.core.files.base import ContentFile

from campaigns.models import UploadBatch
from campaigns.services import teams
from campaigns.services.batches import batch_recount
from inference.services import model_version_activate
from tests import factories
from tests.analytics.dashboard_data import (
    batch_on,
    photo_with_faces,
    viewer_create,
    viewer_video,
)
from tests.browser_support import CHROMIUM, log_in, step
from tests.video_support import video_bytes

pytestmark = [
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not CHROMIUM.is_file(), reason=f"Chromium not found at {CHROMIUM}"),
]

LAPTOP = {"width": 1366, "height": 800}
PHONE = {"width": 390, "height": 844}


def _reactions(*, ad, model, viewers: int, label: str, prefix: str) -> UploadBatch:
    """An analysed upload of `viewers` reaction videos (20 frames each) and 12 photos."""
    batch = batch_on(ad=ad)
    UploadBatch.objects.filter(pk=batch.pk).update(model_version=model)
    for n in range(viewers):
        viewer = viewer_create(
            campaign=ad.campaign, external_id=f"{prefix}-{n}", market="DE" if n % 2 else "FR"
        )
        viewer_video(
            batch=batch,
            model_version=model,
            viewer=viewer,
            labels_at=[(s / 2, label if s % 4 else "neutral") for s in range(20)],
        )
    for n in range(12):
        photo_with_faces(
            batch=batch, model_version=model, labels=[label], name=f"{prefix}-photo-{n:02}.jpg"
        )
    batch_recount(batch=batch)
    return batch


@pytest.fixture
def walk():
    """A campaign of two ads, each with an analysed upload of videos and photos; one ad has
    a video creative and a length, the other, with few viewers, cannot be ranked."""
    team = factories.team_create(name="Launch team")
    user = factories.user_create(username="first-marketer", team=team)
    campaign = factories.campaign_create(team=team, name="Back to school 2025 national launch")
    model = model_version_activate(model_version=factories.model_version_create(version="1.5"))
    frame = np.full((96, 128, 3), 90, dtype=np.uint8)
    spot = teams.ad_create(
        campaign=campaign,
        name="Thirty-second spot, cut for social",
        creative=ContentFile(video_bytes(lambda t: frame, seconds=12, fps=5), name="spot.mp4"),
        duration_seconds=12,
    )
    teaser = factories.ad_create(campaign=campaign, name="Six-second teaser, vertical")
    batch = _reactions(ad=spot, model=model, viewers=12, label="happy", prefix="s")
    _reactions(ad=teaser, model=model, viewers=4, label="sad", prefix="t")
    return {"user": user, "campaign": campaign, "spot": spot, "batch": batch, "model": model}


def _pages(walk) -> dict[str, str]:
    return {
        "campaigns": "/",
        "campaign": f"/campaigns/{walk['campaign'].pk}/",
        "dashboard": f"/campaigns/{walk['campaign'].pk}/dashboard/",
        "ad": f"/ads/{walk['spot'].pk}/",
        "upload": f"/ads/{walk['spot'].pk}/upload/",
        "batch": f"/batches/{walk['batch'].pk}/",
    }


@pytest.mark.parametrize("viewport", [LAPTOP, PHONE], ids=["1366px", "390px"])
def test_the_marketers_pages_fit_the_screen_and_load_without_console_errors(
    browser, live_server, walk, viewport
):
    context = browser.new_context(viewport=viewport)
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on(
        "response",
        lambda r: errors.append(f"{r.status} {r.url}") if r.status >= 400 else None,
    )
    log_in(page, live_server.url, walk["user"].username)
    for name, path in _pages(walk).items():
        with step(page, f"{name}-{viewport['width']}"):
            page.goto(live_server.url + path)
            page.wait_for_load_state("networkidle")
            # then nothing on the page makes it scroll sideways
            widths = page.evaluate("[document.scrollingElement.scrollWidth, window.innerWidth]")
            assert widths[0] <= widths[1], f"{path} is {widths[0]} px wide in {widths[1]}"
            # and its favicon is linked and served
            assert page.locator('link[rel="icon"]').get_attribute("href") == "/favicon.ico"
    favicon = page.evaluate(
        "fetch('/favicon.ico').then(r => r.blob().then(b => [r.status, b.type, b.size]))"
    )
    assert favicon[0] == 200 and favicon[1] in ("image/x-icon", "image/vnd.microsoft.icon")
    assert 0 < favicon[2] < 10_000
    # and no page logged an error or failed to load any of its parts
    assert errors == []
    context.close()


def test_the_verdict_reads_top_to_bottom_on_a_phone(browser, live_server, walk):
    context = browser.new_context(viewport=PHONE)
    page = context.new_page()
    log_in(page, live_server.url, walk["user"].username)
    page.goto(f"{live_server.url}/campaigns/{walk['campaign'].pk}/dashboard/")
    rows = page.locator("#ranking tbody tr")
    assert rows.count() == 2
    for index in range(2):
        row = rows.nth(index)
        # then each ad is a block of labelled lines, "Units" and "Against the best" on screen
        for label in ("Units", "Against the best"):
            cell = row.locator(f'td[data-label="{label}"]')
            box = cell.bounding_box()
            assert box is not None and box["x"] >= 0
            assert box["x"] + box["width"] <= PHONE["width"], (label, box)
            before = cell.evaluate("c => getComputedStyle(c, '::before').content")
            assert label in before
    # and the teaser's line says why it is not ranked, readable in place
    teaser = rows.filter(has_text="Six-second teaser")
    reason = teaser.locator('td[data-label="Against the best"]').inner_text()
    assert reason.strip() and reason.strip() != "the best"
    table = page.locator("#ranking")
    assert table.evaluate("t => t.scrollWidth <= t.clientWidth")
    context.close()


def test_the_ad_page_names_the_model_shows_the_creative_and_a_dense_grid_on_a_phone(
    browser, live_server, walk
):
    context = browser.new_context(viewport=PHONE)
    page = context.new_page()
    log_in(page, live_server.url, walk["user"].username)
    page.goto(f"{live_server.url}/ads/{walk['spot'].pk}/")
    # then the model that read the reactions is named, and frames are called frames
    assert "fer-cnn 1.5" in page.inner_text("#ad-model")
    assert "12 photos and 240 video frames" in page.inner_text("#ad-summary")
    # and the creative is a player whose poster (a frame of the video) loads, with the length
    video = page.locator("#ad-creative video")
    poster = video.get_attribute("poster")
    response = page.request.get(live_server.url + poster)
    assert response.status == 200 and response.headers["content-type"] == "image/jpeg"
    assert page.request.get(live_server.url + video.get_attribute("src")).status == 200
    assert "12 s" in page.inner_text("#ad-length")
    # and the photo grid puts at least three cards side by side
    lefts = page.locator("#photo-grid .photo").evaluate_all(
        "cards => cards.slice(0, 6).map(c => Math.round(c.getBoundingClientRect().left))"
    )
    assert len(set(lefts)) >= 3, lefts
    height = page.evaluate("document.scrollingElement.scrollHeight")
    assert height < 5339, height
    context.close()


def test_the_upload_page_offers_the_example_manifest(browser, live_server, walk):
    page = browser.new_page(viewport=LAPTOP)
    log_in(page, live_server.url, walk["user"].username)
    page.goto(f"{live_server.url}/ads/{walk['spot'].pk}/upload/")
    assert "Reaction videos" in page.inner_text("#upload-help")
    with page.expect_download() as download:
        page.click("#manifest-example")
    assert download.value.suggested_filename == "manifest.csv"
    with open(download.value.path(), encoding="utf-8") as example:
        assert example.readline().startswith("file,viewer,offset_seconds")
    # and the loose-files field takes videos, with a manifest field beside it
    assert "video/*" in page.locator("#id_photos").get_attribute("accept")
    assert page.locator("#id_manifest").count() == 1
