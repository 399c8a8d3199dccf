"""Reaction videos for the tests: FER2013 faces on a background (written by
`inference.scenes.video_bytes`)."""

from __future__ import annotations

import numpy as np

from inference.scenes import compose_scene, video_bytes

__all__ = ["face_scene", "video_bytes"]


def face_scene(face: np.ndarray, *, seed: int, size: tuple[int, int] = (320, 240)) -> np.ndarray:
    """One 48x48 gray face pasted large on a cluttered background (a reaction video frame)."""
    rng = np.random.default_rng(seed)
    width, height = size
    scene, _ = compose_scene([face], [150], height=height, width=width, rng=rng)
    return np.ascontiguousarray(scene[:, :, :3]).astype(np.uint8)
