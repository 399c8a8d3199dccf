"""Teams and their members, campaigns and ads: what a marketer creates before uploading."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.core.files import File
from django.db import IntegrityError, transaction

from campaigns.creatives import creative_refusal
from campaigns.models import Ad, Campaign, Membership, Team, TeamRole, UploadBatch
from campaigns.services.batches import batches_delete, stored_files_release

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
    _campaign_dates_check(starts_on=starts_on, ends_on=ends_on)
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
            raise _campaign_name_taken(team=team, name=name) from exc
        raise


def campaign_update(
    *,
    campaign: Campaign,
    name: str,
    brand: str = "",
    description: str = "",
    starts_on: dt.date | None = None,
    ends_on: dt.date | None = None,
) -> Campaign:
    """Change a campaign's name, brand, description and dates (its team stays)."""
    _campaign_dates_check(starts_on=starts_on, ends_on=ends_on)
    others = Campaign.objects.filter(team_id=campaign.team_id, name=name).exclude(pk=campaign.pk)
    fields = {
        "name": name,
        "brand": brand,
        "description": description,
        "starts_on": starts_on,
        "ends_on": ends_on,
    }
    try:
        with transaction.atomic():
            Campaign.objects.filter(pk=campaign.pk).update(**fields)
    except IntegrityError as exc:
        if others.exists():
            raise _campaign_name_taken(team=campaign.team, name=name) from exc
        raise
    campaign.refresh_from_db()
    return campaign


def campaign_delete(*, campaign: Campaign) -> None:
    """Delete a campaign with its ads, viewers and every upload (photos, videos, results and
    their stored files); refused while one of its uploads is still being processed."""
    with transaction.atomic():
        batches_delete(
            batches=UploadBatch.objects.filter(ad__campaign=campaign),
            owner=f"campaign {campaign.name}",
        )
        creatives = list(
            Ad.objects.filter(campaign=campaign)
            .exclude(creative="")
            .values_list("creative", flat=True)
        )
        campaign.delete()
        transaction.on_commit(lambda: stored_files_release(names=creatives))


def _campaign_dates_check(*, starts_on: dt.date | None, ends_on: dt.date | None) -> None:
    if starts_on and ends_on and ends_on < starts_on:
        raise ValidationError({"ends_on": "The campaign cannot end before it starts."})


def _campaign_name_taken(*, team: Team, name: str) -> ValidationError:
    return ValidationError({"name": f"Team {team.name} already has a campaign named {name!r}."})


def ad_create(
    *,
    campaign: Campaign,
    name: str,
    creative: object | None = None,
    creative_url: str = "",
    duration_seconds: float | None = None,
) -> Ad:
    """Create an ad; `creative` is an uploaded image or video (stored through default_storage),
    checked first (campaigns.creatives)."""
    ad_fields_check(duration_seconds=duration_seconds, creative=creative)
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
            raise _ad_name_taken(campaign=campaign, name=name) from exc
        raise


def ad_update(
    *,
    ad: Ad,
    name: str,
    creative_url: str = "",
    duration_seconds: float | None = None,
    creative: File[Any] | None = None,
    creative_clear: bool = False,
) -> Ad:
    """Change an ad's name, link and length; `creative` replaces its creative file,
    `creative_clear` removes it. A replaced or removed file is deleted from storage."""
    ad_fields_check(duration_seconds=duration_seconds, creative=creative)
    if Ad.objects.filter(campaign_id=ad.campaign_id, name=name).exclude(pk=ad.pk).exists():
        raise _ad_name_taken(campaign=ad.campaign, name=name)
    stored = Ad.objects.get(pk=ad.pk)
    before = stored.creative.name or ""
    stored.name, stored.creative_url, stored.duration_seconds = name, creative_url, duration_seconds
    if creative:
        stored.creative = creative
    elif creative_clear:
        stored.creative = ""
    try:
        with transaction.atomic():
            stored.save()
            if before and before != stored.creative.name:
                transaction.on_commit(lambda: stored_files_release(names=[before]))
    except IntegrityError as exc:
        if Ad.objects.filter(campaign_id=ad.campaign_id, name=name).exclude(pk=ad.pk).exists():
            raise _ad_name_taken(campaign=ad.campaign, name=name) from exc
        raise
    return stored


def ad_delete(*, ad: Ad) -> None:
    """Delete an ad with every upload (photos, videos, results and their stored files) and
    its creative; refused while one of its uploads is still being processed."""
    with transaction.atomic():
        batches_delete(batches=UploadBatch.objects.filter(ad=ad), owner=f"ad {ad.name}")
        creative = ad.creative.name or ""
        ad.delete()
        if creative:
            transaction.on_commit(lambda: stored_files_release(names=[creative]))


def ad_fields_check(*, duration_seconds: float | None, creative: object | None = None) -> None:
    """ValidationError naming the field when the ad's length or a new creative is refused."""
    _ad_duration_check(duration_seconds)
    if creative:
        _creative_check(creative)


def _ad_duration_check(duration_seconds: float | None) -> None:
    if duration_seconds is not None and duration_seconds <= 0:
        raise ValidationError({"duration_seconds": "The ad's length must be more than 0 s."})
    if duration_seconds is not None and duration_seconds > settings.AD_MAX_SECONDS:
        raise ValidationError(
            {
                "duration_seconds": f"An ad may last at most {settings.AD_MAX_SECONDS:,} s "
                "(AD_MAX_SECONDS)."
            }
        )


def _creative_check(creative: object) -> None:
    if not isinstance(creative, File):
        raise ValidationError({"creative": "Upload the creative as a file."})
    reason = creative_refusal(creative)
    if reason is not None:
        raise ValidationError({"creative": reason})


def _ad_name_taken(*, campaign: Campaign, name: str) -> ValidationError:
    return ValidationError({"name": f"Campaign {campaign.name} already has an ad named {name!r}."})
