"""Every write of API tokens: create (the secret is returned once, only its hash is kept),
revoke, and the throttled last-used stamp."""

from __future__ import annotations

import datetime as dt
import secrets

from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.utils import timezone

from api.models import SECRET_PREFIX, SHOWN_CHARACTERS, ApiToken, secret_hash
from campaigns.models import Membership, Team


def api_token_create(*, user: User, team: Team, name: str) -> tuple[ApiToken, str]:
    """A new token of `user` for `team`'s data, and its secret (shown once, never stored)."""
    if not Membership.objects.filter(user=user, team=team).exists():
        raise ValidationError(f"{user.get_username()} is not a member of team {team.name}.")
    name = name.strip()
    if not name:
        raise ValidationError("Give the token a name (what uses it, e.g. 'Survey tool').")
    secret = SECRET_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user,
        team=team,
        name=name[:100],
        prefix=secret[:SHOWN_CHARACTERS],
        secret_hash=secret_hash(secret),
    )
    return token, secret


def api_token_revoke(*, token: ApiToken) -> ApiToken:
    """Revoke the token from now on (idempotent: a revoked token keeps its first date)."""
    ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
    token.refresh_from_db(fields=["revoked_at"])
    return token


def api_token_used(*, token: ApiToken) -> None:
    """Stamp the token's last use, at most once per API_TOKEN_TOUCH_SECONDS: a busy
    integration does not write a row on every request."""
    now = timezone.now()
    every = dt.timedelta(seconds=settings.API_TOKEN_TOUCH_SECONDS)
    if token.last_used_at is not None and now - token.last_used_at < every:
        return
    ApiToken.objects.filter(
        Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - every), pk=token.pk
    ).update(last_used_at=now)
    token.last_used_at = now
