"""Calibration: fitted on photos, held to PublicTest, stored in model.json, served."""

from __future__ import annotations

import numpy as np

from ml import CLASSES
from ml.calibration import Calibration, cross_validated, fit_calibration, macro_f1

DISGUST = CLASSES.index("disgust")
SAD = CLASSES.index("sad")


def biased_probabilities(
    count: int, seed: int, *, bias: float = 2.0
) -> tuple[np.ndarray, np.ndarray]:
    """Probabilities of a model that knows the classes but under-calls disgust by `bias`
    in log space (as networks trained on FER2013 do on real photos), with their labels."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, len(CLASSES), count)
    logits = rng.normal(0.0, 1.0, (count, len(CLASSES)))
    logits[np.arange(count), labels] += 2.0
    logits[:, DISGUST] -= bias
    exp = np.exp(logits - logits.max(axis=1, keepdims=True))
    return exp / exp.sum(axis=1, keepdims=True), labels


def test_identity_calibration_changes_nothing_and_is_not_written():
    probabilities, _ = biased_probabilities(10, 0)
    calibration = Calibration()
    assert calibration.is_identity
    np.testing.assert_array_equal(calibration.apply(probabilities), probabilities)
    assert Calibration.from_dict(None) == calibration


def test_an_offset_moves_predictions_to_its_class():
    # given
    probabilities, _ = biased_probabilities(200, 1)
    offsets = [0.0] * len(CLASSES)
    offsets[DISGUST] = 3.0
    # when
    calibrated = Calibration(temperature=1.0, offsets=tuple(offsets)).apply(probabilities)
    # then
    np.testing.assert_allclose(calibrated.sum(axis=1), 1.0, rtol=1e-5)
    assert (calibrated.argmax(1) == DISGUST).sum() > (probabilities.argmax(1) == DISGUST).sum()


def test_fitting_undoes_a_known_bias_and_raises_macro_f1_out_of_fold():
    # given: a model that under-calls disgust
    probabilities, labels = biased_probabilities(1500, 2)
    before = macro_f1(labels, probabilities.argmax(1))
    # when
    calibration = fit_calibration(probabilities, labels)
    out_of_fold, per_fold = cross_validated(probabilities, labels, folds=5)
    # then: disgust is lifted by about the bias, and held-out photos gain too
    assert calibration.offsets[DISGUST] - np.mean(calibration.offsets) > 1.0
    assert macro_f1(labels, out_of_fold.argmax(1)) > before + 0.02
    assert len(per_fold) == 5


def test_fitting_keeps_public_test_accuracy_within_its_limit():
    # given: photos that reward calling sad far more often, and a PublicTest where that hurts
    photos, photo_labels = biased_probabilities(800, 3, bias=0.0)
    photo_labels = np.where(np.arange(800) % 2 == 0, SAD, photo_labels)
    public, public_labels = biased_probabilities(800, 4, bias=0.0)
    floor = np.mean(public.argmax(1) == public_labels) - 0.01
    # when
    free = fit_calibration(photos, photo_labels)
    held = fit_calibration(
        photos,
        photo_labels,
        public_probabilities=public,
        public_labels=public_labels,
        max_public_drop=0.01,
    )
    # then
    assert np.mean(free.apply(public).argmax(1) == public_labels) < floor
    assert np.mean(held.apply(public).argmax(1) == public_labels) >= floor
