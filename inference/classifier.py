"""The expression CNN of a model artifact, loaded once per process and called in batches.

The model is called directly (a traced `tf.function`, or the TFLite interpreter when the
artifact ships model.tflite and it is asked for) rather than through `Model.predict`, whose
per-call overhead dominates on the small batches a worker sees.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import re
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeAlias

import numpy as np

from ml import CLASSES, SHIPPED_MODEL_DIR
from ml.artifact import (
    METADATA_FILE,
    TFLITE_FILE,
    ArtifactError,
    ArtifactMetadata,
    load_keras_model,
    read_metadata,
)
from ml.precision import PRECISIONS, resolve_precision, with_precision
from ml.preprocessing import PreprocessSpec, preprocess_faces

logger = logging.getLogger(__name__)

DEFAULT_BATCH_SIZE = 64

# A backend's forward pass: a float32 batch (N, S, S, C) -> (N, classes) probabilities.
PredictBatch: TypeAlias = Callable[[np.ndarray], np.ndarray]

# The shipped artifact (ml issue); Django passes the active ModelVersion's folder instead.
DEFAULT_MODEL_DIR = SHIPPED_MODEL_DIR

# "auto" serves model.tflite when the artifact has one: measured 1.2-2x faster than the
# traced Keras model on this CPU (most at small batches), and it loads without TensorFlow.
BACKENDS = ("auto", "keras", "tflite")


# What TensorFlow writes while it looks for a GPU on a machine that has no NVIDIA driver,
# where there is none to find: cuInit's "E" line at every worker start.
GPU_PROBE_LINES = re.compile(rb"cuInit|cudart_stub|Unable to register cu(DNN|FFT|BLAS) factory")
NVIDIA_DRIVER = Path("/proc/driver/nvidia/version")


@contextlib.contextmanager
def native_stderr_without(lines: re.Pattern[bytes]) -> Iterator[None]:
    """Hold what is written to file descriptor 2 (TensorFlow's C++ logs, Python's own) while
    the block runs, then write it out without the lines that match `lines`; every other line,
    errors included, still reaches stderr."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as held:
        os.dup2(held.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            held.seek(0)
            kept = [
                line for line in held.read().splitlines(keepends=True) if not lines.search(line)
            ]
            if kept:
                os.write(2, b"".join(kept))


@functools.cache
def configure_tensorflow() -> None:
    """Import TensorFlow and turn on GPU memory growth before it touches a GPU (else it takes
    all memory). On a machine without an NVIDIA driver the GPU probe's cuInit error is left
    out (there is nothing to find; its other messages and errors stay)."""
    import tensorflow as tf

    # Only the probe is held back: a fatal error while importing must reach stderr at once.
    probe = (
        contextlib.nullcontext()
        if NVIDIA_DRIVER.exists()
        else native_stderr_without(GPU_PROBE_LINES)
    )
    with probe:
        gpus = tf.config.list_physical_devices("GPU")
    for gpu in gpus:
        # RuntimeError: the GPU was already initialised elsewhere; growth cannot change now.
        with contextlib.suppress(RuntimeError):
            tf.config.experimental.set_memory_growth(gpu, True)


class EmotionClassifier:
    """Probabilities of the 7 expressions (in `ml.CLASSES` order) for face crops."""

    def __init__(
        self,
        *,
        predict_batch: PredictBatch,
        metadata: ArtifactMetadata,
        model_dir: Path,
        backend: str,
        batch_size: int = DEFAULT_BATCH_SIZE,
        precision: str = "float32",
    ):
        self._predict_batch = predict_batch
        self.metadata = metadata
        self.model_dir = model_dir
        self.backend = backend
        self.batch_size = batch_size
        self.precision = precision
        # Model.json may list the classes in another order than the canonical one.
        self._to_canonical = [list(metadata.classes).index(name) for name in CLASSES]

    @property
    def classes(self) -> tuple[str, ...]:
        return CLASSES

    @property
    def spec(self) -> PreprocessSpec:
        return self.metadata.preprocessing

    @property
    def name(self) -> str:
        return f"{self.metadata.name}-{self.metadata.version}"

    @classmethod
    def load(
        cls,
        model_dir: str | os.PathLike[str],
        *,
        backend: str = "auto",
        batch_size: int = DEFAULT_BATCH_SIZE,
        precision: str = "float32",
    ) -> EmotionClassifier:
        """Load and validate an artifact folder (model.json against the model file).

        `backend="tflite"` serves model.tflite with the TFLite interpreter instead of
        model.keras (both are validated against model.json) and raises `ArtifactError`
        when the folder has none; "auto" takes model.tflite when present. `precision`
        ("auto", "float32", "bfloat16") is the Keras model's compute precision (see
        `ml.precision`); the TFLite model always runs its own float32 graph.
        """
        if backend not in BACKENDS:
            raise ValueError(f"unknown classifier backend {backend!r}; choose one of {BACKENDS}")
        if precision not in PRECISIONS:
            raise ValueError(f"unknown precision {precision!r}; choose one of {PRECISIONS}")
        if batch_size < 1:
            raise ValueError(f"batch size must be at least 1, got {batch_size}")
        model_dir = Path(model_dir)
        if backend == "auto":
            backend = "tflite" if (model_dir / TFLITE_FILE).is_file() else "keras"
        if backend == "tflite":
            predict_batch, metadata = _load_tflite(model_dir)
            precision = "float32"
        else:
            configure_tensorflow()
            precision = resolve_precision(precision)
            predict_batch, metadata = _load_keras(model_dir, precision)
        return cls(
            predict_batch=predict_batch,
            metadata=metadata,
            model_dir=model_dir,
            backend=backend,
            batch_size=batch_size,
            precision=precision,
        )

    def predict_faces(
        self, crops: Sequence[np.ndarray], *, batch_size: int | None = None
    ) -> np.ndarray:
        """(N, 7) float32 probabilities for face crops (gray or RGB uint8, any size)."""
        if len(crops) == 0:
            return np.zeros((0, len(CLASSES)), dtype=np.float32)
        return self.predict_preprocessed(preprocess_faces(crops, self.spec), batch_size=batch_size)

    def predict_preprocessed(
        self, batch: np.ndarray, *, batch_size: int | None = None
    ) -> np.ndarray:
        """(N, 7) probabilities for an already preprocessed uint8 batch (N, S, S, C)."""
        expected = self.metadata.input_shape
        if batch.ndim != 4 or tuple(batch.shape[1:]) != expected:
            raise ValueError(f"expected a batch of shape (N, {expected}), got {batch.shape}")
        step = batch_size or self.batch_size
        outputs = [
            self._predict_batch(batch[start : start + step].astype(np.float32))
            for start in range(0, len(batch), step)
        ]
        probabilities = np.concatenate(outputs, axis=0) if outputs else np.zeros((0, 7))
        # The artifact's calibration (model.json), fitted on real photos; none in older ones.
        return self.metadata.calibration.apply(probabilities[:, self._to_canonical]).astype(
            np.float32
        )


def _load_keras(model_dir: Path, precision: str) -> tuple[PredictBatch, ArtifactMetadata]:
    configure_tensorflow()
    import tensorflow as tf

    model, metadata = load_keras_model(model_dir)
    model = with_precision(model, precision)
    size, _, channels = metadata.input_shape
    # One trace for every batch size: the batch dimension is left open.
    signature = [tf.TensorSpec((None, size, size, channels), tf.float32)]

    # tf.function as a decorator, typed (TensorFlow has no stubs).
    traced: Callable[[Callable[[Any], Any]], Callable[[Any], Any]]
    traced = tf.function(input_signature=signature, reduce_retracing=True)

    @traced
    def forward(x: Any) -> Any:
        return model(x, training=False)

    def predict_batch(x: np.ndarray) -> np.ndarray:
        probabilities: np.ndarray = forward(tf.constant(x)).numpy()
        return probabilities

    return predict_batch, metadata


def _load_tflite(model_dir: Path) -> tuple[PredictBatch, ArtifactMetadata]:
    from ml.tflite import TFLiteRunner

    metadata = read_metadata(model_dir)
    path = model_dir / TFLITE_FILE
    if not path.is_file():
        raise ArtifactError(f"{path} not found")
    try:
        runner = TFLiteRunner.from_path(path, num_threads=os.cpu_count() or 1)
    except (RuntimeError, ValueError) as exc:
        raise ArtifactError(f"{path} could not be loaded: {exc}") from exc
    if runner.input_shape != metadata.input_shape:
        raise ArtifactError(
            f"{path} takes input {runner.input_shape} but model.json says {metadata.input_shape}"
        )
    if runner.n_outputs != len(metadata.classes):
        raise ArtifactError(
            f"{path} outputs {runner.n_outputs} classes but model.json lists "
            f"{len(metadata.classes)}"
        )
    return runner.predict, metadata


# The one in-process cache of loaded models: (folder, model.json's mtime, backend, batch size,
# precision) -> classifier. One entry: a worker serves one model version at a time, and loading
# another frees the previous one (a reprocess with an old version reloads it: rare).
_cache_lock = threading.Lock()
_cache: dict[tuple[str, float, str, int, str], EmotionClassifier] = {}


def get_classifier(
    model_dir: str | os.PathLike[str] = DEFAULT_MODEL_DIR,
    *,
    backend: str = "auto",
    batch_size: int = DEFAULT_BATCH_SIZE,
    precision: str = "float32",
) -> EmotionClassifier:
    """The classifier of `model_dir`, loaded once per process and kept while it is in use.

    Keyed by the folder's resolved path and model.json's modification time, so a re-written
    artifact is reloaded.
    """
    path = Path(model_dir).resolve()
    metadata_file = path / METADATA_FILE
    stamp = metadata_file.stat().st_mtime if metadata_file.is_file() else 0.0
    key = (str(path), stamp, backend, batch_size, precision)
    with _cache_lock:
        classifier = _cache.get(key)
        if classifier is None:
            classifier = EmotionClassifier.load(
                path, backend=backend, batch_size=batch_size, precision=precision
            )
            _cache.clear()
            _cache[key] = classifier
            meta = classifier.metadata
            logger.info(
                "loaded %s %s from %s (%s backend, %s)",
                meta.name,
                meta.version,
                path,
                classifier.backend,
                classifier.precision,
            )
        return classifier
