"""The counts a marketer's decisions are drawn from (`analytics.comparisons` draws them):
each ad's units, timelines, segments and the team's norms, read from the tallies and rollups.

Every figure is a headline (positive share, negative share, valence, one emotion's share)
estimated over units: a viewer is one unit however many faces show them, and a face of no
known viewer is a unit of its own (`analytics.stats`). Counts come from one database scan
grouped by (upload, viewer, second of the ad), a row per viewer-second however many frames
(`FacesScan`).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
from django.db.models import Count, F, Q, Sum
from django.utils import timezone

from analytics.headlines import Headline
from analytics.selectors.dashboards import (
    AdSummary,
    CampaignBreakdown,
    DashboardFilters,
    Reading,
    ad_model_versions,
    ad_readings,
    batch_queryset,
    confidence_step,
    model_version_reading,
    tally_queryset,
    values_array,
)
from analytics.stats import (
    Estimate,
    Moments,
    UnitCounts,
)
from analytics.timelines import (
    SecondRows,
    TimelineBin,
    Timelines,
    timeline_bins,
    timeline_unpack,
    timeline_width,
)
from campaigns.models import (
    NO_VIEWER_KEY,
    Ad,
    Campaign,
    SecondTally,
    TimelineRollup,
    ViewerAttribute,
    ViewerTally,
    tally_confidence_field,
    tally_count_field,
)
from campaigns.selectors.batches import frames_analysed
from ml import CLASSES

# Fewer units than this and an ad is shown but not ranked: its interval is too wide to say.
MIN_RANK_VIEWERS = 10
MIN_RANK_FACES = 30


# An ad with no analysed upload: nothing to read, as classified.
NO_READING = model_version_reading(None, step=0)


def estimate_of(units: UnitCounts, headline: Headline, reading: Reading) -> Estimate:
    return reading.estimate(units, headline)


def enough_units(group: UnitCounts | Moments) -> bool:
    """The one small-sample rule: an ad (or a segment of it) with fewer units than this is
    shown but not ranked, gets no key moments and no percentile: its interval is too wide
    to say."""
    return _rankable(viewers=group.viewer_count, units=group.units, faces=group.faces)


def _rankable(*, viewers: int, units: int, faces: float) -> bool:
    return units >= (MIN_RANK_VIEWERS if viewers else MIN_RANK_FACES) and faces > 0


# upload id -> (ad id, upload day, photos analysed)
Uploads = dict[int, tuple[int, dt.date, int]]


@dataclass
class FacesScan:
    """A campaign's (or an ad's) faces counted per (upload, viewer) and label, read from the
    viewer tallies (a row per viewer however many faces): the verdict, segments, per-ad
    summaries, norms and the confidence filter's effect are sums of these rows. The
    timeline reads the second tallies when asked (`timelines`).

    Rows of no known viewer (NO_VIEWER) hold those faces of one upload together.
    `counts` are the faces the filters keep; `all_counts` the same rows before the minimum
    confidence (equal to `counts` without one).
    """

    ad_ids: np.ndarray
    batch_ids: np.ndarray
    viewer_ids: np.ndarray
    counts: np.ndarray  # rows x CLASSES
    all_counts: np.ndarray
    confidence_sums: np.ndarray
    # upload id -> (ad id, upload day, photos analysed), every upload in the filters' dates
    uploads: Uploads
    filters: DashboardFilters
    batch_scope: dict[str, object]
    _ad_units: dict[bool, dict[int, UnitCounts]] = field(default_factory=dict, repr=False)
    _readings: dict[bool, dict[int, Reading]] = field(default_factory=dict, repr=False)

    def ad_units(self, *, before_confidence: bool = False) -> dict[int, UnitCounts]:
        """Each ad's faces by unit (viewer, or single face); computed once per scan."""
        if before_confidence not in self._ad_units:
            counts = self.all_counts if before_confidence else self.counts
            self._ad_units[before_confidence] = {
                int(ad_id): _units(self.viewer_ids[rows], counts[rows])
                for ad_id, rows in _groups(self.ad_ids)
            }
        return self._ad_units[before_confidence]

    def readings(self, *, before_confidence: bool = False) -> dict[int, Reading]:
        """How each ad's labels are read (at the filters' minimum confidence, or none)."""
        key = not before_confidence
        if key not in self._readings:
            filters = replace(self.filters, min_confidence=0.0) if before_confidence else None
            self._readings[key] = ad_readings(
                filters=filters or self.filters,
                ad_ids={ad_id for ad_id, _, _ in self.uploads.values()},
            )
        return self._readings[key]

    def reading(self, ad_id: int) -> Reading:
        return self.readings().get(ad_id) or NO_READING

    def breakdown(self, *, ad_names: Mapping[int, str]) -> CampaignBreakdown:
        """Per-ad summaries (intervals over units) and each ad's counts per upload day."""
        summaries = {ad_id: AdSummary(ad_id=ad_id, name=name) for ad_id, name in ad_names.items()}
        for ad_id, _, processed in self.uploads.values():
            if ad_id in summaries:
                summaries[ad_id].photos += processed
        batches = batch_queryset(filters=self.filters, **self.batch_scope)
        for ad_id, frames in frames_analysed(batches=batches).items():
            if ad_id in summaries:
                summary = summaries[ad_id]
                summary.frames, summary.photos = frames, max(summary.photos - frames, 0)
        ad_days: dict[int, dict[dt.date, dict[str, int]]] = defaultdict(
            lambda: defaultdict(lambda: dict.fromkeys(CLASSES, 0))
        )
        for batch_id, rows in _groups(self.batch_ids):
            ad_id, day, _ = self.uploads[batch_id]
            summary = summaries[ad_id]
            summary.confidence_sum += float(self.confidence_sums[rows].sum())
            per_label = self.counts[rows].sum(axis=0).astype(int).tolist()
            for label, n in zip(CLASSES, per_label, strict=True):
                summary.counts[label] += n
                summary.faces += n
                ad_days[ad_id][day][label] += n
        for ad_id, group in self.ad_units().items():
            summaries[ad_id].units = group
        for ad_id, summary in summaries.items():
            summary.reading = self.reading(ad_id)
        return CampaignBreakdown(
            summaries=list(summaries.values()),
            ad_days={ad_id: sorted(by_day.items()) for ad_id, by_day in ad_days.items()},
        )

    def has_timeline(self) -> bool:
        return tally_queryset(SecondTally, filters=self.filters, **self.batch_scope).exists()

    def timelines(self) -> Timelines:
        """Each ad's faces that have an offset, in bins of the ad's seconds."""
        return timelines_read(filters=self.filters, uploads=self.uploads, **self.batch_scope)


def uploads_in_scope(*, filters: DashboardFilters, **batch_scope: object) -> Uploads:
    """Upload id -> (ad id, upload day, photos analysed), every upload under `batch_scope`
    in the filters' dates."""
    return {
        pk: (ad_id, timezone.localtime(created_at).date(), processed)
        for pk, ad_id, created_at, processed in batch_queryset(
            filters=filters, **batch_scope
        ).values_list("pk", "ad_id", "created_at", "images_processed")
    }


def timelines_read(
    *, filters: DashboardFilters, uploads: Uploads, **batch_scope: object
) -> Timelines:
    """Each ad's faces that have an offset, in bins of the ad's seconds: from the ad's
    rollups where they are current and the filters allow (no upload dates: a rollup holds
    every upload of the ad; the whole audience or a segment with a rollup of its own), else
    from its second tallies."""
    step = confidence_step(filters.min_confidence)
    ad_ids = sorted({ad_id for ad_id, _, _ in uploads.values()})

    def tallied_rows(wanted: Sequence[int]) -> dict[int, SecondRows]:
        return _second_rows(
            filters=filters, uploads=uploads, step=step, ad_ids=wanted, **batch_scope
        )

    stored = timeline_rollups(filters=filters, ad_ids=ad_ids, step=step, width=1)
    tallied = tallied_rows([ad_id for ad_id in ad_ids if ad_id not in stored])
    units = {
        (ad_id, int(bin_.second_from)): bin_.units.units
        for ad_id, bins in stored.items()
        for bin_ in bins
    }
    for ad_id, rows in tallied.items():
        units.update({(ad_id, s): n for s, n in rows.units_per_second().items()})
    width = timeline_width(units)
    if width != 1:
        stored = timeline_rollups(filters=filters, ad_ids=list(stored), step=step, width=width)
        # An ad whose rollups changed since (an upload finishing) reads its tallies.
        missing = [ad_id for ad_id in ad_ids if ad_id not in stored and ad_id not in tallied]
        tallied.update(tallied_rows(missing))
    bins = dict(stored)
    for ad_id, rows in tallied.items():
        bins[ad_id] = timeline_bins(rows, width=width, labels=CLASSES)
    return Timelines(width=width, bins={ad_id: found for ad_id, found in bins.items() if found})


def _second_rows(
    *,
    filters: DashboardFilters,
    uploads: Uploads,
    step: int,
    ad_ids: Sequence[int],
    **batch_scope: object,
) -> dict[int, SecondRows]:
    """The second tallies of these ads under the filters, per ad."""
    if not ad_ids:
        return {}
    wanted = set(ad_ids)
    batch_ids = [b for b, (ad_id, _, _) in uploads.items() if ad_id in wanted]
    table = values_array(
        tally_queryset(SecondTally, filters=filters, **batch_scope).filter(batch_id__in=batch_ids),
        ["batch_id", "viewer_key", "second", *_count_fields(step)],
    )
    ads = np.array([uploads[b][0] for b in table[:, 0].astype(np.int64).tolist()], dtype=np.int64)
    return {
        ad_id: SecondRows(
            viewers=table[rows, 1].astype(np.int64),
            seconds=table[rows, 2].astype(np.int64),
            counts=table[rows, 3:],
        )
        for ad_id, rows in _groups(ads)
    }


def timeline_rollups(
    *, filters: DashboardFilters, ad_ids: Sequence[int], step: int, width: int
) -> dict[int, list[TimelineBin]]:
    """The current rollups of these ads' timelines in bins of `width` at a confidence step,
    where the filters show one model version per ad and no upload dates (a rollup holds
    every upload of the ad) and leave out the viewers marked low quality (as rollups do), for
    the whole audience or the filters' segment; an ad without one is left out."""
    if filters.date_from or filters.date_to or filters.with_low_quality:
        return {}  # rollups leave out the viewers marked low quality
    name, value = filters.segment or ("", "")
    versions = {
        ad_id: filters.model_version.pk
        if filters.model_version is not None
        else (filters.ad_versions or {}).get(ad_id)
        for ad_id in ad_ids
    }
    wanted = [(ad_id, version) for ad_id, version in versions.items() if version is not None]
    if not wanted:
        return {}
    rollups = TimelineRollup.objects.filter(
        ad_id__in=[ad_id for ad_id, _ in wanted],
        step=step,
        width=width,
        segment_name=name,
        segment_value=value,
        generation=F("ad__tally_generation"),
    ).values_list("ad_id", "model_version_id", "first_bin", "bins")
    return {
        ad_id: timeline_unpack(first, bytes(data), width=width, labels=CLASSES)
        for ad_id, version, first, data in rollups
        if versions.get(ad_id) == version
    }


NO_VIEWER = NO_VIEWER_KEY


def _count_fields(step: int) -> list[str]:
    return [tally_count_field(label, step) for label in CLASSES]


def faces_scan(*, filters: DashboardFilters, **batch_scope: object) -> FacesScan:
    """The faces of the uploads under `batch_scope` (ad__campaign=c, or ad=a), from the
    viewer tallies. ValueError for a minimum confidence between the tallies' steps."""
    step = confidence_step(filters.min_confidence)
    columns = ["batch_id", "viewer_key", *_count_fields(step), tally_confidence_field(step)]
    if step:
        columns += _count_fields(0)
    table = values_array(tally_queryset(ViewerTally, filters=filters, **batch_scope), columns)
    batch_ids = table[:, 0].astype(np.int64)
    uploads = uploads_in_scope(filters=filters, **batch_scope)
    n = len(CLASSES)
    counts = table[:, 2 : 2 + n]
    return FacesScan(
        ad_ids=np.array([uploads[b][0] for b in batch_ids.tolist()], dtype=np.int64),
        batch_ids=batch_ids,
        viewer_ids=table[:, 1].astype(np.int64),
        counts=counts,
        all_counts=table[:, 3 + n : 3 + 2 * n] if step else counts,
        confidence_sums=table[:, 2 + n],
        uploads=uploads,
        filters=filters,
        batch_scope=batch_scope,
    )


@dataclass(frozen=True)
class AdCount:
    """An ad's faces under the filters per label, and the units they come from."""

    counts: np.ndarray
    viewers: int
    singles: int

    @property
    def enough(self) -> bool:
        """The one small-sample rule (`enough_units`), from the counts alone."""
        units = self.viewers + self.singles
        return _rankable(viewers=self.viewers, units=units, faces=float(self.counts.sum()))


def ad_counts(*, filters: DashboardFilters, **batch_scope: object) -> dict[int, AdCount]:
    """Each ad's faces per label and its units under `filters`, counted in the database from
    the viewer tallies (a viewer in several uploads of an ad is one unit)."""
    fields = _count_fields(confidence_step(filters.min_confidence))
    kept = sum((F(name) for name in fields[1:]), F(fields[0]))
    rows = (
        tally_queryset(ViewerTally, filters=filters, **batch_scope)
        .alias(kept=kept)
        .filter(kept__gt=0)
        .values("batch__ad_id")
        .annotate(
            **{label: Sum(name) for label, name in zip(CLASSES, fields, strict=True)},
            viewers=Count("viewer_key", distinct=True, filter=Q(viewer_key__gt=NO_VIEWER_KEY)),
            singles=Sum("kept", filter=Q(viewer_key=NO_VIEWER_KEY)),
        )
        .order_by()
    )
    return {
        row["batch__ad_id"]: AdCount(
            counts=np.array([row[label] or 0 for label in CLASSES], dtype=np.float64),
            viewers=row["viewers"] or 0,
            singles=row["singles"] or 0,
        )
        for row in rows
    }


def ad_summaries(*, campaign: Campaign, filters: DashboardFilters) -> list[AdSummary]:
    """Every ad of the campaign: photos, faces per emotion, shares with intervals over units."""
    names = dict(
        Ad.objects.filter(campaign=campaign).order_by("name", "pk").values_list("pk", "name")
    )
    scan = faces_scan(filters=filters, ad__campaign=campaign)
    return scan.breakdown(ad_names=names).summaries


def ad_summary(*, ad: Ad, filters: DashboardFilters) -> AdSummary:
    (summary,) = faces_scan(filters=filters, ad=ad).breakdown(ad_names={ad.pk: ad.name}).summaries
    return summary


def _groups(keys: np.ndarray) -> list[tuple[int, np.ndarray]]:
    """(key, row indices) for each distinct key, in key order."""
    if not len(keys):
        return []
    order = np.argsort(keys, kind="stable")
    ordered = keys[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    return [
        (int(ordered[start]), rows)
        for start, rows in zip(starts.tolist(), np.split(order, starts[1:]), strict=True)
    ]


def _units(viewer_ids: np.ndarray, counts: np.ndarray) -> UnitCounts:
    """A group from scan rows; rows with no face (all filtered out) are no unit."""
    some = counts.sum(axis=1) > 0
    viewer_ids, counts = viewer_ids[some], counts[some]
    known = viewer_ids != NO_VIEWER
    return UnitCounts.from_arrays(
        labels=CLASSES,
        viewer_ids=viewer_ids[known],
        viewer_counts=counts[known],
        single_counts=counts[~known].sum(axis=0),
    )


# Segments -------------------------------------------------------------------------------------


def attribute_values(*, campaign: Campaign) -> dict[str, list[str]]:
    """Each viewer attribute of the campaign and its values (distinct in the database: a
    campaign may have tens of thousands of viewers)."""
    values: dict[str, list[str]] = defaultdict(list)
    for name, value in (
        ViewerAttribute.objects.filter(viewer__campaign=campaign)
        .values_list("name", "value")
        .distinct()
        .order_by("name", "value")
    ):
        values[name].append(value)
    return dict(values)


def attribute_value_of(*, campaign: Campaign, attribute: str) -> dict[int, str]:
    """Each of the campaign's viewers with the attribute -> its value."""
    return dict(
        ViewerAttribute.objects.filter(viewer__campaign=campaign, name=attribute).values_list(
            "viewer_id", "value"
        )
    )


# Norms ----------------------------------------------------------------------------------------


def team_norm_values(
    *, campaign: Campaign, headline: Headline, filters: DashboardFilters
) -> list[float]:
    """The headline of each of the team's other campaigns' ads with enough units, under the
    page's filters, each ad in its own shown model version (or the one chosen)."""
    team_ads = Ad.objects.filter(campaign__team_id=campaign.team_id).exclude(campaign=campaign)
    if filters.model_version is None:
        versions = ad_model_versions(ad_ids=team_ads.values_list("pk", flat=True))
        if not versions:
            return []
        filters = replace(filters, ad_versions={ad_id: v.pk for ad_id, v in versions.items()})
    found = {
        ad_id: count
        for ad_id, count in ad_counts(filters=filters, ad__in=team_ads).items()
        if count.enough
    }
    readings = ad_readings(filters=filters, ad_ids=list(found))
    values = []
    for ad_id, count in found.items():
        measure = headline.measure(readings[ad_id].correction)
        values.append(measure.linearise(CLASSES, count.counts / count.counts.sum()).value)
    return values
