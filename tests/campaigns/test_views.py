import pytest
from django.urls import reverse

from campaigns.models import Ad, Campaign
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def member(client):
    team = factories.team_create(name="Acme")
    user = factories.user_create(team=team)
    client.force_login(user)
    return user, team


def test_pages_need_a_login(client):
    response = client.get(reverse("campaigns:campaign_list"))
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


def test_login_with_password_reaches_the_campaign_list(client):
    # given a team member
    user = factories.user_create(team=factories.team_create())
    # when they log in through the login form
    response = client.post(
        reverse("login"),
        {"username": user.username, "password": factories.PASSWORD},
        follow=True,
    )
    # then they land on their campaign list
    assert response.status_code == 200
    assert response.resolver_match.view_name == "campaigns:campaign_list"


def test_create_campaign_then_ad(client, member):
    user, team = member
    # when a member creates a campaign
    response = client.post(
        reverse("campaigns:campaign_create"),
        {
            "team": team.pk,
            "name": "Spring launch",
            "brand": "Acme Cola",
            "starts_on": "2025-03-01",
            "ends_on": "2025-04-30",
        },
    )
    # then it exists for the team and the browser goes to it
    campaign = Campaign.objects.get(name="Spring launch")
    assert (campaign.team, campaign.created_by, campaign.brand) == (team, user, "Acme Cola")
    assert response.status_code == 302
    assert response.url == reverse("campaigns:campaign_detail", args=[campaign.pk])
    # when they add an ad to it
    response = client.post(
        reverse("campaigns:ad_create", args=[campaign.pk]),
        {"name": "TV spot 30s", "creative_url": "https://example.com/spot.mp4"},
    )
    # then the browser goes to the new ad's page (where its photos are uploaded)
    ad = Ad.objects.get(campaign=campaign)
    assert ad.name == "TV spot 30s"
    assert response.status_code == 302
    assert response.url == reverse("campaigns:ad_detail", args=[ad.pk])
    # and the campaign page lists it
    page = client.get(reverse("campaigns:campaign_detail", args=[campaign.pk]))
    assert "TV spot 30s" in page.content.decode()


def test_campaign_ending_before_it_starts_is_a_form_error(client, member):
    _, team = member
    response = client.post(
        reverse("campaigns:campaign_create"),
        {"team": team.pk, "name": "Backwards", "starts_on": "2025-05-02", "ends_on": "2025-05-01"},
    )
    assert response.status_code == 200
    assert "cannot end before it starts" in response.content.decode()
    assert not Campaign.objects.filter(name="Backwards").exists()


def test_duplicate_ad_name_is_a_form_error(client, member):
    _, team = member
    campaign = factories.campaign_create(team=team)
    factories.ad_create(campaign=campaign, name="Banner")
    response = client.post(reverse("campaigns:ad_create", args=[campaign.pk]), {"name": "Banner"})
    assert response.status_code == 200
    assert "already has an ad named" in response.content.decode()
    assert Ad.objects.filter(campaign=campaign).count() == 1


def test_duplicate_campaign_name_in_a_team_is_a_form_error(client, member):
    _, team = member
    factories.campaign_create(team=team, name="Summer")
    response = client.post(
        reverse("campaigns:campaign_create"), {"team": team.pk, "name": "Summer"}
    )
    assert response.status_code == 200
    assert Campaign.objects.filter(team=team, name="Summer").count() == 1
    assert response.context["form"].errors
