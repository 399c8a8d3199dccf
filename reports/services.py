"""Writes of share links: create, revoke, stamp a use. One function per action."""

from __future__ import annotations

import datetime as dt
import secrets

from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.utils import timezone

from campaigns.models import Campaign
from reports.models import SHOWN_CHARACTERS, ShareLink, token_hash

# A stamp of the last use is written at most this often per link.
TOUCH_EVERY = dt.timedelta(minutes=1)


def share_link_create(
    *,
    campaign: Campaign,
    user: User | None,
    days: int,
    label: str = "",
    allow_report: bool = True,
    show_photos: bool = False,
) -> tuple[ShareLink, str]:
    """A new link to `campaign`'s dashboard valid for `days` days, and its token, which is
    shown this once: only its SHA-256 is stored."""
    if not 1 <= days <= settings.SHARE_LINK_MAX_DAYS:
        raise ValidationError(
            f"A share link lasts from 1 to {settings.SHARE_LINK_MAX_DAYS} days "
            "(SHARE_LINK_MAX_DAYS)."
        )
    token = secrets.token_urlsafe(32)
    now = timezone.now()
    link = ShareLink.objects.create(
        campaign=campaign,
        created_by=user,
        label=label,
        prefix=token[:SHOWN_CHARACTERS],
        token_hash=token_hash(token),
        allow_report=allow_report,
        show_photos=show_photos,
        created_at=now,
        expires_at=now + dt.timedelta(days=days),
    )
    return link, token


def share_link_revoke(*, link: ShareLink) -> ShareLink:
    """Revoke the link now; it answers 410 from its next request on (revoking twice keeps the
    first time)."""
    ShareLink.objects.filter(pk=link.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
    link.refresh_from_db(fields=["revoked_at"])
    return link


def share_link_used(*, link: ShareLink) -> None:
    """Stamp the link's last use, at most once a minute: a client's page and its timeline
    request do not write a row each."""
    now = timezone.now()
    if link.last_used_at is not None and now - link.last_used_at < TOUCH_EVERY:
        return
    ShareLink.objects.filter(
        Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - TOUCH_EVERY), pk=link.pk
    ).update(last_used_at=now)
    link.last_used_at = now
