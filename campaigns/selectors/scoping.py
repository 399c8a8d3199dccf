"""Rows a user may reach: everything a view fetches is narrowed to the user's teams here."""

from __future__ import annotations

from typing import TypeVar

from django.contrib.auth.models import AnonymousUser, User
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


def scoped_to_user(queryset: QuerySet[M], *, user: User | AnonymousUser) -> QuerySet[M]:
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


def team_list(*, user: User | AnonymousUser) -> QuerySet[Team]:
    return scoped_to_user(Team.objects.all(), user=user)


def campaign_list(*, user: User | AnonymousUser) -> QuerySet[Campaign]:
    """The user's campaigns with their ad and batch counts, newest first."""
    return (
        scoped_to_user(Campaign.objects.select_related("team"), user=user)
        .annotate(ad_count=Count("ads", distinct=True))
        .annotate(batch_count=Count("ads__batches", distinct=True))
    )


def campaign_get(*, user: User | AnonymousUser, campaign_id: int) -> Campaign:
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


def ad_get(*, user: User | AnonymousUser, ad_id: int) -> Ad:
    return get_object_or_404(
        scoped_to_user(Ad.objects.select_related("campaign__team"), user=user), pk=ad_id
    )


def batch_get(*, user: User | AnonymousUser, batch_id: int) -> UploadBatch:
    return get_object_or_404(
        scoped_to_user(UploadBatch.objects.select_related("ad__campaign"), user=user),
        pk=batch_id,
    )


def image_get(*, user: User | AnonymousUser, image_id: int) -> ReactionImage:
    return get_object_or_404(
        scoped_to_user(ReactionImage.objects.select_related("batch__ad__campaign"), user=user),
        pk=image_id,
    )
