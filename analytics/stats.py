"""How sure are we: shares, differences and tests of emotion counts, a viewer being one unit.

Math on counts the database already aggregated. A viewer's faces (many frames of one
recording, several photos) are one unit: every variance is the linearised (sandwich)
variance of a ratio over units, and a face of no known viewer is a unit of its own. Several
tests read together are corrected with Holm's method; Student's t is SciPy's.
Every interval is Wilson's score interval, at the effective sample size and Student's t for
a clustered share: its closed form is written here (`wilson_score`), as statsmodels computes it
(`ml.metrics.wilson_interval`), because a page computes thousands and statsmodels' call costs
about 0.3 ms.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import special

from ml import CLASSES
from ml.metrics import Z_95, Interval
from ml.quantification import GROUP_NAMES, GROUP_OF_LABEL, GroupCorrection, simplex_projection

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
    return group_estimate(group, ScoreMeasure({"hit": 1.0})).interval_at(z)


def t_quantile(z: float, dof: int) -> float:
    """Student's t quantile at the probability of the normal quantile `z`, for `dof` degrees
    of freedom: SciPy's `special.stdtrit`, the ufunc under `stats.t.ppf` (a few microseconds
    where `t.ppf` costs 0.1-0.2 ms, and a page asks for hundreds); t(0.975, 29) = 2.045."""
    if dof < 1:
        raise ValueError(f"degrees of freedom must be >= 1, got {dof}")
    return float(special.stdtrit(dof, special.ndtr(z)))


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


Bounds = tuple[float, float]
SHARE_BOUNDS: Bounds = (0.0, 1.0)
VALENCE_BOUNDS: Bounds = (-1.0, 1.0)


@dataclass(frozen=True)
class Linearised:
    """A measure evaluated on one group's label shares q: its estimate made possible
    (`value`), the unconstrained estimate that intervals are centred on (`centre`), the
    centre's derivative in q (`gradient`, one per label: each face's influence), and, for
    a corrected measure, the flattened coefficients u of the measured weights it rests on
    (its classifier variance is u' C u)."""

    value: float
    centre: float
    gradient: np.ndarray
    classifier: np.ndarray | None = None


class Measure:
    """What is estimated from a group's faces: a function of its label shares."""

    bounds: Bounds = SHARE_BOUNDS
    correction: GroupCorrection | None = None

    def linearise(self, labels: Sequence[str], shares: np.ndarray) -> Linearised:
        raise NotImplementedError


@dataclass(frozen=True)
class ScoreMeasure(Measure):
    """The mean over faces of a score per label, as the model labelled them (positive
    share: happy 1, the rest 0)."""

    scores: Scores
    bounds: Bounds = SHARE_BOUNDS

    def linearise(self, labels: Sequence[str], shares: np.ndarray) -> Linearised:
        vector = np.array([self.scores.get(label, 0.0) for label in labels])
        centre = float(vector @ shares)
        return Linearised(_clip(centre, self.bounds), centre, vector)


@dataclass(frozen=True)
class HeadlineMeasure(Measure):
    """A combination of the headline groups' true shares (`coefficients` over positive,
    negative, other), estimated from the labels with a model's measured `correction`
    (`ml.quantification`), or one emotion's share: its group's estimated share, split as the
    model splits that group's labels. Labels must be `ml.CLASSES`."""

    coefficients: tuple[float, ...]
    correction: GroupCorrection
    emotion: str | None = None
    bounds: Bounds = SHARE_BOUNDS

    def linearise(self, labels: Sequence[str], shares: np.ndarray) -> Linearised:
        if tuple(labels) == CLASSES:
            return self._linearise(shares)
        unknown = set(labels) - set(CLASSES)
        if unknown:
            raise ValueError(f"a headline is estimated over {CLASSES}, not {sorted(unknown)}")
        # A group over some of the emotions, in its own order: estimated over all seven.
        order = [CLASSES.index(label) for label in labels]
        full = np.zeros(len(CLASSES))
        full[order] = shares
        found = self._linearise(full)
        return Linearised(found.value, found.centre, found.gradient[order], found.classifier)

    def _linearise(self, shares: np.ndarray) -> Linearised:
        weights = self.correction.weights
        raw = weights @ shares
        possible = simplex_projection(raw) if self.correction.is_corrected else raw
        if self.emotion is None:
            coefficients = np.array(self.coefficients)
            centre = float(coefficients @ raw)
            return Linearised(
                _clip(float(coefficients @ possible), self.bounds),
                centre,
                coefficients @ weights,
                np.outer(coefficients, shares).ravel() if self.correction.is_corrected else None,
            )
        index = CLASSES.index(self.emotion)
        group = GROUP_OF_LABEL[index]
        members = np.array(GROUP_OF_LABEL) == group
        in_group = float(shares[members].sum())
        # No face labelled in the group: its estimated share is split evenly (a guess that
        # keeps the emotions' shares summing to the groups').
        split = shares[index] / in_group if in_group > 0 else 1.0 / int(members.sum())
        gradient = split * weights[group]
        if in_group > 0:
            own = np.zeros(len(shares))
            own[index] = 1.0
            gradient = gradient + raw[group] * (own * in_group - shares[index] * members) / (
                in_group * in_group
            )
        unit = np.zeros(len(GROUP_NAMES))
        unit[group] = split
        return Linearised(
            _clip(float(possible[group]) * split, self.bounds),
            float(raw[group]) * split,
            gradient,
            np.outer(unit, shares).ravel() if self.correction.is_corrected else None,
        )


def _clip(value: float, bounds: Bounds) -> float:
    return min(max(value, bounds[0]), bounds[1])


def wilson_score(share: float, n: float, z: float) -> Interval:
    """Wilson's score interval of `share` at `n` observations (an effective sample size: not
    a whole number) and the quantile `z`: statsmodels' formula (`proportion_confint`, method
    "wilson"), which `test_a_clustered_share_matches_a_hand_computation` checks it against."""
    if n <= 0:
        return Interval(0.0, 1.0)
    z2 = z * z
    denominator = 1 + z2 / n
    centre = (share + z2 / (2 * n)) / denominator
    half = z * math.sqrt(share * (1 - share) / n + z2 / (4 * n * n)) / denominator
    return Interval(max(0.0, centre - half), min(1.0, centre + half))


@dataclass(frozen=True)
class Estimate:
    """A measure's value for a group (or a difference of two), with its uncertainty: the
    units' (viewers') sampling error and the classifier's (the measured correction's)."""

    value: float
    sampling_error: float
    units: int
    faces: int
    bounds: Bounds = SHARE_BOUNDS
    classifier_error: float = 0.0
    # The unconstrained estimate the interval is centred on (None: `value`).
    centre: float | None = None
    # A group's mean score: the range of its faces' scores, over which its sampling interval
    # is Wilson's at the effective sample size (None: a difference, value +- t se).
    score_range: Bounds | None = None

    @property
    def is_share(self) -> bool:
        return self.bounds == SHARE_BOUNDS

    @property
    def interval(self) -> Interval:
        """The 95% interval: see `interval_at`."""
        return self.interval_at(Z_95)

    def _sampling_interval(self, z: float) -> tuple[float, float, float]:
        """(low, high, the standard error they amount to) of the sampling part alone.

        A group's mean score is bounded by its scores' range: rescaled to [0, 1], its
        interval is Wilson's at the effective sample size u(1-u)/variance (so it stays in the
        range and does not collapse when every unit agrees), Student's t for units - 1
        degrees of freedom; when every unit is one face of a 0/1 score, Wilson's over the
        faces. A difference: centre +- t se."""
        centre = self.value if self.centre is None else self.centre
        if self.score_range is None or self.score_range[1] <= self.score_range[0]:
            t = t_quantile(z, self.units - 1)
            return (
                centre - t * self.sampling_error,
                centre + t * self.sampling_error,
                (self.sampling_error),
            )
        low, high = self.score_range
        width = high - low
        u = min(max((centre - low) / width, 0.0), 1.0)
        if self.units == self.faces and self.score_range == SHARE_BOUNDS:
            wilson, t = wilson_score(u, self.faces, z), z
        else:
            variance = (self.sampling_error / width) ** 2
            effective = u * (1 - u) / variance if variance > 0 else float(self.units)
            if self.score_range == SHARE_BOUNDS:
                # a 0/1 score: never more observations than faces
                effective = min(float(self.faces), effective)
            t = t_quantile(z, self.units - 1)
            wilson = wilson_score(u, effective, t)
        return (
            low + width * wilson.low,
            low + width * wilson.high,
            width * (wilson.high - wilson.low) / (2 * t),
        )

    def interval_at(self, z: float) -> Interval:
        """The interval at the normal quantile `z`: the sampling interval (above) widened by
        the classifier's error, each side added in quadrature (Zou & Donner's MOVER), then
        kept within what is possible and around the value. With fewer than two units,
        everything possible."""
        if self.units < 2 or not self.faces:
            return Interval(*self.bounds)
        centre = self.value if self.centre is None else self.centre
        low, high, _ = self._sampling_interval(z)
        spread = z * self.classifier_error
        low = centre - math.hypot(centre - low, spread)
        high = centre + math.hypot(high - centre, spread)
        return Interval(
            max(self.bounds[0], min(low, self.value)), min(self.bounds[1], max(high, self.value))
        )

    @property
    def standard_error(self) -> float:
        """The standard error the interval amounts to before it is bounded: sampling (as the
        interval takes it) and classifier errors in quadrature; infinite below two units."""
        if self.units < 2 or not self.faces:
            return math.inf
        return math.hypot(self._sampling_interval(Z_95)[2], self.classifier_error)

    @property
    def p_value(self) -> float:
        """Two-sided p-value of the centre being 0 (normal approximation; SciPy's normal
        tail, `ndtr`, the ufunc under `norm.sf` without its per-call overhead)."""
        centre = self.value if self.centre is None else self.centre
        error = self.standard_error
        if not math.isfinite(error):
            return 1.0
        if error <= 0:
            return 0.0 if centre else 1.0
        return float(2 * special.ndtr(-abs(centre) / error))


def _quadratic(weights: np.ndarray, matrix: np.ndarray, other: np.ndarray) -> float:
    """weights' matrix other, with the rounding left by cancelling terms taken as 0: the
    sums of squares below are exactly 0 when every unit scores the group's mean."""
    value = float(weights @ matrix @ other)
    scale = float(np.abs(weights) @ np.abs(matrix) @ np.abs(other))
    return 0.0 if abs(value) <= 1e-9 * scale else value


def _residual(lin: Linearised, shares: np.ndarray) -> np.ndarray:
    """Each label's influence on the estimate less the estimate's own: a unit's summed
    residual is its faces' influence minus their share of the whole."""
    residual: np.ndarray = lin.gradient - float(lin.gradient @ shares)
    return residual


def moments_estimate(group: Moments, measure: Measure) -> Estimate:
    """The measure's value for the group, its sampling variance over units (clustered by
    viewer): n/(n-1) times the sum over units of their residual influence squared, over
    faces^2; and its classifier variance."""
    faces = float(group.sums.sum())
    n = group.units
    if not faces:
        return Estimate(0.0, 0.0, n, 0, measure.bounds)
    shares = group.sums / faces
    lin = measure.linearise(group.labels, shares)
    variance = 0.0
    if n >= 2:
        residual = _residual(lin, shares)
        squares = max(0.0, _quadratic(residual, group.squares, residual))
        variance = n / (n - 1) * squares / faces**2
    offset = lin.centre - float(lin.gradient @ shares)
    return Estimate(
        lin.value,
        math.sqrt(variance),
        n,
        int(round(faces)),
        measure.bounds,
        classifier_error=_classifier_error(measure.correction, lin.classifier),
        centre=lin.centre,
        score_range=(float(lin.gradient.min()) + offset, float(lin.gradient.max()) + offset),
    )


def _classifier_error(correction: GroupCorrection | None, coefficients: np.ndarray | None) -> float:
    if correction is None or coefficients is None:
        return 0.0
    return math.sqrt(correction.weight_variance(coefficients))


def moments_difference(
    a: Moments,
    b: Moments,
    shared: CrossMoments,
    measure: Measure,
    other: Measure | None = None,
) -> Estimate:
    """a's value minus b's (b's by `other` when its model version differs). A viewer in
    both groups is one unit of both and the covariance it brings (`shared`, a's counts times
    b's) is counted; a group where every unit agrees brings the variance its own interval
    takes, not 0 (so two such groups still differ by an honest margin); the classifier's
    error is counted once when both rest on the same correction (it moves both alike)."""
    other = other or measure
    bounds = (
        measure.bounds[0] - other.bounds[1],
        measure.bounds[1] - other.bounds[0],
    )
    faces_a, faces_b = float(a.sums.sum()), float(b.sums.sum())
    faces = int(round(faces_a + faces_b))
    one, two = moments_estimate(a, measure), moments_estimate(b, other)
    value = one.value - two.value
    centre = (one.centre if one.centre is not None else one.value) - (
        two.centre if two.centre is not None else two.value
    )
    n = a.units + b.units - shared.shared
    if not faces_a or not faces_b or n < 2 or one.units < 2 or two.units < 2:
        return Estimate(value, math.inf, 0, faces, bounds, centre=centre)
    lin_a = measure.linearise(a.labels, a.sums / faces_a)
    lin_b = other.linearise(b.labels, b.sums / faces_b)
    covariance = 0.0
    if shared.shared:
        ra, rb = _residual(lin_a, a.sums / faces_a), _residual(lin_b, b.sums / faces_b)
        covariance = n / (n - 1) * _quadratic(ra, shared.products, rb) / (faces_a * faces_b)
    variance = max(0.0, _floored(one) ** 2 + _floored(two) ** 2 - 2 * covariance)
    if measure.correction is other.correction and lin_a.classifier is not None:
        assert lin_b.classifier is not None  # noqa: S101  narrows the type for mypy
        classifier = _classifier_error(measure.correction, lin_a.classifier - lin_b.classifier)
    else:
        classifier = math.hypot(one.classifier_error, two.classifier_error)
    return Estimate(
        value, math.sqrt(variance), n, faces, bounds, classifier_error=classifier, centre=centre
    )


def _floored(group: Estimate) -> float:
    """A group's sampling error in a difference: its clustered one, or where every unit
    agrees (0), what its own interval takes (Wilson's at as many observations as units)."""
    if group.sampling_error > 0:
        return group.sampling_error
    return group._sampling_interval(Z_95)[2]


def group_estimate(group: UnitCounts, measure: Measure) -> Estimate:
    """The measure's value for the group, its variance over units (clustered by viewer)."""
    return moments_estimate(group.moments(), measure)


def difference_estimate(
    a: UnitCounts, b: UnitCounts, measure: Measure, other: Measure | None = None
) -> Estimate:
    """a's value minus b's. A viewer in both groups (one person who saw both ads, or two
    seconds of one recording) is one unit of both: the covariance it brings is counted."""
    if isinstance(measure, HeadlineMeasure) or isinstance(other, HeadlineMeasure):
        labels = list(CLASSES)
    else:
        labels = list(dict.fromkeys([*a.labels, *b.labels]))
    a, b = a.relabelled(labels), b.relabelled(labels)
    return moments_difference(a.moments(), b.moments(), cross_moments(a, b), measure, other)


def holm_adjusted(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjustment: each p-value made safe to compare with 0.05 when all of
    them are read together (the family-wise error rate). The same figures as statsmodels'
    `multipletests(..., method="holm")` (`test_holm_agrees_with_statsmodels`), written here
    because that call runs a full garbage collection each time (20 ms and more in a web
    process) and a page adjusts a family per ad."""
    order = sorted(range(len(p_values)), key=lambda i: p_values[i])
    adjusted = [1.0] * len(p_values)
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (len(p_values) - rank) * p_values[index]))
        adjusted[index] = running
    return adjusted
