"""How sure are we: shares, differences and tests of emotion counts, a viewer being one unit.

Plain math on counts the database already aggregated (no SciPy). A viewer's faces (many
frames of one recording, several photos) are one unit: every variance is the linearised
(sandwich) variance of a ratio over units, and a face of no known viewer is a unit of its
own. Several tests read together are corrected with Holm's method. The Wilson
score interval of every share is `ml.metrics.wilson_interval`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from ml.metrics import Z_95, Interval, wilson_interval

# A headline is a score per face: 1 for the emotions it counts (positive = happy), or +1 and
# -1 (valence); its value for a group is the mean score over the group's faces.
Scores = Mapping[str, float]


def clustered_share_interval(
    successes: Sequence[int], sizes: Sequence[int], *, z: float = Z_95
) -> Interval:
    """95% interval of the share sum(successes) / sum(sizes) when observations come in
    clusters (the faces of one viewer, who is one person however many frames show them):
    `group_estimate` over clusters given as counts."""
    if len(successes) != len(sizes):
        raise ValueError("one success count per cluster size")
    group = UnitCounts()
    for cluster, (hits, size) in enumerate(zip(successes, sizes, strict=True)):
        if size > 0:
            group.add(cluster, "hit", hits)
            group.add(cluster, "miss", size - hits)
    return group_estimate(group, {"hit": 1.0}).interval_at(z)


def t_quantile(z: float, dof: int) -> float:
    """Student's t quantile matching the normal quantile `z`, by the Cornish-Fisher expansion
    (Abramowitz & Stegun 26.7.5): within 0.003 of the exact value from 5 degrees of freedom,
    0.0002 from 10; t(0.975, 29) = 2.045."""
    if dof < 1:
        raise ValueError(f"degrees of freedom must be >= 1, got {dof}")
    z3, z5, z7 = z**3, z**5, z**7
    return (
        z
        + (z3 + z) / (4 * dof)
        + (5 * z5 + 16 * z3 + 3 * z) / (96 * dof**2)
        + (3 * z7 + 19 * z5 + 17 * z3 - 15 * z) / (384 * dof**3)
    )


class UnitCounts:
    """The faces of one group (an ad, a bin of its timeline, a segment) by unit: each known
    viewer's faces per label, and the faces of no known viewer (each a unit of its own).

    Held as arrays (viewer ids, a viewers x labels count matrix, the single faces per label)
    so that a campaign's thousands of viewers cost vector operations, not Python loops. Built
    from arrays (`from_arrays`) or one count at a time (`add`).
    """

    __slots__ = ("_counts", "_ids", "_index", "_labels", "_moments", "_pending", "_singles")

    def __init__(self, labels: Sequence[str] = ()) -> None:
        self._labels: list[str] = list(labels)
        self._index = {label: i for i, label in enumerate(self._labels)}
        self._ids = np.zeros(0, dtype=np.int64)
        self._counts = np.zeros((0, len(self._labels)))
        self._singles = np.zeros(len(self._labels))
        self._pending: list[tuple[int | None, int, int]] = []
        # Computed once: a page asks for many headlines of the same group.
        self._moments: Moments | None = None

    @classmethod
    def from_arrays(
        cls,
        *,
        labels: Sequence[str],
        viewer_ids: np.ndarray,
        viewer_counts: np.ndarray,
        single_counts: np.ndarray | None = None,
    ) -> UnitCounts:
        """A group from rows of (viewer id, counts per label); a viewer's rows are summed."""
        group = cls(labels)
        ids, inverse = np.unique(np.asarray(viewer_ids, dtype=np.int64), return_inverse=True)
        counts = np.zeros((len(ids), len(group._labels)))
        np.add.at(counts, inverse, np.asarray(viewer_counts, dtype=float))
        group._ids, group._counts = ids, counts
        if single_counts is not None:
            group._singles = np.asarray(single_counts, dtype=float).copy()
        return group

    def add(self, viewer: int | None, label: str, count: int) -> None:
        if label not in self._index:
            self._index[label] = len(self._labels)
            self._labels.append(label)
        self._pending.append((viewer, self._index[label], count))
        self._moments = None

    def _settle(self) -> None:
        """Fold the counts given by `add` into the arrays."""
        if not self._pending:
            return
        width = len(self._labels)
        grow = width - self._counts.shape[1]
        counts = np.pad(self._counts, ((0, 0), (0, grow)))
        singles = np.pad(self._singles, (0, grow))
        pending, self._pending = self._pending, []
        known = [(v, i, c) for v, i, c in pending if v is not None]
        for _, index, count in (p for p in pending if p[0] is None):
            singles[index] += count
        ids = np.concatenate([self._ids, np.array([v for v, _, _ in known], dtype=np.int64)])
        rows = np.zeros((len(known), width))
        rows[np.arange(len(known)), [i for _, i, _ in known]] = [c for _, _, c in known]
        merged = UnitCounts.from_arrays(
            labels=self._labels, viewer_ids=ids, viewer_counts=np.vstack([counts, rows])
        )
        self._ids, self._counts, self._singles = merged._ids, merged._counts, singles

    @property
    def labels(self) -> list[str]:
        return self._labels

    @property
    def viewer_ids(self) -> np.ndarray:
        self._settle()
        return self._ids

    @property
    def viewer_counts(self) -> np.ndarray:
        """One row per viewer (in `viewer_ids` order), one column per label."""
        self._settle()
        return self._counts

    @property
    def single_counts(self) -> np.ndarray:
        self._settle()
        return self._singles

    @property
    def single_faces(self) -> int:
        return int(self.single_counts.sum())

    @property
    def faces(self) -> int:
        return int(self.viewer_counts.sum()) + self.single_faces

    @property
    def units(self) -> int:
        return self.viewer_count + self.single_faces

    @property
    def viewer_count(self) -> int:
        return len(self.viewer_ids)

    @property
    def unit_name(self) -> str:
        """What one unit is here: viewers when any are known, else faces."""
        return "viewers" if self.viewer_count else "faces"

    def score_vector(self, scores: Scores) -> np.ndarray:
        return np.array([scores.get(label, 0.0) for label in self._labels])

    def relabelled(self, labels: Sequence[str]) -> UnitCounts:
        """The same counts over `labels` (which hold every label of this group), in that order."""
        group = UnitCounts(labels)
        columns = [group._index[label] for label in self._labels]
        group._ids = self.viewer_ids
        group._counts = np.zeros((len(group._ids), len(group._labels)))
        group._counts[:, columns] = self.viewer_counts
        group._singles[columns] = self.single_counts
        return group

    def moments(self) -> Moments:
        if self._moments is None:
            self._moments = self._moments_compute()
        return self._moments

    def _moments_compute(self) -> Moments:
        counts, singles = self.viewer_counts, self.single_counts
        return Moments(
            labels=tuple(self._labels),
            viewer_count=len(counts),
            single_faces=int(singles.sum()),
            sums=counts.sum(axis=0) + singles,
            squares=counts.T @ counts + np.diag(singles),
        )

    def subset(self, viewers: np.ndarray, *, with_singles: bool) -> UnitCounts:
        """The viewers where `viewers` (a mask over `viewer_ids`) is true, and the single
        faces if asked."""
        group = UnitCounts(self._labels)
        group._ids, group._counts = self.viewer_ids[viewers], self.viewer_counts[viewers]
        if with_singles:
            group._singles = self.single_counts.copy()
        return group


@dataclass(frozen=True)
class Moments:
    """All that an estimate of a group needs, whatever its headline: its viewers and single
    faces, its faces per label (`sums`), and the sum over its units of each unit's label
    counts times themselves (`squares`, labels x labels; a single face adds 1 on its label's
    diagonal). The moments of disjoint sets of units add up, so a group's can be stored and
    summed (the timeline's rollups) instead of reading every viewer again."""

    labels: tuple[str, ...]
    viewer_count: int
    single_faces: int
    sums: np.ndarray
    squares: np.ndarray

    @property
    def faces(self) -> int:
        return int(round(float(self.sums.sum())))

    @property
    def units(self) -> int:
        return self.viewer_count + self.single_faces

    @property
    def unit_name(self) -> str:
        """What one unit is here: viewers when any are known, else faces."""
        return "viewers" if self.viewer_count else "faces"

    def score_vector(self, scores: Scores) -> np.ndarray:
        return np.array([scores.get(label, 0.0) for label in self.labels])


@dataclass(frozen=True)
class CrossMoments:
    """What two groups' units have in common: the viewers in both (one person who saw both
    ads, or two neighbouring seconds of one recording) and, summed over them, the first
    group's label counts times the second's (rows: the first group's labels)."""

    shared: int
    products: np.ndarray

    def transposed(self) -> CrossMoments:
        """The same seen from the second group."""
        return CrossMoments(self.shared, self.products.T)


def cross_moments(a: UnitCounts, b: UnitCounts) -> CrossMoments:
    """The viewers of `a` and `b` (both over the same labels) in common."""
    _, in_a, in_b = np.intersect1d(
        a.viewer_ids, b.viewer_ids, assume_unique=True, return_indices=True
    )
    return CrossMoments(len(in_a), a.viewer_counts[in_a].T @ b.viewer_counts[in_b])


@dataclass(frozen=True)
class Estimate:
    """A headline's value for a group (or a difference of two), with its uncertainty."""

    value: float
    standard_error: float
    units: int
    faces: int
    # A share is bounded by [0, 1]: its interval is a Wilson interval (else value +- t se).
    is_share: bool = True

    @property
    def interval(self) -> Interval:
        """The 95% interval: for a share, the Wilson interval at the effective sample size
        p(1-p)/variance (so it stays in [0, 1]); else value +- t se. Student's t for units - 1
        degrees of freedom, the variance coming from that many units. When every unit is a
        single face, the share's interval is Wilson's over the faces."""
        return self.interval_at(Z_95)

    def interval_at(self, z: float) -> Interval:
        if self.is_share and self.faces and self.units == self.faces:
            # every unit is one face: independent yes/no answers, the plain Wilson interval
            return wilson_interval(self.value * self.faces, self.faces, z=z)
        if self.units < 2:
            return Interval(0.0, 1.0) if self.is_share else Interval(-math.inf, math.inf)
        t = t_quantile(z, self.units - 1)
        if self.is_share:
            p = self.value
            variance = self.standard_error**2
            effective = (
                min(float(self.faces), p * (1 - p) / variance) if variance > 0 else self.units
            )
            return wilson_interval(p * effective, effective, z=t)
        half = t * self.standard_error
        return Interval(self.value - half, self.value + half)

    @property
    def p_value(self) -> float:
        """Two-sided p-value of `value` being 0 (normal approximation)."""
        if self.standard_error <= 0:
            return 0.0 if self.value else 1.0
        return math.erfc(abs(self.value) / self.standard_error / math.sqrt(2))


def _quadratic(weights: np.ndarray, matrix: np.ndarray, other: np.ndarray) -> float:
    """weights' matrix other, with the rounding left by cancelling terms taken as 0: the
    sums of squares below are exactly 0 when every unit scores the group's mean."""
    value = float(weights @ matrix @ other)
    scale = float(np.abs(weights) @ np.abs(matrix) @ np.abs(other))
    return 0.0 if abs(value) <= 1e-9 * scale else value


def moments_estimate(group: Moments, scores: Scores, *, is_share: bool = True) -> Estimate:
    """The mean score of the group's faces, its variance over units (clustered by viewer):
    n/(n-1) times the sum over units of (unit's summed score - mean x unit's faces)^2, over
    faces^2."""
    vector = group.score_vector(scores)
    faces = float(group.sums.sum())
    value = float(group.sums @ vector) / faces if faces else 0.0
    n = group.units
    if n < 2 or not faces:
        return Estimate(value, 0.0, n, int(round(faces)), is_share)
    residual = vector - value
    squares = max(0.0, _quadratic(residual, group.squares, residual))
    variance = n / (n - 1) * squares / faces**2
    return Estimate(value, math.sqrt(variance), n, int(round(faces)), is_share)


def moments_difference(a: Moments, b: Moments, shared: CrossMoments, scores: Scores) -> Estimate:
    """a's mean score minus b's; a viewer in both groups is one unit of both, and the
    covariance it brings (`shared`, a's counts times b's) is counted."""
    vector = a.score_vector(scores)
    faces_a, faces_b = float(a.sums.sum()), float(b.sums.sum())
    faces = int(round(faces_a + faces_b))
    value_a = float(a.sums @ vector) / faces_a if faces_a else 0.0
    value_b = float(b.sums @ vector) / faces_b if faces_b else 0.0
    if not faces_a or not faces_b:
        return Estimate(value_a - value_b, math.inf, 0, faces, False)
    n = a.units + b.units - shared.shared
    if n < 2:
        return Estimate(value_a - value_b, math.inf, n, faces, False)
    ra, rb = vector - value_a, vector - value_b
    squares = (
        _quadratic(ra, a.squares, ra) / faces_a**2
        + _quadratic(rb, b.squares, rb) / faces_b**2
        - 2 * _quadratic(ra, shared.products, rb) / (faces_a * faces_b)
    )
    variance = n / (n - 1) * max(0.0, squares)
    return Estimate(value_a - value_b, math.sqrt(variance), n, faces, False)


def group_estimate(group: UnitCounts, scores: Scores, *, is_share: bool = True) -> Estimate:
    """The mean score of the group's faces, its variance over units (clustered by viewer)."""
    return moments_estimate(group.moments(), scores, is_share=is_share)


def difference_estimate(a: UnitCounts, b: UnitCounts, scores: Scores) -> Estimate:
    """a's mean score minus b's. A viewer in both groups (one person who saw both ads, or two
    seconds of one recording) is one unit of both: the covariance it brings is counted."""
    labels = list(dict.fromkeys([*a.labels, *b.labels]))
    a, b = a.relabelled(labels), b.relabelled(labels)
    return moments_difference(a.moments(), b.moments(), cross_moments(a, b), scores)


def holm_adjusted(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjustment: each p-value made safe to compare with 0.05 when all of
    them are read together (the family-wise error rate)."""
    order = sorted(range(len(p_values)), key=lambda i: p_values[i])
    adjusted = [1.0] * len(p_values)
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (len(p_values) - rank) * p_values[index]))
        adjusted[index] = running
    return adjusted
