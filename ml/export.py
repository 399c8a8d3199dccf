"""Export an artifact's Keras model to TFLite for CPU serving, and measure both.

The command line: `python -m ml.cli.export`.
"""

from __future__ import annotations

import time

import numpy as np

from ml import KerasModel


def convert_to_tflite(model: KerasModel) -> bytes:
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    content: bytes = converter.convert()
    return content


def keras_faces_per_second(
    model: KerasModel, images: np.ndarray, batch: int
) -> tuple[float, np.ndarray]:
    import tensorflow as tf

    forward = tf.function(lambda x: model(x, training=False))
    forward(tf.constant(images[:batch], tf.float32))  # trace once
    started = time.perf_counter()
    outputs = [
        forward(tf.constant(images[i : i + batch], tf.float32)).numpy()
        for i in range(0, len(images), batch)
    ]
    return len(images) / (time.perf_counter() - started), np.concatenate(outputs)


def tflite_faces_per_second(
    content: bytes, images: np.ndarray, batch: int, threads: int | None = None
) -> tuple[float, np.ndarray]:
    from ml.tflite import TFLiteRunner

    runner = TFLiteRunner.from_content(content, num_threads=threads)
    runner.predict(images[:batch])  # allocate once
    started = time.perf_counter()
    outputs = [runner.predict(images[i : i + batch]) for i in range(0, len(images), batch)]
    return len(images) / (time.perf_counter() - started), np.concatenate(outputs)
