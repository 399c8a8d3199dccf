"""Simulated ads drawn from labelled real photos with a known mix: the known answer that
corrected shares, and the calibration chosen for them, are checked against.

The correction is measured on some people and the ads are drawn from others (`person_folds`),
as a shipped model's measurement is applied to viewers it never saw. An ad is a mix of the
headline groups drawn from a Dirichlet distribution, then `photos` photos, each from the
group a draw of the mix gives (no photo twice in an ad while its group has enough); its true
shares are those of the photos drawn.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import PurePath

import numpy as np

from ml.quantification import GROUP_NAMES, GROUP_OF_LABEL

# Random mixes, every group as likely (the default), or a calm audience: mostly neither
# positive nor negative.
MIXES: dict[str, tuple[float, float, float]] = {
    "random": (1.0, 1.0, 1.0),
    "calm": (2.0, 1.0, 6.0),
}


def person_of(path: str | PurePath) -> str:
    """The person a photo shows, from its file name (`First_Last_0003.jpg`, as the labelled
    real-photo sets name them)."""
    stem = PurePath(path).stem
    return stem.rsplit("_", 1)[0] if "_" in stem else stem


def person_folds(paths: Sequence[str | PurePath], folds: int, *, seed: int = 0) -> np.ndarray:
    """A fold index per photo, each person's photos in one fold (so no one is in two).

    scikit-learn's shuffled `GroupKFold` makes the same kind of split with other people in
    each fold; this draw stays because the recorded share errors (the model card, the
    statistics page, `test_corrected_shares_of_simulated_ads_hit_the_known_mix`) rest on it."""
    people = np.array([person_of(path) for path in paths])
    names = np.unique(people)
    order = np.random.default_rng(seed).permutation(len(names))
    fold_of = dict(
        zip(names[order].tolist(), (np.arange(len(names)) % folds).tolist(), strict=True)
    )
    return np.array([fold_of[person] for person in people.tolist()], dtype=np.int64)


@dataclass(frozen=True)
class SimulatedAd:
    """Indices of the photos an ad is made of, and its true headline-group shares."""

    photos: np.ndarray
    true_shares: np.ndarray


def simulated_ads(
    labels: np.ndarray,
    *,
    ads: int,
    photos: int,
    rng: np.random.Generator,
    mix: str = "random",
) -> Iterator[SimulatedAd]:
    """`ads` ads of `photos` photos each, drawn from the photos with these emotion `labels`
    (indices into `ml.CLASSES`) as the module says."""
    groups = np.array(GROUP_OF_LABEL)[np.asarray(labels, dtype=np.int64)]
    members = [np.flatnonzero(groups == g) for g in range(len(GROUP_NAMES))]
    present = [g for g, found in enumerate(members) if len(found)]
    concentration = np.array(MIXES[mix])[present]
    for _ in range(ads):
        shares = rng.dirichlet(concentration)
        drawn = np.bincount(rng.choice(len(present), size=photos, p=shares), minlength=len(present))
        # Each photo once in an ad while its group has enough (a repeated photo would repeat
        # its error, which no audience does), then again.
        chosen = np.concatenate(
            [
                rng.choice(members[g], size=n, replace=n > len(members[g]))
                for g, n in zip(present, drawn.tolist(), strict=True)
            ]
        ).astype(np.int64)
        true = np.bincount(groups[chosen], minlength=len(GROUP_NAMES)) / photos
        yield SimulatedAd(photos=chosen, true_shares=true)
