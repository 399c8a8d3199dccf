"""On-the-fly augmentation of uint8 face batches, vectorised in TensorFlow (one affine warp)."""

from __future__ import annotations

import math
from typing import Any

import tensorflow as tf


def _affine_matrices(
    batch: int, size: float, rotation_deg: float, zoom: float, shift: float, seed: tf.Tensor
) -> tf.Tensor:
    """Per-image projective transforms (output -> input coordinates) for rotate/zoom/shift."""
    seeds = tf.random.experimental.stateless_split(seed, 4)
    angle = tf.random.stateless_uniform([batch], seeds[0], -1.0, 1.0) * rotation_deg * math.pi / 180
    scale = 1.0 + tf.random.stateless_uniform([batch], seeds[1], -zoom, zoom)
    dx = tf.random.stateless_uniform([batch], seeds[2], -shift, shift) * size
    dy = tf.random.stateless_uniform([batch], seeds[3], -shift, shift) * size
    cos, sin = tf.cos(angle) / scale, tf.sin(angle) / scale
    centre = (size - 1.0) / 2.0
    # Rotate and scale about the centre, then shift.
    a0, a1 = cos, -sin
    b0, b1 = sin, cos
    a2 = centre - a0 * centre - a1 * centre + dx
    b2 = centre - b0 * centre - b1 * centre + dy
    zeros = tf.zeros([batch])
    return tf.stack([a0, a1, a2, b0, b1, b2, zeros, zeros], axis=1)


def augment_batch(images: tf.Tensor, seed: tf.Tensor, params: dict[str, Any]) -> tf.Tensor:
    """Flip, rotate/zoom/shift (reflect padding) and random erasing on a float batch (N,S,S,C)."""
    images = tf.cast(images, tf.float32)
    batch = tf.shape(images)[0]
    size = tf.cast(tf.shape(images)[1], tf.float32)
    seeds = tf.random.experimental.stateless_split(seed, 4)
    if params.get("flip", True):
        flip = tf.random.stateless_uniform([batch, 1, 1, 1], seeds[0]) < 0.5
        images = tf.where(flip, tf.reverse(images, axis=[2]), images)
    transforms = _affine_matrices(
        batch,
        size,
        params.get("rotation_deg", 0.0),
        params.get("zoom", 0.0),
        params.get("shift", 0.0),
        seeds[1],
    )
    images = tf.raw_ops.ImageProjectiveTransformV3(
        images=images,
        transforms=transforms,
        output_shape=tf.shape(images)[1:3],
        interpolation="BILINEAR",
        fill_mode="REFLECT",
        fill_value=0.0,
    )
    erase_prob = params.get("erase_prob", 0.0)
    if erase_prob > 0:
        # Random erasing: one rectangle per chosen image, filled with noise.
        side = tf.shape(images)[1]
        max_side = tf.sqrt(params.get("erase_max_area", 0.15)) * size
        parts = tf.random.experimental.stateless_split(seeds[2], 5)
        h = tf.random.stateless_uniform([batch], parts[0], 0.3, 1.0) * max_side
        w = tf.random.stateless_uniform([batch], parts[1], 0.3, 1.0) * max_side
        y0 = tf.random.stateless_uniform([batch], parts[2]) * (size - h)
        x0 = tf.random.stateless_uniform([batch], parts[3]) * (size - w)
        chosen = tf.random.stateless_uniform([batch], parts[4]) < erase_prob
        grid = tf.cast(tf.range(side), tf.float32)
        in_y = (grid[None, :] >= y0[:, None]) & (grid[None, :] < (y0 + h)[:, None])
        in_x = (grid[None, :] >= x0[:, None]) & (grid[None, :] < (x0 + w)[:, None])
        mask = in_y[:, :, None] & in_x[:, None, :] & chosen[:, None, None]
        noise = tf.random.stateless_uniform(tf.shape(images), seeds[3], 0.0, 255.0)
        images = tf.where(mask[..., None], noise, images)
    return images
