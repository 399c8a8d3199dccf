"""Reaction videos for the tests: FER2013 faces on a background (written by
`inference.scenes.video_bytes`)."""

from __future__ import annotations

import numpy as np
import pytest

from inference.scenes import compose_scene, video_bytes
from tests.shared_data import fer_test_faces

__all__ = ["confident_scenes", "face_scene", "video_bytes"]


def face_scene(face: np.ndarray, *, seed: int, size: tuple[int, int] = (320, 240)) -> np.ndarray:
    """One 48x48 gray face pasted large on a cluttered background (a reaction video frame)."""
    rng = np.random.default_rng(seed)
    width, height = size
    scene, _ = compose_scene([face], [150], height=height, width=width, rng=rng)
    return np.ascontiguousarray(scene[:, :, :3]).astype(np.uint8)


def confident_scenes(label: str, count: int, *, pool: int = 200) -> list[np.ndarray]:
    """Scenes of FER2013 faces of `label` that the shipped model reads as `label` with
    probability at least 0.8 (so a test checks the pipeline and the statistics, not the
    model), looked for among the first `pool` test faces of each class (a calibrated model
    is sure of fewer of them)."""
    from inference.api import analyze_images
    from inference.classifier import EmotionClassifier
    from ml import SHIPPED_MODEL_DIR

    classifier = EmotionClassifier.load(SHIPPED_MODEL_DIR, precision="float32")
    scenes = []
    candidates = [face for face, truth in fer_test_faces(pool) if truth == label]
    for index, face in enumerate(candidates):
        scene = face_scene(face, seed=index)
        (result,) = analyze_images([scene], classifier=classifier)
        if result.faces and result.faces[0].probabilities[label] >= 0.8:
            scenes.append(scene)
        if len(scenes) == count:
            return scenes
    pytest.fail(f"fewer than {count} {label} faces the shipped model reads with p >= 0.8")
