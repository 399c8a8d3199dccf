"""The dashboard's decisions: which ad, by how much, when, for whom, against what norm.

Statistics are checked against hand computations, a published example (Holm) and
simulations with a known answer; the page through the test client.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from django.urls import reverse
from statsmodels.stats.multitest import multipletests

from analytics import comparisons
from analytics.comparisons import verdict
from analytics.headlines import HEADLINES
from analytics.selectors.dashboards import AS_CLASSIFIED
from analytics.stats import (
    ScoreMeasure,
    UnitCounts,
    difference_estimate,
    group_estimate,
    holm_adjusted,
    moments_difference,
)
from analytics.timelines import SecondRows, Timelines, timeline_bins
from campaigns.models import BatchStatus, ImageStatus, UploadBatch
from inference.services import model_version_activate
from ml import CLASSES
from tests import factories
from tests.analytics.dashboard_data import viewer_create, viewer_reaction

POSITIVE = ScoreMeasure({"happy": 1.0})


def _viewers(shares: list[tuple[int, int]], start: int = 0) -> UnitCounts:
    """A group of viewers, each (happy faces, other faces)."""
    group = UnitCounts()
    for index, (happy, other) in enumerate(shares):
        group.add(start + index, "happy", happy)
        group.add(start + index, "neutral", other)
    return group


def test_a_groups_estimate_matches_a_hand_computation():
    # given three viewers with 2/4, 1/4 and 4/4 happy faces, and two single faces (1 happy)
    group = _viewers([(2, 2), (1, 3), (4, 0)])
    group.add(None, "happy", 1)
    group.add(None, "sad", 1)
    # then p = 8/14, and its variance sums squared residuals over the five units
    p = 8 / 14
    residuals = [2 - 4 * p, 1 - 4 * p, 4 - 4 * p, 1 - p, 0 - p]
    variance = 5 / 4 * sum(r * r for r in residuals) / 14**2
    estimate = group_estimate(group, POSITIVE)
    assert estimate.value == pytest.approx(p)
    assert (estimate.units, estimate.faces) == (5, 14)
    assert estimate.sampling_error == pytest.approx(math.sqrt(variance))


def test_a_difference_counts_a_viewer_in_both_groups_once():
    # given the same two viewers in both groups (one person who saw both ads)
    a = _viewers([(3, 1), (1, 3)])
    b = _viewers([(2, 2), (0, 4)])
    d = difference_estimate(a, b, POSITIVE)
    # then the difference's units are the 2 viewers, and its variance pairs their residuals
    pa, pb = 4 / 8, 2 / 8
    terms = [(3 - 4 * pa) / 8 - (2 - 4 * pb) / 8, (1 - 4 * pa) / 8 - (0 - 4 * pb) / 8]
    assert d.value == pytest.approx(pa - pb) and d.units == 2
    assert d.sampling_error == pytest.approx(math.sqrt(2 * sum(t * t for t in terms)))


def test_holm_matches_the_published_example():
    # Holm (1979) as usually worked: p = 0.01, 0.04, 0.03, 0.005
    assert holm_adjusted([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])


def test_holm_agrees_with_statsmodels():
    # given families of p-values of every size the pages adjust, ties and ones included
    rng = np.random.default_rng(0)
    for size in [0, 1, 2, 5, 30, 200]:
        p_values = np.round(rng.beta(0.5, 2, size=size), 3).tolist()
        # then Holm's adjustment gives statsmodels' figures
        expected = multipletests(p_values, method="holm")[1] if size else []
        assert holm_adjusted(p_values) == pytest.approx(list(expected), abs=1e-15)


def _as_single_faces(group: UnitCounts) -> UnitCounts:
    """The same faces with the viewers forgotten: each face a unit (the naive interval)."""
    singles = UnitCounts()
    for label, count in zip(group.labels, group.viewer_counts.sum(axis=0), strict=True):
        singles.add(None, label, int(count))
    return singles


@pytest.mark.parametrize("shared", [False, True], ids=["different-viewers", "same-viewers"])
def test_the_difference_interval_covers_the_truth_95_percent_of_the_time(shared, report_figure):
    # given simulated pairs of ads seen by 40 viewers each (the same ones, or not), each
    # viewer with their own rate, 8-30 faces each, ad A's true share 0.15 above B's
    rng = np.random.default_rng(1)
    covered = naive_covered = 0
    simulations = 300
    for _ in range(simulations):
        base = rng.uniform(0.2, 0.6, size=40)
        other = base if shared else rng.uniform(0.2, 0.6, size=40)
        sizes = rng.integers(8, 30, size=(2, 40))
        happy_a = rng.binomial(sizes[0], base + 0.15)
        happy_b = rng.binomial(sizes[1], other)
        a = _viewers([(int(h), int(n - h)) for h, n in zip(happy_a, sizes[0], strict=True)])
        b = _viewers(
            [(int(h), int(n - h)) for h, n in zip(happy_b, sizes[1], strict=True)],
            start=0 if shared else 1000,
        )
        # the truth of the audience the viewers are drawn from (a viewer's number of faces
        # does not depend on their rate, so the face-weighted share aims at the mean rate)
        truth = 0.15
        interval = difference_estimate(a, b, POSITIVE).interval
        covered += interval.low <= truth <= interval.high
        naive = difference_estimate(_as_single_faces(a), _as_single_faces(b), POSITIVE).interval
        naive_covered += naive.low <= truth <= naive.high
    report_figure(
        f"95% interval covers the true difference in {covered / simulations:.1%} of "
        f"{simulations} simulated campaigns; taking faces as units: "
        f"{naive_covered / simulations:.1%}"
    )
    # then about 95% (noise of 300 runs: +-2.5 points)
    assert 0.92 <= covered / simulations <= 0.98


def test_the_verdict_names_the_better_ad_with_its_difference_in_words():
    units = {
        1: _viewers([(8, 2)] * 20),  # 80% positive, 20 viewers
        2: _viewers([(5, 5)] * 10 + [(4, 6)] * 10, start=100),  # 45%
        3: _viewers([(9, 1)] * 4, start=200),  # 90%, but only 4 viewers
    }
    result = verdict(
        ads=[(1, "Spot A"), (2, "Spot B"), (3, "Spot C")],
        units=units,
        headline=HEADLINES["positive"],
        readings={},
    )
    # then A ranks first, B second with its gap; C is shown but not ranked
    assert [s.name for s in result.ranked] == ["Spot A", "Spot B"]
    assert result.summary.startswith(
        "Spot A is the best ad on positive: Spot A is 35 points more positive than Spot B (95% CI"
    )
    b = next(s for s in result.standings if s.name == "Spot B")
    assert b.clearly_behind and "a clear difference" in b.sentence
    c = next(s for s in result.standings if s.name == "Spot C")
    assert c.rank is None and c.sentence == "Too few viewers (4) to rank: shown, not compared."
    assert "Each viewer counts as one unit" in result.unit_note


def test_close_ads_are_called_within_noise():
    units = {1: _viewers([(5, 5)] * 12), 2: _viewers([(5, 5)] * 11 + [(6, 4)], start=50)}
    result = verdict(
        ads=[(1, "A"), (2, "B")], units=units, headline=HEADLINES["positive"], readings={}
    )
    assert result.summary.startswith("No ad is clearly best on positive: B, A are within noise")


def test_on_negative_share_lower_is_better_and_the_words_say_so():
    negative = HEADLINES["negative"]
    a, b = UnitCounts(), UnitCounts()
    for viewer in range(16):
        spread = 1 if viewer % 2 else -1  # viewers differ, so the interval has width
        a.add(viewer, "sad", 1 + spread)
        a.add(viewer, "neutral", 9 - spread)  # 10% negative on average
        b.add(100 + viewer, "angry", 5 + spread)
        b.add(100 + viewer, "neutral", 5 - spread)  # 50% negative on average
    result = verdict(
        ads=[(1, "Calm"), (2, "Harsh")], units={1: a, 2: b}, headline=negative, readings={}
    )
    assert [s.name for s in result.ranked] == ["Calm", "Harsh"]
    assert "Calm is 40 points less negative than Harsh (95% CI" in result.summary
    low, high = (float(x) for x in result.summary.split("95% CI ")[1].rstrip(").").split(" to "))
    assert 0 < low < 40 < high


def _second_rows(reactions: list[list[tuple[int, int]]], seconds_apart: int) -> SecondRows:
    """Tally rows of viewers 1.. at seconds 0, `seconds_apart`, ...: each second a list of
    every viewer's (happy faces, neutral faces)."""
    viewers, seconds, counts = [], [], []
    for index, shares in enumerate(reactions):
        for viewer, (happy, neutral) in enumerate(shares, start=1):
            row = np.zeros(len(CLASSES))
            row[CLASSES.index("happy")], row[CLASSES.index("neutral")] = happy, neutral
            viewers.append(viewer)
            seconds.append(index * seconds_apart)
            counts.append(row)
    return SecondRows(viewers=np.array(viewers), seconds=np.array(seconds), counts=np.array(counts))


def test_key_moments_find_a_change_beyond_noise_and_nothing_else():
    # given one ad whose 30 viewers are happy for 10 s, then not, in 5 s bins
    reactions = [[(4, 0) if index < 2 else (0, 4)] * 30 for index in range(4)]
    rows = _second_rows(reactions, seconds_apart=5)
    timeline = Timelines(width=5, bins={1: timeline_bins(rows, width=5, labels=CLASSES)})
    moments = comparisons.key_moments(
        timeline=timeline,
        ad_names={1: "Spot"},
        headlines=[HEADLINES["positive"]],
        readings={},
        eligible=[1],
    )
    # then the one moment is at 0:10-0:15, a fall of 100 points
    assert len(moments) == 1
    assert moments[0].sentence.startswith("0:10-0:15: the positive share falls by 100 points")
    # and a flat timeline has none
    flat_rows = _second_rows([[(2, 2)] * 30] * 4, seconds_apart=5)
    flat = Timelines(width=5, bins={1: timeline_bins(flat_rows, width=5, labels=CLASSES)})
    assert (
        comparisons.key_moments(
            timeline=flat,
            ad_names={1: "Spot"},
            headlines=[HEADLINES["positive"]],
            readings={},
            eligible=[1],
        )
        == []
    )


def test_a_timelines_bins_estimate_what_their_viewers_counts_give():
    # given 40 viewers' random faces over 12 s, some seconds without a viewer, and faces of
    # no known viewer (viewer 0)
    rng = np.random.default_rng(5)
    viewers = rng.integers(0, 40, size=600)
    seconds = rng.choice([0, 1, 2, 3, 5, 6, 7, 8, 9, 11], size=600)
    counts = rng.multinomial(2, [1 / len(CLASSES)] * len(CLASSES), size=600).astype(float)
    rows = SecondRows(viewers=viewers, seconds=seconds, counts=counts)
    for width in (1, 2, 5):
        # when they are binned
        bins = timeline_bins(rows, width=width, labels=CLASSES)
        # then each bin estimates every headline as the bin's own viewers' counts do
        groups = {}
        for bin_ in bins:
            inside = seconds // width == int(bin_.second_from) // width
            known = inside & (viewers != 0)
            group = UnitCounts.from_arrays(
                labels=CLASSES,
                viewer_ids=viewers[known],
                viewer_counts=counts[known],
                single_counts=counts[inside & (viewers == 0)].sum(axis=0),
            )
            groups[bin_.second_from] = group
            for headline in HEADLINES.values():
                expected = group_estimate(group, headline.measure(AS_CLASSIFIED))
                found = bin_.estimate(headline, AS_CLASSIFIED)
                assert found.units == expected.units and found.faces == expected.faces
                assert found.value == pytest.approx(expected.value, abs=1e-12)
                assert found.standard_error == pytest.approx(expected.standard_error, abs=1e-12)
        # and each change to the next bin counts the viewers both share, as the viewers'
        # counts do (what the key moments test)
        adjacent = 0
        for before, after in itertools.pairwise(bins):
            if after.second_from != before.second_to:
                assert before.to_next is None
                continue
            assert before.to_next is not None
            adjacent += 1
            expected = difference_estimate(
                groups[after.second_from], groups[before.second_from], POSITIVE
            )
            found = moments_difference(
                after.units, before.units, before.to_next.transposed(), POSITIVE
            )
            assert found.units == expected.units
            assert found.value == pytest.approx(expected.value, abs=1e-12)
            assert found.standard_error == pytest.approx(expected.standard_error, abs=1e-12)
        assert adjacent >= 2


@pytest.fixture
def reactions(db):
    """Two ads of one campaign, 12 viewers each with an age band and a market, 0-20 s of
    frames: Spot A happy all along; Spot B happy for 10 s, then sad (viewers 0-11 saw A,
    12-23 saw B)."""
    team = factories.team_create()
    user = factories.user_create(team=team)
    campaign = factories.campaign_create(team=team, name="Launch")
    model = model_version_activate(model_version=factories.model_version_create(version="1.0"))
    ads = {name: factories.ad_create(campaign=campaign, name=name) for name in ("Spot A", "Spot B")}
    for name, ad in ads.items():
        batch = factories.batch_create(ad=ad, status=BatchStatus.DONE)
        UploadBatch.objects.filter(pk=batch.pk).update(model_version=model)
        for i in range(12):
            number = i if name == "Spot A" else 12 + i
            viewer = viewer_create(
                campaign=campaign,
                external_id=f"v{number}",
                age_band="18-34" if i % 2 else "35+",
                market="DE" if i < 6 else "FR",
            )
            labels = [(t / 2, "happy" if name == "Spot A" or t < 20 else "sad") for t in range(40)]
            viewer_reaction(
                batch=batch,
                model_version=model,
                viewer=viewer,
                labels_at=labels,
                confidence={"sad": 0.55},
            )
    return user, campaign, model, ads


@pytest.mark.django_db
def test_the_dashboard_decides_which_when_for_whom_and_against_what(client, reactions):
    user, campaign, _model, ads = reactions
    client.force_login(user)
    url = reverse("campaigns:campaign_dashboard", args=[campaign.pk])
    response = client.get(url, {"breakdown": "market"})
    html = response.content.decode()
    assert response.status_code == 200
    # which: A is the more positive, by 50 points, with viewers as the unit
    summary = response.context["verdict"].summary
    assert summary.startswith(
        "Spot A is the best ad on positive: Spot A is 50 points more positive than Spot B"
    )
    for section in (
        'id="verdict"',
        'id="timeline"',
        'id="key-moments"',
        'id="segments"',
        'id="norms"',
    ):
        assert section in html, section
    # when: the timeline (loaded after the page, under the same filters) has bands per ad,
    # and B's fall at 10 s is a key moment
    assert response.context["has_timeline"]
    timeline_url = reverse("campaigns:campaign_dashboard_timeline", args=[campaign.pk])
    assert f'data-src="{timeline_url}?breakdown=market"' in html
    part = client.get(timeline_url, {"breakdown": "market"})
    assert part.context["timeline"].width in (1, 2, 5)
    assert {t.get("name") for t in part.context["timeline_chart"]["traces"]} >= {"Spot A", "Spot B"}
    moments = part.context["moments"]
    found = [(m.ad_name, m.headline.key, m.second_from, round(m.change.value, 2)) for m in moments]
    assert found == [("Spot B", "positive", 10, -1.0), ("Spot B", "negative", 10, 1.0)]
    assert "0:10" in moments[0].sentence
    # for whom: the breakdown by market has DE and FR rows for both ads
    rows = response.context["segment_rows"]
    assert [row.value for row in rows] == ["DE", "FR"]
    assert set(rows[0].per_ad) == {ads["Spot A"].pk, ads["Spot B"].pk}
    assert rows[0].per_ad[ads["Spot A"].pk].units.units == 6
    # against what: norms rest on the team's two ads
    norms = response.context["norms"]
    assert {n.norm_ads for n in norms} == {2}
    # a segment filter changes the figures: only DE viewers
    only_de = client.get(url, {"segment": "market=DE"}).context["verdict"]
    assert {s.units.viewer_count for s in only_de.standings} == {6}


@pytest.mark.django_db
def test_switching_the_active_model_keeps_every_ads_results(client, reactions):
    user, campaign, _model, ads = reactions
    client.force_login(user)
    # when an admin activates a new version that has analysed nothing yet
    newer = model_version_activate(model_version=factories.model_version_create(version="2.0"))
    response = client.get(reverse("campaigns:campaign_dashboard", args=[campaign.pk]))
    html = response.content.decode()
    # then the dashboard still shows every ad, says which version, and offers to re-analyse
    assert response.context["total_faces"] == 2 * 12 * 40
    assert "shows the results of <strong>fer-cnn 1.0</strong>" in html
    assert f"Re-analyse Spot A with fer-cnn {newer.version}" in html
    # and the marketer's re-analysis queues the ad's uploads with the active version
    client.post(reverse("campaigns:ad_reanalyse", args=[ads["Spot A"].pk]))
    batch = UploadBatch.objects.get(ad=ads["Spot A"])
    assert batch.status == BatchStatus.PROCESSING and batch.model_version == newer
    assert batch.images.filter(status=ImageStatus.PENDING).count() == 12 * 40


@pytest.mark.django_db
def test_a_minimum_confidence_says_what_it_keeps_and_when_it_moves_the_mix(client, reactions):
    user, campaign, _model, _ads = reactions
    client.force_login(user)
    url = reverse("campaigns:campaign_dashboard", args=[campaign.pk])
    response = client.get(url, {"min_confidence": "60"})
    html = response.content.decode()
    effect = response.context["confidence"]
    # (Spot B's sad faces have confidence 0.55: a 60% minimum drops them, 12 viewers x 20)
    assert (effect.kept_faces, effect.all_faces) == (720, 960)
    assert "keeps <strong>75% of the faces</strong> (720 of 960)" in html
    # and B's positive share goes from 50% to 100%: the page says the filter moves the mix
    assert effect.moved == {"Spot B": (pytest.approx(0.5), pytest.approx(1.0))}
    assert "Spot B's positive share goes from 50% to 100%" in html
    assert "Only faces whose top emotion has at least this probability." in html
    # a fraction from an older link means the same step; a value between steps is refused
    assert client.get(url, {"min_confidence": "0.6"}).context["confidence"].kept_faces == 720
    between = client.get(url, {"min_confidence": "65"})
    assert between.context["confidence"] is None
    assert "Select a valid choice" in between.content.decode()
