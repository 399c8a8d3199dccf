"""On-the-fly augmentation of uint8 face batches, vectorised in TensorFlow (one affine warp).

Besides flips, small rotations, zoom, shift and occlusion, the real-photo degradations that
FER2013's clean crops lack (each off unless its `*_prob` parameter is set): lighting (gamma,
contrast, brightness), down- and up-scaling, blur, JPEG artefacts and sensor noise. Every
random draw is stateless from the batch's seed, so a seed repeats a batch exactly.
"""

from __future__ import annotations

import math
from typing import Any

import tensorflow as tf


def _affine_matrices(
    batch: int, size: float, *, rotation_deg: float, zoom: float, shift: float, seed: tf.Tensor
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


def _chosen(batch: tf.Tensor, seed: tf.Tensor, probability: float) -> tf.Tensor:
    """(N, 1, 1, 1) mask of the images an augmentation applies to."""
    return tf.random.stateless_uniform([batch, 1, 1, 1], seed) < probability


def _lighting(images: tf.Tensor, seed: tf.Tensor, params: dict[str, Any]) -> tf.Tensor:
    """Gamma (log-uniform in [1/g, g]), then contrast and brightness, on chosen images."""
    batch = tf.shape(images)[0]
    seeds = tf.random.experimental.stateless_split(seed, 4)
    log_gamma = math.log(params.get("gamma_max", 1.6))
    gamma = tf.exp(tf.random.stateless_uniform([batch, 1, 1, 1], seeds[0], -1.0, 1.0) * log_gamma)
    contrast = 1.0 + params.get("contrast", 0.3) * tf.random.stateless_uniform(
        [batch, 1, 1, 1], seeds[1], -1.0, 1.0
    )
    brightness = params.get("brightness", 30.0) * tf.random.stateless_uniform(
        [batch, 1, 1, 1], seeds[2], -1.0, 1.0
    )
    lit = 255.0 * tf.pow(tf.clip_by_value(images / 255.0, 0.0, 1.0), gamma)
    mean = tf.reduce_mean(lit, axis=[1, 2, 3], keepdims=True)
    lit = tf.clip_by_value((lit - mean) * contrast + mean + brightness, 0.0, 255.0)
    return tf.where(_chosen(batch, seeds[3], params["lighting_prob"]), lit, images)


def _rescaled(images: tf.Tensor, seed: tf.Tensor, params: dict[str, Any]) -> tf.Tensor:
    """Chosen images shrunk to a random fraction of their side (one per batch) and enlarged
    back: the softness of a small face in a photo."""
    batch, side = tf.shape(images)[0], tf.shape(images)[1]
    seeds = tf.random.experimental.stateless_split(seed, 2)
    fraction = tf.random.stateless_uniform([], seeds[0], params.get("downscale_min", 0.35), 1.0)
    small = tf.maximum(8, tf.cast(tf.cast(side, tf.float32) * fraction, tf.int32))
    shrunk = tf.image.resize(images, [small, small], method="area")
    restored = tf.image.resize(shrunk, [side, side], method="bilinear")
    return tf.where(_chosen(batch, seeds[1], params["downscale_prob"]), restored, images)


def _blurred(images: tf.Tensor, seed: tf.Tensor, params: dict[str, Any]) -> tf.Tensor:
    """Gaussian blur of chosen images, each at one of three strengths up to `blur_max_sigma`."""
    batch, channels = tf.shape(images)[0], images.shape[-1]
    seeds = tf.random.experimental.stateless_split(seed, 2)
    max_sigma = params.get("blur_max_sigma", 1.5)
    versions = []
    for sigma in (max_sigma / 3, 2 * max_sigma / 3, max_sigma):
        radius = max(1, math.ceil(2 * sigma))
        taps = tf.exp(-tf.square(tf.range(-radius, radius + 1, dtype=tf.float32)) / (2 * sigma**2))
        taps /= tf.reduce_sum(taps)
        across = tf.tile(tf.reshape(taps, [1, -1, 1, 1]), [1, 1, channels, 1])
        down = tf.tile(tf.reshape(taps, [-1, 1, 1, 1]), [1, 1, channels, 1])
        padded = tf.pad(images, [[0, 0], [radius, radius], [radius, radius], [0, 0]], "SYMMETRIC")
        blurred = tf.nn.depthwise_conv2d(padded, across, [1, 1, 1, 1], "VALID")
        versions.append(tf.nn.depthwise_conv2d(blurred, down, [1, 1, 1, 1], "VALID"))
    strength = tf.random.stateless_uniform([batch], seeds[0], 0, 3, dtype=tf.int32)
    picked = tf.gather(tf.stack(versions, axis=1), strength, axis=1, batch_dims=1)
    return tf.where(_chosen(batch, seeds[1], params["blur_prob"]), picked, images)


def _jpeg(images: tf.Tensor, seed: tf.Tensor, params: dict[str, Any]) -> tf.Tensor:
    """Chosen images through a JPEG encode and decode at a random quality."""
    batch = tf.shape(images)[0]
    seeds = tf.random.experimental.stateless_split(seed, 2)
    quality = tf.random.stateless_uniform(
        [batch], seeds[0], params.get("jpeg_min_quality", 15), 96, dtype=tf.int32
    )
    compressed = tf.map_fn(
        lambda item: tf.image.adjust_jpeg_quality(item[0] / 255.0, item[1]) * 255.0,
        (images, quality),
        fn_output_signature=tf.float32,
    )
    compressed = tf.ensure_shape(compressed, images.shape)
    return tf.where(_chosen(batch, seeds[1], params["jpeg_prob"]), compressed, images)


def _noisy(images: tf.Tensor, seed: tf.Tensor, params: dict[str, Any]) -> tf.Tensor:
    """Gaussian sensor noise of a random strength up to `noise_max_std` on chosen images."""
    batch = tf.shape(images)[0]
    seeds = tf.random.experimental.stateless_split(seed, 3)
    std = tf.random.stateless_uniform(
        [batch, 1, 1, 1], seeds[0], 0.0, params.get("noise_max_std", 12.0)
    )
    noise = tf.random.stateless_normal(tf.shape(images), seeds[1]) * std
    noisy = tf.clip_by_value(images + noise, 0.0, 255.0)
    return tf.where(_chosen(batch, seeds[2], params["noise_prob"]), noisy, images)


def augment_batch(images: tf.Tensor, seed: tf.Tensor, params: dict[str, Any]) -> tf.Tensor:
    """Flip, rotate/zoom/shift (reflect padding), the real-photo degradations that `params`
    turns on, and random erasing, on a batch (N, S, S, C); returns float32 in [0, 255]."""
    images = tf.cast(images, tf.float32)
    batch = tf.shape(images)[0]
    size = tf.cast(tf.shape(images)[1], tf.float32)
    seeds = tf.random.experimental.stateless_split(seed, 6)
    if params.get("flip", True):
        flip = tf.random.stateless_uniform([batch, 1, 1, 1], seeds[0]) < 0.5
        images = tf.where(flip, tf.reverse(images, axis=[2]), images)
    transforms = _affine_matrices(
        batch,
        size,
        rotation_deg=params.get("rotation_deg", 0.0),
        zoom=params.get("zoom", 0.0),
        shift=params.get("shift", 0.0),
        seed=seeds[1],
    )
    images = tf.raw_ops.ImageProjectiveTransformV3(
        images=images,
        transforms=transforms,
        output_shape=tf.shape(images)[1:3],
        interpolation="BILINEAR",
        fill_mode="REFLECT",
        fill_value=0.0,
    )
    photo_seeds = tf.random.experimental.stateless_split(seeds[4], 5)
    for step, (key, degrade) in enumerate(
        (
            ("lighting_prob", _lighting),
            ("downscale_prob", _rescaled),
            ("blur_prob", _blurred),
            ("jpeg_prob", _jpeg),
            ("noise_prob", _noisy),
        )
    ):
        if params.get(key, 0.0) > 0:
            images = degrade(images, photo_seeds[step], params)
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
        fill = tf.random.stateless_uniform(tf.shape(images), seeds[3], 0.0, 255.0)
        if params.get("erase_flat_prob", 0.0) > 0:
            # An occluder (a hand, a cup, a microphone) is flat more often than noisy.
            flat_seeds = tf.random.experimental.stateless_split(seeds[5], 2)
            level = tf.random.stateless_uniform([batch, 1, 1, 1], flat_seeds[0], 0.0, 255.0)
            flat = _chosen(batch, flat_seeds[1], params["erase_flat_prob"])
            fill = tf.where(flat, level + 0.1 * (fill - 127.5), fill)
        images = tf.where(mask[..., None], fill, images)
    return tf.clip_by_value(images, 0.0, 255.0)
