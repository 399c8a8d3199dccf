"""Train a FER CNN and write its artifact.

The command line: `python -m ml.cli.train`.
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Any, TypeAlias

import numpy as np

from ml import CLASSES, KerasModel
from ml.artifact import HISTORY_FILE, MODEL_FILE, read_metadata
from ml.datasets import Dataset
from ml.distill import distillation_targets, teacher_probabilities
from ml.networks import TrainConfig, build_model

logger = logging.getLogger(__name__)

BEST_CHECKPOINT = "best.keras"
LAST_CHECKPOINT = "last.keras"
STATE_FILE = "state.json"

# A tf.data.Dataset (TensorFlow has no stubs).
TFDataset: TypeAlias = Any


def class_weights(labels: np.ndarray, power: float) -> np.ndarray:
    """Per-class loss weights (n_max / n_c) ** power, scaled so the mean sample weight is 1."""
    counts = np.bincount(labels, minlength=len(CLASSES)).astype(np.float64)
    weights = np.where(counts > 0, (counts.max() / np.maximum(counts, 1)) ** power, 0.0)
    return weights / (weights[labels].mean() or 1.0)


def make_train_dataset(
    images: np.ndarray,
    labels: np.ndarray,
    config: TrainConfig,
    seed: int,
    targets: np.ndarray | None = None,
) -> TFDataset:
    """Shuffled, augmented, repeated tf.data pipeline over cached uint8 arrays (no disk reads).

    `targets` replaces the one-hot labels (distillation); class weights follow the labels."""
    import tensorflow as tf

    from ml.augment import augment_batch

    weights = class_weights(labels, config.class_weight_power).astype(np.float32)
    if targets is None:
        targets = np.eye(len(CLASSES), dtype=np.float32)[labels]
    ds = tf.data.Dataset.from_tensor_slices((images, targets, weights[labels]))
    ds = ds.shuffle(len(labels), seed=seed, reshuffle_each_iteration=True).repeat()
    ds = ds.batch(config.batch_size, drop_remainder=True).enumerate()

    def augment(step: Any, batch: Any) -> tuple[Any, Any, Any]:
        x, y, w = batch
        return augment_batch(x, tf.stack([tf.cast(seed, tf.int64), step]), config.augment), y, w

    return ds.map(augment, num_parallel_calls=tf.data.AUTOTUNE).prefetch(2)


def _write_state(out: Path, **values: Any) -> None:
    path = out / STATE_FILE
    state = json.loads(path.read_text()) if path.exists() else {}
    state.update(values)
    path.write_text(json.dumps(state, indent=2) + "\n")


def load_initial_weights(model: KerasModel, source: Path, member: int | None = None) -> None:
    """Copy weights from an artifact folder or .keras file; the architectures must match.

    From an ensemble, `member` (1-based, in model.json's order) names the network to copy."""
    import keras

    path = source / MODEL_FILE if source.is_dir() else source
    if not path.is_file():
        raise FileNotFoundError(f"--init-from: no model at {path}")
    donor = keras.saving.load_model(path, compile=False)
    members = [layer for layer in donor.layers if layer.name.startswith("member_")]
    if member is not None:
        names = [layer.name for layer in members]
        if f"member_{member}" not in names:
            raise ValueError(
                f"--init-member {member}: {path} has no such member (it has {len(members)})"
            )
        donor = donor.get_layer(f"member_{member}")
    elif members:
        raise ValueError(
            f"--init-from: {path} is an ensemble of {len(members)} networks; "
            "choose one with --init-member"
        )
    donor_shapes = [w.shape for w in donor.get_weights()]
    if donor_shapes != [w.shape for w in model.get_weights()]:
        raise ValueError(
            f"--init-from: {path} has a different architecture than config {model.name!r}"
        )
    model.set_weights(donor.get_weights())
    logger.info("weights initialised from %s%s", path, f" member {member}" if member else "")


def resumed_settings(
    out: Path, config: TrainConfig, seed: int, epochs: int | None
) -> tuple[TrainConfig, int, int | None]:
    """The config and seed a run being resumed was started with (from its state.json), so
    its model.json records what trained it, not the flags of the resuming command."""
    state_path = out / STATE_FILE
    if not (out / LAST_CHECKPOINT).exists() or not state_path.exists():
        return config, seed, epochs
    state = json.loads(state_path.read_text())
    stored = TrainConfig.from_dict(state["config"])
    if stored.name != config.name:
        raise ValueError(
            f"--resume: {out} was started with config {stored.name!r}, not {config.name!r}"
        )
    return stored, int(state.get("seed", seed)), epochs or state.get("epochs")


def describe_source(source: Path, member: int | None = None) -> str:
    """`name version (path)` of an artifact folder, or just the path of a bare checkpoint;
    with `member`, the ensemble member's own description from model.json."""
    try:
        meta = read_metadata(source)
    except (FileNotFoundError, NotADirectoryError, ValueError):
        return str(source) + (f" member {member}" if member else "")
    if member is None:
        return f"{meta.name} {meta.version} ({source})"
    members = meta.config.get("members") or []
    described = members[member - 1] if 0 < member <= len(members) else {}
    parts = [f"member {member} of {meta.name} {meta.version} ({source})"]
    if described:
        parts.append(f"{described.get('model')}, seed {described.get('seed')}")
        if described.get("epochs"):
            parts.append(f"{described['epochs']} epochs")
        if described.get("init_from"):
            parts.append(f"itself warm-started from {described['init_from']}")
    return ": ".join(parts[:2]) + "".join(f", {part}" for part in parts[2:])


def train(
    *,
    dataset: Dataset,
    config: TrainConfig,
    out: Path,
    epochs: int,
    seed: int,
    resume: bool = False,
    steps_per_epoch: int | None = None,
    init_from: Path | None = None,
    init_member: int | None = None,
    teacher: Path | None = None,
) -> Path:
    """Fit the model, checkpointing into `out`; returns the path of the best checkpoint.

    With `teacher`, config.teacher_weight of each target comes from its probabilities."""
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()

    train_split, valid_split = dataset.split("train"), dataset.split("valid")
    steps = steps_per_epoch or len(train_split) // config.batch_size
    if steps < 1:
        raise ValueError(
            f"{len(train_split)} training images are fewer than one batch of {config.batch_size}"
        )
    out.mkdir(parents=True, exist_ok=True)
    last_path, best_path = out / LAST_CHECKPOINT, out / BEST_CHECKPOINT
    if resume and teacher is None and (out / STATE_FILE).exists():
        stored = json.loads((out / STATE_FILE).read_text()).get("teacher_path")
        teacher = Path(stored) if stored else None
    if config.teacher_weight > 0 and teacher is None:
        raise ValueError(f"teacher weight {config.teacher_weight} but no --teacher given")
    targets = None
    if teacher is not None:
        logger.info("distilling %s (weight %.2f)", teacher, config.teacher_weight)
        targets = distillation_targets(
            teacher_probabilities(teacher, dataset),
            train_split.labels,
            weight=config.teacher_weight,
            temperature=config.teacher_temperature,
        )

    initial_epoch = 0
    if resume and last_path.exists():
        model = keras.saving.load_model(last_path)
        initial_epoch = json.loads((out / STATE_FILE).read_text()).get("epochs_done", 0)
        logger.info("resuming from %s after epoch %d", last_path, initial_epoch)
    else:
        if resume:
            logger.warning("--resume: no %s yet, starting from scratch", last_path)
        input_shape = (dataset.spec.input_size, dataset.spec.input_size, dataset.spec.channels)
        model = build_model(config, input_shape)
        if init_from is not None:
            load_initial_weights(model, init_from, init_member)
        schedule = keras.optimizers.schedules.CosineDecay(
            initial_learning_rate=config.learning_rate * 0.01,
            warmup_target=config.learning_rate,
            warmup_steps=int(config.warmup_epochs * steps),
            decay_steps=max(1, epochs * steps - int(config.warmup_epochs * steps)),
            alpha=0.01,
        )
        model.compile(
            optimizer=keras.optimizers.AdamW(schedule, weight_decay=config.weight_decay),
            loss=keras.losses.CategoricalCrossentropy(label_smoothing=config.label_smoothing),
            metrics=[keras.metrics.CategoricalAccuracy(name="accuracy")],
        )
        _write_state(
            out,
            config=config.to_dict(),
            seed=seed,
            epochs=epochs,
            epochs_done=0,
            best_val_accuracy=None,
            teacher_path=str(teacher) if teacher is not None else None,
        )
    logger.info("model %s: %d parameters", model.name, model.count_params())

    best_so_far = json.loads((out / STATE_FILE).read_text()).get("best_val_accuracy")

    class EpochState(keras.callbacks.Callback):  # type: ignore[misc]  # Keras has no stubs
        """Records finished epochs so --resume knows where to continue."""

        def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
            nonlocal best_so_far
            val = float((logs or {}).get("val_accuracy", 0.0))
            if best_so_far is None or val > best_so_far:
                best_so_far = val
            _write_state(out, epochs_done=epoch + 1, best_val_accuracy=best_so_far)

    best_checkpoint = keras.callbacks.ModelCheckpoint(
        best_path, monitor="val_accuracy", mode="max", save_best_only=True
    )
    best_checkpoint.best = best_so_far if best_so_far is not None else best_checkpoint.best
    callbacks = [
        best_checkpoint,
        keras.callbacks.ModelCheckpoint(last_path),
        keras.callbacks.CSVLogger(out / HISTORY_FILE, append=initial_epoch > 0),
        keras.callbacks.EarlyStopping(
            monitor="val_accuracy", mode="max", patience=config.early_stopping_patience
        ),
        EpochState(),
    ]
    valid_onehot = np.eye(len(CLASSES), dtype=np.float32)[valid_split.labels]
    model.fit(
        make_train_dataset(train_split.images, train_split.labels, config, seed, targets),
        steps_per_epoch=steps,
        epochs=epochs,
        initial_epoch=initial_epoch,
        validation_data=(valid_split.images.astype(np.float32), valid_onehot),
        validation_batch_size=256,
        callbacks=callbacks,
        verbose=1 if sys.stdout.isatty() else 2,
    )
    return best_path
