"""The API's pages in a real browser (Debian's Chromium): Swagger UI and Redoc draw the
schema from this site's own files under its Content-Security-Policy, and the tokens page
shows a new token once and revokes it."""

from __future__ import annotations

import pytest

from api.models import ApiToken
from tests import factories
from tests.api.conftest import TokenClient
from tests.browser_support import ARTIFACTS, log_in, needs_chromium, step

pytestmark = [
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    needs_chromium,
]


def test_swagger_ui_and_redoc_draw_the_schema_from_this_site_only(browser, live_server):
    page = browser.new_page()
    fetched: list[str] = []
    refused: list[str] = []
    page.on("response", lambda response: fetched.append(response.url))
    page.on(
        "console",
        lambda message: (
            refused.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    with step(page, "api-swagger-ui"):
        page.goto(f"{live_server.url}/api/docs/")
        page.wait_for_selector(".swagger-ui .info .title", timeout=30_000)
        assert "FER analytics API" in page.inner_text(".swagger-ui .info .title")
        page.wait_for_selector("text=/api/v1/campaigns/{id}/results/")
        page.screenshot(path=str(ARTIFACTS / "api-swagger-ui.png"))
    # Swagger UI runs entirely under the site's policy
    assert refused == []
    with step(page, "api-redoc"):
        page.goto(f"{live_server.url}/api/docs/redoc/")
        page.wait_for_selector("text=FER analytics API", timeout=30_000)
        page.wait_for_selector("text=/figures, from the same code as the page/", timeout=30_000)
    # Redoc's bundle always adds its maker's logo from their CDN: the policy refuses it.
    assert all("cdn.redoc.ly" in text for text in refused), refused
    # and nothing came from anywhere but this site (the worker is a blob: of its own script)
    local = (live_server.url, f"blob:{live_server.url}", "data:")
    assert fetched and [url for url in fetched if not url.startswith(local)] == []


def test_the_tokens_page_shows_a_new_token_once_and_revokes_it(browser, live_server):
    team = factories.team_create(name="Panel team")
    user = factories.user_create(username="panel", team=team)
    page = browser.new_page()
    with step(page, "api-tokens-create"):
        log_in(page, live_server.url, user.username)
        page.click("header >> text=API tokens")
        page.fill("input[name=name]", "Survey tool")
        page.click("#token-form button[type=submit]")
        secret = page.inner_text("#token-secret").strip()
        assert secret.startswith("fer_")
        page.screenshot(path=str(ARTIFACTS / "api-tokens-created.png"))
    assert TokenClient(secret).get("/api/v1/teams/").status_code == 200
    with step(page, "api-tokens-revoke"):
        page.goto(f"{live_server.url}/account/api-tokens/")
        assert secret not in page.content()
        page.click("#tokens button:has-text('Revoke')")
        page.wait_for_selector("#tokens [data-col=state]:has-text('revoked')")
    assert ApiToken.objects.get(user=user).revoked_at is not None
    assert TokenClient(secret).get("/api/v1/teams/").status_code == 401
