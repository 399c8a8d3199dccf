"""API tokens: a random secret per user and team, stored only as its hash."""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.db import models

# Every secret starts with this, so a leaked one is recognisable (secret scanners, logs).
SECRET_PREFIX = "fer_"  # noqa: S105  a public marker, not a secret
# Characters of the secret kept in clear to tell tokens apart ("fer_AbCd1234").
SHOWN_CHARACTERS = 12


def secret_hash(secret: str) -> str:
    """SHA-256 of a secret: enough for 256 random bits (no salt or slow hash needed, unlike
    a password: there is nothing to guess)."""
    return hashlib.sha256(secret.encode()).hexdigest()


class ApiToken(models.Model):
    """A bearer token of one user, for one team's data only (even when the user is in
    several teams). Revoked, or its user no longer in the team, it authenticates nobody."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    team = models.ForeignKey("campaigns.Team", on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=SHOWN_CHARACTERS)
    secret_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # Written at most once a minute per token (see `api.services.api_token_used`).
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "API token"

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None
