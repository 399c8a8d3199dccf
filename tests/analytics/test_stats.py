"""Confidence intervals and the two-ad test against published and hand-computed values."""

import numpy as np
import pytest

from analytics.stats import clustered_share_interval, t_quantile
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
    with pytest.raises(ValueError, match="successes"):
        wilson_interval(11, 10)


@pytest.mark.parametrize(("hits", "faces"), [(30, 100), (0, 7), (7, 7), (1, 3), (123, 4567)])
def test_a_clustered_share_of_one_observation_per_cluster_is_the_wilson_interval(hits, faces):
    successes, sizes = [1] * hits + [0] * (faces - hits), [1] * faces
    interval = clustered_share_interval(successes, sizes)
    # clusters of one are independent faces: no small-sample factor, no t, Wilson's own
    # (statsmodels'), which the page's closed form gives to rounding
    expected = wilson_interval(hits, faces)
    assert (interval.low, interval.high) == pytest.approx((expected.low, expected.high), abs=1e-12)


def test_a_clustered_share_matches_a_hand_computation():
    # given three viewers with 2/4, 1/4 and 4/4 faces happy: p = 7/12
    successes, sizes = [2, 1, 4], [4, 4, 4]
    p = 7 / 12
    variance = 3 / 2 * sum((y - p * 4) ** 2 for y in successes) / 12**2
    effective = p * (1 - p) / variance
    # when its interval is computed, then it is the Wilson interval at that effective size
    interval = clustered_share_interval(successes, sizes)
    expected = wilson_interval(p * effective, effective, z=4.302653)  # t(0.975, 2)
    assert (interval.low, interval.high) == pytest.approx((expected.low, expected.high), abs=1e-6)
    assert effective < 12  # fewer effective observations than faces: viewers differ


@pytest.mark.parametrize(
    # Published two-sided 95% quantiles of Student's t
    ("dof", "quantile"),
    [(5, 2.570582), (10, 2.228139), (29, 2.045230), (100, 1.983972)],
)
def test_t_quantiles_match_published_values(dof, quantile):
    assert t_quantile(1.959963984540054, dof) == pytest.approx(quantile, abs=1e-6)


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
