"""The sentences a marketer reads, worded from the figures (analytics.wording)."""

from __future__ import annotations

import re

from analytics import wording
from analytics.headlines import HEADLINES
from analytics.stats import VALENCE_BOUNDS, Estimate

POSITIVE = HEADLINES["positive"]


def _difference(value: float) -> Estimate:
    return Estimate(value=value, sampling_error=0.03, units=200, faces=600, bounds=VALENCE_BOUNDS)


def test_a_fall_is_said_as_a_positive_size_with_its_interval_flipped():
    # given a key moment where the positive share falls by 12 points
    change = _difference(-0.12)
    # when it is worded
    sentence = wording.key_moment_sentence(POSITIVE, second_from=65, second_to=70, change=change)
    # then it falls "by 12 points", from 1:05, with an interval that runs low to high
    assert sentence.startswith("1:05-1:10: the positive share falls by 12 points")
    interval = re.search(r"95% CI (-?\d+) to (-?\d+)", sentence)
    assert interval is not None
    low, high = map(int, interval.groups())
    assert low < 12 < high


def test_the_verdict_names_the_best_ad_only_when_the_gap_is_clear():
    # given two ranked ads, A 10 points ahead of B
    gap = _difference(0.10)
    # when the gap is clear, and when it is within noise
    clear = wording.verdict_summary(POSITIVE, ranked=["A", "B"], gap=gap, close=["A"])
    noise = wording.verdict_summary(POSITIVE, ranked=["A", "B"], gap=gap, close=["A", "B"])
    # then only the clear one names a best ad
    assert clear.startswith("A is the best ad on positive: A is 10 points more positive than B")
    assert noise.startswith("No ad is clearly best on positive: A, B are within noise")


def test_a_verdict_with_too_few_ranked_ads_says_so():
    assert wording.verdict_summary(POSITIVE, ranked=[], gap=None, close=[]) == (
        "No ad has enough viewers yet to rank."
    )
    assert wording.verdict_summary(POSITIVE, ranked=["A"], gap=None, close=["A"]) == (
        "Only A has enough viewers to rank so far."
    )
