"""Reads for views and tasks. Everything a user can reach is scoped to the user's teams here."""

from __future__ import annotations

from typing import TypeVar

from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser
from django.db.models import Count, Model, QuerySet
from django.shortcuts import get_object_or_404

from campaigns.models import Ad, Campaign, Face, ReactionImage, Team, UploadBatch

M = TypeVar("M", bound=Model)

# Lookup path from each model to the Team that owns it.
_TEAM_PATH: dict[type[Model], str] = {
    Team: "pk",
    Campaign: "team",
    Ad: "campaign__team",
    UploadBatch: "ad__campaign__team",
    ReactionImage: "batch__ad__campaign__team",
    Face: "image__batch__ad__campaign__team",
}


def scoped_to_user(queryset: QuerySet[M], *, user: AbstractBaseUser | AnonymousUser) -> QuerySet[M]:
    """Narrow `queryset` to rows owned by a team `user` belongs to (none for anonymous users).

    Every view goes through this, so another team's row is a 404, not a 403 that leaks it.
    """
    if not user.is_authenticated:
        return queryset.none()
    try:
        path = _TEAM_PATH[queryset.model]
    except KeyError:
        raise TypeError(f"{queryset.model.__name__} has no team scope") from None
    teams = Team.objects.filter(memberships__user=user).values("pk")
    return queryset.filter(**{f"{path}__in": teams})


def team_list(*, user: AbstractBaseUser | AnonymousUser) -> QuerySet[Team]:
    return scoped_to_user(Team.objects.all(), user=user)


def campaign_list(*, user: AbstractBaseUser | AnonymousUser) -> QuerySet[Campaign]:
    """The user's campaigns with their ad and batch counts, newest first."""
    return (
        scoped_to_user(Campaign.objects.select_related("team"), user=user)
        .annotate(ad_count=Count("ads", distinct=True))
        .annotate(batch_count=Count("ads__batches", distinct=True))
    )


def campaign_get(*, user: AbstractBaseUser | AnonymousUser, campaign_id: int) -> Campaign:
    """The campaign if the user's team owns it, else Http404."""
    return get_object_or_404(
        scoped_to_user(Campaign.objects.select_related("team"), user=user), pk=campaign_id
    )


def ad_list(*, campaign: Campaign) -> QuerySet[Ad]:
    """Ads of an (already scoped) campaign with their batch and face counts."""
    return (
        Ad.objects.filter(campaign=campaign)
        .annotate(batch_count=Count("batches", distinct=True))
        .annotate(face_count=Count("batches__images__faces", distinct=True))
    )


def ad_get(*, user: AbstractBaseUser | AnonymousUser, ad_id: int) -> Ad:
    return get_object_or_404(
        scoped_to_user(Ad.objects.select_related("campaign__team"), user=user), pk=ad_id
    )


def batch_get(*, user: AbstractBaseUser | AnonymousUser, batch_id: int) -> UploadBatch:
    return get_object_or_404(
        scoped_to_user(UploadBatch.objects.select_related("ad__campaign"), user=user),
        pk=batch_id,
    )


def batch_counts(*, batch: UploadBatch) -> dict[str, int]:
    """Images by status and faces of a batch, counted in the database.

    Skipped includes duplicates. Faces are those of the model version the batch was analysed
    with: results are kept per version.
    """
    from django.db.models import Q

    from campaigns.models import ImageStatus

    counts = ReactionImage.objects.filter(batch=batch).aggregate(
        total=Count("id"),
        done=Count("id", filter=Q(status=ImageStatus.DONE)),
        failed=Count("id", filter=Q(status=ImageStatus.FAILED)),
        skipped=Count("id", filter=Q(status=ImageStatus.SKIPPED)),
        duplicates=Count("id", filter=Q(status=ImageStatus.SKIPPED, duplicate_of__isnull=False)),
    )
    faces = Face.objects.filter(image__batch=batch)
    if batch.model_version_id is not None:
        faces = faces.filter(model_version_id=batch.model_version_id)
    counts["faces"] = faces.count()
    return counts


def batch_progress(*, batch: UploadBatch) -> dict:
    """Live progress of a batch for its page and JSON endpoint, counted in the database."""
    counts = batch_counts(batch=batch)
    to_analyse = counts["total"] - counts["skipped"]
    analysed = counts["done"] + counts["failed"]
    if batch.status == UploadBatch.Status.PROCESSING:
        stage = f"processing {analysed}/{to_analyse}"
    else:
        stage = batch.get_status_display().lower()
    return {
        "id": batch.pk,
        "status": batch.status,
        "stage": stage,
        "finished": batch.is_finished,
        "error": batch.error,
        "members": counts["total"],
        "to_analyse": to_analyse,
        "analysed": analysed,
        "processed": counts["done"],
        "failed": counts["failed"],
        "skipped": counts["skipped"] - counts["duplicates"],
        "duplicates": counts["duplicates"],
        "faces": counts["faces"],
        "model_version": str(batch.model_version) if batch.model_version_id else None,
    }


def batch_problem_images(*, batch: UploadBatch) -> QuerySet[ReactionImage]:
    """Members of the batch that were not analysed, or failed, with their reasons."""
    from campaigns.models import ImageStatus

    return ReactionImage.objects.filter(
        batch=batch, status__in=(ImageStatus.FAILED, ImageStatus.SKIPPED)
    ).order_by("status", "pk")
