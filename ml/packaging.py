"""An artifact folder written whole from a trained model: its figures on the valid and test
splits (plain and with test-time augmentation), model.keras, model.json, report.json, the
confusion image and the model card. Training and ensembling end here."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ml import CLASSES, KerasModel
from ml.artifact import (
    CONFUSION_FILE,
    MODEL_FILE,
    REPORT_FILE,
    ArtifactMetadata,
    write_metadata,
)
from ml.card import write_model_card
from ml.datasets import Dataset
from ml.evaluate import predict_probabilities, save_confusion_png
from ml.metrics import classification_report


def save_artifact(
    model: KerasModel,
    *,
    dataset: Dataset,
    config: dict[str, Any],
    seed: int | None,
    out: Path,
    name: str,
    version: str,
    epochs_run: int | None,
    training_seconds: float | None = None,
    source: Path | None = None,
) -> ArtifactMetadata:
    """Evaluate `model` on valid and test (plain and TTA) and write model.keras/json, report,
    confusion image and card into `out`; `source` is a model file already saved there."""
    out.mkdir(parents=True, exist_ok=True)
    reports: dict[str, dict[str, Any]] = {}
    for split in ("valid", "test"):
        if split not in dataset.splits or not len(dataset.splits[split]):
            continue
        data = dataset.splits[split]
        for tta in (False, True):
            probabilities = predict_probabilities(model, data.images, tta=tta)
            key = f"{split}{'_tta' if tta else ''}"
            reports[key] = classification_report(probabilities, data.labels, CLASSES)

    headline = reports.get("test") or reports["valid"]
    metrics = {
        "test_split": "test" if "test" in reports else "valid",
        "accuracy": headline["accuracy"],
        "macro_f1": headline["macro_f1"],
        "weighted_f1": headline["weighted_f1"],
        "ece": headline["ece"],
        "recall": {c: headline["per_class"][c]["recall"] for c in CLASSES},
    }
    for key, report in reports.items():
        metrics[f"{key}_accuracy"] = report["accuracy"]
        metrics[f"{key}_macro_f1"] = report["macro_f1"]
    if training_seconds is not None:
        metrics["training_seconds"] = round(training_seconds, 1)

    meta = ArtifactMetadata(
        name=name,
        version=version,
        classes=list(CLASSES),
        preprocessing=dataset.spec,
        config=config,
        seed=seed,
        training_data=dataset.summary(),
        metrics=metrics,
        created=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    if source is None or source.resolve() != (out / MODEL_FILE).resolve():
        model.save(out / MODEL_FILE)
    write_metadata(out, meta)
    (out / REPORT_FILE).write_text(json.dumps(reports, indent=2) + "\n")
    save_confusion_png(
        headline, out / CONFUSION_FILE, f"{name} {version} on {metrics['test_split']} (no TTA)"
    )
    write_model_card(out, meta, reports, epochs_run=epochs_run)
    return meta
