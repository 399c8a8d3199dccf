"""CNN definitions (Keras functional API) and the named training configs."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any

import keras
from keras import layers

from ml import CLASSES, KerasModel


@dataclass(frozen=True)
class TrainConfig:
    """Everything that defines a training run besides data and seed (stored in model.json)."""

    name: str
    widths: tuple[int, ...]  # filters per stage; each stage ends in 2x2 max-pooling
    convs_per_stage: tuple[int, ...]
    dense_units: int = 0  # 0: global average pooling straight into the classifier
    dropout: float = 0.4
    batch_size: int = 64
    epochs: int = 30
    learning_rate: float = 2e-3
    weight_decay: float = 5e-4
    warmup_epochs: float = 1.0
    label_smoothing: float = 0.1
    # Class weights = (n_max / n_class) ** power, normalised to mean 1 over the samples:
    # 0 ignores the imbalance, 1 fully inverts it; 0.5 lifts disgust without wrecking accuracy.
    class_weight_power: float = 0.5
    augment: dict[str, Any] = field(
        default_factory=lambda: {
            "flip": True,
            "rotation_deg": 10.0,
            "zoom": 0.1,
            "shift": 0.1,
            "erase_prob": 0.5,
            "erase_max_area": 0.15,
        }
    )
    early_stopping_patience: int = 8
    # Artifact or checkpoint whose weights start the run (a warm restart with a fresh
    # schedule); recorded so the model card says the run did not start from scratch.
    init_from: str | None = None
    # Knowledge distillation: the training target mixes the one-hot label with a trained
    # teacher's probabilities (softened by the temperature) in this proportion. FER2013's
    # labels are noisy (humans agree on about 65%), and an ensemble's soft targets carry
    # which faces are ambiguous; the teacher is recorded like init_from.
    teacher: str | None = None
    teacher_weight: float = 0.0
    teacher_temperature: float = 1.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        """The config as model.json or state.json stored it (JSON lists back to tuples)."""
        known = {key: data[key] for key in cls.__dataclass_fields__ if key in data}
        for key in ("widths", "convs_per_stage"):
            known[key] = tuple(known[key])
        return cls(**known)


# Fits the 2-core CPU budget (under 2 hours): 0.65M parameters but only ~52M MACs, since
# the full-resolution stage has one narrow conv and capacity sits at 24x24 and below.
# Measured against a 32-64-128-256 VGG (96M MACs): 2-3x the faces/s at inference.
CPU_SMALL = TrainConfig(
    name="cpu-small",
    widths=(16, 48, 96, 192),
    convs_per_stage=(1, 2, 2, 2),
    dense_units=0,
    epochs=15,
    batch_size=64,
)

# cpu-small's network trained for real photos: the photo degradations of ml.augment on top of
# its augmentations, flat occluders, and class weights that lift disgust and fear further
# (power 0.75: on FER2013 a disgust face weighs 8.9x a happy one instead of 4.3x). Meant for
# warm restarts from cpu-small networks on aligned faces with DiffusionFER mixed in.
CPU_SMALL_PHOTOS = replace(
    CPU_SMALL,
    name="cpu-small-photos",
    learning_rate=1e-3,
    class_weight_power=0.75,
    augment={
        "flip": True,
        "rotation_deg": 10.0,
        "zoom": 0.1,
        "shift": 0.1,
        "erase_prob": 0.4,
        "erase_max_area": 0.15,
        "erase_flat_prob": 0.5,
        "lighting_prob": 0.5,
        "gamma_max": 1.4,
        "contrast": 0.25,
        "brightness": 20.0,
        "downscale_prob": 0.2,
        "downscale_min": 0.5,
        "blur_prob": 0.15,
        "blur_max_sigma": 1.0,
        "jpeg_prob": 0.25,
        "jpeg_min_quality": 20,
        "noise_prob": 0.2,
        "noise_max_std": 8.0,
    },
)

CONFIGS: dict[str, TrainConfig] = {
    "cpu-small": CPU_SMALL,
    "cpu-small-photos": CPU_SMALL_PHOTOS,
    # A VGG-style net for a GPU (about 5M parameters): hundreds of epochs are affordable there.
    "gpu-large": TrainConfig(
        name="gpu-large",
        widths=(64, 128, 256, 512),
        convs_per_stage=(2, 2, 3, 3),
        dense_units=512,
        dropout=0.5,
        epochs=150,
        batch_size=128,
        learning_rate=3e-3,
        early_stopping_patience=30,
    ),
    # Seconds per epoch on a tiny set: for tests and smoke runs.
    "tiny": TrainConfig(
        name="tiny",
        widths=(8, 16),
        convs_per_stage=(1, 1),
        epochs=1,
        batch_size=8,
        early_stopping_patience=2,
    ),
}


def get_config(name: str) -> TrainConfig:
    try:
        return CONFIGS[name]
    except KeyError:
        raise ValueError(f"unknown config {name!r}; choose one of {sorted(CONFIGS)}") from None


@keras.saving.register_keras_serializable(package="fer")
class HorizontalFlip(layers.Layer):  # type: ignore[misc]  # Keras has no stubs
    """Mirror a batch of images left to right (in training and serving alike).

    A layer rather than a Lambda so a model that averages over the mirrored face saves and
    loads in Keras' safe mode and converts to TFLite.
    """

    def call(self, inputs: Any) -> Any:
        return keras.ops.flip(inputs, axis=2)


def build_model(config: TrainConfig, input_shape: tuple[int, int, int]) -> KerasModel:
    """VGG-style stages of 3x3 conv + batch norm + ReLU, max-pooled, then a softmax head.

    The model takes uint8-range pixels and rescales them itself, so serving needs no
    normalisation step that could drift from training.
    """
    inputs = keras.Input(shape=input_shape, name="face")
    x = layers.Rescaling(1.0 / 255.0, name="rescale")(inputs)
    for stage, (width, convs) in enumerate(
        zip(config.widths, config.convs_per_stage, strict=True), start=1
    ):
        for i in range(1, convs + 1):
            x = layers.Conv2D(width, 3, padding="same", use_bias=False, name=f"s{stage}_conv{i}")(x)
            x = layers.BatchNormalization(name=f"s{stage}_bn{i}")(x)
            x = layers.Activation("relu", name=f"s{stage}_relu{i}")(x)
        x = layers.MaxPooling2D(2, name=f"s{stage}_pool")(x)
    if config.dense_units:
        x = layers.Flatten(name="flatten")(x)
        x = layers.Dropout(config.dropout, name="dropout_features")(x)
        x = layers.Dense(config.dense_units, use_bias=False, name="dense")(x)
        x = layers.BatchNormalization(name="dense_bn")(x)
        x = layers.Activation("relu", name="dense_relu")(x)
    else:
        x = layers.GlobalAveragePooling2D(name="gap")(x)
    x = layers.Dropout(config.dropout, name="dropout")(x)
    outputs = layers.Dense(len(CLASSES), activation="softmax", name="emotion")(x)
    return keras.Model(inputs, outputs, name=f"fer_{config.name.replace('-', '_')}")
