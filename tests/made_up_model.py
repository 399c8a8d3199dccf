"""A made-up model with known errors, for tests of corrected shares: it reads about half of
the neutral and surprised faces as angry or sad, as the shipped one does on real photos."""

from __future__ import annotations

import numpy as np

from ml import CLASSES
from ml.quantification import GROUP_OF_LABEL

# How it labels a face of each true headline group (rows: positive, negative, other), over
# the seven labels.
READS = np.array(
    [
        [0.02, 0.00, 0.01, 0.85, 0.08, 0.02, 0.02],
        [0.40, 0.01, 0.05, 0.04, 0.10, 0.35, 0.05],
        [0.30, 0.00, 0.05, 0.02, 0.35, 0.20, 0.08],
    ]
)


def confusion_of(photos_per_emotion: float) -> np.ndarray:
    """A 7 x 7 confusion (rows true emotion) where every emotion is read as its group is
    (READS), exactly, on `photos_per_emotion` photos each."""
    return np.array([READS[GROUP_OF_LABEL[e]] * photos_per_emotion for e in range(len(CLASSES))])
