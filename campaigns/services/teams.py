"""Teams and their members, campaigns and ads: what a marketer creates before uploading."""

from __future__ import annotations

import datetime as dt

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from campaigns.models import Ad, Campaign, Membership, Team, TeamRole

# Teams ----------------------------------------------------------------------------------------


def team_create(*, name: str, owner: User | None = None) -> Team:
    """Create a team; `owner` becomes its first admin."""
    with transaction.atomic():
        team = Team.objects.create(name=name)
        if owner is not None:
            Membership.objects.create(user=owner, team=team, role=TeamRole.ADMIN)
    return team


def membership_add(*, team: Team, user: User, role: str = TeamRole.MEMBER) -> Membership:
    """Add `user` to `team` (idempotent; an existing membership keeps its row, gets `role`)."""
    membership, _ = Membership.objects.update_or_create(
        team=team, user=user, defaults={"role": role}
    )
    return membership


# Campaigns and ads ----------------------------------------------------------------------------


def campaign_create(
    *,
    team: Team,
    name: str,
    brand: str = "",
    description: str = "",
    starts_on: dt.date | None = None,
    ends_on: dt.date | None = None,
    created_by: User | None = None,
) -> Campaign:
    if starts_on and ends_on and ends_on < starts_on:
        raise ValidationError({"ends_on": "The campaign cannot end before it starts."})
    try:
        with transaction.atomic():
            return Campaign.objects.create(
                team=team,
                name=name,
                brand=brand,
                description=description,
                starts_on=starts_on,
                ends_on=ends_on,
                created_by=created_by,
            )
    except IntegrityError as exc:
        if Campaign.objects.filter(team=team, name=name).exists():
            raise ValidationError(
                {"name": f"Team {team.name} already has a campaign named {name!r}."}
            ) from exc
        raise


def ad_create(
    *,
    campaign: Campaign,
    name: str,
    creative: object | None = None,
    creative_url: str = "",
    duration_seconds: float | None = None,
) -> Ad:
    """Create an ad; `creative` is an uploaded image or video (stored through default_storage)."""
    if duration_seconds is not None and duration_seconds <= 0:
        raise ValidationError({"duration_seconds": "The ad's length must be more than 0 s."})
    try:
        with transaction.atomic():
            ad = Ad(
                campaign=campaign,
                name=name,
                creative_url=creative_url,
                duration_seconds=duration_seconds,
            )
            if creative:
                ad.creative = creative
            ad.save()
            return ad
    except IntegrityError as exc:
        if Ad.objects.filter(campaign=campaign, name=name).exists():
            raise ValidationError(
                {"name": f"Campaign {campaign.name} already has an ad named {name!r}."}
            ) from exc
        raise
