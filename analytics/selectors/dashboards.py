"""Reads behind the dashboards: emotion counts aggregated in the database, never per face.

Every function takes an already team-scoped campaign or ad (see `campaigns.selectors`) and a
`DashboardFilters`; each returns a handful of rows per ad and emotion however many faces there
are. Confidence is the face's largest class probability, computed in SQL with GREATEST.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

import numpy as np
from django.contrib.auth.models import AnonymousUser, User
from django.core.exceptions import EmptyResultSet
from django.db import connections
from django.db.models import Count, F, Q, QuerySet, Value
from django.db.models.functions import Coalesce, Floor, Greatest

from analytics import wording
from analytics.attention import FrameCounts
from analytics.headlines import GROUP_HEADLINES, HEADLINES, Headline
from analytics.stats import Estimate, UnitCounts, group_estimate
from campaigns.models import (
    PROB_FIELDS,
    Face,
    ImageStatus,
    ReactionImage,
    SecondTally,
    UploadBatch,
    Viewer,
    ViewerAttribute,
    ViewerTally,
)
from campaigns.selectors.scoping import scoped_to_user
from inference.models import ModelVersion
from inference.selectors import model_version_active
from ml import CLASSES, CONFIDENCE_STEPS
from ml.attentive import ATTENTIVE_MAX_PITCH, ATTENTIVE_MAX_YAW, EYES_OPEN_MIN, QUALITY_MIN
from ml.measurement import emotions_unmeasured
from ml.metrics import Interval
from ml.quantification import HEADLINE_GROUPS, GroupCorrection, measured_correction


def face_confidence() -> Greatest:
    """SQL expression: the face's top class probability (its label's probability)."""
    return Greatest(*(F(name) for name in PROB_FIELDS))


@dataclass(frozen=True)
class DashboardFilters:
    """What the user narrowed the dashboard to. Dates are upload dates (batch created_at).

    `model_version` picks one version for every ad; without it, `ad_versions` (ad id ->
    version id, from `ad_model_versions`) gives each ad its own, and without either every
    version's faces count.
    """

    model_version: ModelVersion | None = None
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    min_confidence: float = 0.0
    ad_versions: Mapping[int, int] | None = None
    # (attribute name, value): only the faces of viewers with that segment value.
    segment: tuple[str, str] | None = None
    # Shares as the model labelled the faces, not corrected for its measured errors.
    as_classified: bool = False
    # The faces of viewers marked low quality (`Viewer.low_quality`: a capture session under
    # the quality threshold) count too; by default they are left out of every figure.
    with_low_quality: bool = False


def default_model_version() -> ModelVersion | None:
    """The active model version, else the newest one (so old results stay visible)."""
    return model_version_active() or ModelVersion.objects.first()


def ad_model_versions(*, ad_ids: Iterable[int]) -> dict[int, ModelVersion]:
    """The version whose results each ad shows: the active one when any upload of the ad was
    analysed with it, else the newest that analysed one (activating a new version never
    empties a dashboard). Ads with no analysed upload are absent."""
    active = model_version_active()
    wanted = list(ad_ids)
    used: dict[int, set[int]] = defaultdict(set)
    for ad_id, version_id in (
        UploadBatch.objects.filter(ad_id__in=wanted, model_version__isnull=False)
        .values_list("ad_id", "model_version_id")
        .distinct()
    ):
        used[ad_id].add(version_id)
    # Uploads that do not record their version (rows written by hand, by an old release):
    # the versions of their faces.
    unrecorded = [ad_id for ad_id in wanted if ad_id not in used]
    if unrecorded:
        for ad_id, version_id in (
            Face.objects.filter(image__batch__ad_id__in=unrecorded)
            .values_list("image__batch__ad_id", "model_version_id")
            .distinct()
        ):
            used[ad_id].add(version_id)
    versions = {
        v.pk: v for v in ModelVersion.objects.filter(pk__in={v for vs in used.values() for v in vs})
    }
    chosen = {}
    for ad_id, version_ids in used.items():
        if active is not None and active.pk in version_ids:
            chosen[ad_id] = active
        else:
            chosen[ad_id] = max(
                (versions[v] for v in version_ids), key=lambda v: (v.created_at, v.pk)
            )
    return chosen


def for_one_ad(filters: DashboardFilters, *, ad_id: int) -> DashboardFilters:
    """`filters` for the pages of one ad: the chosen version, else the ad's own newest."""
    if filters.model_version is not None:
        return filters
    return replace(filters, model_version=ad_model_versions(ad_ids=[ad_id]).get(ad_id))


def with_ad_versions(filters: DashboardFilters, *, ad_ids: Iterable[int]) -> DashboardFilters:
    """`filters` that show each ad its own version's results, unless one version was chosen."""
    if filters.model_version is not None:
        return filters
    chosen = ad_model_versions(ad_ids=ad_ids)
    return replace(filters, ad_versions={ad_id: v.pk for ad_id, v in chosen.items()})


def batch_queryset(*, filters: DashboardFilters, **scope: object) -> QuerySet[UploadBatch]:
    """Uploads under `scope` (e.g. ad__campaign=c) in the filters' upload-date range."""
    batches = UploadBatch.objects.filter(**scope)
    if filters.date_from is not None:
        batches = batches.filter(created_at__date__gte=filters.date_from)
    if filters.date_to is not None:
        batches = batches.filter(created_at__date__lte=filters.date_to)
    return batches


def _version_condition(
    uploads: list[tuple[int, int]], filters: DashboardFilters, *, batch_field: str
) -> Q | None:
    """The rows of the filters' model version(s): one for every ad, or each ad its own."""
    if filters.model_version is not None:
        return Q(model_version_id=filters.model_version.pk)
    if filters.ad_versions is None:
        return None
    by_version: dict[int, list[int]] = defaultdict(list)
    for pk, ad_id in uploads:
        if ad_id in filters.ad_versions:
            by_version[filters.ad_versions[ad_id]].append(pk)
    condition = Q(pk__in=[])
    for version_id, batch_ids in by_version.items():
        condition |= Q(**{f"{batch_field}__in": batch_ids}, model_version_id=version_id)
    return condition


# Faces whose expression counts: quality at least QUALITY_MIN, or not measured (as tallied).
READABLE = Q(quality__isnull=True) | Q(quality__gte=QUALITY_MIN)


def kept_viewers(prefix: str) -> Q:
    """The condition on photos (reached through `prefix`) whose viewer counts by default: no
    known viewer, or one not marked low quality."""
    return Q(**{f"{prefix}viewer__isnull": True}) | Q(**{f"{prefix}viewer__low_quality": False})


def left_out_viewer_keys() -> QuerySet[Viewer, Any]:
    """The ids of the viewers marked low quality (a subquery: few rows, indexed)."""
    return Viewer.objects.filter(low_quality=True).values("pk")


def face_queryset(*, filters: DashboardFilters, **batch_scope: object) -> QuerySet[Face]:
    """Faces of the uploads under `batch_scope` matching `filters` whose expression counts
    (`READABLE`): what the shares are computed from."""
    return every_face_queryset(filters=filters, **batch_scope).filter(READABLE)


def every_face_queryset(*, filters: DashboardFilters, **batch_scope: object) -> QuerySet[Face]:
    """Faces of the uploads under `batch_scope` matching `filters`, those whose expression
    does not count included (the faces CSV lists them, marked).

    Upload ids are fetched first (a small table) and passed as a list: the face scan then
    joins only its photo, and PostgreSQL estimates the rows well enough to hash-aggregate
    (with a subquery it misestimates, sorts and spills to disk).
    """
    uploads = list(batch_queryset(filters=filters, **batch_scope).values_list("pk", "ad_id"))
    faces = Face.objects.filter(image__batch_id__in=[pk for pk, _ in uploads])
    version = _version_condition(uploads, filters, batch_field="image__batch_id")
    if version is not None:
        faces = faces.filter(version)
    if not filters.with_low_quality:
        faces = faces.filter(kept_viewers("image__"))
    if filters.segment is not None:
        name, value = filters.segment
        faces = faces.filter(
            image__viewer__attributes__name=name, image__viewer__attributes__value=value
        )
    if filters.min_confidence > 0:
        faces = faces.alias(confidence=face_confidence()).filter(
            confidence__gte=filters.min_confidence
        )
    return faces


# An attentive face (`ml.attentive.attentive`), as a database condition.
LOOKING = Q(
    yaw__gte=-ATTENTIVE_MAX_YAW,
    yaw__lte=ATTENTIVE_MAX_YAW,
    pitch__gte=-ATTENTIVE_MAX_PITCH,
    pitch__lte=ATTENTIVE_MAX_PITCH,
    eye_openness__gte=EYES_OPEN_MIN,
)
_FrameKey = tuple[int, int, int]


def _frames_in_scope(
    uploads: list[tuple[int, int]], filters: DashboardFilters, width: float | None, prefix: str
) -> tuple[Q, Any, Any]:
    """The condition on analysed frames (reached through `prefix`) and their bin and unit
    expressions: the frames' and the faces' queries group by the same keys."""
    condition = Q(
        **{f"{prefix}batch_id__in": [pk for pk, _ in uploads], f"{prefix}status": ImageStatus.DONE}
    )
    if width is not None:
        condition &= Q(**{f"{prefix}offset_seconds__isnull": False})
    if not filters.with_low_quality:
        condition &= kept_viewers(prefix)
    if filters.segment is not None:
        name, value = filters.segment
        condition &= Q(
            **{
                f"{prefix}viewer__attributes__name": name,
                f"{prefix}viewer__attributes__value": value,
            }
        )
    offset = F(f"{prefix}offset_seconds")
    index = Value(0) if width is None else Floor(offset / width)
    return condition, index, Coalesce(f"{prefix}viewer_id", -F(f"{prefix}id"))


def attention_frame_counts(
    *, filters: DashboardFilters, width: float | None, **batch_scope: object
) -> list[FrameCounts]:
    """Per ad, bin of `width` seconds (None: one bin, 0, for all the ad's photos and frames,
    with an offset or not) and unit (a viewer, or minus the id of a frame of no known
    viewer): frames analysed, frames with a face and frames with an attentive face
    (`ml.attentive`), counted in the database by two grouped scans (frames; faces joined
    to their frames). Every frame counts, faces or not: a frame with no face is a viewer
    not there. The minimum confidence does not apply (attention is not an expression)."""
    uploads = list(batch_queryset(filters=filters, **batch_scope).values_list("pk", "ad_id"))
    condition, index, unit = _frames_in_scope(uploads, filters, width, "")
    frames = (
        ReactionImage.objects.filter(condition)
        .annotate(bin=index, unit=unit)
        .values_list("batch__ad_id", "bin", "unit")
        .annotate(n=Count("id"))
    )
    condition, index, unit = _frames_in_scope(uploads, filters, width, "image__")
    faces = Face.objects.filter(condition)
    version = _version_condition(uploads, filters, batch_field="image__batch_id")
    if version is not None:
        faces = faces.filter(version)
    seen: dict[_FrameKey, tuple[int, int]] = {
        (ad_id, int(key_bin), int(key_unit)): (present, looking)
        for ad_id, key_bin, key_unit, present, looking in faces.annotate(bin=index, unit=unit)
        .values_list("image__batch__ad_id", "bin", "unit")
        .annotate(
            present_frames=Count("image_id", distinct=True),
            looking_frames=Count("image_id", distinct=True, filter=LOOKING),
        )
    }
    return [
        FrameCounts(
            ad_id, int(index), int(unit), n, *seen.get((ad_id, int(index), int(unit)), (0, 0))
        )
        for ad_id, index, unit, n in frames
    ]


def unreadable_face_count(*, filters: DashboardFilters, **batch_scope: object) -> int:
    """Faces under `batch_scope` kept but not counted: their quality is under QUALITY_MIN."""
    return every_face_queryset(filters=filters, **batch_scope).exclude(READABLE).count()


TallyModel = TypeVar("TallyModel", ViewerTally, SecondTally)


def tally_queryset(
    tally: type[TallyModel], *, filters: DashboardFilters, **batch_scope: object
) -> QuerySet[TallyModel]:
    """The tally rows of the uploads under `batch_scope` matching `filters`, all but the
    minimum confidence (a tally holds every confidence step: the caller picks its columns,
    see `confidence_step`)."""
    uploads = list(batch_queryset(filters=filters, **batch_scope).values_list("pk", "ad_id"))
    rows = tally.objects.filter(batch_id__in=[pk for pk, _ in uploads])
    version = _version_condition(uploads, filters, batch_field="batch_id")
    if version is not None:
        rows = rows.filter(version)
    if not filters.with_low_quality:
        rows = rows.exclude(viewer_key__in=left_out_viewer_keys())
    if filters.segment is not None:
        name, value = filters.segment
        viewers = ViewerAttribute.objects.filter(name=name, value=value).values("viewer_id")
        rows = rows.filter(viewer_key__in=viewers)
    return rows


def low_quality_viewer_count(*, filters: DashboardFilters, **batch_scope: object) -> int:
    """Viewers marked low quality with photos in the uploads under `batch_scope` (in the
    filters' dates and segment): those the figures leave out unless `with_low_quality`."""
    uploads = batch_queryset(filters=filters, **batch_scope).values("pk")
    viewers = Viewer.objects.filter(low_quality=True, images__batch__in=uploads)
    if filters.segment is not None:
        name, value = filters.segment
        viewers = viewers.filter(attributes__name=name, attributes__value=value)
    return viewers.distinct().count()


def confidence_step(min_confidence: float) -> int:
    """The tally step (percent) of a minimum confidence; ValueError for one between steps."""
    step = round(min_confidence * 100)
    if step not in CONFIDENCE_STEPS or abs(step - min_confidence * 100) > 1e-6:
        steps = ", ".join(f"{s}%" for s in CONFIDENCE_STEPS)
        raise ValueError(f"A minimum confidence is one of {steps}; got {min_confidence:.0%}.")
    return step


@dataclass(frozen=True)
class Reading:
    """How one ad's labels become the shares shown: corrected for its model version's errors
    measured on real photos at the filters' minimum confidence, or as classified (when asked,
    or when the version has no measurement: `note` says why); and the emotions that version
    does not measure reliably (emotion -> why)."""

    model_version: ModelVersion | None
    correction: GroupCorrection
    unmeasured: Mapping[str, str] = field(default_factory=dict)
    note: str = ""

    @property
    def corrected(self) -> bool:
        return self.correction.is_corrected

    @property
    def model_name(self) -> str:
        version = self.model_version
        return f"{version.name} {version.version}" if version is not None else "several models"

    def estimate(self, units: UnitCounts | None, headline: Headline) -> Estimate:
        if units is None:
            return Estimate(0.0, 0.0, 0, 0, headline.bounds)
        return group_estimate(units, headline.measure(self.correction))

    def measures(self, emotion: str) -> bool:
        return emotion not in self.unmeasured


AS_CLASSIFIED = GroupCorrection.as_classified()


def model_version_reading(
    model_version: ModelVersion | None, *, step: int, as_classified: bool = False
) -> Reading:
    """How faces of `model_version` counted at the confidence `step` are read."""
    if model_version is None:
        return Reading(None, AS_CLASSIFIED, note=wording.AS_CLASSIFIED_SEVERAL_VERSIONS)
    measurement = model_version.measurement or {}
    unmeasured = emotions_unmeasured(measurement)
    if as_classified:
        return Reading(model_version, AS_CLASSIFIED, unmeasured, wording.AS_CLASSIFIED_ASKED)
    correction = measured_correction(measurement, step) if measurement else None
    if correction is None:
        note = wording.as_classified_unmeasured(f"{model_version.name} {model_version.version}")
        return Reading(model_version, AS_CLASSIFIED, unmeasured, note)
    return Reading(model_version, correction, unmeasured)


def ad_readings(*, filters: DashboardFilters, ad_ids: Iterable[int]) -> dict[int, Reading]:
    """How each ad's labels are read under `filters` (its shown model version)."""
    step = confidence_step(filters.min_confidence)
    wanted = list(ad_ids)
    if filters.model_version is not None:
        reading = model_version_reading(
            filters.model_version, step=step, as_classified=filters.as_classified
        )
        return dict.fromkeys(wanted, reading)
    chosen = filters.ad_versions or {}
    versions = ModelVersion.objects.in_bulk({chosen[a] for a in wanted if a in chosen})
    by_version = {
        pk: model_version_reading(version, step=step, as_classified=filters.as_classified)
        for pk, version in versions.items()
    }
    mixed = model_version_reading(None, step=step)
    return {a: by_version[chosen[a]] if a in chosen else mixed for a in wanted}


@dataclass
class EmotionShare:
    """One emotion's (or headline group's) share of an ad, with its interval; `measured`
    False when the model does not measure that emotion reliably (`reason` says why)."""

    emotion: str
    count: int
    estimate: Estimate
    measured: bool = True
    reason: str = ""

    @property
    def share(self) -> float:
        return self.estimate.value

    @property
    def interval(self) -> Interval:
        return self.estimate.interval

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
    """One ad's row of the comparison table and its stacked bar: its faces by unit, read
    as its `reading` says (corrected, or as classified)."""

    ad_id: int
    name: str
    # Analysed images: photos, and frames sampled from reaction videos.
    photos: int = 0
    frames: int = 0
    faces: int = 0
    confidence_sum: float = 0.0
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(CLASSES, 0))
    # The same faces by unit: with it every interval takes a viewer as one unit.
    units: UnitCounts | None = None
    reading: Reading = field(default_factory=lambda: model_version_reading(None, step=0))

    def estimate(self, headline: Headline) -> Estimate:
        return self.reading.estimate(self.units if self.faces else None, headline)

    def classified(self, headline: Headline) -> Estimate:
        """The headline as the model labelled the faces (not corrected)."""
        return model_version_reading(None, step=0).estimate(
            self.units if self.faces else None, headline
        )

    @property
    def mean_confidence(self) -> float | None:
        return self.confidence_sum / self.faces if self.faces else None

    @property
    def shares(self) -> list[EmotionShare]:
        return [
            EmotionShare(
                emotion=name,
                count=self.counts[name],
                estimate=self.estimate(HEADLINES[name]),
                measured=self.reading.measures(name),
                reason=self.reading.unmeasured.get(name, ""),
            )
            for name in CLASSES
        ]

    @property
    def groups(self) -> list[EmotionShare]:
        """Positive, negative and neither: the headline groups' shares."""
        return [
            EmotionShare(
                emotion=headline.key,
                count=sum(self.counts[name] for name in HEADLINE_GROUPS[headline.key]),
                estimate=self.estimate(headline),
            )
            for headline in GROUP_HEADLINES
        ]

    @property
    def dominant(self) -> str | None:
        """Which headline group the ad's faces showed most (positive, negative, or neither),
        from the shares shown: never at odds with them."""
        if not self.faces:
            return None
        largest = max(self.groups, key=lambda group: group.share)
        return "neither" if largest.emotion == "other" else largest.emotion

    @property
    def positive(self) -> EmotionShare:
        return self.groups[0]

    @property
    def negative(self) -> EmotionShare:
        return self.groups[1]

    @property
    def valence(self) -> Estimate:
        return self.estimate(HEADLINES["valence"])

    @property
    def positive_as_classified(self) -> Estimate:
        return self.classified(HEADLINES["positive"])

    @property
    def negative_as_classified(self) -> Estimate:
        return self.classified(HEADLINES["negative"])


@dataclass
class CampaignBreakdown:
    """Per-ad summaries and each ad's mix per upload day (`decisions.FacesScan.breakdown`)."""

    summaries: list[AdSummary]
    # ad id -> [(upload day, faces per emotion)], oldest first.
    ad_days: dict[int, list[tuple[dt.date, dict[str, int]]]] = field(default_factory=dict)


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
    faces = Face.objects.filter(
        READABLE, kept_viewers("image__"), image__batch__in=uploads.values("pk")
    )
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


def values_array(rows: QuerySet[Any], columns: list[str]) -> np.ndarray:
    """The rows' columns as a float array. Tens of thousands of rows of plain numbers: read
    with the cursor, skipping the ORM's per-value converters."""
    query = rows.order_by().values_list(*columns)
    try:
        sql, params = query.query.sql_with_params()
    except EmptyResultSet:  # no upload matches: the query would select nothing
        found: list[tuple[Any, ...]] = []
    else:
        with connections[query.db].cursor() as cursor:
            cursor.execute(sql, params)
            found = cursor.fetchall()
    return np.array(found, dtype=float).reshape(len(found), len(columns))
