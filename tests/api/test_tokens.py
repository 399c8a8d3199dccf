"""API tokens: shown once, stored hashed, revocable, tied to a team membership, last use
stamped; made on the tokens page or with `manage.py api_token`."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.contrib.admin.sites import site
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from api.models import ApiToken, secret_hash
from api.services import api_token_create, api_token_revoke
from campaigns.models import Membership
from campaigns.services.teams import membership_add
from tests import factories
from tests.api.conftest import TokenClient

pytestmark = pytest.mark.django_db


@pytest.fixture
def member():
    team = factories.team_create(name="Panel team")
    return factories.user_create(username="panel-user", team=team), team


def test_a_token_is_stored_as_its_hash_and_a_prefix_only(member):
    user, team = member
    token, secret = api_token_create(user=user, team=team, name="Survey tool")
    row = ApiToken.objects.get(pk=token.pk)
    assert secret.startswith("fer_") and len(secret) > 40
    assert row.secret_hash == secret_hash(secret) != secret
    assert secret.startswith(row.prefix) and len(row.prefix) == 12
    assert secret not in {str(value) for value in vars(row).values()}


def test_a_token_authenticates_as_its_user_and_stamps_its_last_use(member):
    user, team = member
    token, secret = api_token_create(user=user, team=team, name="Survey tool")
    assert token.last_used_at is None
    response = TokenClient(secret).get("/api/v1/teams/")
    assert response.status_code == 200
    assert [t["name"] for t in response.json()["results"]] == ["Panel team"]
    token.refresh_from_db()
    first_use = token.last_used_at
    assert first_use is not None
    # a second request within the minute writes nothing
    TokenClient(secret).get("/api/v1/teams/")
    token.refresh_from_db()
    assert token.last_used_at == first_use
    # a request a minute later stamps it again
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=first_use - dt.timedelta(minutes=2))
    TokenClient(secret).get("/api/v1/teams/")
    token.refresh_from_db()
    assert token.last_used_at > first_use - dt.timedelta(minutes=1)


@pytest.mark.parametrize(
    "header",
    [
        "",
        "Bearer",
        "Bearer fer_not-a-token",
        "Bearer a b",
        "Token whatever",
        "Bearer \u00e9t\u00e9",
    ],
)
def test_a_missing_or_bad_token_is_a_401_that_says_how(member, header):
    extra = {"HTTP_AUTHORIZATION": header} if header else {}
    response = Client().get("/api/v1/campaigns/", **extra)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'
    assert response["Content-Type"] == "application/json"
    assert response.json()["detail"]


def test_a_revoked_token_is_refused_from_then_on(member):
    user, team = member
    token, secret = api_token_create(user=user, team=team, name="Survey tool")
    assert TokenClient(secret).get("/api/v1/teams/").status_code == 200
    api_token_revoke(token=token)
    response = TokenClient(secret).get("/api/v1/teams/")
    assert response.status_code == 401
    assert "revoked" in response.json()["detail"]
    # revoking again keeps the first date
    revoked_at = ApiToken.objects.get(pk=token.pk).revoked_at
    api_token_revoke(token=token)
    assert ApiToken.objects.get(pk=token.pk).revoked_at == revoked_at


def test_leaving_the_team_ends_the_token_and_only_members_get_one(member):
    user, team = member
    _token, secret = api_token_create(user=user, team=team, name="Survey tool")
    Membership.objects.filter(user=user, team=team).delete()
    assert TokenClient(secret).get("/api/v1/teams/").status_code == 401
    with pytest.raises(ValidationError, match="not a member"):
        api_token_create(user=user, team=team, name="again")
    outsider = factories.user_create(username="outsider")
    with pytest.raises(ValidationError, match="not a member"):
        api_token_create(user=outsider, team=team, name="mine")


def test_a_token_reaches_its_team_only_though_its_user_is_in_two(member):
    user, team = member
    other = factories.team_create(name="Second team")
    membership_add(team=other, user=user)
    ours = factories.campaign_create(team=team, name="Ours")
    theirs = factories.campaign_create(team=other, name="Also the user's")
    _, secret = api_token_create(user=user, team=team, name="Survey tool")
    api = TokenClient(secret)
    listed = [c["name"] for c in api.get("/api/v1/campaigns/").json()["results"]]
    assert listed == ["Ours"]
    assert api.get(f"/api/v1/campaigns/{theirs.pk}/").status_code == 404
    assert api.get(f"/api/v1/campaigns/{ours.pk}/").status_code == 200
    # the browser session reaches both of the user's teams
    client = Client()
    client.force_login(user)
    names = {c["name"] for c in client.get("/api/v1/campaigns/").json()["results"]}
    assert names == {"Ours", "Also the user's"}


def test_the_command_prints_the_secret_alone_on_its_last_line(member):
    user, team = member
    out = io.StringIO()
    call_command("api_token", "create", "--user", user.username, "--team", team.name, stdout=out)
    secret = out.getvalue().strip().splitlines()[-1]
    assert secret.startswith("fer_") and " " not in secret
    assert TokenClient(secret).get("/api/v1/teams/").status_code == 200
    token = ApiToken.objects.get(secret_hash=secret_hash(secret))
    listing = io.StringIO()
    call_command("api_token", "list", "--user", user.username, stdout=listing)
    assert token.prefix in listing.getvalue() and secret not in listing.getvalue()
    call_command("api_token", "revoke", token.prefix, stdout=io.StringIO())
    assert TokenClient(secret).get("/api/v1/teams/").status_code == 401


def test_the_command_says_what_is_wrong(member):
    user, team = member
    with pytest.raises(CommandError, match="No user named 'nobody'"):
        call_command("api_token", "create", "--user", "nobody", "--team", team.name)
    with pytest.raises(CommandError, match="No team named 'Nope'"):
        call_command("api_token", "create", "--user", user.username, "--team", "Nope")
    outsider = factories.user_create(username="outsider")
    with pytest.raises(CommandError, match="not a member"):
        call_command("api_token", "create", "--user", outsider.username, "--team", team.name)
    with pytest.raises(CommandError, match="No token"):
        call_command("api_token", "revoke", "fer_missing")


def test_the_tokens_page_shows_a_new_secret_once_and_revokes(member):
    user, team = member
    client = Client()
    client.force_login(user)
    page = client.get(reverse("api:tokens"))
    assert page.status_code == 200
    assert reverse("api:tokens").encode() in client.get("/").content  # linked from the header
    response = client.post(reverse("api:tokens"), {"name": "BI export", "team": team.pk})
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    secret = response.context["secret"]
    assert secret.encode() in response.content
    assert TokenClient(secret).get("/api/v1/teams/").status_code == 200
    # shown this once: the list page never holds it again
    again = client.get(reverse("api:tokens"))
    assert secret.encode() not in again.content
    token = ApiToken.objects.get(user=user)
    assert token.prefix.encode() in again.content
    response = client.post(reverse("api:token_revoke", args=[token.pk]), follow=True)
    assert "revoked" in response.content.decode()
    assert TokenClient(secret).get("/api/v1/teams/").status_code == 401


def test_the_tokens_page_refuses_another_users_token_and_foreign_teams(member):
    user, team = member
    stranger = factories.user_create(username="stranger", team=factories.team_create())
    token, _ = api_token_create(user=user, team=team, name="Survey tool")
    client = Client()
    client.force_login(stranger)
    assert client.post(reverse("api:token_revoke", args=[token.pk])).status_code == 404
    response = client.post(reverse("api:tokens"), {"name": "mine", "team": team.pk})
    assert response.status_code == 200 and "team" in response.context["form"].errors
    assert not ApiToken.objects.filter(user=stranger).exists()
    token.refresh_from_db()
    assert token.revoked_at is None


def test_operators_see_tokens_in_the_admin_without_their_secret(member, admin_client):
    user, team = member
    token, secret = api_token_create(user=user, team=team, name="Survey tool")
    assert site.is_registered(ApiToken)
    page = admin_client.get(reverse("admin:api_apitoken_changelist"))
    assert page.status_code == 200
    assert token.prefix.encode() in page.content and secret.encode() not in page.content
    admin_client.post(
        reverse("admin:api_apitoken_changelist"),
        {"action": "revoke", "_selected_action": [token.pk]},
    )
    token.refresh_from_db()
    assert token.revoked_at is not None and token.revoked_at <= timezone.now()
