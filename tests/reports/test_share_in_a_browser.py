"""A client opens a share link on a phone, without an account: the campaign's figures,
its timeline and key moments, and the report, and nothing of the team's."""

from __future__ import annotations

import pytest

from reports.services import share_link_create, share_link_revoke
from tests.browser_support import CHROMIUM, step

pytestmark = [
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not CHROMIUM.is_file(), reason=f"Chromium not found at {CHROMIUM}"),
]

PHONE = {"width": 390, "height": 844}


def test_a_client_opens_a_share_link_on_a_phone_without_logging_in(browser, live_server, reported):
    link, token = share_link_create(
        campaign=reported.campaign, user=reported.user, days=7, label="Brand team"
    )
    url = f"{live_server.url}/share/{reported.campaign.pk}/{token}/"
    context = browser.new_context(viewport=PHONE, accept_downloads=True)
    page = context.new_page()
    with step(page, "share-open"):
        response = page.goto(url)
        assert response is not None and response.status == 200
        # then the page shows the verdict and the model, with no login and no team links
        assert "Spot A is the best ad on positive" in page.locator("#verdict-summary").inner_text()
        assert "fer-cnn 7.0" in page.locator("#model-versions").inner_text()
        assert page.locator("#downloads").count() == 0
        assert page.locator("a[href*='/ads/']").count() == 0
    with step(page, "share-timeline"):
        # the timeline and key moments load through the link, with the creative's frame
        page.wait_for_selector("#key-moments li", timeout=30_000)
        assert "falls by" in page.locator("#key-moments").inner_text()
        page.evaluate("document.querySelector('#key-moments img').scrollIntoView()")
        width = 0
        for _ in range(60):
            width = page.evaluate("document.querySelector('#key-moments img').naturalWidth")
            if width:
                break
            page.wait_for_timeout(500)
        assert width > 0
        page.wait_for_selector("#emotion-mix-chart[data-rendered=true]", timeout=30_000)
        # and nothing is wider than the phone
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    with step(page, "share-report"):
        with page.expect_download() as download:
            page.click("#shared-report")
        path = download.value.path()
        assert path is not None
        with open(path, "rb") as handle:
            assert handle.read(5) == b"%PDF-"
    with step(page, "share-revoked"):
        share_link_revoke(link=link)
        response = page.goto(url)
        assert response is not None and response.status == 410
        assert "no longer valid" in page.locator("#share-gone").inner_text()
    context.close()
