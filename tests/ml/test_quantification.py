"""Adjusted classify-and-count and the measurement it is built from, against known answers."""

from __future__ import annotations

import numpy as np
import pytest

from ml import CLASSES
from ml.measurement import (
    FLOORS,
    emotions_unmeasured,
    measurement_build,
    measurement_check,
)
from ml.metrics import roc_auc
from ml.quantification import (
    GROUP_OF_LABEL,
    GroupCorrection,
    measured_correction,
    simplex_projection,
)
from tests.made_up_model import READS, confusion_of


def test_the_weights_recover_a_known_mix_from_the_labels_it_gives():
    # given a correction measured on many photos of a model that reads groups as READS
    correction = GroupCorrection.from_confusion(confusion_of(100_000), draws=200)
    for mix in ([0.2, 0.1, 0.7], [0.5, 0.3, 0.2], [0.0, 0.0, 1.0]):
        # when an audience with that mix is labelled (in expectation)
        labels = np.array(mix) @ READS
        # then the weights give the mix back, and the plain count of labels does not
        assert correction.weights @ labels == pytest.approx(mix, abs=2e-3)
    calm = np.array([0.2, 0.1, 0.7]) @ READS
    counted = GroupCorrection.as_classified().weights @ calm
    assert counted[1] == pytest.approx(0.1 * 0.81 + 0.7 * 0.55 + 0.2 * 0.05, abs=1e-9)


def test_as_classified_counts_each_label_for_its_group_with_no_uncertainty():
    plain = GroupCorrection.as_classified()
    assert not plain.is_corrected
    assert plain.weights.sum(axis=0) == pytest.approx(np.ones(len(CLASSES)))
    assert plain.weights[0, CLASSES.index("happy")] == 1.0
    assert plain.classifier_variance((1, 0, 0), np.full(7, 1 / 7)) == 0.0


def test_fewer_photos_measured_means_more_uncertain_weights():
    few = GroupCorrection.from_confusion(confusion_of(40), draws=2000)
    many = GroupCorrection.from_confusion(confusion_of(4000), draws=2000)
    shares = READS.mean(axis=0)
    assert few.classifier_variance((0, 1, 0), shares) > 10 * many.classifier_variance(
        (0, 1, 0), shares
    )


def test_resampling_people_counts_photos_of_one_person_as_less_than_strangers():
    # given the same photos, once from 600 people and once as 60 people with 10 photos each
    # (one person's photos all read alike)
    rng = np.random.default_rng(3)
    true_people = rng.integers(0, len(CLASSES), size=60)
    true = np.repeat(true_people, 10)
    groups = np.array(GROUP_OF_LABEL)[true]
    read_people = np.array(
        [rng.choice(len(CLASSES), p=READS[GROUP_OF_LABEL[t]]) for t in true_people]
    )
    predicted = np.repeat(read_people, 10)
    assert len(set(groups.tolist())) == 3
    strangers = GroupCorrection.from_outcomes(true, predicted, np.arange(600), draws=400)
    clustered = GroupCorrection.from_outcomes(true, predicted, np.repeat(np.arange(60), 10))
    # then the weights are the same, and their uncertainty is larger with fewer people
    assert clustered.weights == pytest.approx(strangers.weights)
    shares = READS.mean(axis=0)
    assert clustered.classifier_variance((0, 1, 0), shares) > 3 * strangers.classifier_variance(
        (0, 1, 0), shares
    )


def test_a_group_never_measured_cannot_be_corrected():
    confusion = confusion_of(10)
    confusion[CLASSES.index("happy")] = 0
    with pytest.raises(ValueError, match="positive"):
        GroupCorrection.from_confusion(confusion)


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([0.2, 0.3, 0.5], [0.2, 0.3, 0.5]),  # already possible
        ([0.5, -0.1, 0.7], [0.4, 0.0, 0.6]),  # worked by hand: shift 0.1 off the other two
        ([1.4, 0.1, -0.2], [1.0, 0.0, 0.0]),
    ],
)
def test_the_simplex_projection_makes_shares_possible(values, expected):
    assert simplex_projection(np.array(values)) == pytest.approx(expected)


def test_roc_auc_matches_hand_counts():
    # 4 positives x 4 others: 12 of 16 pairs ordered right, one tie (half)
    scores = [0.9, 0.8, 0.6, 0.3, 0.7, 0.5, 0.3, 0.1]
    positives = [True] * 4 + [False] * 4
    assert roc_auc(scores, positives) == pytest.approx(12.5 / 16)
    assert np.isnan(roc_auc([0.1, 0.2], [True, True]))


def _photos(rng: np.random.Generator, per_emotion: dict[str, int]) -> tuple[np.ndarray, ...]:
    """Labelled photos and made-up probabilities: each emotion's photos mostly read right,
    but disgust photos read as neutral or sad (its probability tells nothing)."""
    labels = np.concatenate([[CLASSES.index(e)] * n for e, n in per_emotion.items()])
    probabilities = rng.dirichlet(np.ones(len(CLASSES)), size=len(labels))
    for row, label in zip(probabilities, labels, strict=True):
        read_as = rng.choice([4, 5]) if CLASSES[label] == "disgust" else label
        row[read_as] += 1.5
    probabilities /= probabilities.sum(axis=1, keepdims=True)
    return labels, probabilities


def test_a_measurement_says_which_emotions_are_measured_and_keeps_its_outcomes():
    rng = np.random.default_rng(0)
    per_emotion = dict.fromkeys(CLASSES, 60) | {"fear": 10}
    labels, probabilities = _photos(rng, per_emotion)
    found = np.ones(len(labels), dtype=bool)
    found[:3] = False  # three photos where no face was found
    people = [f"person-{i // 2}" for i in range(len(labels))]
    measurement = measurement_build(
        labels=labels, probabilities=probabilities, found=found, data="made-up", people=people
    )
    measurement_check(measurement)
    # then the photos with a face are counted, at every confidence step, fewer at higher ones
    confusion = {step: np.array(m) for step, m in measurement["confusion"].items()}
    assert confusion["0"].sum() == len(labels) - 3 == len(measurement["outcomes"]["rows"])
    assert confusion["90"].sum() <= confusion["50"].sum() <= confusion["0"].sum()
    assert measurement["people"] == len(set(people))
    # and disgust (probability at random) and fear (10 photos) are not measured reliably
    unmeasured = emotions_unmeasured(measurement)
    assert set(unmeasured) == {"disgust", "fear"}
    assert "AUC" in unmeasured["disgust"] and "10 labelled" in unmeasured["fear"]
    happy = measurement["emotions"]["happy"]
    assert happy["measured"] and happy["auc"] > FLOORS["auc"] and happy["recall"] > 0.5
    # and its correction at 50% rests on the photos at least that confident
    at_fifty = measured_correction(measurement, 50)
    assert at_fifty is not None and sum(at_fifty.photos) == confusion["50"].sum()
    assert measured_correction(measurement, 65) is None


def test_a_malformed_measurement_is_refused():
    with pytest.raises(ValueError, match="format"):
        measurement_check({"format": 99})
    with pytest.raises(ValueError, match="7 x 7"):
        measurement_check({"format": 1, "confusion": {"0": [[1, 2], [3, 4]]}})
