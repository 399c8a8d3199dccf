"""Reads of the API: which token a secret is, and the rows a request may reach.

A request authenticated by a token reaches its team's data only; one authenticated by the
browser's session reaches every team of its user, as the pages do. Objects are fetched
through `campaigns.selectors.scoping` first (the user's teams) and then narrowed to the
token's team, so another team's object is a 404 either way.
"""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser, User
from django.db.models import F, QuerySet
from django.http import Http404

from api.models import ApiToken, secret_hash
from campaigns.models import Ad, Campaign, Team, UploadBatch
from campaigns.selectors import scoping
from inference.models import ModelVersion


def api_token_for_secret(*, secret: str) -> ApiToken | None:
    """The live token with this secret: not revoked, its user active and still a member of
    its team (a removed membership ends the token); else None."""
    return (
        ApiToken.objects.select_related("user", "team")
        .filter(
            secret_hash=secret_hash(secret),
            revoked_at__isnull=True,
            user__is_active=True,
            team__memberships__user_id=F("user_id"),
        )
        .first()
    )


def api_token_list(*, user: User) -> QuerySet[ApiToken]:
    """The user's tokens (live and revoked), newest first."""
    return ApiToken.objects.filter(user=user).select_related("team")


def api_token_get(*, user: User, token_id: int) -> ApiToken:
    try:
        return api_token_list(user=user).get(pk=token_id)
    except ApiToken.DoesNotExist:
        raise Http404("No such token.") from None


def request_teams(*, user: User | AnonymousUser, token: ApiToken | None) -> QuerySet[Team]:
    """The teams a request reaches: the token's, else every team of the session's user."""
    teams = scoping.team_list(user=user)
    return teams.filter(pk=token.team_id) if token is not None else teams


def _in_team(team_id: int, token: ApiToken | None) -> None:
    if token is not None and team_id != token.team_id:
        raise Http404("Not found.")


def campaign_list(*, user: User | AnonymousUser, token: ApiToken | None) -> QuerySet[Campaign]:
    campaigns = scoping.campaign_list(user=user)
    return campaigns.filter(team_id=token.team_id) if token is not None else campaigns


def campaign_get(
    *, user: User | AnonymousUser, token: ApiToken | None, campaign_id: int
) -> Campaign:
    campaign = scoping.campaign_get(user=user, campaign_id=campaign_id)
    _in_team(campaign.team_id, token)
    return campaign


def ad_get(*, user: User | AnonymousUser, token: ApiToken | None, ad_id: int) -> Ad:
    ad = scoping.ad_get(user=user, ad_id=ad_id)
    _in_team(ad.campaign.team_id, token)
    return ad


def batch_get(*, user: User | AnonymousUser, token: ApiToken | None, batch_id: int) -> UploadBatch:
    batch = scoping.batch_get(user=user, batch_id=batch_id)
    _in_team(batch.ad.campaign.team_id, token)
    return batch


def model_version_list() -> QuerySet[ModelVersion]:
    """Every registered model version (not team data: the same for every team)."""
    return ModelVersion.objects.all()
