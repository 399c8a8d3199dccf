"""What only a browser shows: the upload form's own checks, the pages on a phone's width, and
the photo page's labels at their size on screen. Debian's Chromium driven by Playwright; no
worker is needed (the rows are written by the test).
"""

from __future__ import annotations

import io

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone
from PIL import Image

from campaigns.models import BatchStatus, ImageStatus, ReactionImage, UploadBatch
from campaigns.services.batches import batch_recount
from tests import factories
from tests.analytics.dashboard_data import face_add
from tests.browser_support import log_in, needs_chromium

pytestmark = [
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    needs_chromium,
]

PHONE = {"width": 375, "height": 812}


def _png(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (200, 180, 160)).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture
def analysed():
    """A member's campaign with long names, an ad and a finished upload: a small scan and a
    large phone photo, each with one labelled face, and a failed member with a long reason."""
    team = factories.team_create(name="Phone team")
    user = factories.user_create(username="phone-marketer", team=team)
    campaign = factories.campaign_create(team=team, name="Back to school 2025 national launch")
    ad = factories.ad_create(campaign=campaign, name="Thirty-second spot, cut for social")
    batch = factories.batch_create(ad=ad, status=BatchStatus.PARTIAL)
    model = factories.model_version_create()
    UploadBatch.objects.filter(pk=batch.pk).update(model_version=model)
    photos = {}
    for name, (width, height), box in (
        ("scan.png", (200, 150), (60, 50, 60, 60)),
        ("phone.png", (4032, 3024), (1200, 900, 1400, 1400)),
    ):
        stored = default_storage.save(f"photos/test/{name}", ContentFile(_png(width, height)))
        image = ReactionImage.objects.create(
            batch=batch,
            original_name=f"respondent-0001-session-a/{name}",
            sha256=name.ljust(64, "0"),
            file=stored,
            width=width,
            height=height,
            status=ImageStatus.DONE,
            processed_at=timezone.now(),
        )
        face_add(image=image, model_version=model, label="happy", box=box)
        photos[name] = image
    failed = factories.image_create(batch=batch, status=ImageStatus.FAILED)
    failed.error = "the image file is incomplete: it was cut off (an interrupted copy or upload?)"
    failed.save()
    batch_recount(batch=batch)
    return {"user": user, "campaign": campaign, "ad": ad, "batch": batch, "photos": photos}


def test_uploading_without_a_file_asks_for_one_and_sends_nothing(browser, live_server, analysed):
    page = browser.new_page()
    log_in(page, live_server.url, analysed["user"].username)
    page.goto(f"{live_server.url}/ads/{analysed['ad'].pk}/upload/")
    posts: list[str] = []

    def record(request) -> None:
        if request.method == "POST":
            posts.append(request.url)

    page.on("request", record)
    # when Upload is clicked with no file chosen
    page.click("#upload-form button[type=submit]")
    # then the form says what to do, shows no progress, and posts nothing
    page.wait_for_function("document.getElementById('upload-error').textContent.length > 0")
    assert page.inner_text("#upload-error") == "Choose a ZIP, or photos and videos, first."
    assert page.locator("#upload-progress").is_hidden()
    assert "Uploading" not in page.inner_text("main")
    page.wait_for_timeout(300)
    assert posts == []
    assert UploadBatch.objects.filter(ad=analysed["ad"]).count() == 1


def test_no_page_is_wider_than_a_phone_and_wide_tables_scroll_in_place(
    browser, live_server, analysed
):
    context = browser.new_context(viewport=PHONE)
    page = context.new_page()
    log_in(page, live_server.url, analysed["user"].username)
    photo = analysed["photos"]["phone.png"]
    for path in (
        "/",
        f"/campaigns/{analysed['campaign'].pk}/",
        f"/ads/{analysed['ad'].pk}/",
        f"/ads/{analysed['ad'].pk}/upload/",
        f"/batches/{analysed['batch'].pk}/",
        f"/photos/{photo.pk}/",
    ):
        page.goto(live_server.url + path)
        # then nothing makes the page scroll sideways on a 375-pixel screen
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], f"{path} is {width} px wide"
    # and the ad's uploads table, wider than the screen, scrolls inside its own box
    page.goto(f"{live_server.url}/ads/{analysed['ad'].pk}/")
    table = page.locator("#batches")
    overflow = table.evaluate("t => [t.scrollWidth, t.clientWidth, getComputedStyle(t).overflowX]")
    assert overflow[0] > overflow[1] and overflow[2] == "auto", overflow
    context.close()


def test_face_labels_read_the_same_on_a_small_scan_and_a_large_photo(
    browser, live_server, analysed
):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    log_in(page, live_server.url, analysed["user"].username)
    heights = {}
    for name, photo in analysed["photos"].items():
        page.goto(f"{live_server.url}/photos/{photo.pk}/")
        page.wait_for_function("document.querySelector('.frame img').complete")
        label = page.locator(".frame text").first
        heights[name] = label.evaluate("t => t.getBoundingClientRect().height")
        assert label.text_content() == "#1 happy"
    # then on screen both labels are a readable size, and about the same
    assert all(14 <= h <= 40 for h in heights.values()), heights
    assert heights["scan.png"] == pytest.approx(heights["phone.png"], rel=0.15), heights
