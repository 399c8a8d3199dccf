"""Corrected shares and their intervals: bounded, honest when every viewer agrees, wider by
the classifier's measured uncertainty, and right on simulated ads with a known answer."""

from __future__ import annotations

import math

import numpy as np
import pytest

from analytics.headlines import HEADLINES
from analytics.share_checks import check_shares
from analytics.stats import (
    Estimate,
    UnitCounts,
    difference_estimate,
    group_estimate,
)
from ml import CLASSES, SHIPPED_MODEL_DIR
from ml.artifact import read_metadata
from ml.metrics import Z_95
from ml.quantification import GROUP_OF_LABEL, GroupCorrection
from tests.made_up_model import READS, confusion_of

PLAIN = GroupCorrection.as_classified()


def _measured(photos_per_emotion: int = 200) -> GroupCorrection:
    return GroupCorrection.from_confusion(confusion_of(photos_per_emotion))


def _viewers(per_viewer: list[dict[str, int]]) -> UnitCounts:
    group = UnitCounts(CLASSES)
    for viewer, counts in enumerate(per_viewer, start=1):
        for label, n in counts.items():
            group.add(viewer, label, n)
    return group


def _estimate(group: UnitCounts, key: str, correction: GroupCorrection) -> Estimate:
    return group_estimate(group, HEADLINES[key].measure(correction))


def test_a_corrected_share_that_would_be_negative_is_zero_with_a_possible_interval():
    # given an audience whose every face gets the label that counts most against the
    # positive share: its linear correction is below 0
    correction = _measured()
    label = CLASSES[int(np.argmin(correction.weights[0]))]
    group = _viewers([{label: 5}] * 12)
    estimate = _estimate(group, "positive", correction)
    assert estimate.centre is not None and estimate.centre < 0
    # then the share shown is 0 and its interval stays within 0-100%, holding it
    interval = estimate.interval
    assert estimate.value == 0.0
    assert 0.0 == interval.low <= estimate.value <= interval.high <= 1.0
    assert interval.high > 0  # not "0 to 0": the correction is uncertain


@pytest.mark.parametrize("key", ["positive", "negative", "valence", "happy", "sad"])
def test_six_viewers_who_all_agree_do_not_make_a_certain_figure(key):
    # given 6 viewers whose every face reads happy (the "95% CI 100 to 100" of old)
    group = _viewers([{"happy": 8}] * 6)
    for correction in (PLAIN, _measured()):
        estimate = _estimate(group, key, correction)
        interval = estimate.interval
        # then the interval is not a point, stays possible, and its error is not 0
        assert interval.high - interval.low > 0.1
        assert estimate.bounds[0] <= interval.low <= estimate.value <= interval.high
        assert interval.high <= estimate.bounds[1]
        assert 0 < estimate.standard_error < math.inf


def test_the_standard_error_is_what_the_interval_amounts_to():
    # given 400 faces of no known viewer, half happy: Wilson's interval is nearly symmetric
    group = UnitCounts(CLASSES)
    group.add(None, "happy", 200)
    group.add(None, "neutral", 200)
    estimate = _estimate(group, "positive", PLAIN)
    interval = estimate.interval
    # then value +- 1.96 standard errors is the interval (to rounding)
    assert interval.high - interval.low == pytest.approx(2 * Z_95 * estimate.standard_error)
    assert estimate.standard_error == pytest.approx(math.sqrt(0.25 / 400), rel=0.01)
    # and below two units the interval is everything possible and the error unknown
    one = UnitCounts(CLASSES)
    one.add(1, "happy", 30)
    lonely = _estimate(one, "positive", PLAIN)
    assert (lonely.interval.low, lonely.interval.high) == (0.0, 1.0)
    assert lonely.standard_error == math.inf


def test_the_classifiers_uncertainty_widens_the_interval():
    rng = np.random.default_rng(1)
    group = _viewers(
        [dict(zip(CLASSES, rng.multinomial(10, READS.mean(axis=0)), strict=True))] * 1
        + [
            dict(zip(CLASSES, rng.multinomial(10, READS.mean(axis=0)), strict=True))
            for _ in range(39)
        ]
    )
    measured = _measured(photos_per_emotion=30)
    certain = GroupCorrection(measured.weights, np.zeros_like(measured.weight_covariance), (1,))
    wide = _estimate(group, "negative", measured)
    narrow = _estimate(group, "negative", certain)
    assert wide.value == pytest.approx(narrow.value)
    assert wide.classifier_error > 0 == narrow.classifier_error
    assert wide.interval.high - wide.interval.low > narrow.interval.high - narrow.interval.low


def test_a_difference_stays_within_what_is_possible():
    # given 3 viewers all happy and 3 all sad (the "+85 points, 66 to 104" of old)
    happy = _viewers([{"happy": 4}] * 3)
    sad = UnitCounts(CLASSES)
    for viewer in (11, 12, 13):
        sad.add(viewer, "sad", 4)
    for correction in (PLAIN, _measured()):
        measure = HEADLINES["positive"].measure(correction)
        d = difference_estimate(happy, sad, measure)
        assert -1.0 <= d.interval.low <= d.value <= d.interval.high <= 1.0
        valence = difference_estimate(happy, sad, HEADLINES["valence"].measure(correction))
        assert -2.0 <= valence.interval.low <= valence.interval.high <= 2.0


def test_an_errors_common_to_both_ads_cancels_in_their_difference():
    # the same correction moves both ads alike: the difference's classifier error is smaller
    # than either ad's
    rng = np.random.default_rng(2)
    mix_a, mix_b = np.array([0.5, 0.2, 0.3]) @ READS, np.array([0.3, 0.2, 0.5]) @ READS
    a = _viewers([dict(zip(CLASSES, rng.multinomial(6, mix_a), strict=True)) for _ in range(30)])
    b = UnitCounts(CLASSES)
    for viewer in range(100, 130):
        for label, n in zip(CLASSES, rng.multinomial(6, mix_b), strict=True):
            b.add(viewer, label, int(n))
    measured = _measured(photos_per_emotion=30)
    measure = HEADLINES["positive"].measure(measured)
    d = difference_estimate(a, b, measure)
    assert 0 < d.classifier_error < _estimate(a, "positive", measured).classifier_error


def test_emotion_shares_add_up_to_their_groups_corrected_shares():
    rng = np.random.default_rng(4)
    group = _viewers(
        [dict(zip(CLASSES, rng.multinomial(9, READS[2]), strict=True)) for _ in range(25)]
    )
    measured = _measured()
    groups = {k: _estimate(group, k, measured).value for k in ("positive", "negative")}
    emotions = {name: _estimate(group, name, measured).value for name in CLASSES}
    assert emotions["happy"] == pytest.approx(groups["positive"])
    negative = sum(emotions[n] for n in ("angry", "disgust", "fear", "sad"))
    assert negative == pytest.approx(groups["negative"])
    assert sum(emotions.values()) == pytest.approx(1.0)


def _made_up_photos(rng: np.random.Generator, people: int) -> tuple[np.ndarray, ...]:
    """Labelled photos of a made-up model (READS), 1-3 photos a person, each person read
    alike in all their photos half of the time (a face reads as it reads)."""
    labels, predicted, who = [], [], []
    for person in range(people):
        emotion = int(rng.integers(0, len(CLASSES)))
        habit = rng.choice(len(CLASSES), p=READS[GROUP_OF_LABEL[emotion]])
        for _ in range(int(rng.integers(1, 4))):
            read = (
                habit
                if rng.random() < 0.5
                else rng.choice(len(CLASSES), p=READS[GROUP_OF_LABEL[emotion]])
            )
            labels.append(emotion)
            predicted.append(read)
            who.append(f"p{person}")
    return np.array(labels), np.array(predicted), np.array(who)


@pytest.mark.parametrize("mix", ["random", "calm"])
def test_corrected_shares_of_simulated_ads_hit_the_known_mix(mix, report_figure):
    # given photos of a model that reads half the neutral faces as negative, and ads of 100
    # of them with known mixes, each corrected with what other people's photos measure
    rng = np.random.default_rng(7)
    labels, predicted, people = _made_up_photos(rng, people=700)
    results = check_shares(
        labels=labels, predicted=predicted, people=people, ads_per_fold=40, mix=mix
    )
    corrected, plain = results["corrected"].summary(), results["as classified"].summary()
    report_figure(
        f"{mix} mixes, {results['corrected'].ads} ads: corrected bias "
        f"{100 * corrected['positive_bias']:+.1f}/{100 * corrected['negative_bias']:+.1f}, "
        f"MAE {100 * corrected['mae']:.1f}, coverage {corrected['coverage']:.1%}; as "
        f"classified bias {100 * plain['negative_bias']:+.1f} (negative), coverage "
        f"{plain['coverage']:.1%}"
    )
    # then the corrected shares are unbiased within 3 points (a calm audience's negative
    # share within 6: shares near 0 cannot be estimated below it), their 95% intervals hold
    # the truth at least 90% of the time, no figure leaves 0-100%, while the count of labels
    # overstates the negative share
    assert abs(corrected["positive_bias"]) <= 0.03
    assert abs(corrected["negative_bias"]) <= (0.03 if mix == "random" else 0.06)
    assert corrected["coverage"] >= 0.90 and corrected["outside"] == 0
    assert plain["negative_bias"] > 0.05 and plain["coverage"] < corrected["coverage"]


@pytest.mark.parametrize("mix", ["random", "calm"])
def test_the_shipped_models_corrected_shares_hold_on_real_photos_of_other_people(
    mix, report_figure
):
    # given the shipped model's measured outcomes on labelled real photos (each photo's true
    # and given label, and its person), ads of 100 of them drawn from a fifth of the people
    # and corrected with what the other four fifths measure
    outcomes = np.array(read_metadata(SHIPPED_MODEL_DIR).measurement["outcomes"]["rows"])
    people, true, given = (outcomes[:, column].astype(int) for column in range(3))
    results = check_shares(
        labels=true, predicted=given, people=people.astype(str), ads_per_fold=60, mix=mix
    )
    corrected, plain = results["corrected"].summary(), results["as classified"].summary()
    report_figure(
        f"{mix} mixes, {results['corrected'].ads} ads: corrected bias "
        f"{100 * corrected['positive_bias']:+.1f}/{100 * corrected['negative_bias']:+.1f}, "
        f"MAE {100 * corrected['mae']:.1f}, coverage {corrected['coverage']:.1%}; as "
        f"classified bias {100 * plain['negative_bias']:+.1f} (negative), MAE "
        f"{100 * plain['mae']:.1f}, coverage {plain['coverage']:.1%}"
    )
    # then the corrected shares are unbiased within 3 points, their intervals hold the truth
    # at least 90% of the time and never leave 0-100%, and they err less than the count of
    # labels, which overstates the negative share
    assert abs(corrected["positive_bias"]) <= 0.03 and abs(corrected["negative_bias"]) <= 0.03
    assert corrected["coverage"] >= 0.90 and corrected["outside"] == 0
    assert corrected["mae"] < plain["mae"] and plain["negative_bias"] > 0.1
