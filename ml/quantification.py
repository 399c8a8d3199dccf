"""From what the model labelled to what viewers showed: adjusted classify-and-count.

On real faces the model's errors are large and one-sided (it reads most neutral faces as
negative), so the share of faces it labels negative is a biased estimate of the share that
looked negative. On labelled real photos we measure, for each true headline group (positive,
negative, other), how often the whole pipeline gives each of the seven labels: a 3 x 7 matrix
M per confidence step. An audience whose true group shares are pi shows, in expectation, the
label shares q = M'pi. Its shares are estimated from q by generalised least squares,
pi = (M D^-1 M')^-1 M D^-1 q with D the labels' frequencies on the measured photos: a fixed
3 x 7 matrix of weights, so a corrected share is a weighted count of the labels and works
from the stored tallies as a plain share does. The weights are only as good as the photos
they were measured on: draws of M from its posterior (a Dirichlet per true group) give their
covariance, which every interval adds to the viewers' sampling variance.

Correcting the seven emotions one by one is not done: the rare ones rest on too few labelled
photos (Forman 2008, "Quantifying counts and costs via classification", for the method).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ml import CLASSES
from ml.metrics import confusion_matrix

# The dashboard's headline groups. Surprise can be delight or shock, so it counts as neither
# positive nor negative; neutral is neither by definition.
HEADLINE_GROUPS: dict[str, tuple[str, ...]] = {
    "positive": ("happy",),
    "negative": ("angry", "disgust", "fear", "sad"),
    "other": ("neutral", "surprise"),
}
GROUP_NAMES: tuple[str, ...] = tuple(HEADLINE_GROUPS)
# Each label's group index, in `ml.CLASSES` order.
GROUP_OF_LABEL: tuple[int, ...] = tuple(
    next(g for g, members in enumerate(HEADLINE_GROUPS.values()) if label in members)
    for label in CLASSES
)
# A Jeffreys prior on each cell of a true group's row of M (its posterior is a Dirichlet).
PRIOR_PER_CELL = 0.5
DRAWS = 4000
BOOTSTRAP_DRAWS = 1000


def group_counts(confusion: np.ndarray) -> np.ndarray:
    """A 7 x 7 confusion (rows true emotion, columns predicted label) summed into the 3
    true headline groups (rows) x 7 labels."""
    confusion = np.asarray(confusion, dtype=np.float64)
    grouped = np.zeros((len(GROUP_NAMES), confusion.shape[1]))
    np.add.at(grouped, np.array(GROUP_OF_LABEL), confusion)
    return grouped


def _checked_group_counts(confusion: np.ndarray) -> np.ndarray:
    counts = group_counts(confusion)
    photos = counts.sum(axis=1)
    if (photos <= 0).any():
        missing = [name for name, n in zip(GROUP_NAMES, photos, strict=True) if n <= 0]
        raise ValueError(f"no labelled photo of the group(s) {missing}: cannot correct")
    return counts


def _label_frequencies(counts: np.ndarray) -> np.ndarray:
    """How often each label is given on the measured photos (the GLS weighting), smoothed."""
    frequencies: np.ndarray = (counts.sum(axis=0) + PRIOR_PER_CELL) / (
        counts.sum() + PRIOR_PER_CELL * counts.shape[1]
    )
    return frequencies


def _weights(rows: np.ndarray, frequencies: np.ndarray) -> np.ndarray:
    """GLS weights (..., 3, L) for confusion rows (..., 3, L) that each sum to 1."""
    scaled = rows / frequencies
    gram = scaled @ np.swapaxes(rows, -1, -2)
    weights: np.ndarray = np.linalg.solve(gram, scaled)
    return weights


@dataclass(frozen=True)
class GroupCorrection:
    """How a group's label shares become its estimated true headline-group shares at one
    confidence step: `weights` (3 groups x labels), and the covariance of their flattened
    values over the measurement's uncertainty (`weight_covariance`, zero for
    `as_classified`)."""

    weights: np.ndarray
    weight_covariance: np.ndarray
    # Labelled photos each true group's row rests on (empty: not measured, as classified).
    photos: tuple[int, ...] = ()

    @property
    def is_corrected(self) -> bool:
        return bool(self.photos)

    @classmethod
    def as_classified(cls, n_labels: int = len(CLASSES)) -> GroupCorrection:
        """The plain count of labels: each label counts for its own group."""
        weights = np.zeros((len(GROUP_NAMES), n_labels))
        weights[np.array(GROUP_OF_LABEL), np.arange(n_labels)] = 1.0
        size = weights.size
        return cls(weights=weights, weight_covariance=np.zeros((size, size)))

    @classmethod
    def from_confusion(
        cls, confusion: np.ndarray, *, draws: int = DRAWS, seed: int = 0
    ) -> GroupCorrection:
        """The correction measured by a 7 x 7 confusion of labelled photos (rows true
        emotion, columns the pipeline's label), each photo taken as independent. ValueError
        when a true group has no photo: nothing says how the model reads it."""
        counts = _checked_group_counts(confusion)
        posterior = counts + PRIOR_PER_CELL
        frequencies = _label_frequencies(counts)
        rng = np.random.default_rng(seed)
        drawn_rows = np.stack([rng.dirichlet(row, size=draws) for row in posterior], axis=1)
        drawn = _weights(drawn_rows, frequencies).reshape(draws, -1)
        return cls._of(counts, np.cov(drawn, rowvar=False))

    @classmethod
    def from_outcomes(
        cls,
        true: np.ndarray,
        predicted: np.ndarray,
        people: np.ndarray,
        *,
        draws: int = BOOTSTRAP_DRAWS,
        seed: int = 0,
    ) -> GroupCorrection:
        """The correction measured by labelled photos, one per row (true emotion and the
        pipeline's label as indices of `ml.CLASSES`, and the person each shows). The weights'
        covariance comes from resampling people, not photos: a person's photos share a face
        and a way of showing it, so they tell less than as many strangers would."""
        true = np.asarray(true, dtype=np.int64)
        predicted = np.asarray(predicted, dtype=np.int64)
        counts = _checked_group_counts(confusion_matrix(true, predicted, len(CLASSES)))
        frequencies = _label_frequencies(counts)
        _, person = np.unique(np.asarray(people), return_inverse=True)
        n_people = int(person.max()) + 1
        # Each person's photos as counts per (true group, label): a resample sums them.
        cells = np.array(GROUP_OF_LABEL)[true] * len(CLASSES) + predicted
        per_person = np.zeros((n_people, len(GROUP_NAMES) * len(CLASSES)))
        np.add.at(per_person, (person, cells), 1.0)
        rng = np.random.default_rng(seed)
        picks = rng.integers(0, n_people, size=(draws, n_people))
        resampled = np.stack([per_person[pick].sum(axis=0) for pick in picks])
        rows = resampled.reshape(draws, len(GROUP_NAMES), len(CLASSES)) + PRIOR_PER_CELL
        rows /= rows.sum(axis=2, keepdims=True)
        drawn = _weights(rows, frequencies).reshape(draws, -1)
        return cls._of(counts, np.cov(drawn, rowvar=False))

    @classmethod
    def _of(cls, counts: np.ndarray, covariance: np.ndarray) -> GroupCorrection:
        posterior = counts + PRIOR_PER_CELL
        rows = posterior / posterior.sum(axis=1, keepdims=True)
        return cls(
            weights=_weights(rows, _label_frequencies(counts)),
            weight_covariance=covariance,
            photos=tuple(int(n) for n in counts.sum(axis=1)),
        )

    def scores(self, coefficients: Sequence[float]) -> np.ndarray:
        """Per-label weights of the combination `coefficients` of group shares (positive:
        (1, 0, 0); valence: (1, -1, 0)): its estimate is their mean over the faces."""
        scores: np.ndarray = np.asarray(coefficients, dtype=np.float64) @ self.weights
        return scores

    def weight_variance(self, coefficients: np.ndarray) -> float:
        """Variance of u . vec(weights) over the measurement's uncertainty, for flattened
        coefficients u (groups x labels); 0 when not corrected."""
        if not self.is_corrected:
            return 0.0
        u = np.asarray(coefficients, dtype=np.float64)
        return max(0.0, float(u @ self.weight_covariance @ u))

    def classifier_variance(self, coefficients: Sequence[float], label_shares: np.ndarray) -> float:
        """Variance of the combination's estimate at `label_shares` (a group's, or the
        difference of two groups' for a difference) that comes from the weights alone."""
        return self.weight_variance(
            np.outer(np.asarray(coefficients, dtype=np.float64), label_shares).ravel()
        )


def simplex_projection(values: np.ndarray) -> np.ndarray:
    """The nearest point to `values` whose entries are >= 0 and sum to 1 (Euclidean; Duchi et
    al. 2008): shares estimated without the constraint, made possible."""
    values = np.asarray(values, dtype=np.float64)
    ordered = np.sort(values)[::-1]
    cumulative = np.cumsum(ordered) - 1.0
    index = np.arange(1, len(values) + 1)
    rho = np.flatnonzero(ordered - cumulative / index > 0)[-1]
    shift = cumulative[rho] / (rho + 1)
    projected: np.ndarray = np.maximum(values - shift, 0.0)
    return projected


@functools.lru_cache(maxsize=64)
def _correction(key: str, step: int) -> GroupCorrection:
    measurement = json.loads(key)
    outcomes = measurement.get("outcomes")
    if outcomes:
        table = np.asarray(outcomes["rows"], dtype=np.float64).reshape(-1, 4)
        kept = table[:, 3] >= step / 100 if step else np.ones(len(table), dtype=bool)
        person, true, predicted = (table[kept, column].astype(np.int64) for column in range(3))
        return GroupCorrection.from_outcomes(true, predicted, person)
    return GroupCorrection.from_confusion(np.array(measurement["confusion"][str(step)]))


def measured_correction(measurement: Mapping[str, Any], step: int) -> GroupCorrection | None:
    """The correction of a measurement (see `ml.measurement`) at a confidence step (percent),
    None when it has none there; computed once per process for a given measurement and step.
    From its photos' outcomes when it has them (people resampled), else from its confusion."""
    if str(step) not in (measurement.get("confusion") or {}):
        return None
    key = json.dumps(
        {
            "confusion": measurement.get("confusion"),
            "outcomes": measurement.get("outcomes"),
        },
        sort_keys=True,
    )
    return _correction(key, step)
