"""Confidence intervals and the two-ad test against published and hand-computed values."""

import math

import numpy as np
import pytest

from campaigns.stats import (
    chi2_sf,
    chi_square_two_groups,
    clustered_share_interval,
    p_value_in_words,
    t_quantile,
)
from ml import CLASSES
from ml.metrics import Interval, wilson_interval


@pytest.mark.parametrize(
    ("successes", "total", "low", "high"),
    [
        # Published Wilson 95% intervals (Newcombe 1998, table I; Brown, Cai & DasGupta 2001).
        (5, 10, 0.2366, 0.7634),
        (0, 10, 0.0, 0.2775),
        (10, 10, 0.7225, 1.0),
        (81, 263, 0.2553, 0.3662),
    ],
)
def test_wilson_interval_matches_published_values(successes, total, low, high):
    # given a share; when its interval is computed
    interval = wilson_interval(successes, total)
    # then it matches the published bounds to 4 decimals
    assert interval.low == pytest.approx(low, abs=5e-5)
    assert interval.high == pytest.approx(high, abs=5e-5)


def test_wilson_interval_without_observations_says_nothing():
    assert wilson_interval(0, 0) == Interval(0.0, 1.0)


def test_wilson_interval_narrows_as_the_sample_grows():
    small, large = wilson_interval(30, 100), wilson_interval(3000, 10000)
    assert small.low < large.low < 0.3 < large.high < small.high


def test_wilson_interval_rejects_impossible_counts():
    with pytest.raises(ValueError):
        wilson_interval(11, 10)


@pytest.mark.parametrize(
    ("x", "dof", "p"),
    [
        # Critical values of the chi-square distribution (standard tables).
        (3.841458820694124, 1, 0.05),
        (6.634896601021214, 1, 0.01),
        (5.991464547107979, 2, 0.05),
        (7.814727903251178, 3, 0.05),
        (9.487729036781154, 4, 0.05),
        (11.070497693516351, 5, 0.05),
        (12.591587243743977, 6, 0.05),
        (16.811893829770927, 6, 0.01),
    ],
)
def test_chi2_survival_function_matches_tables(x, dof, p):
    assert chi2_sf(x, dof) == pytest.approx(p, rel=1e-9)


def test_chi2_survival_function_with_two_dof_is_an_exponential():
    assert chi2_sf(4.0, 2) == pytest.approx(math.exp(-2.0), rel=1e-12)
    assert chi2_sf(0.0, 3) == 1.0


def test_chi_square_two_by_two_matches_hand_computation():
    # given 10/20 and 30/40: expected counts 12, 18, 28, 42
    first, second = {"happy": 10, "sad": 20}, {"happy": 30, "sad": 40}
    # when tested
    result = chi_square_two_groups(first, second, categories=CLASSES)
    assert result is not None
    # then chi2 = 4/12 + 4/18 + 4/28 + 4/42 and p = erfc(sqrt(chi2 / 2))
    expected = 4 / 12 + 4 / 18 + 4 / 28 + 4 / 42
    assert result.statistic == pytest.approx(expected)
    assert result.dof == 1
    assert result.p_value == pytest.approx(math.erfc(math.sqrt(expected / 2)))
    assert result.p_value == pytest.approx(0.3730, abs=5e-5)
    assert result.categories == ("happy", "sad")
    assert result.min_expected == pytest.approx(12.0)


def test_chi_square_two_by_three_matches_hand_computation():
    # given expected counts of 20, 15, 15 in both rows
    first = {"happy": 30, "neutral": 10, "sad": 10}
    second = {"happy": 10, "neutral": 20, "sad": 20}
    # when tested
    result = chi_square_two_groups(first, second, categories=CLASSES)
    assert result is not None
    # then chi2 = 2 * (100/20 + 25/15 + 25/15), p = exp(-chi2/2) for 2 dof
    assert result.statistic == pytest.approx(50 / 3)
    assert result.dof == 2
    assert result.p_value == pytest.approx(math.exp(-25 / 3))
    assert result.cramers_v == pytest.approx(math.sqrt(1 / 6))
    assert result.reliable
    assert result.verdict.startswith("Very strong evidence")


def test_chi_square_flags_small_expected_counts():
    result = chi_square_two_groups(
        {"happy": 3, "sad": 1}, {"happy": 1, "sad": 3}, categories=CLASSES
    )
    assert result is not None
    assert not result.reliable


def test_chi_square_needs_two_groups_and_two_categories():
    assert chi_square_two_groups({"happy": 5}, {}, categories=CLASSES) is None
    assert chi_square_two_groups({"happy": 5}, {"happy": 9}, categories=CLASSES) is None


@pytest.mark.parametrize(
    ("p", "opening"),
    [
        (0.0001, "Very strong evidence"),
        (0.005, "Strong evidence"),
        (0.03, "Evidence that"),
        (0.07, "Weak evidence"),
        (0.4, "No evidence"),
    ],
)
def test_p_value_in_words(p, opening):
    assert p_value_in_words(p).startswith(opening)


def test_tiny_p_values_are_shown_as_a_bound_not_as_zero():
    result = chi_square_two_groups(
        {"happy": 90, "sad": 10}, {"happy": 10, "sad": 90}, categories=CLASSES
    )
    assert result is not None
    assert result.p_value_display == "p < 0.0001"


def test_a_clustered_share_of_one_observation_per_cluster_is_the_wilson_interval():
    successes, sizes = [1] * 30 + [0] * 70, [1] * 100
    interval = clustered_share_interval(successes, sizes)
    # the n/(n-1) small-sample factor (n - 1 units) and t(0.975, 99) = 1.984
    expected = wilson_interval(0.3 * 99, 99, z=1.984217)
    assert (interval.low, interval.high) == pytest.approx((expected.low, expected.high), abs=1e-5)


def test_a_clustered_share_matches_a_hand_computation():
    # given three viewers with 2/4, 1/4 and 4/4 faces happy: p = 7/12
    successes, sizes = [2, 1, 4], [4, 4, 4]
    p = 7 / 12
    variance = 3 / 2 * sum((y - p * 4) ** 2 for y in successes) / 12**2
    effective = p * (1 - p) / variance
    # when its interval is computed, then it is the Wilson interval at that effective size
    interval = clustered_share_interval(successes, sizes)
    expected = wilson_interval(p * effective, effective, z=4.302653)  # t(0.975, 2)
    assert (interval.low, interval.high) == pytest.approx((expected.low, expected.high), abs=0.02)
    assert effective < 12  # fewer effective observations than faces: viewers differ


@pytest.mark.parametrize(
    # Published two-sided 95% quantiles of Student's t
    ("dof", "quantile"),
    [(5, 2.570582), (10, 2.228139), (29, 2.045230), (100, 1.983972)],
)
def test_t_quantiles_match_published_values(dof, quantile):
    assert t_quantile(1.959963984540054, dof) == pytest.approx(quantile, abs=0.003)


def test_a_clustered_share_covers_the_truth_95_percent_of_the_time_where_faces_do_not():
    # given simulated campaigns of 30 viewers drawn from an audience whose happy rates spread
    # around 0.4, each with 5-40 frames; the truth is the audience's share (computed once from
    # a million draws of the same distribution)
    rng = np.random.default_rng(0)
    truth = float(np.clip(rng.normal(0.4, 0.2, size=1_000_000), 0, 1).mean())
    covered = naive_covered = 0
    simulations = 400
    for _ in range(simulations):
        rates = np.clip(rng.normal(0.4, 0.2, size=30), 0, 1)
        sizes = rng.integers(5, 41, size=30)
        successes = rng.binomial(sizes, rates)
        interval = clustered_share_interval(successes.tolist(), sizes.tolist())
        covered += interval.low <= truth <= interval.high
        naive = wilson_interval(int(successes.sum()), int(sizes.sum()))
        naive_covered += naive.low <= truth <= naive.high
    # then the clustered interval covers about 95% (binomial noise of 400 runs: +-2.2 points)
    assert 0.92 <= covered / simulations <= 0.98
    # while an interval that takes every face as a viewer covers far less
    assert naive_covered / simulations < 0.85
