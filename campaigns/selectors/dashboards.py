"""Reads behind the dashboards: emotion counts aggregated in the database, never per face.

Every function takes an already team-scoped campaign or ad (see `campaigns.selectors`) and a
`DashboardFilters`; each returns a handful of rows per ad and emotion however many faces there
are. Confidence is the face's largest class probability, computed in SQL with GREATEST.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.contrib.auth.models import AnonymousUser, User
from django.db.models import Count, F, QuerySet, Sum
from django.db.models.functions import Greatest
from django.utils import timezone

from campaigns.models import (
    PROB_FIELDS,
    Ad,
    Campaign,
    Face,
    ReactionImage,
    UploadBatch,
)
from campaigns.selectors.scoping import scoped_to_user
from campaigns.stats import ChiSquareResult, chi_square_two_groups
from inference.models import ModelVersion
from inference.selectors import model_version_active
from ml import CLASSES
from ml.metrics import Interval, wilson_interval

# Valence groups shown on the dashboard. Surprise can be delight or shock, so it counts as
# neither positive nor negative; neutral is neither by definition.
POSITIVE_EMOTIONS: tuple[str, ...] = ("happy",)
NEGATIVE_EMOTIONS: tuple[str, ...] = ("angry", "disgust", "fear", "sad")


def face_confidence() -> Greatest:
    """SQL expression: the face's top class probability (its label's probability)."""
    return Greatest(*(F(name) for name in PROB_FIELDS))


@dataclass(frozen=True)
class DashboardFilters:
    """What the user narrowed the dashboard to. Dates are upload dates (batch created_at)."""

    model_version: ModelVersion | None = None
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    min_confidence: float = 0.0


def default_model_version() -> ModelVersion | None:
    """The active model version, else the newest one (so old results stay visible)."""
    return model_version_active() or ModelVersion.objects.first()


def batch_queryset(*, filters: DashboardFilters, **scope: object) -> QuerySet[UploadBatch]:
    """Uploads under `scope` (e.g. ad__campaign=c) in the filters' upload-date range."""
    batches = UploadBatch.objects.filter(**scope)
    if filters.date_from is not None:
        batches = batches.filter(created_at__date__gte=filters.date_from)
    if filters.date_to is not None:
        batches = batches.filter(created_at__date__lte=filters.date_to)
    return batches


def face_queryset(*, filters: DashboardFilters, **batch_scope: object) -> QuerySet[Face]:
    """Faces of the uploads under `batch_scope` matching `filters`.

    Upload ids are fetched first (a small table) and passed as a list: the face scan then
    joins only its photo, and PostgreSQL estimates the rows well enough to hash-aggregate
    (with a subquery it misestimates, sorts and spills to disk).
    """
    batch_ids = list(batch_queryset(filters=filters, **batch_scope).values_list("pk", flat=True))
    faces = Face.objects.filter(image__batch_id__in=batch_ids)
    if filters.model_version is not None:
        faces = faces.filter(model_version=filters.model_version)
    if filters.min_confidence > 0:
        faces = faces.alias(confidence=face_confidence()).filter(
            confidence__gte=filters.min_confidence
        )
    return faces


@dataclass
class EmotionShare:
    emotion: str
    count: int
    share: float
    interval: Interval

    @property
    def percent(self) -> float:
        return 100 * self.share

    @property
    def low_percent(self) -> float:
        return 100 * self.interval.low

    @property
    def high_percent(self) -> float:
        return 100 * self.interval.high


@dataclass
class AdSummary:
    """One ad's row of the comparison table and its stacked bar."""

    ad_id: int
    name: str
    photos: int = 0
    faces: int = 0
    confidence_sum: float = 0.0
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(CLASSES, 0))

    @property
    def mean_confidence(self) -> float | None:
        return self.confidence_sum / self.faces if self.faces else None

    @property
    def shares(self) -> list[EmotionShare]:
        return [
            EmotionShare(
                emotion=name,
                count=self.counts[name],
                share=self.counts[name] / self.faces if self.faces else 0.0,
                interval=wilson_interval(self.counts[name], self.faces),
            )
            for name in CLASSES
        ]

    @property
    def dominant_emotion(self) -> str | None:
        if not self.faces:
            return None
        return max(CLASSES, key=lambda name: self.counts[name])

    def _group(self, names: Iterable[str]) -> EmotionShare:
        count = sum(self.counts[name] for name in names)
        return EmotionShare(
            emotion="+".join(names),
            count=count,
            share=count / self.faces if self.faces else 0.0,
            interval=wilson_interval(count, self.faces),
        )

    @property
    def positive(self) -> EmotionShare:
        return self._group(POSITIVE_EMOTIONS)

    @property
    def negative(self) -> EmotionShare:
        return self._group(NEGATIVE_EMOTIONS)


@dataclass
class CampaignBreakdown:
    """Per-ad summaries and the per-day mix, both summed from one (upload, emotion) GROUP BY."""

    summaries: list[AdSummary]
    timeline: list[tuple[dt.date, dict[str, int]]]


def _add(summary: AdSummary, label: str, n: int, confidence_sum: float | None) -> None:
    summary.counts[label] += n
    summary.faces += n
    summary.confidence_sum += confidence_sum or 0.0


def campaign_breakdown(*, campaign: Campaign, filters: DashboardFilters) -> CampaignBreakdown:
    """Every ad's emotion counts and the mix per upload day, for the campaign dashboard.

    The database returns one row per (upload, emotion), a few thousand at most however many
    faces there are; ads and days are summed from those rows. Photos analysed come from the
    uploads' counters (kept by `campaigns.services.batch_recount`).
    """
    summaries = {
        ad_id: AdSummary(ad_id=ad_id, name=name)
        for ad_id, name in Ad.objects.filter(campaign=campaign).values_list("id", "name")
    }
    batches: dict[int, tuple[int, dt.date]] = {}
    uploads = batch_queryset(filters=filters, ad__campaign=campaign).values_list(
        "pk", "ad_id", "created_at", "images_processed"
    )
    for pk, ad_id, created_at, processed in uploads:
        batches[pk] = (ad_id, timezone.localtime(created_at).date())
        summaries[ad_id].photos += processed
    rows = (
        face_queryset(filters=filters, ad__campaign=campaign)
        .values("image__batch_id", "label")
        .annotate(n=Count("id"), confidence_sum=Sum(face_confidence()))
        .order_by()
    )
    days: dict[dt.date, dict[str, int]] = defaultdict(lambda: dict.fromkeys(CLASSES, 0))
    for row in rows:
        ad_id, day = batches[row["image__batch_id"]]
        _add(summaries[ad_id], row["label"], row["n"], row["confidence_sum"])
        days[day][row["label"]] += row["n"]
    return CampaignBreakdown(summaries=list(summaries.values()), timeline=sorted(days.items()))


def ad_summaries(*, campaign: Campaign, filters: DashboardFilters) -> list[AdSummary]:
    return campaign_breakdown(campaign=campaign, filters=filters).summaries


def ad_summary(*, ad: Ad, filters: DashboardFilters) -> AdSummary:
    summary = AdSummary(ad_id=ad.pk, name=ad.name)
    summary.photos = (
        batch_queryset(filters=filters, ad=ad).aggregate(n=Sum("images_processed"))["n"] or 0
    )
    rows = (
        face_queryset(filters=filters, ad=ad)
        .values("label")
        .annotate(n=Count("id"), confidence_sum=Sum(face_confidence()))
        .order_by()
    )
    for row in rows:
        _add(summary, row["label"], row["n"], row["confidence_sum"])
    return summary


def ad_comparison(first: AdSummary, second: AdSummary) -> ChiSquareResult | None:
    """Chi-square test of two ads' emotion distributions (None if one has no faces)."""
    return chi_square_two_groups(first.counts, second.counts, categories=CLASSES)


@dataclass
class CampaignOverview:
    faces: int = 0
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(CLASSES, 0))

    @property
    def dominant_emotion(self) -> str | None:
        if not self.faces:
            return None
        return max(CLASSES, key=lambda name: self.counts[name])

    @property
    def dominant_percent(self) -> float | None:
        emotion = self.dominant_emotion
        return 100 * self.counts[emotion] / self.faces if emotion else None


def campaign_overviews(
    *,
    user: User | AnonymousUser,
    model_version: ModelVersion | None,
) -> dict[int, CampaignOverview]:
    """Faces analysed and dominant emotion of each of the user's campaigns.

    Grouped by (upload, emotion) in the database, then summed per campaign.
    """
    uploads = scoped_to_user(UploadBatch.objects.all(), user=user)
    campaign_of = dict(uploads.values_list("pk", "ad__campaign_id"))
    faces = Face.objects.filter(image__batch__in=uploads.values("pk"))
    if model_version is not None:
        faces = faces.filter(model_version=model_version)
    rows = faces.values("image__batch_id", "label").annotate(n=Count("id")).order_by()
    overviews: dict[int, CampaignOverview] = defaultdict(CampaignOverview)
    for row in rows:
        overview = overviews[campaign_of[row["image__batch_id"]]]
        overview.counts[row["label"]] += row["n"]
        overview.faces += row["n"]
    return dict(overviews)


def photo_faces(*, image: ReactionImage, filters: DashboardFilters) -> QuerySet[Face]:
    faces = Face.objects.filter(image=image).annotate(confidence=face_confidence())
    if filters.model_version is not None:
        faces = faces.filter(model_version=filters.model_version)
    return faces.order_by("id")


def comparison_pair(
    summaries: list[AdSummary], *, first_id: int | None, second_id: int | None
) -> tuple[AdSummary | None, AdSummary | None]:
    """The two ads to test against each other: the two asked for when both have faces, else
    the two with the most faces (None, None when fewer than two ads have faces)."""
    by_id = {s.ad_id: s for s in summaries if s.faces}
    first, second = by_id.get(first_id or 0), by_id.get(second_id or 0)
    if first and second and first is not second:
        return first, second
    ranked = sorted(by_id.values(), key=lambda s: -s.faces)
    if len(ranked) < 2:
        return None, None
    return ranked[0], ranked[1]
