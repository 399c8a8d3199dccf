"""Average several trained networks into one model artifact.

The command line: `python -m ml.cli.ensemble`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ml import KerasModel
from ml.artifact import (
    MODEL_FILE,
    ArtifactError,
    ArtifactMetadata,
    check_same_training,
    epochs_in_history,
    load_keras_model,
)
from ml.datasets import load_dataset, recorded_path_found
from ml.packaging import save_artifact

logger = logging.getLogger(__name__)


def check_members(metas: Sequence[ArtifactMetadata]) -> None:
    """Members must take the same input, prepared the same way, with the same class order,
    and come from the same training data (so the ensemble is still selected on PublicTest
    and never saw PrivateTest)."""
    if len(metas) < 2:
        raise ArtifactError(f"an ensemble needs at least 2 members, got {len(metas)}")
    first = metas[0]
    for meta in metas[1:]:
        check_same_training(
            meta,
            classes=first.classes,
            preprocessing=first.preprocessing,
            fingerprint=first.training_data.get("fingerprint"),
            against=f"{first.name} {first.version}",
        )


def build_ensemble(
    members: Sequence[KerasModel], input_shape: tuple[int, int, int], *, flip: bool = False
) -> KerasModel:
    """One Keras model whose output is the mean of the members' probabilities (each also
    over the mirrored input with `flip`)."""
    import keras
    from keras import layers

    from ml.networks import HorizontalFlip

    inputs = keras.Input(shape=input_shape, name="face")
    mirrored = HorizontalFlip(name="mirror")(inputs) if flip else None
    outputs: list[Any] = []
    for index, member in enumerate(members, start=1):
        member.name = f"member_{index}"  # nested models need distinct names to save
        outputs.append(member(inputs))
        if mirrored is not None:
            outputs.append(member(mirrored))
    averaged = layers.Average(name="emotion")(outputs)
    return keras.Model(inputs, averaged, name=f"ensemble_of_{len(members)}")


def describe_member(model_dir: Path, meta: ArtifactMetadata) -> dict[str, Any]:
    """What model.json records of a member: enough to trace it back to its training run."""
    return {
        "model": f"{meta.name} {meta.version}",
        "network": meta.config.get("name"),
        "seed": meta.seed,
        "epochs": epochs_in_history(model_dir),
        "init_from": meta.config.get("init_from"),
        "teacher": meta.config.get("teacher"),
        "teacher_weight": meta.config.get("teacher_weight") if meta.config.get("teacher") else None,
        "valid_accuracy": meta.metrics.get("valid_accuracy"),
        "test_accuracy": meta.metrics.get("accuracy"),
    }


def unpack_members(
    member_dirs: Sequence[str | Path],
) -> list[tuple[KerasModel, ArtifactMetadata, dict[str, Any]]]:
    """Each member's network, metadata and model.json entry; an ensemble given as a member
    contributes its own networks, so every network weighs the same in the new average.

    `DIR#2` takes only the second network of the ensemble in DIR (1-based, model.json order),
    so a new make-up can keep some of a shipped ensemble's networks without their runs."""
    unpacked: list[tuple[KerasModel, ArtifactMetadata, dict[str, Any]]] = []
    for spec in member_dirs:
        path, _, chosen = str(spec).partition("#")
        model, meta = load_keras_model(path)
        if meta.config.get("name") != "ensemble":
            if chosen:
                raise ValueError(f"{spec}: {path} is a single network, not an ensemble")
            unpacked.append((model, meta, describe_member(Path(path), meta)))
            continue
        descriptions = meta.config["members"]
        indices: Sequence[int] = range(1, len(descriptions) + 1)
        if chosen:
            if not chosen.isdigit() or int(chosen) not in indices:
                raise ValueError(
                    f"{spec}: {path} has networks 1 to {len(descriptions)}, not {chosen!r}"
                )
            indices = [int(chosen)]
        for index in indices:
            network = model.get_layer(f"member_{index}")
            unpacked.append((network, meta, descriptions[index - 1]))
    return unpacked


def make_ensemble(
    member_dirs: Sequence[str | Path],
    *,
    data: str | Path,
    out: Path,
    name: str,
    version: str,
    flip: bool = False,
    cache_dir: str | Path | None = None,
) -> ArtifactMetadata:
    """Check the members, build their average, evaluate it and write the artifact."""
    if (out / MODEL_FILE).exists():
        raise FileExistsError(f"{out / MODEL_FILE} exists; choose a new --out")
    unpacked = unpack_members(member_dirs)
    metas = [meta for _, meta, _ in unpacked]
    check_members(metas)
    # The members' own training data: the photo folders they had mixed in, as they had them.
    extra = metas[0].training_data.get("extra_train") or {}
    dataset = load_dataset(
        data,
        metas[0].preprocessing,
        cache_dir=cache_dir,
        extra_train=[recorded_path_found(folder) for folder in extra],
        extra_variants=max([int(counts["variants"]) for counts in extra.values()] or [1]),
    )
    fingerprint, trained_on = dataset.fingerprint(), metas[0].training_data.get("fingerprint")
    if fingerprint != trained_on:
        raise ArtifactError(
            f"{data} is not the data the members were trained on (fingerprint "
            f"{fingerprint}, members {trained_on})"
        )
    model = build_ensemble([model for model, _, _ in unpacked], metas[0].input_shape, flip=flip)
    config = {
        "name": "ensemble",
        "flip": flip,
        "members": [description for _, _, description in unpacked],
    }
    return save_artifact(
        model,
        dataset=dataset,
        config=config,
        seed=None,
        out=out,
        name=name,
        version=version,
        epochs_run=None,
    )
