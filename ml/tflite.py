"""The one place that creates TFLite interpreters, and a runner for classifier batches.

Used by ml.export's measurement, the inference classifier and the BlazeFace detectors.
"""

from __future__ import annotations

import threading
import warnings
from pathlib import Path

import numpy as np

from ml import TFLiteInterpreter


def load_interpreter(
    *,
    model_path: str | Path | None = None,
    model_content: bytes | None = None,
    num_threads: int | None = None,
) -> TFLiteInterpreter:
    """A TFLite interpreter: LiteRT's (imports in milliseconds) or TensorFlow's as fallback."""
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        import tensorflow as tf

        Interpreter = tf.lite.Interpreter  # a class, deprecated in TF >= 2.20
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        interpreter = Interpreter(
            model_path=str(model_path) if model_path is not None else None,
            model_content=model_content,
            num_threads=num_threads,
        )
    interpreter.allocate_tensors()
    return interpreter


class TFLiteRunner:
    """Runs a float32 TFLite classifier on batches of any size (resizing its input)."""

    def __init__(self, interpreter: TFLiteInterpreter) -> None:
        self._interpreter = interpreter
        self.input_detail = interpreter.get_input_details()[0]
        self.output_detail = interpreter.get_output_details()[0]
        self._batch = int(self.input_detail["shape"][0])
        # An interpreter is not thread-safe; a worker process may still call from threads.
        self._lock = threading.Lock()

    @classmethod
    def from_content(cls, content: bytes, num_threads: int | None = None) -> TFLiteRunner:
        return cls(load_interpreter(model_content=content, num_threads=num_threads))

    @classmethod
    def from_path(cls, path: str | Path, num_threads: int | None = None) -> TFLiteRunner:
        return cls(load_interpreter(model_path=path, num_threads=num_threads))

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(int(d) for d in self.input_detail["shape"][1:])

    @property
    def n_outputs(self) -> int:
        return int(self.output_detail["shape"][-1])

    def predict(self, images: np.ndarray) -> np.ndarray:
        if len(images) == 0:
            return np.empty((0, self.n_outputs), np.float32)
        with self._lock:
            if len(images) != self._batch:
                self._interpreter.resize_tensor_input(
                    self.input_detail["index"], list(images.shape), strict=False
                )
                self._interpreter.allocate_tensors()
                self._batch = len(images)
            self._interpreter.set_tensor(self.input_detail["index"], images.astype(np.float32))
            self._interpreter.invoke()
            output: np.ndarray = self._interpreter.get_tensor(self.output_detail["index"]).copy()
            return output
