"""The model artifact folder: model.keras, model.json, report.json, confusion.png, MODEL_CARD.md.

model.json is the contract between training and serving: classes in order, input shape, the
preprocessing spec and, once fitted, the calibration the classifier applies to the network's
probabilities. Loaders validate the Keras file against it.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ml import CLASSES, KerasModel
from ml.calibration import Calibration
from ml.preprocessing import PreprocessSpec

MODEL_FILE = "model.keras"
TFLITE_FILE = "model.tflite"
METADATA_FILE = "model.json"
REPORT_FILE = "report.json"
CONFUSION_FILE = "confusion.png"
CARD_FILE = "MODEL_CARD.md"
# A training run's per-epoch log, in the run folder beside the artifact.
HISTORY_FILE = "history.csv"


class ArtifactError(ValueError):
    """The artifact folder is missing a file or contradicts itself."""


@dataclass
class ArtifactMetadata:
    """What model.json holds."""

    name: str
    version: str
    classes: list[str] = field(default_factory=lambda: list(CLASSES))
    preprocessing: PreprocessSpec = field(default_factory=PreprocessSpec)
    config: dict[str, Any] = field(default_factory=dict)
    seed: int | None = None
    training_data: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    created: str = ""
    # Fitted after training (`python -m ml.cli.calibration`); the identity until then.
    calibration: Calibration = field(default_factory=Calibration)
    # The whole pipeline's measured errors on labelled real photos (`ml.measurement`), from
    # which the dashboards correct shares; empty until measured.
    measurement: dict[str, Any] = field(default_factory=dict)

    @property
    def input_shape(self) -> tuple[int, int, int]:
        size = self.preprocessing.input_size
        return (size, size, self.preprocessing.channels)

    def to_dict(self) -> dict[str, Any]:
        calibration = {} if self.calibration.is_identity else {"calibration": self.calibration}
        return {
            "name": self.name,
            "version": self.version,
            "classes": list(self.classes),
            "input": {"shape": list(self.input_shape), "dtype": "uint8"},
            "preprocessing": self.preprocessing.to_dict(),
            "config": self.config,
            "seed": self.seed,
            "training_data": self.training_data,
            "metrics": self.metrics,
            "created": self.created,
            **{key: value.to_dict() for key, value in calibration.items()},
            **({"measurement": self.measurement} if self.measurement else {}),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ArtifactMetadata:
        try:
            meta = cls(
                name=str(data["name"]),
                version=str(data["version"]),
                classes=list(data["classes"]),
                preprocessing=PreprocessSpec.from_dict(data["preprocessing"]),
                config=dict(data.get("config") or {}),
                seed=data.get("seed"),
                training_data=dict(data.get("training_data") or {}),
                metrics=dict(data.get("metrics") or {}),
                created=str(data.get("created") or ""),
                calibration=Calibration.from_dict(data.get("calibration")),
                measurement=dict(data.get("measurement") or {}),
            )
        except KeyError as exc:
            raise ArtifactError(f"model.json lacks the field {exc.args[0]!r}") from exc
        except ValueError as exc:
            raise ArtifactError(f"model.json: {exc}") from exc
        if sorted(meta.classes) != sorted(CLASSES) or len(meta.classes) != len(CLASSES):
            raise ArtifactError(f"model.json classes {meta.classes} are not the 7 emotions")
        declared = data.get("input", {}).get("shape")
        if declared is not None and tuple(declared) != meta.input_shape:
            raise ArtifactError(
                f"model.json input shape {declared} contradicts its preprocessing "
                f"{meta.input_shape}"
            )
        return meta


def read_metadata(model_dir: str | Path) -> ArtifactMetadata:
    path = Path(model_dir) / METADATA_FILE
    if not path.is_file():
        raise ArtifactError(f"{path} not found: not a model artifact folder")
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ArtifactError(f"{path} is not valid JSON: {exc}") from exc
    return ArtifactMetadata.from_dict(data)


def write_metadata(model_dir: str | Path, meta: ArtifactMetadata) -> Path:
    path = Path(model_dir) / METADATA_FILE
    path.write_text(json.dumps(meta.to_dict(), indent=2, sort_keys=False) + "\n")
    return path


def check_same_training(
    meta: ArtifactMetadata,
    *,
    classes: list[str],
    preprocessing: PreprocessSpec,
    fingerprint: str | None,
    against: str,
    label: str | None = None,
) -> None:
    """Refuse a model whose class order, preprocessing or training data differ from `against`'s:
    combined with it (an ensemble, a teacher) it would mix label orders or input scalings, or
    carry PublicTest/PrivateTest faces it was trained on into a model selected on them."""
    check_same_data(
        label or f"{meta.name} {meta.version}",
        seen=(list(meta.classes), meta.preprocessing, meta.training_data.get("fingerprint")),
        expected=(list(classes), preprocessing, fingerprint),
        against=against,
    )


def check_same_data(
    label: str,
    *,
    seen: tuple[list[str], PreprocessSpec, str | None],
    expected: tuple[list[str], PreprocessSpec, str | None],
    against: str,
) -> None:
    """`check_same_training` on bare (classes, preprocessing, fingerprint): also for what
    has no model.json, such as a GPU teacher's probabilities (`ml.gpu_teacher`)."""
    (classes_seen, spec_seen, trained_on), (classes, preprocessing, fingerprint) = seen, expected
    if classes_seen != classes:
        raise ArtifactError(f"{label} lists its classes as {classes_seen}, not {classes}")
    if spec_seen != preprocessing:
        raise ArtifactError(
            f"{label} uses preprocessing {spec_seen.to_dict()}, not {preprocessing.to_dict()}"
        )
    if trained_on != fingerprint:
        raise ArtifactError(
            f"{label} was trained on other data (fingerprint {trained_on}) than {against}"
        )


def load_keras_model(model_dir: str | Path) -> tuple[KerasModel, ArtifactMetadata]:
    """Load model.keras and check it against model.json (input shape, number of classes)."""
    import keras

    import ml.networks  # noqa: F401  (registers the custom layers a saved model may use)

    model_dir = Path(model_dir)
    meta = read_metadata(model_dir)
    path = model_dir / MODEL_FILE
    if not path.is_file():
        raise ArtifactError(f"{path} not found")
    try:
        model = keras.saving.load_model(path, compile=False)
    except Exception as exc:  # Keras raises many types for a bad file
        raise ArtifactError(f"{path} could not be loaded: {exc}") from exc
    input_shape = tuple(model.input_shape[1:])
    if input_shape != meta.input_shape:
        raise ArtifactError(
            f"{path} takes input {input_shape} but model.json says {meta.input_shape}"
        )
    if model.output_shape[-1] != len(meta.classes):
        raise ArtifactError(
            f"{path} outputs {model.output_shape[-1]} classes but model.json lists "
            f"{len(meta.classes)}"
        )
    return model, meta


def epochs_in_history(run_dir: Path) -> int | None:
    """Epochs a run folder's history.csv records (None without one)."""
    history = run_dir / HISTORY_FILE
    if not history.is_file():
        return None
    with history.open() as handle:
        return sum(1 for _ in csv.reader(handle)) - 1
