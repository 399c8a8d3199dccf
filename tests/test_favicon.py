"""/favicon.ico, which every browser asks for: a small icon, linked from every page."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from tests import factories

pytestmark = pytest.mark.django_db


def test_the_favicon_is_served_at_the_sites_root_without_a_login(client):
    # when a browser asks for it, before anyone logs in
    response = client.get("/favicon.ico")
    # then it is a small icon
    assert response.status_code == 200
    assert response["Content-Type"] in ("image/x-icon", "image/vnd.microsoft.icon")
    body = b"".join(response.streaming_content)
    with Image.open(io.BytesIO(body)) as icon:
        assert icon.format == "ICO"
        assert max(icon.size) <= 64


def test_every_page_links_the_favicon(client):
    client.force_login(factories.user_create(team=factories.team_create()))
    assert b'<link rel="icon" href="/favicon.ico"' in client.get("/").content
    assert b'<link rel="icon" href="/favicon.ico"' in client.get("/accounts/login/").content
