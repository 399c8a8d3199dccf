"""The whole pipeline's errors on labelled real photos: what a model version ships so that
dashboards can correct its shares (`ml.quantification`) and say what it cannot measure.

A measurement is model.json's "measurement" (format 1):

- `confusion`: per confidence step (percent, the steps the dashboards count at), a 7 x 7
  matrix of photos, rows the true emotion and columns the label of the photo's largest face,
  counting the photos whose face is at least that confident. Photos where no face is found
  are left out: a dashboard never sees them either.
- `headline_confusion`: the same at step 0 summed into the headline groups (positive,
  negative, other) on both sides, for people to read.
- `outcomes`: one row per photo with a face, `[person, true, predicted, confidence]` (an
  index of the person it shows, the true and given labels as indices of `ml.CLASSES`, the
  face's top probability): what the confusions are counted from, and what the correction's
  uncertainty is computed from by resampling people (`ml.quantification`).
- `emotions`: per emotion, its photos with a face, recall (its photos given its label) and
  AUC (how well its probability ranks its photos above the others), and whether it is
  measured reliably: at least `floors` photos, recall and AUC. One that is not is shown as
  "not measured reliably", never as a measured 0%.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ml import CLASSES, CONFIDENCE_STEPS
from ml.metrics import confusion_matrix, roc_auc
from ml.quantification import GROUP_NAMES, GROUP_OF_LABEL, group_counts

MEASUREMENT_FORMAT = 1
# Below these an emotion is not measured reliably. 30 photos: a recall's 95% interval is then
# about +-17 points; AUC 0.70: conventionally the least that counts as a usable ranking;
# recall 0.25: the model gives the emotion's label to at least one of its faces in four.
FLOORS: dict[str, float] = {"photos": 30, "recall": 0.25, "auc": 0.70}


def measurement_build(
    *,
    labels: np.ndarray,
    probabilities: np.ndarray,
    found: np.ndarray,
    data: str,
    people: Sequence[str] | None = None,
    pipeline: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The measurement of a model from its labelled photos: `labels` (index into
    `ml.CLASSES`), the largest face's `probabilities` (rows of photos without a face are
    ignored), `found` (whether a face was found) and the person each photo shows (`people`;
    without them each photo is taken as a person of its own). `data` names the photos (a
    folder name, never a path of this machine)."""
    labels = np.asarray(labels, dtype=np.int64)
    found = np.asarray(found, dtype=bool)
    faces = np.asarray(probabilities, dtype=np.float64)[found]
    true = labels[found]
    predicted = faces.argmax(axis=1)
    confidence = faces.max(axis=1)
    names = np.asarray(people if people is not None else np.arange(len(labels))).astype(str)
    _, person = np.unique(names, return_inverse=True)
    person = person[found]
    confusion = {
        str(step): confusion_matrix(true[keep], predicted[keep], len(CLASSES)).tolist()
        for step in CONFIDENCE_STEPS
        for keep in [confidence >= step / 100 if step else np.ones(len(true), dtype=bool)]
    }
    headline = np.zeros((len(GROUP_NAMES), len(GROUP_NAMES)), dtype=np.int64)
    np.add.at(headline, (np.array(GROUP_OF_LABEL)[true], np.array(GROUP_OF_LABEL)[predicted]), 1)
    emotions = {}
    for index, name in enumerate(CLASSES):
        own = true == index
        photos = int(own.sum())
        recall = float((predicted[own] == index).mean()) if photos else 0.0
        auc = roc_auc(faces[:, index], own) if photos else float("nan")
        emotions[name] = {
            "photos": photos,
            "recall": recall,
            "auc": None if np.isnan(auc) else auc,
            **_reliability(photos=photos, recall=recall, auc=auc),
        }
    return {
        "format": MEASUREMENT_FORMAT,
        "data": data,
        "photos": int(len(labels)),
        "with_face": int(found.sum()),
        **({"people": len(set(names.tolist()))} if people is not None else {}),
        "pipeline": dict(pipeline or {}),
        "steps": list(CONFIDENCE_STEPS),
        "confusion": confusion,
        "headline_confusion": {
            "groups": list(GROUP_NAMES),
            "rows_true_columns_predicted": headline.tolist(),
        },
        "outcomes": {
            "columns": ["person", "true", "predicted", "confidence"],
            "rows": [
                [int(p), int(t), int(g), round(float(c), 4)]
                for p, t, g, c in zip(person, true, predicted, confidence, strict=True)
            ],
        },
        "emotions": emotions,
        "floors": dict(FLOORS),
    }


def _reliability(*, photos: int, recall: float, auc: float) -> dict[str, Any]:
    """Whether an emotion is measured reliably, and if not, why (the first floor it misses)."""
    if photos < FLOORS["photos"]:
        reason = f"only {photos} labelled real photos (at least {FLOORS['photos']:.0f} needed)"
    elif np.isnan(auc) or auc < FLOORS["auc"]:
        reason = f"its probability barely ranks its photos (AUC {auc:.2f}, {FLOORS['auc']} needed)"
    elif recall < FLOORS["recall"]:
        reason = f"found in {recall:.0%} of its photos ({FLOORS['recall']:.0%} needed)"
    else:
        return {"measured": True}
    return {"measured": False, "reason": reason}


def measurement_check(measurement: Mapping[str, Any]) -> None:
    """ValueError unless `measurement` is a complete format-1 measurement: a confusion of
    7 x 7 non-negative counts at every confidence step, each headline group with a photo at
    step 0, and every emotion's reliability."""
    if measurement.get("format") != MEASUREMENT_FORMAT:
        raise ValueError(
            f"measurement format {measurement.get('format')!r}, expected {MEASUREMENT_FORMAT}"
        )
    confusion = measurement.get("confusion") or {}
    for step in CONFIDENCE_STEPS:
        matrix = np.asarray(confusion.get(str(step), []), dtype=np.float64)
        if matrix.shape != (len(CLASSES), len(CLASSES)) or (matrix < 0).any():
            raise ValueError(f"measurement confusion at {step}% is not 7 x 7 counts")
    at_zero = group_counts(np.asarray(confusion["0"])).sum(axis=1)
    if (at_zero <= 0).any():
        raise ValueError("measurement has no photo of some headline group: nothing to correct")
    emotions = measurement.get("emotions") or {}
    missing = [name for name in CLASSES if "measured" not in (emotions.get(name) or {})]
    if missing:
        raise ValueError(f"measurement lacks the reliability of {', '.join(missing)}")


def emotions_unmeasured(measurement: Mapping[str, Any]) -> dict[str, str]:
    """Emotion -> why it is not measured reliably (empty without a measurement: nothing is
    claimed either way)."""
    emotions = measurement.get("emotions") or {}
    return {
        name: str(emotions[name].get("reason") or "not measured reliably")
        for name in CLASSES
        if name in emotions and not emotions[name].get("measured", False)
    }
