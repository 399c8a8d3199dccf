"""Small factories for test data: plain functions over the real services and models."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import numpy as np
from django.contrib.auth.models import User

from campaigns.hooks import faces_replacing
from campaigns.models import (
    Ad,
    Campaign,
    Face,
    ImageStatus,
    ReactionImage,
    Team,
    UploadBatch,
)
from campaigns.services import teams
from inference.models import ModelVersion
from ml import CLASSES
from ml.artifact import ArtifactMetadata, write_metadata
from ml.measurement import measurement_build

_seq = itertools.count(1)

PASSWORD = "a-long-test-password"


def user_create(*, username: str | None = None, team: Team | None = None) -> User:
    user = User.objects.create_user(username=username or f"user{next(_seq)}", password=PASSWORD)
    if team is not None:
        teams.membership_add(team=team, user=user)
    return user


def team_create(*, name: str | None = None) -> Team:
    return teams.team_create(name=name or f"Team {next(_seq)}")


def campaign_create(*, team: Team, name: str | None = None) -> Campaign:
    return teams.campaign_create(team=team, name=name or f"Campaign {next(_seq)}")


def ad_create(*, campaign: Campaign, name: str | None = None) -> Ad:
    return teams.ad_create(campaign=campaign, name=name or f"Ad {next(_seq)}")


def batch_create(*, ad: Ad, status: str = UploadBatch.Status.RECEIVED) -> UploadBatch:
    return UploadBatch.objects.create(ad=ad, source_name=f"photos-{next(_seq)}.zip", status=status)


def image_create(*, batch: UploadBatch, status: str = ImageStatus.PENDING) -> ReactionImage:
    n = next(_seq)
    return ReactionImage.objects.create(
        batch=batch, original_name=f"photo-{n}.jpg", sha256=f"{n:064x}", status=status
    )


def model_version_create(*, name: str = "fer-cnn", version: str | None = None) -> ModelVersion:
    version = version or f"0.{next(_seq)}"
    return ModelVersion.objects.create(
        name=name,
        version=version,
        artifact=f"models/{name}/{version}/",
        classes=list(CLASSES),
    )


def face_create(*, image: ReactionImage, model_version: ModelVersion, label: str = "happy") -> Face:
    probabilities = {f"prob_{name}": (0.94 if name == label else 0.01) for name in CLASSES}
    # as the pipeline writes faces: the dashboards' tallies follow
    with faces_replacing(image_ids=[image.pk], model_version_id=model_version.pk):
        face = Face.objects.create(
            image=image,
            x=10,
            y=20,
            w=64,
            h=64,
            detector_score=0.9,
            label=label,
            model_version=model_version,
            **probabilities,
        )
    return face


def artifact_dir_create(
    root: Path,
    *,
    name: str = "fer-cnn",
    version: str = "9.9",
    accuracy: float = 0.66,
    measurement: dict[str, Any] | None = None,
) -> Path:
    """An artifact folder as ml/ writes it: model.json (with `measurement` when given) plus
    model and report files.

    The model file holds placeholder bytes: registering copies files and never loads them.
    """
    folder = root / f"{name}-{version}"
    folder.mkdir(parents=True)
    write_metadata(
        folder,
        ArtifactMetadata(
            name=name,
            version=version,
            metrics={"accuracy": accuracy},
            measurement=measurement or {},
        ),
    )
    (folder / "model.keras").write_bytes(b"keras-bytes-" + version.encode())
    (folder / "report.json").write_text('{"test": {}}\n')
    return folder


def measurement_create(*, data: str = "labelled-photos") -> dict[str, Any]:
    """A measurement (`ml.measurement`) of 280 labelled photos of 140 people, 40 of each
    emotion, by a model that reads a quarter of neutral faces as sad and every disgust face
    as neutral."""
    labels = np.arange(280) % len(CLASSES)
    predicted = labels.copy()
    neutral = np.flatnonzero(labels == CLASSES.index("neutral"))
    predicted[neutral[::4]] = CLASSES.index("sad")
    predicted[labels == CLASSES.index("disgust")] = CLASSES.index("neutral")
    probabilities = np.full((len(labels), len(CLASSES)), 0.05)
    probabilities[np.arange(len(labels)), predicted] = 0.7
    return measurement_build(
        labels=labels,
        probabilities=probabilities,
        found=np.ones(len(labels), dtype=bool),
        data=data,
        people=[f"person-{i // 2}" for i in range(len(labels))],
        pipeline={"detector": "blazeface"},
    )
