"""Attention over an ad's seconds: is the viewer there, facing the screen, eyes open.

Its input is one row per ad, bin of the ad's seconds and unit (a viewer; a frame of no known
viewer is a unit of its own): the unit's frames in the bin, those with a face found
(present) and those with an attentive face (`ml.attentive`: facing the screen within the
tolerance, eyes open). Per bin, the present and attentive shares are shares of frames whose
95% intervals treat each viewer as one unit (`clustered_share_interval`: a viewer's frames
are not independent). The drop-off is the share of viewers still looking: of the known
viewers whose recording reaches the bin, those attentive in it or in a later bin, with a
Wilson interval (one viewer, one observation).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from analytics.headlines import ATTENTIVE, INATTENTIVE
from analytics.stats import UnitCounts, clustered_share_interval, wilson_score
from ml.metrics import Z_95


@dataclass(frozen=True)
class FrameCounts:
    """One unit's frames in one bin of one ad (unit: a viewer id, or minus a frame's id)."""

    ad_id: int
    bin: int
    unit: int
    frames: int
    present: int
    attentive: int


@dataclass(frozen=True)
class Share:
    """A share with its 95% interval, over `units` units."""

    value: float
    low: float
    high: float
    units: int


@dataclass(frozen=True)
class AttentionBin:
    second_from: float
    second_to: float
    # Units with a frame in the bin: viewers when known, single frames otherwise.
    units: int
    frames: int
    present: Share
    attentive: Share
    # Known viewers still looking (attentive now or later); None when none is known.
    still_looking: Share | None


def _clustered(rows: Sequence[FrameCounts], field: str) -> Share:
    hits = [getattr(row, field) for row in rows]
    sizes = [row.frames for row in rows]
    total = sum(sizes)
    interval = clustered_share_interval(hits, sizes)
    return Share(sum(hits) / total if total else 0.0, interval.low, interval.high, len(rows))


def _still_looking(rows: Iterable[FrameCounts]) -> dict[int, Share]:
    """Bin -> share of known viewers reaching it who are attentive in it or later."""
    first: dict[int, int] = {}
    last: dict[int, int] = {}
    last_attentive: dict[int, int] = {}
    for row in rows:
        if row.unit <= 0 or not row.frames:
            continue
        first[row.unit] = min(first.get(row.unit, row.bin), row.bin)
        last[row.unit] = max(last.get(row.unit, row.bin), row.bin)
        if row.attentive:
            last_attentive[row.unit] = max(last_attentive.get(row.unit, row.bin), row.bin)
    bins = sorted({b for viewer in first for b in range(first[viewer], last[viewer] + 1)})
    shares = {}
    for index in bins:
        reaching = [v for v in first if first[v] <= index <= last[v]]
        looking = sum(last_attentive.get(v, -1) >= index for v in reaching)
        interval = wilson_score(looking / len(reaching), len(reaching), Z_95)
        shares[index] = Share(looking / len(reaching), interval.low, interval.high, len(reaching))
    return shares


def attention_bins(rows: Iterable[FrameCounts], *, width: float) -> dict[int, list[AttentionBin]]:
    """Each ad's bins of `width` seconds (rows counted in bins of that width), in time order."""
    by_ad: dict[int, dict[int, list[FrameCounts]]] = defaultdict(lambda: defaultdict(list))
    for row in rows:
        if row.frames:
            by_ad[row.ad_id][row.bin].append(row)
    found: dict[int, list[AttentionBin]] = {}
    for ad_id, bins in by_ad.items():
        still = _still_looking(row for group in bins.values() for row in group)
        found[ad_id] = [
            AttentionBin(
                second_from=index * width,
                second_to=(index + 1) * width,
                units=len(group),
                frames=sum(row.frames for row in group),
                present=_clustered(group, "present"),
                attentive=_clustered(group, "attentive"),
                still_looking=still.get(index),
            )
            for index, group in sorted(bins.items())
        ]
    return found


def attention_overall(rows: Iterable[FrameCounts]) -> dict[int, Share]:
    """Each ad's attentive share of frames over all its seconds, a viewer one unit."""
    by_unit: dict[tuple[int, int], list[int]] = defaultdict(lambda: [0, 0, 0])
    for row in rows:
        counts = by_unit[(row.ad_id, row.unit)]
        counts[0] += row.frames
        counts[1] += row.present
        counts[2] += row.attentive
    by_ad: dict[int, list[FrameCounts]] = defaultdict(list)
    for (ad_id, unit), (frames, present, attentive) in by_unit.items():
        if frames:
            by_ad[ad_id].append(FrameCounts(ad_id, 0, unit, frames, present, attentive))
    return {ad_id: _clustered(group, "attentive") for ad_id, group in by_ad.items()}


def attention_units(rows: Iterable[FrameCounts]) -> dict[int, UnitCounts]:
    """Each ad's frames as attentive or not, per unit: the verdict ranks ads on them with the
    attention headline as it ranks them on an emotion's faces."""
    units: dict[int, UnitCounts] = {}
    for row in rows:
        group = units.setdefault(row.ad_id, UnitCounts((ATTENTIVE, INATTENTIVE)))
        viewer = row.unit if row.unit > 0 else None
        group.add(viewer, ATTENTIVE, row.attentive)
        group.add(viewer, INATTENTIVE, row.frames - row.attentive)
    return units
