"""Corrected shares checked against a known answer: simulated ads drawn from labelled real
photos (`ml.simulation`), each read as the dashboard reads an ad, corrected with a
measurement of other people's photos, and as classified.

For every ad the positive and negative shares are estimated with their 95% intervals exactly
as the per-ad summary does (`Reading.estimate`, each face a unit: the photos have no
viewer), and compared with the shares of the photos' true labels. The figures: bias and mean
absolute error (points), how often the interval holds the truth, and figures outside 0-100%.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from analytics.headlines import HEADLINES
from analytics.stats import Estimate, UnitCounts, group_estimate
from ml import CLASSES
from ml.quantification import GroupCorrection
from ml.share_error import fold_ads
from ml.simulation import person_folds

CHECKED = ("positive", "negative")


@dataclass
class ShareErrors:
    """How one way of reading shares did on simulated ads, per headline."""

    errors: dict[str, list[float]] = field(default_factory=lambda: {k: [] for k in CHECKED})
    covered: dict[str, list[bool]] = field(default_factory=lambda: {k: [] for k in CHECKED})
    outside: int = 0

    def add(self, key: str, estimate: Estimate, truth: float) -> None:
        interval = estimate.interval
        self.add_figures(key, estimate.value, interval.low, interval.high, truth=truth)

    def add_figures(self, key: str, value: float, low: float, high: float, *, truth: float) -> None:
        """One ad's figure and its 95% bounds (as an export writes them) against the truth."""
        self.errors[key].append(value - truth)
        self.covered[key].append(low - 1e-6 <= truth <= high + 1e-6)
        self.outside += sum(not 0.0 <= figure <= 1.0 for figure in (value, low, high))

    def bias(self, key: str) -> float:
        return float(np.mean(self.errors[key]))

    def mean_absolute_error(self, key: str) -> float:
        return float(np.mean(np.abs(self.errors[key])))

    def coverage(self, key: str) -> float:
        return float(np.mean(self.covered[key]))

    @property
    def ads(self) -> int:
        return len(self.errors[CHECKED[0]])

    def summary(self) -> dict[str, float]:
        """Bias and mean absolute error of positive and negative, and their mean; coverage
        over both; figures outside 0-100%."""
        found = {}
        for key in CHECKED:
            found[f"{key}_bias"] = self.bias(key)
            found[f"{key}_mae"] = self.mean_absolute_error(key)
        found["mae"] = float(np.mean([found[f"{key}_mae"] for key in CHECKED]))
        found["coverage"] = float(np.mean([c for key in CHECKED for c in self.covered[key]]))
        found["outside"] = float(self.outside)
        return found


def faces_of(predicted: np.ndarray) -> UnitCounts:
    """An ad of photos without viewers: each face (its label an index of `ml.CLASSES`) one
    unit, as the dashboard counts such faces."""
    counts = np.bincount(np.asarray(predicted, dtype=np.int64), minlength=len(CLASSES))
    return UnitCounts.from_arrays(
        labels=CLASSES,
        viewer_ids=np.zeros(0, dtype=np.int64),
        viewer_counts=np.zeros((0, len(CLASSES))),
        single_counts=counts.astype(float),
    )


def check_shares(
    *,
    labels: np.ndarray,
    predicted: np.ndarray,
    people: Sequence[str] | np.ndarray,
    folds: int = 5,
    ads_per_fold: int = 200,
    photos: int = 100,
    mix: str = "random",
    seed: int = 0,
) -> dict[str, ShareErrors]:
    """Corrected and as-classified shares of simulated ads: photos (true `labels`, the
    pipeline's `predicted` labels, the `people` they show) split into person folds; each
    fold's ads (`ml.share_error.fold_ads`, the ads the calibration is chosen on) corrected
    with what the other folds measure (as a shipped measurement is)."""
    labels = np.asarray(labels, dtype=np.int64)
    predicted = np.asarray(predicted, dtype=np.int64)
    people = np.asarray(people)
    fold_of = person_folds(list(people), folds, seed=seed)
    found = {"corrected": ShareErrors(), "as classified": ShareErrors()}
    corrections = {"as classified": GroupCorrection.as_classified()}
    for drawn in fold_ads(
        labels, fold_of, ads_per_fold=ads_per_fold, photos=photos, mix=mix, seed=seed
    ):
        measured = fold_of != drawn.fold
        corrections["corrected"] = GroupCorrection.from_outcomes(
            labels[measured], predicted[measured], people[measured]
        )
        for ad_photos, truth in zip(drawn.photos, drawn.true_shares, strict=True):
            faces = faces_of(predicted[ad_photos])
            for method, correction in corrections.items():
                for index, key in enumerate(CHECKED):
                    estimate = group_estimate(faces, HEADLINES[key].measure(correction))
                    found[method].add(key, estimate, float(truth[index]))
    return found


def share_table(results: dict[str, ShareErrors]) -> list[str]:
    """The figures as lines of a table (points)."""
    lines = [
        f"{'shares':<14} {'ads':>5} {'pos bias':>9} {'neg bias':>9} {'pos MAE':>8} "
        f"{'neg MAE':>8} {'MAE':>6} {'95% cover':>10} {'pos':>6} {'neg':>6} {'outside':>8}"
    ]
    for method, errors in results.items():
        s = errors.summary()
        lines.append(
            f"{method:<14} {errors.ads:>5} {100 * s['positive_bias']:>+9.1f} "
            f"{100 * s['negative_bias']:>+9.1f} {100 * s['positive_mae']:>8.1f} "
            f"{100 * s['negative_mae']:>8.1f} {100 * s['mae']:>6.1f} "
            f"{100 * s['coverage']:>9.1f}% {100 * errors.coverage('positive'):>5.1f}% "
            f"{100 * errors.coverage('negative'):>5.1f}% {int(s['outside']):>8}"
        )
    return lines
