"""Read-only share links: a client without an account sees one campaign's dashboard (and
its report when allowed), nothing else, until the link expires or is revoked."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.core.files.base import ContentFile
from django.urls import reverse
from django.utils import timezone
from PIL import Image

from reports.models import ShareLink, token_hash
from reports.services import share_link_create, share_link_revoke
from tests import factories
from tests.analytics.dashboard_data import photo_with_faces


def _share(reported, **options):
    options = {"days": 7, **options}
    return share_link_create(campaign=reported.campaign, user=reported.user, **options)


def _urls(campaign_id: int, token: str, ad_id: int, image_id: int = 1) -> list[str]:
    return [
        reverse("reports:shared_dashboard", args=[campaign_id, token]),
        reverse("reports:shared_timeline", args=[campaign_id, token]),
        reverse("reports:shared_report", args=[campaign_id, token]),
        reverse("reports:shared_frame", args=[campaign_id, token, ad_id]) + "?t=5",
        reverse("reports:shared_photo", args=[campaign_id, token, image_id]),
    ]


def test_a_team_member_creates_a_link_whose_token_is_shown_once_and_stored_hashed(client, reported):
    client.force_login(reported.user)
    url = reverse("reports:share_links", args=[reported.campaign.pk])
    # when a member makes a link for a client
    response = client.post(url, {"label": "Brand team", "days": "14", "allow_report": "on"})
    # then the page shows its URL this once, and only its hash is stored
    assert response.status_code == 200
    new_url = response.context["new_url"]
    token = new_url.rstrip("/").rsplit("/", 1)[1]
    link = ShareLink.objects.get()
    assert link.token_hash == token_hash(token) and token not in link.token_hash
    assert len(token) >= 40 and link.prefix == token[:8]
    assert link.campaign == reported.campaign and link.allow_report and not link.show_photos
    assert abs(link.expires_at - timezone.now() - dt.timedelta(days=14)) < dt.timedelta(minutes=1)
    listed = client.get(url).content.decode()
    assert token not in listed and "Brand team" in listed and "never" in listed


def test_a_client_without_an_account_sees_the_dashboards_own_figures(client, reported):
    link, token = _share(reported)
    team_client = client.__class__()
    team_client.force_login(reported.user)
    dashboard = team_client.get(
        reverse("campaigns:campaign_dashboard", args=[reported.campaign.pk])
    )
    # when a client with no session opens the link
    shared = client.get(reverse("reports:shared_dashboard", args=[reported.campaign.pk, token]))
    # then it shows the same verdict, intervals and model as the team's page, read-only
    assert shared.status_code == 200
    assert shared.context["verdict"].summary == dashboard.context["verdict"].summary
    html = shared.content.decode()
    for standing in dashboard.context["verdict"].standings:
        assert f"{100 * standing.estimate.interval.low:.0f} to " in html
    assert "fer-cnn 7.0" in html
    for team_only in ("/ads/", "export.csv", "reanalyse", "/shares/", "/admin/", "/api/"):
        assert team_only not in html, team_only
    assert shared["Referrer-Policy"] == "no-referrer"
    assert "no-store" in shared["Cache-Control"]
    timeline = client.get(reverse("reports:shared_timeline", args=[reported.campaign.pk, token]))
    assert timeline.status_code == 200 and "falls by" in timeline.content.decode()
    assert reverse(
        "reports:shared_frame", args=[reported.campaign.pk, token, reported.ads["b"].pk]
    ) in (timeline.content.decode())
    frame = client.get(
        reverse("reports:shared_frame", args=[reported.campaign.pk, token, reported.ads["b"].pk]),
        {"t": "5"},
    )
    assert frame.status_code == 200 and frame["Content-Type"] == "image/jpeg"
    link.refresh_from_db()
    assert link.last_used_at is not None


def test_the_report_and_photos_follow_what_the_link_allows(client, reported):
    _, dashboard_only = _share(reported, allow_report=False)
    _, everything = _share(reported, allow_report=True, show_photos=True)
    campaign = reported.campaign
    report = client.get(reverse("reports:shared_report", args=[campaign.pk, everything]))
    assert report.status_code == 200 and report.content.startswith(b"%PDF")
    assert (
        client.get(reverse("reports:shared_report", args=[campaign.pk, dashboard_only])).status_code
        == 404
    )
    # given a stored photo of a viewer's face
    photo = photo_with_faces(
        batch=reported.ads["a"].batches.get(), model_version=reported.model, labels=["happy"]
    )
    photo.file.save("face.png", ContentFile(_png()))
    photo_url = reverse("reports:shared_photo", args=[campaign.pk, everything, photo.pk])
    # then only the link that allows photos lists and serves it
    with_photos = client.get(reverse("reports:shared_dashboard", args=[campaign.pk, everything]))
    assert photo_url in with_photos.content.decode()
    assert client.get(photo_url).status_code == 200
    without = client.get(reverse("reports:shared_dashboard", args=[campaign.pk, dashboard_only]))
    assert "shared-photos" not in without.content.decode()
    assert (
        client.get(
            reverse("reports:shared_photo", args=[campaign.pk, dashboard_only, photo.pk])
        ).status_code
        == 404
    )


def _png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), "white").save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.mark.parametrize("ended", ["expired", "revoked"])
def test_an_expired_or_revoked_link_answers_410_on_its_very_next_request(client, reported, ended):
    link, token = _share(reported)
    url = reverse("reports:shared_dashboard", args=[reported.campaign.pk, token])
    assert client.get(url).status_code == 200
    # when the link ends
    if ended == "revoked":
        share_link_revoke(link=link)
    else:
        ShareLink.objects.filter(pk=link.pk).update(
            created_at=timezone.now() - dt.timedelta(days=8),
            expires_at=timezone.now() - dt.timedelta(seconds=1),
        )
    # then every shared URL answers 410 with a page that says so
    for shared_url in _urls(reported.campaign.pk, token, reported.ads["a"].pk):
        response = client.get(shared_url)
        assert response.status_code == 410, shared_url
        assert "no longer valid" in response.content.decode()


def test_a_link_reaches_no_other_campaign_and_no_team_page(client, reported):
    _, token = _share(reported, show_photos=True)
    others = [reported.other_campaign, reported.foreign_campaign]
    # with another campaign's id (same team, another team, none), or a made-up token: 404
    for campaign_id in [c.pk for c in others] + [999_999]:
        for url in _urls(campaign_id, token, reported.ads["a"].pk):
            assert client.get(url).status_code == 404, url
    for url in _urls(reported.campaign.pk, token[:-1] + "x", reported.ads["a"].pk):
        assert client.get(url).status_code == 404, url
    # another campaign's ad through this campaign's link: 404
    foreign_ad = reported.foreign_campaign.ads.get()
    assert (
        client.get(
            reverse("reports:shared_frame", args=[reported.campaign.pk, token, foreign_ad.pk])
            + "?t=1"
        ).status_code
        == 404
    )
    # the link logs nobody in: the team's pages, the admin and the API stay closed
    client.get(reverse("reports:shared_dashboard", args=[reported.campaign.pk, token]))
    for campaign in [reported.campaign, *others]:
        for name in ("campaigns:campaign_dashboard", "campaigns:campaign_export"):
            response = client.get(reverse(name, args=[campaign.pk]))
            assert response.status_code == 302 and "/accounts/login/" in response["Location"]
        api = client.get(f"/api/v1/campaigns/{campaign.pk}/results/")
        assert api.status_code in (401, 403)
    assert client.get("/admin/").status_code == 302


def test_only_the_team_lists_and_revokes_its_links(client, reported):
    link, _token = _share(reported)
    outsider = factories.user_create(team=factories.team_create())
    client.force_login(outsider)
    assert (
        client.get(reverse("reports:share_links", args=[reported.campaign.pk])).status_code == 404
    )
    assert client.post(reverse("reports:share_link_revoke", args=[link.pk])).status_code == 404
    link.refresh_from_db()
    assert link.is_live
    client.force_login(reported.user)
    response = client.post(reverse("reports:share_link_revoke", args=[link.pk]))
    assert response.status_code == 302
    link.refresh_from_db()
    assert link.is_revoked


@pytest.mark.parametrize("days", ["0", "91", "x"])
def test_a_link_lasts_from_one_day_to_the_maximum(client, reported, days):
    client.force_login(reported.user)
    response = client.post(
        reverse("reports:share_links", args=[reported.campaign.pk]), {"days": days}
    )
    assert response.status_code == 200 and response.context["form"].errors
    assert not ShareLink.objects.exists()


def test_an_operator_revokes_a_link_from_the_admin_and_staff_see_none(client, reported):
    link, _ = _share(reported)
    changelist = reverse("admin:reports_sharelink_changelist")
    staff = factories.user_create(team=factories.team_create())
    staff.is_staff = True
    staff.save()
    client.force_login(staff)
    assert client.get(changelist).status_code == 403
    operator = factories.user_create()
    operator.is_staff = operator.is_superuser = True
    operator.save()
    client.force_login(operator)
    assert client.get(changelist).status_code == 200
    response = client.post(
        changelist, {"action": "revoke", "_selected_action": [link.pk], "index": 0}
    )
    assert response.status_code == 302
    link.refresh_from_db()
    assert link.is_revoked
