"""The marketer's study pages: create on a campaign, the link and live counts, open / pause /
close, and another team's study is a 404."""

from __future__ import annotations

import pytest
from django.urls import reverse

from campaigns.models import Ad
from studies.models import Study, StudyStatus
from tests import factories
from tests.studies.support import Viewer, ad_with_creative, model_active, study_build

pytestmark = pytest.mark.django_db


def _form(ad: Ad, **fields: object) -> dict[str, object]:
    """The new-study form as a marketer fills it in."""
    return {
        "name": "Wave 1",
        "ads": [ad.pk],
        "ad_order": "fixed",
        "image_seconds": 5,
        "capture_fps": 5,
        "consent_text": "We record your face.",
        "participant_param": "pid",
        "low_quality_outcome": "failed",
        **fields,
    }


def test_a_marketer_creates_a_study_and_sees_its_link_and_counts(client):
    team = factories.team_create()
    user = factories.user_create(team=team)
    campaign = factories.campaign_create(team=team)
    ad = ad_with_creative(campaign=campaign)
    factories.ad_create(campaign=campaign, name="No creative")
    client.force_login(user)
    form = client.get(reverse("studies:study_create", args=[campaign.pk]))
    assert "No creative" not in form.content.decode()
    response = client.post(
        reverse("studies:study_create", args=[campaign.pk]),
        _form(ad, complete_url="https://survey.example.com/c?pid={pid}", kept_params="market"),
    )
    study = Study.objects.get()
    assert response.status_code == 302, response.content.decode()[:2000]
    page = client.get(response["Location"]).content.decode()
    assert f"/s/{study.slug}/" in page and "?pid=RESPONDENT_ID&amp;market=..." in page
    model_active()
    Viewer(study).start(pid="p1")
    counts = client.get(reverse("studies:study_counts", args=[study.pk])).json()
    assert (counts["started"], counts["capturing"], counts["completed"]) == (1, 1, 0)
    listing = client.get(reverse("studies:study_list", args=[campaign.pk])).content.decode()
    assert "Wave 1" in listing


def test_a_javascript_redirect_is_refused_by_the_form(client):
    team = factories.team_create()
    user = factories.user_create(team=team)
    campaign = factories.campaign_create(team=team)
    ad = ad_with_creative(campaign=campaign)
    client.force_login(user)
    response = client.post(
        reverse("studies:study_create", args=[campaign.pk]),
        _form(ad, name="Bad", complete_url="javascript:alert(1)"),
    )
    assert response.status_code == 200 and not Study.objects.exists()


def test_pause_and_close(client):
    study = study_build()
    user = factories.user_create(team=study.campaign.team)
    client.force_login(user)
    client.post(reverse("studies:study_status", args=[study.pk]), {"status": "paused"})
    study.refresh_from_db()
    assert study.status == StudyStatus.PAUSED
    client.post(reverse("studies:study_status", args=[study.pk]), {"status": "closed"})
    study.refresh_from_db()
    assert study.status == StudyStatus.CLOSED


def test_another_teams_study_is_not_found(client):
    study = study_build()
    outsider = factories.user_create(team=factories.team_create())
    client.force_login(outsider)
    for name in ("study_detail", "study_edit", "study_counts"):
        assert client.get(reverse(f"studies:{name}", args=[study.pk])).status_code == 404
    response = client.post(reverse("studies:study_status", args=[study.pk]), {"status": "closed"})
    assert response.status_code == 404
