"""The whole pipeline's errors on labelled real photos, stored in a model artifact: what the
dashboards correct its shares with (`ml.measurement`, `ml.quantification`).

The command line: `python -m inference.cli.measure_errors`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ml import CLASSES
from ml.artifact import REPORT_FILE, read_metadata, write_metadata
from ml.card import rebuild_model_card
from ml.measurement import measurement_build
from ml.simulation import person_of

from .evaluate_photos import PhotoOutcome


def outcomes_measurement(
    outcomes: Sequence[PhotoOutcome], *, data: str, pipeline: dict[str, Any]
) -> dict[str, Any]:
    """The measurement (`ml.measurement`) of labelled photos run through the pipeline."""
    found = np.array([o.probabilities is not None for o in outcomes], dtype=bool)
    probabilities = np.zeros((len(outcomes), len(CLASSES)))
    for index, outcome in enumerate(outcomes):
        if outcome.probabilities is not None:
            probabilities[index] = outcome.probabilities
    return measurement_build(
        labels=np.array([CLASSES.index(o.label) for o in outcomes], dtype=np.int64),
        probabilities=probabilities,
        found=found,
        data=data,
        people=[person_of(o.path) for o in outcomes],
        pipeline=pipeline,
    )


def store_measurement(artifact_dir: Path, measurement: dict[str, Any]) -> Path | None:
    """Write `measurement` into the artifact's model.json and rebuild its card (when it has
    the report.json the card is made from); the card's path, or None."""
    meta = read_metadata(artifact_dir)
    meta.measurement = measurement
    write_metadata(artifact_dir, meta)
    if not (artifact_dir / REPORT_FILE).is_file():
        return None
    return rebuild_model_card(artifact_dir)
