"""Shared pieces of the browser tests: Debian's Chromium driven by Playwright, logging in,
and steps that leave a screenshot in var/test-artifacts/ when they fail.

The `browser` fixture is registered for every test through `tests/conftest.py`.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings

from tests import factories
from tests.service_support import SERVICE_MISSING

CHROMIUM = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
]
ARTIFACTS = Path(settings.BASE_DIR) / "var" / "test-artifacts"

# The browser tests' mark: without Chromium they skip, which fails a CI run (service_support).
needs_chromium = pytest.mark.skipif(
    not CHROMIUM.is_file(),
    reason=f"{SERVICE_MISSING} Chromium not found at {CHROMIUM} (apt-get install -y chromium, "
    "or set CHROMIUM_PATH)",
)


@pytest.fixture
def browser():
    playwright_api = pytest.importorskip(
        "playwright.sync_api",
        reason=f"{SERVICE_MISSING} playwright not installed (pip install -e '.[test]')",
    )
    # Playwright's sync API runs an event loop in this thread; the test's own ORM calls are
    # still synchronous and safe.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)


@contextlib.contextmanager
def step(page, name: str) -> Iterator[None]:
    """Run one step; on failure save a screenshot named after it, then re-raise."""
    try:
        yield
    except BaseException:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        safe = re.sub(r"[^A-Za-z0-9_.-]+", "-", name)
        with contextlib.suppress(Exception):
            page.screenshot(path=str(ARTIFACTS / f"test_browser-{safe}.png"), full_page=True)
        raise


def log_in(page, base_url: str, username: str) -> None:
    page.goto(f"{base_url}/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", factories.PASSWORD)
    page.click("button[type=submit], input[type=submit]")
    page.wait_for_url(f"{base_url}/")
