"""Real-photo augmentations: repeatable under a seed, and each does what it says."""

from __future__ import annotations

import numpy as np
import pytest

from ml.augment import augment_batch
from ml.networks import get_config

NONE = {"flip": False}


def faces(seed: int = 0, count: int = 16) -> np.ndarray:
    """Gray test images with sharp structure: a random checkerboard of 4 px cells."""
    rng = np.random.default_rng(seed)
    cells = rng.integers(40, 216, (count, 12, 12, 1)).astype(np.uint8)
    return np.repeat(np.repeat(cells, 4, axis=1), 4, axis=2)


def run(images: np.ndarray, params: dict, seed: tuple[int, int] = (1, 2)) -> np.ndarray:
    import tensorflow as tf

    out = augment_batch(tf.constant(images), tf.constant(seed, tf.int64), params)
    return np.asarray(out)


def high_frequency(images: np.ndarray) -> float:
    """Mean absolute difference between horizontal neighbours: what blur removes."""
    return float(np.abs(np.diff(images.astype(np.float64), axis=2)).mean())


def test_the_real_photo_config_repeats_exactly_under_a_seed_and_differs_across_seeds():
    # given
    params = get_config("cpu-small-photos").augment
    images = faces()
    # when
    first, again, other = run(images, params), run(images, params), run(images, params, (1, 3))
    # then
    np.testing.assert_array_equal(first, again)
    assert np.abs(first - other).mean() > 5.0
    assert first.min() >= 0.0 and first.max() <= 255.0


@pytest.mark.parametrize(
    ("params", "check"),
    [
        ({"blur_prob": 1.0, "blur_max_sigma": 1.5}, "smoother"),
        ({"downscale_prob": 1.0, "downscale_min": 0.3}, "smoother"),
        ({"noise_prob": 1.0, "noise_max_std": 20.0}, "rougher"),
        ({"jpeg_prob": 1.0, "jpeg_min_quality": 5}, "changed"),
        ({"lighting_prob": 1.0, "gamma_max": 2.0, "contrast": 0.5, "brightness": 40}, "changed"),
    ],
)
def test_each_degradation_changes_the_faces_as_a_real_photo_would(params, check):
    # given
    images = faces()
    # when
    out = run(images, {**NONE, **params})
    # then
    before, after = high_frequency(images), high_frequency(out)
    if check == "smoother":
        assert after < 0.8 * before
    elif check == "rougher":
        assert after > 1.05 * before
    assert np.abs(out - images).mean() > 1.0
    assert out.shape == images.shape and out.min() >= 0.0 and out.max() <= 255.0


def test_a_degradation_with_probability_zero_leaves_the_faces_alone():
    images = faces()
    out = run(images, {**NONE, "blur_prob": 0.0, "jpeg_prob": 0.0, "noise_prob": 0.0})
    np.testing.assert_array_equal(out, images.astype(np.float32))


def test_flat_occluders_cover_a_patch_with_one_gray_level():
    # given: erasing on every face, always flat
    images = faces()
    params = {**NONE, "erase_prob": 1.0, "erase_max_area": 0.2, "erase_flat_prob": 1.0}
    # when
    out = run(images, params)
    # then: each face has a changed patch whose pixels vary far less than random noise
    for before, after in zip(images, out, strict=True):
        changed = np.abs(after - before)[..., 0] > 0
        assert changed.any()
        assert after[..., 0][changed].std() < 15.0
