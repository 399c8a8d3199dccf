"""The headline-level error of corrected shares, and the calibration fitted for it, on
synthetic photos whose errors are known."""

from __future__ import annotations

import numpy as np
import pytest

from ml import CLASSES
from ml.cli.share_error import main
from ml.share_error import (
    fit_share_offsets,
    fold_ads,
    headline_error,
    share_calibration_report,
    share_error_summary,
    share_estimates,
)
from ml.simulation import person_folds

NEUTRAL, SAD, HAPPY, DISGUST = (CLASSES.index(n) for n in ("neutral", "sad", "happy", "disgust"))


def synthetic_photos(n: int = 700, seed: int = 0) -> tuple[np.ndarray, list[str]]:
    """Labels over the seven classes and file names of 2 photos per person."""
    rng = np.random.default_rng(seed)
    labels = rng.choice(len(CLASSES), size=n, p=[0.1, 0.05, 0.05, 0.3, 0.3, 0.1, 0.1])
    paths = [f"images/Person_{i // 2}_{i % 2:04d}.jpg" for i in range(n)]
    return labels, paths


def noisy_logits(labels: np.ndarray, *, signal: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(len(labels), len(CLASSES)))
    logits[np.arange(len(labels)), labels] += signal
    return logits


def test_labels_read_right_give_no_error_as_classified_and_almost_none_corrected():
    # given: every photo labelled as it truly is
    labels, paths = synthetic_photos()
    folds = person_folds(paths, 5)
    ads = fold_ads(labels, folds, ads_per_fold=50)

    # when
    summary = share_error_summary(share_estimates(labels, labels, folds, ads))

    # then: the plain share is the truth; the correction (a Jeffreys prior on each cell of the
    # measured confusion) moves it by under a point
    assert summary["ads"] == 250
    assert summary["as_classified"]["score"] == pytest.approx(0.0, abs=1e-9)
    assert summary["corrected"]["score"] < 1.0


def test_the_correction_removes_a_one_sided_error_that_classified_shares_carry():
    # given: a model that reads 60% of neutral faces as sad (other -> negative)
    labels, paths = synthetic_photos(1500)
    rng = np.random.default_rng(1)
    predicted = labels.copy()
    predicted[(labels == NEUTRAL) & (rng.random(len(labels)) < 0.6)] = SAD
    folds = person_folds(paths, 5)

    # when
    summary = share_error_summary(
        share_estimates(predicted, labels, folds, fold_ads(labels, folds, ads_per_fold=100))
    )

    # then: as classified, negative is far too high; corrected, the bias is gone
    assert summary["as_classified"]["negative"]["bias"] > 10
    assert abs(summary["corrected"]["negative"]["bias"]) < 2
    assert summary["corrected"]["score"] < summary["as_classified"]["score"] / 2
    assert summary["corrected"]["score"] == pytest.approx(
        headline_error(predicted, labels, folds, fold_ads(labels, folds, ads_per_fold=100))
    )


def test_each_fold_is_corrected_by_the_other_folds_only():
    # given: fold 0's photos are read wrong in a way the other folds never are
    labels, paths = synthetic_photos()
    folds = person_folds(paths, 5)
    predicted = labels.copy()
    predicted[(folds == 0) & (labels == HAPPY)] = SAD
    ads = fold_ads(labels, folds, ads_per_fold=50)

    # when
    estimates = share_estimates(predicted, labels, folds, ads)

    # then: fold 0's ads (the first 50) keep their error, which their correction never saw;
    # the others are corrected by a measurement that includes it, so they lean the other way
    fold_zero = share_error_summary(
        type(estimates)(
            *(getattr(estimates, f)[:50] for f in ("corrected", "as_classified", "true"))
        )
    )
    rest = share_error_summary(
        type(estimates)(
            *(getattr(estimates, f)[50:] for f in ("corrected", "as_classified", "true"))
        )
    )
    assert fold_zero["corrected"]["positive"]["bias"] < -10
    assert rest["corrected"]["positive"]["bias"] > 0
    assert rest["as_classified"]["score"] == pytest.approx(0.0, abs=1e-9)


def test_fit_share_offsets_undoes_a_class_pushed_down_and_keeps_its_limits():
    # given: a model whose neutral logit is pushed down, so neutral faces read as other classes
    labels, paths = synthetic_photos(1000)
    folds = person_folds(paths, 5)
    ads = fold_ads(labels, folds, ads_per_fold=40)
    logits = noisy_logits(labels, signal=2.0, seed=2)
    logits[:, NEUTRAL] -= 1.5
    # and disgust called for every happy face, which a negative disgust offset would fix
    logits[labels == HAPPY, DISGUST] += 3.0
    before = headline_error(logits.argmax(axis=1), labels, folds, ads)

    # when
    offsets = fit_share_offsets(logits, labels, folds, ads)

    # then: neutral is lifted, disgust is not pushed below 0, and the score is lower
    assert offsets[NEUTRAL] > 0.5
    assert offsets[DISGUST] >= 0.0
    assert offsets[CLASSES.index("fear")] >= 0.0
    assert headline_error((logits + offsets).argmax(axis=1), labels, folds, ads) < before


def test_fit_share_offsets_holds_public_test_at_its_floor():
    # given: PublicTest faces that any offset away from 0 reads worse
    labels, paths = synthetic_photos(600)
    folds = person_folds(paths, 5)
    ads = fold_ads(labels, folds, ads_per_fold=20)
    logits = noisy_logits(labels, signal=2.0, seed=3)
    logits[:, NEUTRAL] -= 1.5
    public_labels = np.arange(700) % len(CLASSES)
    public_logits = noisy_logits(public_labels, signal=0.3, seed=4)
    floor = float(np.mean(public_logits.argmax(axis=1) == public_labels))

    # when
    offsets = fit_share_offsets(
        logits,
        labels,
        folds,
        ads,
        public_logits=public_logits,
        public_labels=public_labels,
        public_floor=floor,
    )

    # then
    assert np.mean((public_logits + offsets).argmax(axis=1) == public_labels) >= floor


def test_share_calibration_report_scores_every_fold_with_a_calibration_fitted_without_it():
    # given: probabilities of a model that under-calls neutral, and PublicTest faces
    labels, paths = synthetic_photos(500)
    logits = noisy_logits(labels, signal=2.5, seed=5)
    logits[:, NEUTRAL] -= 1.0
    probabilities = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    found = np.ones(len(labels), dtype=bool)
    found[:3] = False
    public_labels = np.arange(140) % len(CLASSES)
    public = np.exp(noisy_logits(public_labels, signal=2.0, seed=6))
    public /= public.sum(axis=1, keepdims=True)

    # when
    calibration, report = share_calibration_report(
        probabilities,
        found,
        labels,
        paths,
        public_probabilities=public,
        public_labels=public_labels,
        public_floor=0.0,
        ads_per_fold=10,
    )

    # then: five fold calibrations, every fold's ads scored out of fold, both mixes
    assert report["objective"] == "shares"
    assert report["fitted_on_photos"] == 497
    assert len(report["per_fold"]) == 5
    assert report["log_prior_offsets"] == calibration.to_dict()["log_prior_offsets"]
    assert calibration.offsets[CLASSES.index("disgust")] >= 0.0
    for mix in ("random", "calm"):
        for kind in ("uncalibrated", "cross_validated"):
            assert report["shares"][mix][kind]["ads"] == 50
    assert 0.0 <= report["public_test"]["calibrated_accuracy"] <= 1.0


def test_main_prints_the_score_of_a_probabilities_file(tmp_path, capsys):
    # given: a file as `inference.cli.evaluate_photos --probabilities` writes it
    labels, paths = synthetic_photos(400)
    probabilities = np.eye(len(CLASSES))[labels]
    probabilities[0] = np.nan
    found = ~np.isnan(probabilities[:, 0])
    photos = tmp_path / "photos.npz"
    np.savez(photos, probabilities=probabilities, found=found, labels=labels, paths=paths)

    # when
    code = main(
        ["--photos", str(photos), "--ads-per-fold", "10", "--json", str(tmp_path / "r.json")]
    )

    # then
    assert code == 0
    out = capsys.readouterr().out
    assert "399 photos with a face, 200 people, 5 person-disjoint folds" in out
    assert "as_classified    0.00" in out
