"""The classifier kept fed: feeder threads prepare photos while one thread classifies faces.

A worker process holds one `Pipeline` (`pipeline_get`): `decode_threads` feeder threads, each
with its own copy of the detector, decode, detect and crop photos, and hand each photo's
faces to one `FaceBatcher`, whose thread owns the CNN and runs it on batches gathered across
photos and across every chunk in flight in the process (Celery's threads pool runs several).
OpenCV, Pillow and the TFLite interpreter release the GIL, so feeders run in parallel with
each other and with the classifier. Django-free: `inference.api.analyze_images` uses it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass

import numpy as np

from ml import CLASSES
from ml.detection import (
    BlazeFaceDetector,
    CombinedDetector,
    FaceDetector,
    FramedDetector,
    HaarDetector,
    TiledDetector,
)

from .classifier import EmotionClassifier

logger = logging.getLogger(__name__)

# What a feeder thread runs: a job given that thread's own detector.
FeederJob = Callable[[FaceDetector], None]


@dataclass
class BatcherStats:
    """What the classifier thread did since it started (the bench reads it)."""

    batches: int = 0
    faces: int = 0
    # Seconds in the CNN, and seconds its thread waited for faces while photos were in flight.
    busy: float = 0.0
    idle: float = 0.0

    @property
    def mean_batch(self) -> float:
        return self.faces / self.batches if self.batches else 0.0


@dataclass
class Classified:
    """A request's probabilities (N, 7) and its share of its batch's CNN seconds."""

    probabilities: np.ndarray
    seconds: float


@dataclass
class _Request:
    faces: np.ndarray
    future: Future[Classified]
    at: float


class FaceBatcher:
    """One thread that owns a classifier and runs it on batches gathered from many callers.

    A batch runs when `batch_size` faces wait, when no caller is still feeding (nothing more
    is coming: the tail of the work in flight goes at once), or when the oldest waiting face
    has waited `max_wait_s`. A caller's faces stay together in one batch (a request larger
    than a batch is split by the classifier itself).
    """

    def __init__(self, classifier: EmotionClassifier, *, batch_size: int, max_wait_s: float):
        if batch_size < 1:
            raise ValueError(f"batch size must be at least 1, got {batch_size}")
        self.classifier = classifier
        self.batch_size = batch_size
        self.max_wait_s = max(0.0, max_wait_s)
        self.stats = BatcherStats()
        self._cond = threading.Condition()
        self._pending: deque[_Request] = deque()
        self._pending_faces = 0
        self._feeding = 0
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="fer-classifier", daemon=True)
        self._thread.start()

    @contextlib.contextmanager
    def feeding(self) -> Iterator[None]:
        """While open, the caller may submit more faces: the batcher waits to fill batches."""
        with self._cond:
            self._feeding += 1
        try:
            yield
        finally:
            with self._cond:
                self._feeding -= 1
                self._cond.notify_all()

    def submit(self, faces: np.ndarray) -> Future[Classified]:
        """Probabilities of a preprocessed uint8 batch (N, S, S, C), once its batch has run."""
        future: Future[Classified] = Future()
        if len(faces) == 0:
            future.set_result(Classified(np.zeros((0, len(CLASSES)), np.float32), 0.0))
            return future
        with self._cond:
            if self._closed:
                raise RuntimeError("the classifier thread has stopped")
            self._pending.append(_Request(faces, future, time.monotonic()))
            self._pending_faces += len(faces)
            self._cond.notify_all()
        return future

    def close(self) -> None:
        """Run what is still submitted, then stop the thread."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    def _due(self, now: float) -> bool:
        return (
            self._pending_faces >= self.batch_size
            or self._feeding == 0
            or self._closed
            or now - self._pending[0].at >= self.max_wait_s
        )

    def _take(self) -> list[_Request] | None:
        """Wait for a batch that is due; None once closed with nothing left."""
        with self._cond:
            while True:
                now = time.monotonic()
                if self._pending and self._due(now):
                    break
                if not self._pending and self._closed:
                    return None
                timeout = self._pending[0].at + self.max_wait_s - now if self._pending else None
                in_flight = bool(self._pending) or self._feeding > 0
                self._cond.wait(timeout)
                if in_flight:
                    self.stats.idle += time.monotonic() - now
            taken = [self._pending.popleft()]
            size = len(taken[0].faces)
            while self._pending and size + len(self._pending[0].faces) <= self.batch_size:
                taken.append(self._pending.popleft())
                size += len(taken[-1].faces)
            self._pending_faces -= size
            return taken

    def _run(self) -> None:
        while (taken := self._take()) is not None:
            faces = np.concatenate([request.faces for request in taken])
            started = time.perf_counter()
            try:
                probabilities = self.classifier.predict_preprocessed(
                    faces, batch_size=self.batch_size
                )
            except Exception as exc:  # every waiting caller gets the error; the thread lives on
                for request in taken:
                    request.future.set_exception(exc)
                continue
            seconds = time.perf_counter() - started
            self.stats.batches += 1
            self.stats.faces += len(faces)
            self.stats.busy += seconds
            offset = 0
            for request in taken:
                count = len(request.faces)
                request.future.set_result(
                    Classified(probabilities[offset : offset + count], seconds * count / len(faces))
                )
                offset += count


class PhotoFeeders:
    """Threads that run jobs, each with its own copy of the detector (built as it starts)."""

    def __init__(self, detector: FaceDetector, *, threads: int):
        if threads < 1:
            raise ValueError(f"feeder threads must be at least 1, got {threads}")
        self.detector = detector
        self._jobs: queue.SimpleQueue[FeederJob | None] = queue.SimpleQueue()
        self._threads = [
            threading.Thread(target=self._run, name=f"fer-feeder-{i}", daemon=True)
            for i in range(threads)
        ]
        for thread in self._threads:
            thread.start()

    def put(self, job: FeederJob) -> None:
        self._jobs.put(job)

    def close(self) -> None:
        """Finish the jobs already queued, then stop every thread."""
        for _ in self._threads:
            self._jobs.put(None)

    def join(self, timeout: float | None = None) -> None:
        for thread in self._threads:
            thread.join(timeout)

    def _run(self) -> None:
        try:
            detector = detector_thread_copy(self.detector)
        except Exception:  # a copy that cannot be built: share the original (it has a lock)
            logger.exception("feeder thread shares the detector: its copy could not be built")
            detector = self.detector
        while (job := self._jobs.get()) is not None:
            job(detector)


class Pipeline:
    """The feeders and the classifier thread of one detector and one classifier."""

    def __init__(
        self,
        *,
        detector: FaceDetector,
        classifier: EmotionClassifier,
        decode_threads: int,
        batch_size: int,
        batch_wait_s: float,
    ):
        self.detector = detector
        self.classifier = classifier
        # Calls using it now (guarded by the module's lock): it closes only once none is.
        self.users = 0
        self.feeders = PhotoFeeders(detector, threads=decode_threads)
        self.batcher = FaceBatcher(classifier, batch_size=batch_size, max_wait_s=batch_wait_s)

    def close(self) -> None:
        """Stop once the work already handed in is done (callers in flight still finish)."""
        self.feeders.close()
        self.batcher.close()


def detector_thread_copy(detector: FaceDetector) -> FaceDetector:
    """A copy of `detector` with interpreters of its own, for one feeder thread.

    A BlazeFace interpreter is locked while it runs, so threads sharing one take turns; each
    with its own single-threaded copy they detect in parallel (on 2 cores: 98 photos/s
    prepared by 2 feeders, against 63 for 2 feeders sharing one 2-threaded interpreter). A
    detector of another kind is shared as it is (it must then be safe to call from threads).
    """
    if isinstance(detector, BlazeFaceDetector):
        return BlazeFaceDetector(
            detector.name.removeprefix("blazeface-"),
            min_score=detector.min_score,
            iou_threshold=detector.iou_threshold,
            num_threads=1,
        )
    if isinstance(detector, HaarDetector):
        return HaarDetector(
            scale_factor=detector.scale_factor,
            min_neighbors=detector.min_neighbors,
            min_size=detector.min_size,
        )
    if isinstance(detector, FramedDetector):
        return FramedDetector(detector_thread_copy(detector.detector), detector.framing)
    if isinstance(detector, TiledDetector):
        return TiledDetector(
            detector.name,
            detector_thread_copy(detector.detector),
            tile_fraction=detector.tile_fraction,
            overlap=detector.overlap,
            min_tile=detector.min_tile,
            tile_min_score=detector.tile_min_score,
            iou_threshold=detector.iou_threshold,
            pad_fraction=detector.pad_fraction,
            edge_shift=detector.edge_shift,
            edge_min_score=detector.edge_min_score,
        )
    if isinstance(detector, CombinedDetector):
        return CombinedDetector(
            detector.name,
            [detector_thread_copy(part) for part in detector.detectors],
            detector.iou_threshold,
        )
    return detector


# The process's one pipeline. Replaced when asked for another detector, classifier or
# configuration: the old one closes once its last caller is done. Keyed by process id as well,
# so a child forked from a process that had one (whose threads did not survive the fork)
# starts its own.
_pipeline_lock = threading.Lock()
_pipeline: tuple[tuple[int, int, int, float], Pipeline] | None = None


@contextlib.contextmanager
def pipeline_use(
    *,
    detector: FaceDetector,
    classifier: EmotionClassifier,
    decode_threads: int,
    batch_size: int,
    batch_wait_ms: float,
) -> Iterator[Pipeline]:
    """The process's pipeline for this detector and classifier (started at its first use),
    kept open while the caller uses it."""
    global _pipeline  # noqa: PLW0603  one pipeline per worker process, replaced under the lock
    key = (os.getpid(), decode_threads, batch_size, float(batch_wait_ms))
    with _pipeline_lock:
        pipeline = _pipeline[1] if _pipeline is not None and _pipeline[0] == key else None
        if pipeline is not None and (
            pipeline.detector is not detector or pipeline.classifier is not classifier
        ):
            pipeline = None
        if pipeline is None:
            if _pipeline is not None and _pipeline[0][0] == key[0] and not _pipeline[1].users:
                _pipeline[1].close()
            pipeline = Pipeline(
                detector=detector,
                classifier=classifier,
                decode_threads=decode_threads,
                batch_size=batch_size,
                batch_wait_s=batch_wait_ms / 1000,
            )
            _pipeline = (key, pipeline)
            logger.info(
                "inference pipeline: %d feeder threads, batches of up to %d faces, %g ms wait",
                decode_threads,
                batch_size,
                batch_wait_ms,
            )
        pipeline.users += 1
    try:
        yield pipeline
    finally:
        with _pipeline_lock:
            pipeline.users -= 1
            if not pipeline.users and (_pipeline is None or _pipeline[1] is not pipeline):
                pipeline.close()


def pipeline_stats() -> BatcherStats | None:
    """What this process's classifier thread has done so far; None before its first use."""
    with _pipeline_lock:
        if _pipeline is None or _pipeline[0][0] != os.getpid():
            return None
        return dataclasses.replace(_pipeline[1].batcher.stats)
