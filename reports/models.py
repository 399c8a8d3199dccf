"""Read-only share links: one campaign's dashboard (and optionally its report) for someone
without an account, until it expires or is revoked."""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

# Characters of the token kept in clear to tell links apart on the links page.
SHOWN_CHARACTERS = 8


def token_hash(token: str) -> str:
    """SHA-256 of a share token: the token is 256 random bits, so nothing to guess and no
    slow hash needed; only the hash is stored."""
    return hashlib.sha256(token.encode()).hexdigest()


class ShareLink(models.Model):
    """A link to one campaign's figures, read-only. It reaches that campaign and nothing
    else: no other campaign, no admin, no API, no photos of faces unless `show_photos`."""

    campaign = models.ForeignKey(
        "campaigns.Campaign", on_delete=models.CASCADE, related_name="share_links"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    label = models.CharField(max_length=100, blank=True, help_text="Who the link is for.")
    prefix = models.CharField(max_length=SHOWN_CHARACTERS)
    token_hash = models.CharField(max_length=64, unique=True)
    allow_report = models.BooleanField(default=True)
    show_photos = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    # Written at most once a minute (see `reports.services.share_link_used`).
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(expires_at__gt=F("created_at")),
                name="share_link_expires_after_creation",
                violation_error_message="A share link must expire after it is created.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.label or 'Share link'} ({self.prefix}…) to {self.campaign_id}"

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None

    @property
    def is_expired(self) -> bool:
        return self.expires_at <= timezone.now()

    @property
    def is_live(self) -> bool:
        return not self.is_revoked and not self.is_expired
