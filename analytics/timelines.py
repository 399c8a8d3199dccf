"""An ad's timeline as moments per bin of its seconds: the one computation behind the
dashboard's timeline and key moments.

Its input is second-tally rows (viewer, second of the ad, faces per label). Each bin of a
width holds the `Moments` of its units (a viewer's faces in the bin are one unit; a face of
no known viewer is one of its own) and the `CrossMoments` of the viewers it shares with the
bin that follows, which a change from one bin to the next needs. Computed from the rows at
once (a filtered dashboard) or read back from the rollups that
`analytics.services.tallies.timeline_rollups_rebuild` stores of the same computation.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from analytics.headlines import Headline
from analytics.stats import CrossMoments, Estimate, Moments, moments_estimate
from campaigns.models import NO_VIEWER_KEY
from ml.quantification import GroupCorrection

# Bin widths (s): the narrowest whose typical bin holds MIN_UNITS_PER_BIN units is shown.
TIMELINE_WIDTHS = (1, 2, 5, 10, 15, 30, 60)
MIN_UNITS_PER_BIN = 10


@dataclass
class TimelineBin:
    second_from: float
    second_to: float
    units: Moments
    # The viewers this bin shares with the one right after it (None: no bin right after).
    to_next: CrossMoments | None = None

    def estimate(self, headline: Headline, correction: GroupCorrection) -> Estimate:
        """The bin's headline, read with `correction` (its ad's, or as classified)."""
        return moments_estimate(self.units, headline.measure(correction))


@dataclass
class Timelines:
    width: int
    # ad id -> its bins in time order (only bins with faces)
    bins: dict[int, list[TimelineBin]]

    @property
    def exist(self) -> bool:
        return any(self.bins.values())


@dataclass(frozen=True)
class SecondRows:
    """One ad's second-tally rows: viewer (NO_VIEWER_KEY: faces of no known viewer), second
    of the ad, faces per label."""

    viewers: np.ndarray
    seconds: np.ndarray
    counts: np.ndarray

    def units_per_second(self) -> dict[int, int]:
        """Second -> its units: distinct viewers with a face in it, plus single faces."""
        faces = self.counts.sum(axis=1)
        some = faces > 0
        known = some & (self.viewers != NO_VIEWER_KEY)
        units: dict[int, int] = defaultdict(int)
        pairs = np.unique(np.stack([self.seconds[known], self.viewers[known]]), axis=1)
        seconds, per_second = np.unique(pairs[0], return_counts=True)
        for second, n in zip(seconds.tolist(), per_second.tolist(), strict=True):
            units[second] += n
        single = some & ~known
        for second, n in zip(self.seconds[single].tolist(), faces[single].tolist(), strict=True):
            units[second] += int(n)
        return dict(units)


def _group_sums(keys: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(distinct keys in order, the sum of `values`' rows of each)."""
    if not len(keys):
        return keys, np.zeros((0, values.shape[1]))
    order = np.argsort(keys, kind="stable")
    ordered = keys[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    return ordered[starts], np.add.reduceat(values[order], starts, axis=0)


def timeline_bins(rows: SecondRows, *, width: int, labels: Sequence[str]) -> list[TimelineBin]:
    """The ad's bins of `width` seconds that hold faces, in time order, each with its
    moments and the viewers it shares with the next bin."""
    n_labels = len(labels)
    counts = np.asarray(rows.counts, dtype=float).reshape(-1, n_labels)
    bins = np.asarray(rows.seconds, dtype=np.int64) // width
    viewers = np.asarray(rows.viewers, dtype=np.int64)
    known = viewers != NO_VIEWER_KEY
    # Each viewer's faces per bin (a viewer with none is no unit of it).
    span = int(viewers.max()) + 1 if len(viewers) else 1
    keys, per_viewer = _group_sums(bins[known] * span + viewers[known], counts[known])
    some = per_viewer.sum(axis=1) > 0
    keys, per_viewer = keys[some], per_viewer[some]
    viewer_bins, viewer_ids = keys // span, keys % span
    single_bins, singles = _group_sums(bins[~known], counts[~known])
    indices = sorted(
        set(viewer_bins.tolist())
        | {b for b, row in zip(single_bins.tolist(), singles, strict=True) if row.sum() > 0}
    )
    starts = np.searchsorted(viewer_bins, indices, side="left")
    ends = np.searchsorted(viewer_bins, indices, side="right")
    single_of = dict(zip(single_bins.tolist(), singles, strict=True))
    no_singles = np.zeros(n_labels)
    found: list[TimelineBin] = []
    for position, index in enumerate(indices):
        block = per_viewer[starts[position] : ends[position]]
        single = single_of.get(index, no_singles)
        moments = Moments(
            labels=tuple(labels),
            viewer_count=len(block),
            single_faces=int(single.sum()),
            sums=block.sum(axis=0) + single,
            squares=block.T @ block + np.diag(single),
        )
        found.append(TimelineBin(index * width, (index + 1) * width, moments))
        if position and indices[position - 1] == index - 1:
            before = slice(starts[position - 1], ends[position - 1])
            _, in_before, in_this = np.intersect1d(
                viewer_ids[before],
                viewer_ids[starts[position] : ends[position]],
                assume_unique=True,
                return_indices=True,
            )
            found[-2].to_next = CrossMoments(
                len(in_before), per_viewer[before][in_before].T @ block[in_this]
            )
    return found


def timeline_width(units_per_second: Mapping[tuple[int, int], int]) -> int:
    """The narrowest bin width whose median non-empty bin holds MIN_UNITS_PER_BIN units
    (units of neighbouring seconds added: a viewer in both counts twice, an upper bound)."""
    for width in TIMELINE_WIDTHS:
        bins: dict[tuple[int, int], int] = defaultdict(int)
        for (ad_id, second), units in units_per_second.items():
            bins[(ad_id, second // width)] += units
        if bins and statistics.median(bins.values()) >= MIN_UNITS_PER_BIN * min(width, 2) / 2:
            return width
    return TIMELINE_WIDTHS[-1]


# A rollup row per bin: viewers, single faces, sums (L), squares (L x L), viewers shared with
# the next bin, and their cross products (L x L); a bin with no face is a row of zeros.
def _row_length(n_labels: int) -> int:
    return 3 + n_labels + 2 * n_labels * n_labels


def timeline_pack(bins: Sequence[TimelineBin], *, width: int, n_labels: int) -> tuple[int, bytes]:
    """(index of the first bin, the bins as rows of float64) for a rollup."""
    if not bins:
        return 0, b""
    first = int(bins[0].second_from) // width
    last = int(bins[-1].second_from) // width
    table = np.zeros((last - first + 1, _row_length(n_labels)))
    square = n_labels * n_labels
    for bin_ in bins:
        row = table[int(bin_.second_from) // width - first]
        row[0], row[1] = bin_.units.viewer_count, bin_.units.single_faces
        row[2 : 2 + n_labels] = bin_.units.sums
        row[2 + n_labels : 2 + n_labels + square] = bin_.units.squares.ravel()
        if bin_.to_next is not None:
            row[2 + n_labels + square] = bin_.to_next.shared
            row[3 + n_labels + square :] = bin_.to_next.products.ravel()
    return first, table.tobytes()


def timeline_unpack(
    first: int, data: bytes, *, width: int, labels: Sequence[str]
) -> list[TimelineBin]:
    """The bins `timeline_pack` stored."""
    n_labels = len(labels)
    square = n_labels * n_labels
    table = np.frombuffer(data, dtype=np.float64).reshape(-1, _row_length(n_labels))
    found: list[TimelineBin] = []
    before = np.zeros(0)
    for offset, row in enumerate(table):
        sums = row[2 : 2 + n_labels]
        if not sums.any():
            continue
        index = first + offset
        moments = Moments(
            labels=tuple(labels),
            viewer_count=int(row[0]),
            single_faces=int(row[1]),
            sums=sums.copy(),
            squares=row[2 + n_labels : 2 + n_labels + square].reshape(n_labels, n_labels).copy(),
        )
        if found and found[-1].second_to == index * width:
            found[-1].to_next = CrossMoments(
                int(before[2 + n_labels + square]),
                before[3 + n_labels + square :].reshape(n_labels, n_labels).copy(),
            )
        found.append(TimelineBin(index * width, (index + 1) * width, moments))
        before = row
    return found
