"""How sure are we: a test of whether two ads' emotion mixes differ.

Plain math on counts the database already aggregated (no SciPy): Pearson's chi-square test
of homogeneity, whose survival function has a closed form for the integer degrees of freedom
a contingency table gives. The Wilson score interval of every share is
`ml.metrics.wilson_interval` (the model card's figures use it too).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ml.metrics import Z_95, Interval, wilson_interval

# Below this expected count per cell the chi-square approximation is unreliable (Cochran).
MIN_EXPECTED_COUNT = 5.0


@dataclass(frozen=True)
class ChiSquareResult:
    """Pearson's test that two groups share one category distribution."""

    statistic: float
    dof: int
    p_value: float
    cramers_v: float
    # Categories used (those with at least one observation in either group).
    categories: tuple[str, ...]
    # The smallest expected cell count; under MIN_EXPECTED_COUNT the p-value is approximate.
    min_expected: float

    @property
    def reliable(self) -> bool:
        return self.min_expected >= MIN_EXPECTED_COUNT

    @property
    def p_value_display(self) -> str:
        return "p < 0.0001" if self.p_value < 0.0001 else f"p = {self.p_value:.4f}"

    @property
    def verdict(self) -> str:
        return p_value_in_words(self.p_value)


def clustered_share_interval(
    successes: Sequence[int], sizes: Sequence[int], *, z: float = Z_95
) -> Interval:
    """95% interval of the share sum(successes) / sum(sizes) when observations come in
    clusters: the faces of one viewer, who is one person however many frames show them.

    The share's variance is the linearised (sandwich) variance of a ratio over clusters,
    n/(n-1) * sum((y_i - p m_i)^2) / (sum m_i)^2; it gives an effective sample size
    p(1-p)/variance, fed to the Wilson interval so the bounds stay in [0, 1], at Student's t
    quantile for n - 1 degrees of freedom (the variance comes from n viewers). With clusters
    of one observation each this is nearly the Wilson interval of the observations.
    """
    if len(successes) != len(sizes):
        raise ValueError("one success count per cluster size")
    clusters = [(y, m) for y, m in zip(successes, sizes, strict=True) if m > 0]
    total = sum(m for _, m in clusters)
    if not clusters:
        return Interval(0.0, 1.0)
    p = sum(y for y, _ in clusters) / total
    n = len(clusters)
    if n < 2:
        return Interval(0.0, 1.0)  # one viewer says nothing of the others
    variance = n / (n - 1) * sum((y - p * m) ** 2 for y, m in clusters) / total**2
    effective = min(float(total), p * (1 - p) / variance) if variance > 0 else float(n)
    # The variance is estimated from n viewers: Student's t with n - 1 degrees of freedom.
    return wilson_interval(p * effective, effective, z=t_quantile(z, n - 1))


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


def chi2_sf(x: float, dof: int) -> float:
    """P(X >= x) for X ~ chi-square with integer `dof`, exactly (closed form, no series cut).

    Even dof: exp(-x/2) * sum_{i<dof/2} (x/2)^i / i!. Odd dof: erfc(sqrt(x/2)) plus
    sqrt(2x/pi) exp(-x/2) * sum_{i=1}^{(dof-1)/2} x^(i-1) / (2i-1)!!.
    """
    if dof < 1:
        raise ValueError(f"degrees of freedom must be >= 1, got {dof}")
    if x <= 0:
        return 1.0
    half = x / 2
    if dof % 2 == 0:
        term, total = 1.0, 1.0
        for i in range(1, dof // 2):
            term *= half / i
            total += term
        return min(1.0, math.exp(-half) * total)
    tail = math.erfc(math.sqrt(half))
    if dof == 1:
        return tail
    term = math.sqrt(2 * x / math.pi) * math.exp(-half)
    total = term
    for i in range(2, (dof - 1) // 2 + 1):
        term *= x / (2 * i - 1)
        total += term
    return min(1.0, tail + total)


def chi_square_two_groups(
    first: Mapping[str, int], second: Mapping[str, int], *, categories: Sequence[str]
) -> ChiSquareResult | None:
    """Chi-square test of homogeneity on a 2 x k table of counts (k = categories seen).

    None when there is nothing to test: a group with no observations, or fewer than two
    categories observed overall.
    """
    used = [c for c in categories if first.get(c, 0) + second.get(c, 0) > 0]
    n1 = sum(first.get(c, 0) for c in used)
    n2 = sum(second.get(c, 0) for c in used)
    if n1 == 0 or n2 == 0 or len(used) < 2:
        return None
    n = n1 + n2
    statistic = 0.0
    min_expected = math.inf
    for category in used:
        column = first.get(category, 0) + second.get(category, 0)
        for observed, row in ((first.get(category, 0), n1), (second.get(category, 0), n2)):
            expected = row * column / n
            min_expected = min(min_expected, expected)
            statistic += (observed - expected) ** 2 / expected
    dof = len(used) - 1
    return ChiSquareResult(
        statistic=statistic,
        dof=dof,
        p_value=chi2_sf(statistic, dof),
        # For a 2 x k table min(rows, cols) - 1 = 1, so V = sqrt(chi2 / n).
        cramers_v=math.sqrt(statistic / n),
        categories=tuple(used),
        min_expected=min_expected,
    )


def p_value_in_words(p_value: float) -> str:
    """The p-value as a marketer would say it, with the conventional 5% line."""
    if p_value < 0.001:
        return (
            "Very strong evidence that the two ads' emotion mixes differ "
            "(p < 0.001): chance alone would almost never produce a difference this large."
        )
    if p_value < 0.01:
        return (
            f"Strong evidence that the emotion mixes differ (p = {p_value:.3f}): a difference "
            "this large would happen by chance less than 1 time in 100."
        )
    if p_value < 0.05:
        return (
            f"Evidence that the emotion mixes differ (p = {p_value:.3f}), significant at the "
            "usual 5% level."
        )
    if p_value < 0.10:
        return (
            f"Weak evidence of a difference (p = {p_value:.3f}): not significant at the 5% "
            "level; collect more photos before deciding."
        )
    return (
        f"No evidence of a difference (p = {p_value:.2f}): the mixes differ no more than "
        "chance would make them."
    )
