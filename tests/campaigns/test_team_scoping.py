import pytest
from django.contrib.auth.models import AnonymousUser
from django.urls import reverse

from campaigns.models import Ad, Campaign, Face, ReactionImage, Team, UploadBatch
from campaigns.selectors.scoping import scoped_to_user
from campaigns.services.teams import membership_add
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_teams():
    """Team A and team B, each with a member and a campaign -> ad -> batch -> photo -> face."""
    model_version = factories.model_version_create()
    world = {}
    for key in ("a", "b"):
        team = factories.team_create(name=f"Team {key.upper()}")
        campaign = factories.campaign_create(team=team)
        ad = factories.ad_create(campaign=campaign)
        batch = factories.batch_create(ad=ad)
        image = factories.image_create(batch=batch)
        face = factories.face_create(image=image, model_version=model_version)
        world[key] = {
            "user": factories.user_create(team=team),
            Team: team,
            Campaign: campaign,
            Ad: ad,
            UploadBatch: batch,
            ReactionImage: image,
            Face: face,
        }
    return world


@pytest.mark.parametrize("model", [Team, Campaign, Ad, UploadBatch, ReactionImage, Face])
def test_scoped_queryset_holds_only_the_users_teams_rows(two_teams, model):
    # given rows of two teams
    # when a member of team B asks for every row of a model
    rows = list(scoped_to_user(model.objects.all(), user=two_teams["b"]["user"]))
    # then exactly team B's row comes back
    assert rows == [two_teams["b"][model]]


def test_member_of_two_teams_sees_both(two_teams):
    # given a member of team A who joins team B
    user = two_teams["a"]["user"]
    membership_add(team=two_teams["b"][Team], user=user)
    # when they list campaigns
    # then they see both teams' campaigns
    assert set(scoped_to_user(Campaign.objects.all(), user=user)) == {
        two_teams["a"][Campaign],
        two_teams["b"][Campaign],
    }


def test_anonymous_and_teamless_users_see_nothing(two_teams):
    assert not scoped_to_user(Campaign.objects.all(), user=AnonymousUser()).exists()
    assert not scoped_to_user(Campaign.objects.all(), user=factories.user_create()).exists()


def test_user_of_team_b_gets_404_for_team_a_campaign(client, two_teams):
    # given a logged-in member of team B
    client.force_login(two_teams["b"]["user"])
    campaign_a = two_teams["a"][Campaign]
    # when they open team A's campaign, or try to add an ad to it
    detail = client.get(reverse("campaigns:campaign_detail", args=[campaign_a.pk]))
    add_ad = client.post(reverse("campaigns:ad_create", args=[campaign_a.pk]), {"name": "Mine"})
    # then both are 404 and nothing was written
    assert detail.status_code == 404
    assert add_ad.status_code == 404
    assert not Ad.objects.filter(name="Mine").exists()


def test_campaign_list_shows_only_own_teams_campaigns(client, two_teams):
    client.force_login(two_teams["b"]["user"])
    response = client.get(reverse("campaigns:campaign_list"))
    assert response.status_code == 200
    assert [campaign for campaign, _ in response.context["campaigns"]] == [two_teams["b"][Campaign]]
    assert two_teams["a"][Campaign].name not in response.content.decode()


def test_campaign_cannot_be_created_for_another_team(client, two_teams):
    # given a member of team B
    client.force_login(two_teams["b"]["user"])
    # when they post a campaign naming team A
    response = client.post(
        reverse("campaigns:campaign_create"),
        {"team": two_teams["a"][Team].pk, "name": "Hijack"},
    )
    # then the form refuses the team and nothing is created
    assert response.status_code == 200
    assert "team" in response.context["form"].errors
    assert not Campaign.objects.filter(name="Hijack").exists()
