"""Every write to campaigns' data. Status changes go through one function per transition.

Transitions are conditional UPDATEs (`WHERE status IN (legal sources)`), so two workers that
race for the same batch or image cannot both win: the loser gets `IllegalTransition`.
"""

from __future__ import annotations

import datetime as dt

from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import IntegrityError, models, transaction
from django.utils import timezone

from campaigns.models import (
    Ad,
    BatchStatus,
    Campaign,
    ImageStatus,
    Membership,
    ReactionImage,
    Team,
    TeamRole,
    UploadBatch,
)
from campaigns.selectors import batch_counts


class IllegalTransition(Exception):
    """A status change that the transition table does not allow from the row's current status."""


# to-status -> statuses it may be entered from.
BATCH_TRANSITIONS: dict[str, frozenset[str]] = {
    BatchStatus.EXTRACTING: frozenset({BatchStatus.RECEIVED}),
    BatchStatus.PROCESSING: frozenset({BatchStatus.EXTRACTING}),
    BatchStatus.DONE: frozenset({BatchStatus.PROCESSING}),
    BatchStatus.PARTIAL: frozenset({BatchStatus.PROCESSING}),
    BatchStatus.FAILED: frozenset(
        {BatchStatus.RECEIVED, BatchStatus.EXTRACTING, BatchStatus.PROCESSING}
    ),
}

IMAGE_TRANSITIONS: dict[str, frozenset[str]] = {
    # A worker that died mid-image leaves it `processing`; the redelivered task may reclaim it.
    ImageStatus.PROCESSING: frozenset({ImageStatus.PENDING, ImageStatus.PROCESSING}),
    ImageStatus.DONE: frozenset({ImageStatus.PROCESSING}),
    ImageStatus.FAILED: frozenset({ImageStatus.PENDING, ImageStatus.PROCESSING}),
    ImageStatus.SKIPPED: frozenset({ImageStatus.PENDING}),
    # Re-analysis (e.g. with a new model version) starts again from pending.
    ImageStatus.PENDING: frozenset({ImageStatus.FAILED, ImageStatus.DONE}),
}


def _transition(
    instance: models.Model,
    *,
    table: dict[str, frozenset[str]],
    to: str,
    **fields: object,
) -> None:
    """Move `instance` to status `to` if the table allows it from its status in the database."""
    sources = table.get(to, frozenset())
    model = type(instance)
    updated = model.objects.filter(pk=instance.pk, status__in=sources).update(status=to, **fields)
    if updated != 1:
        current = model.objects.filter(pk=instance.pk).values_list("status", flat=True).first()
        name = model._meta.verbose_name
        if current is None:
            raise IllegalTransition(f"{name} {instance.pk} no longer exists")
        raise IllegalTransition(
            f"{name} {instance.pk} cannot go from '{current}' to '{to}' "
            f"(allowed from: {', '.join(sorted(sources)) or 'nowhere'})"
        )
    instance.status = to
    for key, value in fields.items():
        setattr(instance, key, value)


# Teams ----------------------------------------------------------------------------------------


def team_create(*, name: str, owner: AbstractBaseUser | None = None) -> Team:
    """Create a team; `owner` becomes its first admin."""
    with transaction.atomic():
        team = Team.objects.create(name=name)
        if owner is not None:
            Membership.objects.create(user=owner, team=team, role=TeamRole.ADMIN)
    return team


def membership_add(
    *, team: Team, user: AbstractBaseUser, role: str = TeamRole.MEMBER
) -> Membership:
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
    created_by: AbstractBaseUser | None = None,
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
    *, campaign: Campaign, name: str, creative: object | None = None, creative_url: str = ""
) -> Ad:
    """Create an ad; `creative` is an uploaded file (stored through default_storage)."""
    try:
        with transaction.atomic():
            ad = Ad(campaign=campaign, name=name, creative_url=creative_url)
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


# Upload batches -------------------------------------------------------------------------------


def batch_extraction_start(*, batch: UploadBatch) -> None:
    """received -> extracting: the ingest worker claims the archive."""
    _transition(
        batch, table=BATCH_TRANSITIONS, to=BatchStatus.EXTRACTING, started_at=timezone.now()
    )


def batch_processing_start(*, batch: UploadBatch) -> None:
    """extracting -> processing: every photo has a row; counters reflect them."""
    batch_recount(batch=batch)
    _transition(batch, table=BATCH_TRANSITIONS, to=BatchStatus.PROCESSING)


def batch_finish(*, batch: UploadBatch) -> None:
    """processing -> done / partial / failed, decided by the recounted image statuses."""
    batch_recount(batch=batch)
    if batch.images_failed == 0:
        to, error = BatchStatus.DONE, ""
    elif batch.images_processed == 0:
        to, error = BatchStatus.FAILED, f"All {batch.images_failed} photos failed."
    else:
        to, error = BatchStatus.PARTIAL, f"{batch.images_failed} photos failed."
    _transition(batch, table=BATCH_TRANSITIONS, to=to, error=error, finished_at=timezone.now())


def batch_fail(*, batch: UploadBatch, error: str) -> None:
    """Any unfinished status -> failed, with a message the uploader can act on."""
    _transition(
        batch,
        table=BATCH_TRANSITIONS,
        to=BatchStatus.FAILED,
        error=error,
        finished_at=timezone.now(),
    )


def batch_recount(*, batch: UploadBatch) -> UploadBatch:
    """Recompute the batch's counters from its images and faces, in the database."""
    counts = batch_counts(batch=batch)
    fields = {
        "images_total": counts["total"],
        "images_processed": counts["done"],
        "images_failed": counts["failed"],
        "images_skipped": counts["skipped"],
        "images_duplicate": counts["duplicates"],
        "faces_found": counts["faces"],
    }
    UploadBatch.objects.filter(pk=batch.pk).update(**fields)
    for key, value in fields.items():
        setattr(batch, key, value)
    return batch


# Reaction images ------------------------------------------------------------------------------


def image_processing_start(*, image: ReactionImage) -> None:
    """pending -> processing: an inference worker claims the photo."""
    _transition(image, table=IMAGE_TRANSITIONS, to=ImageStatus.PROCESSING, error="")


def image_done(*, image: ReactionImage) -> None:
    """processing -> done, once its faces are stored."""
    _transition(image, table=IMAGE_TRANSITIONS, to=ImageStatus.DONE, processed_at=timezone.now())


def image_fail(*, image: ReactionImage, error: str) -> None:
    """pending/processing -> failed: this photo alone is lost, with the reason."""
    _transition(
        image,
        table=IMAGE_TRANSITIONS,
        to=ImageStatus.FAILED,
        error=error,
        processed_at=timezone.now(),
    )


def image_skip(*, image: ReactionImage, reason: str) -> None:
    """pending -> skipped: not analysed on purpose (duplicate, not a photo)."""
    _transition(image, table=IMAGE_TRANSITIONS, to=ImageStatus.SKIPPED, error=reason)


def image_requeue(*, image: ReactionImage) -> None:
    """done/failed -> pending, to analyse the photo again."""
    _transition(image, table=IMAGE_TRANSITIONS, to=ImageStatus.PENDING, error="")
