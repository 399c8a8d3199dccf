"""What a marketer decides with, drawn from the counts the selectors read
(`analytics.selectors.decisions`): which ad is better and by how much (the verdict, every
pair tested, Holm-corrected), when in the ad viewers react (key moments), for whom (a viewer
attribute's segments) and against what norm (the campaign's average, the team's ads). The
sentences come from `analytics.wording`.
"""

from __future__ import annotations

import itertools
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from analytics import wording
from analytics.headlines import Headline
from analytics.selectors.dashboards import DashboardFilters, Reading
from analytics.selectors.decisions import (
    NO_READING,
    attribute_value_of,
    enough_units,
    estimate_of,
    team_norm_values,
)
from analytics.stats import (
    Estimate,
    UnitCounts,
    difference_estimate,
    holm_adjusted,
    moments_difference,
)
from analytics.timelines import Timelines
from campaigns.models import Campaign
from ml import CLASSES

KEY_MOMENTS_PER_AD = 3
# A family of tests is clear at this family-wise error rate (Holm).
ALPHA = 0.05


# The verdict ----------------------------------------------------------------------------------


@dataclass
class Standing:
    ad_id: int
    name: str
    estimate: Estimate
    units: UnitCounts
    rankable: bool
    rank: int | None = None
    # best minus this ad, and whether Holm-corrected tests call it clear
    behind_best: Estimate | None = None
    clearly_behind: bool = False
    sentence: str = ""
    reading: Reading = field(default_factory=lambda: NO_READING)

    @property
    def unit_count(self) -> int:
        return self.estimate.units


@dataclass
class Verdict:
    headline: Headline
    standings: list[Standing]
    summary: str
    unit_note: str
    # every pair of ranked ads: (first, second, first minus second, Holm-adjusted p-value)
    pairs: list[tuple[Standing, Standing, Estimate, float]] = field(default_factory=list)

    @property
    def ranked(self) -> list[Standing]:
        return [s for s in self.standings if s.rank is not None]

    @property
    def unranked(self) -> list[Standing]:
        return [s for s in self.standings if s.rank is None and s.units.faces]


def verdict(
    *,
    ads: Sequence[tuple[int, str]],
    units: Mapping[int, UnitCounts],
    headline: Headline,
    readings: Mapping[int, Reading],
) -> Verdict:
    """The ads ranked by `headline` (each read as `readings` says), each against the best
    with its difference and interval; all pairs tested, Holm-corrected; ads with too few
    units listed apart, unranked."""
    standings = []
    for ad_id, name in ads:
        group = units.get(ad_id) or UnitCounts(CLASSES)
        reading = readings.get(ad_id) or NO_READING
        standings.append(
            Standing(
                ad_id=ad_id,
                name=name,
                estimate=estimate_of(group, headline, reading),
                units=group,
                rankable=enough_units(group),
                reading=reading,
            )
        )
    descending = headline.higher_is_better is not False
    ranked = sorted(
        (s for s in standings if s.rankable),
        key=lambda s: -s.estimate.value if descending else s.estimate.value,
    )
    for rank, standing in enumerate(ranked, start=1):
        standing.rank = rank
    pairs = [
        (
            a,
            b,
            difference_estimate(
                a.units,
                b.units,
                headline.measure(a.reading.correction),
                headline.measure(b.reading.correction),
            ),
        )
        for i, a in enumerate(ranked)
        for b in ranked[i + 1 :]
    ]
    adjusted = holm_adjusted([d.p_value for _, _, d in pairs])
    tested = [(a, b, d, p) for (a, b, d), p in zip(pairs, adjusted, strict=True)]
    best = ranked[0] if ranked else None
    for a, b, d, p in tested:
        if a is best:
            b.behind_best, b.clearly_behind = d, p < ALPHA
            b.sentence = wording.behind_best_sentence(
                headline, a.name, b.name, d, clear=b.clearly_behind
            )
    for standing in standings:
        if not standing.units.faces:
            standing.sentence = wording.NO_FACES_YET
        elif not standing.rankable:
            standing.sentence = wording.too_few_sentence(
                unit_name=standing.units.unit_name, units=standing.estimate.units
            )
    return Verdict(
        headline=headline,
        standings=sorted(standings, key=lambda s: (s.rank is None, s.rank or 0, s.name.lower())),
        summary=_summary(headline, ranked),
        unit_note=wording.unit_note(
            viewers=sum(s.units.viewer_count for s in standings),
            singles=sum(s.units.single_faces for s in standings),
        ),
        pairs=tested,
    )


def _summary(headline: Headline, ranked: list[Standing]) -> str:
    close = ranked[:1] + [s for s in ranked[1:] if not s.clearly_behind]
    return wording.verdict_summary(
        headline,
        ranked=[s.name for s in ranked],
        gap=ranked[1].behind_best if len(ranked) > 1 else None,
        close=[s.name for s in close],
    )


# The ad's timeline ----------------------------------------------------------------------------


@dataclass
class KeyMoment:
    ad_id: int
    ad_name: str
    headline: Headline
    second_from: float
    second_to: float
    change: Estimate
    p_adjusted: float

    @property
    def sentence(self) -> str:
        return wording.key_moment_sentence(
            self.headline,
            second_from=self.second_from,
            second_to=self.second_to,
            change=self.change,
        )


def key_moments(
    *,
    timeline: Timelines,
    ad_names: Mapping[int, str],
    headlines: Sequence[Headline],
    readings: Mapping[int, Reading],
    eligible: Iterable[int],
) -> list[KeyMoment]:
    """Per ad with enough units to rank (`eligible`), the bins where a headline changes most
    from the bin before, only where the change is beyond noise (Holm-corrected over all of
    the ad's changes), largest first."""
    moments = []
    wanted = set(eligible)
    for ad_id, bins in timeline.bins.items():
        if ad_id not in wanted:
            continue
        reading = readings.get(ad_id) or NO_READING
        candidates = []
        for headline in headlines:
            measure = headline.measure(reading.correction)
            for before, after in itertools.pairwise(bins):
                if before.to_next is None:
                    continue  # a gap: no viewer in between, no change to read
                change = moments_difference(
                    after.units, before.units, before.to_next.transposed(), measure
                )
                candidates.append((headline, after, change))
        adjusted = holm_adjusted([change.p_value for _, _, change in candidates])
        clear = [
            KeyMoment(ad_id, ad_names.get(ad_id, "?"), h, b.second_from, b.second_to, c, p)
            for (h, b, c), p in zip(candidates, adjusted, strict=True)
            if p < ALPHA
        ]
        clear.sort(key=lambda m: -abs(m.change.value))
        moments += clear[:KEY_MOMENTS_PER_AD]
    return moments


# Segments ---------------------------------------------------------------------------------------


@dataclass
class SegmentCell:
    """One ad's headline within one segment; `enough` False when its units are too few to
    compare (the small-sample rule of the verdict)."""

    estimate: Estimate
    units: UnitCounts
    enough: bool


@dataclass
class SegmentRow:
    value: str
    per_ad: dict[int, SegmentCell]


def segment_breakdown(
    *,
    campaign: Campaign,
    units: Mapping[int, UnitCounts],
    attribute: str,
    headline: Headline,
    readings: Mapping[int, Reading],
) -> list[SegmentRow]:
    """The headline of each ad for each value of a viewer attribute (viewers without it, and
    faces of no known viewer, under 'unknown')."""
    value_of = attribute_value_of(campaign=campaign, attribute=attribute)
    groups: dict[str, dict[int, UnitCounts]] = defaultdict(dict)
    for ad_id, group in units.items():
        values = np.array(
            [value_of.get(v, "unknown") for v in group.viewer_ids.tolist()], dtype=object
        )
        for value in set(values.tolist()) | ({"unknown"} if group.single_faces else set()):
            groups[value][ad_id] = group.subset(values == value, with_singles=value == "unknown")
    order = sorted(groups, key=lambda v: (v == "unknown", v))
    return [
        SegmentRow(
            value=value,
            per_ad={
                ad_id: SegmentCell(
                    estimate_of(group, headline, readings.get(ad_id) or NO_READING),
                    group,
                    enough_units(group),
                )
                for ad_id, group in groups[value].items()
            },
        )
        for value in order
    ]


# Norms ----------------------------------------------------------------------------------------


@dataclass
class Norm:
    ad_id: int
    value: float
    # The headline over every analysed face of the campaign (all its ads, a viewer one unit).
    campaign_average: Estimate | None
    # Where the ad stands among the team's analysed ads: the share of them it beats, ties
    # (itself included) counted half (the mid-rank percentile), so the best of two ads is at
    # 75 whichever way the headline runs. None for an ad with too few units to rank.
    percentile: float | None
    norm_ads: int


def norms(
    *,
    campaign: Campaign,
    standings: Sequence[Standing],
    headline: Headline,
    filters: DashboardFilters,
) -> list[Norm]:
    """Each ad against the campaign's average and against every analysed ad of its team with
    enough units to rank (the norm: where the ad stands among them, as a percentile). The
    team's ads are read under the same filters as the page (dates, minimum confidence,
    segment), each in its own shown model version; the campaign's own come from
    `standings`."""
    team_values = [s.estimate.value for s in standings if s.rankable]
    team_values += team_norm_values(campaign=campaign, headline=headline, filters=filters)
    pool = np.sort(np.array(team_values))
    average = _campaign_average(standings, headline)
    result = []
    for standing in standings:
        if not standing.units.faces:
            continue
        percentile = None
        if standing.rankable and len(pool):
            value = standing.estimate.value
            ties = np.isclose(pool, value, rtol=0, atol=1e-12)
            share = (np.sum((pool < value) & ~ties) + ties.sum() / 2) / len(pool)
            percentile = (
                float(share) if headline.higher_is_better is not False else 1 - float(share)
            )
        result.append(
            Norm(
                ad_id=standing.ad_id,
                value=standing.estimate.value,
                campaign_average=average,
                percentile=percentile,
                norm_ads=len(pool),
            )
        )
    return result


def _campaign_average(standings: Sequence[Standing], headline: Headline) -> Estimate | None:
    """The headline over all the campaign's analysed faces (a viewer in several ads is one
    unit). Ads read with different model versions are averaged by their faces instead,
    their errors taken as independent."""
    analysed = [s for s in standings if s.units.faces]
    if not analysed:
        return None
    readings = {id(s.reading.correction): s.reading for s in analysed}
    if len(readings) == 1:
        pooled = UnitCounts.from_arrays(
            labels=CLASSES,
            viewer_ids=np.concatenate([s.units.viewer_ids for s in analysed]),
            viewer_counts=np.vstack([s.units.viewer_counts for s in analysed]),
            single_counts=np.sum([s.units.single_counts for s in analysed], axis=0),
        )
        return estimate_of(pooled, headline, analysed[0].reading)
    faces = sum(s.units.faces for s in analysed)
    weighted = [(s.units.faces / faces, s.estimate) for s in analysed]
    errors = [w * e.standard_error for w, e in weighted if math.isfinite(e.standard_error)]
    return Estimate(
        value=sum(w * e.value for w, e in weighted),
        sampling_error=math.sqrt(sum(error**2 for error in errors)),
        units=sum(s.units.units for s in analysed),
        faces=faces,
        bounds=headline.bounds,
    )
