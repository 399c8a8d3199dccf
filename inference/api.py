"""Photos in, faces with their expression out: the one entry point of workers, CLI and bench."""

from __future__ import annotations

import dataclasses
import math
import os
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field

import cv2
import numpy as np

from ml import CLASSES
from ml.attention import FaceAttention, attention_model_for_thread, face_attention
from ml.detection import DEFAULT_DETECTOR, DetectedFace, FaceDetector, get_detector
from ml.preprocessing import PreprocessSpec, cut_face, preprocess_faces

from .classifier import DEFAULT_MODEL_DIR, EmotionClassifier, get_classifier
from .decoding import (
    DEFAULT_MAX_PIXELS,
    DecodedImage,
    ImageDecodeError,
    ImageSource,
    decode_image,
    source_name,
)
from .pipeline import Classified, FeederJob, Pipeline, pipeline_use

# Photos are shrunk to this longest side before detection; boxes are mapped back.
DEFAULT_DETECT_MAX_SIDE = 1024
# Faces narrower than this (in original pixels) are too small to read an expression from.
DEFAULT_MIN_FACE_SIZE = 24
# Longest a face waits for its batch to fill while other photos are still being prepared.
DEFAULT_BATCH_WAIT_MS = 500.0


@dataclass
class FaceResult:
    """One face: box in the original photo's pixels (after EXIF rotation) and its expression."""

    x: int
    y: int
    w: int
    h: int
    score: float
    label: str
    probabilities: dict[str, float]
    # Head pose, eyes, gaze and quality (`ml.attention`); None when not measured.
    attention: FaceAttention | None = None

    @property
    def box(self) -> tuple[int, int, int, int]:
        return (self.x, self.y, self.w, self.h)


@dataclass
class ImageResult:
    """One photo: its upright size and faces, or why it could not be analysed."""

    source: str
    width: int | None = None
    height: int | None = None
    faces: list[FaceResult] = field(default_factory=list)
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass
class StageTimings:
    """Seconds spent per stage, summed over calls and over feeder threads (the bench reads
    them); `classify_wait` is wall time a call waited for the classifier after its last photo
    was prepared."""

    decode: float = 0.0
    detect: float = 0.0
    preprocess: float = 0.0
    attention: float = 0.0
    classify: float = 0.0
    classify_wait: float = 0.0
    images: int = 0
    faces: int = 0

    def add(self, other: StageTimings) -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass
class _Prepared:
    """A photo decoded, its faces found and cropped into the classifier's input batch."""

    result: ImageResult
    faces: list[DetectedFace]
    batch: np.ndarray
    timings: StageTimings
    attention: list[FaceAttention | None] = field(default_factory=list)


@dataclass(frozen=True)
class _Options:
    detect_max_side: int
    min_face_size: int
    max_pixels: int
    attention: bool
    # Interpreter threads of the face mesh: 1 per feeder thread, 2 in the caller's thread.
    mesh_threads: int = 1


def analyze_images(
    sources: Sequence[ImageSource],
    *,
    detector: FaceDetector | str = DEFAULT_DETECTOR,
    classifier: EmotionClassifier | str | os.PathLike[str] | None = None,
    detect_max_side: int = DEFAULT_DETECT_MAX_SIDE,
    min_face_size: int = DEFAULT_MIN_FACE_SIZE,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    batch_size: int | None = None,
    timings: StageTimings | None = None,
    decode_threads: int = 0,
    batch_wait_ms: float = DEFAULT_BATCH_WAIT_MS,
    timeout: float | None = None,
    attention: bool = True,
) -> list[ImageResult]:
    """Decode, detect, crop and classify every face of every photo, in input order.

    A photo that cannot be decoded gets `error` set and no faces; the others are unaffected.
    With `decode_threads` 0 the photos are prepared one after another in the calling thread
    and their faces go through the classifier together, `batch_size` at a time. With 1 or
    more, the process's pipeline (`inference.pipeline`) prepares them on that many feeder
    threads while its classifier thread runs batches of up to `batch_size` faces gathered
    across the photos of every call in flight, waiting at most `batch_wait_ms` for a batch
    to fill; `timeout` bounds the call's wait for it (`TimeoutError`). With `attention` each
    face also gets its head pose, eyes, gaze and quality (`ml.attention`), measured by the
    thread that found it.
    """
    if isinstance(detector, str):
        detector = get_detector(detector)
    if classifier is None:
        classifier = get_classifier(DEFAULT_MODEL_DIR)
    elif not isinstance(classifier, EmotionClassifier):
        classifier = get_classifier(classifier)
    timings = timings if timings is not None else StageTimings()
    options = _Options(
        detect_max_side, min_face_size, max_pixels, attention, 1 if decode_threads >= 1 else 2
    )
    if decode_threads < 1:
        prepared = [
            _prepare(source, index, detector, classifier, options)
            for index, source in enumerate(sources)
        ]
        started = time.perf_counter()
        all_faces = np.concatenate([_empty_batch(classifier)] + [p.batch for p in prepared])
        probabilities = classifier.predict_preprocessed(all_faces, batch_size=batch_size)
        timings.classify += time.perf_counter() - started
        offset = 0
        for item in prepared:
            _attach(item, probabilities[offset : offset + len(item.faces)])
            offset += len(item.faces)
    else:
        with pipeline_use(
            detector=detector,
            classifier=classifier,
            decode_threads=decode_threads,
            batch_size=batch_size or classifier.batch_size,
            batch_wait_ms=batch_wait_ms,
        ) as pipeline:
            prepared = _analyze_pipelined(sources, pipeline, options, timings, timeout)
    for item in prepared:
        timings.add(item.timings)
    timings.images += len(prepared)
    timings.faces += sum(len(item.result.faces) for item in prepared)
    return [item.result for item in prepared]


def _analyze_pipelined(
    sources: Sequence[ImageSource],
    pipeline: Pipeline,
    options: _Options,
    timings: StageTimings,
    timeout: float | None,
) -> list[_Prepared]:
    """Hand every photo to the feeders, their faces to the batcher; wait for all of them."""
    deadline = None if timeout is None else time.monotonic() + timeout
    cancelled = threading.Event()
    jobs: list[Future[tuple[_Prepared, Future[Classified]]]] = []

    def job(
        source: ImageSource, index: int, done: Future[tuple[_Prepared, Future[Classified]]]
    ) -> FeederJob:
        def run(detector: FaceDetector) -> None:
            if cancelled.is_set():
                done.cancel()
                return
            try:
                item = _prepare(source, index, detector, pipeline.classifier, options)
                done.set_result((item, pipeline.batcher.submit(item.batch)))
            except Exception as exc:  # a bug, not a bad photo: the call raises it
                done.set_exception(exc)

        return run

    try:
        with pipeline.batcher.feeding():
            for index, source in enumerate(sources):
                future: Future[tuple[_Prepared, Future[Classified]]] = Future()
                jobs.append(future)
                pipeline.feeders.put(job(source, index, future))
            handed = [future.result(timeout=_left(deadline)) for future in jobs]
        started = time.perf_counter()
        prepared = []
        for item, classified in handed:
            outcome = classified.result(timeout=_left(deadline))
            item.timings.classify += outcome.seconds
            _attach(item, outcome.probabilities)
            prepared.append(item)
        timings.classify_wait += time.perf_counter() - started
        return prepared
    except TimeoutError:  # concurrent.futures' own is this one since Python 3.11
        raise TimeoutError(
            f"the inference pipeline did not analyse {len(sources)} photos in {timeout:g} s"
        ) from None
    finally:
        # Photos not started yet are skipped when this call gave up (an error, a time limit).
        cancelled.set()


def _left(deadline: float | None) -> float | None:
    return None if deadline is None else max(0.0, deadline - time.monotonic())


def _prepare(
    source: ImageSource,
    index: int,
    detector: FaceDetector,
    classifier: EmotionClassifier,
    options: _Options,
) -> _Prepared:
    """Decode one photo, find its faces and crop them into the classifier's input."""
    result = ImageResult(source=source_name(source, index))
    timings = StageTimings()
    started = time.perf_counter()
    try:
        image = decode_image(
            source, max_pixels=options.max_pixels, min_side=options.detect_max_side
        )
    except ImageDecodeError as exc:
        result.error = str(exc)
        return _Prepared(result, [], _empty_batch(classifier), timings)
    finally:
        timings.decode += time.perf_counter() - started
    result.width, result.height = image.width, image.height
    started = time.perf_counter()
    faces = _detect_in_original(image, detector, options.detect_max_side, options.min_face_size)
    timings.detect += time.perf_counter() - started
    started = time.perf_counter()
    crops = [_crop(image, face, classifier.spec) for face in faces]
    batch = preprocess_faces(crops, classifier.spec) if crops else _empty_batch(classifier)
    timings.preprocess += time.perf_counter() - started
    started = time.perf_counter()
    attention = [
        _attention(image, face, options.mesh_threads) if options.attention else None
        for face in faces
    ]
    timings.attention += time.perf_counter() - started
    return _Prepared(result, faces, batch, timings, attention)


def _attention(image: DecodedImage, face: DetectedFace, threads: int) -> FaceAttention | None:
    """The face's pose, eyes, gaze and quality, measured on the decoded pixels; None when the
    mesh gives no finite reading."""
    scale = image.scale
    x, y, w, h = face.box
    box = (round(x * scale), round(y * scale), max(1, round(w * scale)), max(1, round(h * scale)))
    eyes = None
    if face.eyes is not None:
        lx, ly, rx, ry = (value * scale for value in face.eyes)
        eyes = (lx, ly, rx, ry)
    measured = face_attention(
        image.pixels,
        box,
        eyes,
        model=attention_model_for_thread(threads),
        original_side=max(w, h),
    )
    if not all(math.isfinite(value) for value in dataclasses.astuple(measured)):
        return None
    return measured


def _attach(item: _Prepared, probabilities: np.ndarray) -> None:
    """The photo's faces: each box with its row of probabilities, in box order."""
    attention = item.attention or [None] * len(item.faces)
    for face, row, measured in zip(item.faces, probabilities, attention, strict=True):
        x, y, w, h = face.box
        item.result.faces.append(
            FaceResult(
                x=x,
                y=y,
                w=w,
                h=h,
                score=face.score,
                label=CLASSES[int(np.argmax(row))],
                probabilities={name: float(p) for name, p in zip(CLASSES, row, strict=True)},
                attention=measured,
            )
        )


def _empty_batch(classifier: EmotionClassifier) -> np.ndarray:
    return np.zeros((0, *classifier.metadata.input_shape), dtype=np.uint8)


def _detect_in_original(
    image: DecodedImage, detector: FaceDetector, max_side: int, min_face_size: int
) -> list[DetectedFace]:
    """Detect on a copy shrunk to `max_side`; faces (boxes and eyes) in original pixels, left
    to right."""
    pixels = image.pixels
    height, width = pixels.shape[:2]
    shrink = min(1.0, max_side / max(height, width))
    if shrink < 1.0:
        size = (max(1, round(width * shrink)), max(1, round(height * shrink)))
        pixels = cv2.resize(pixels, size, interpolation=cv2.INTER_AREA)
    to_original = 1.0 / (shrink * image.scale)
    boxes = []
    for face in detector.detect(pixels):
        x, y, w, h = face.box
        # Detectors may return boxes reaching past the frame: keep them inside the photo.
        x0, y0 = max(0, round(x * to_original)), max(0, round(y * to_original))
        x1 = min(image.width, round((x + w) * to_original))
        y1 = min(image.height, round((y + h) * to_original))
        eyes = None
        if face.eyes is not None:
            lx, ly, rx, ry = (value * to_original for value in face.eyes)
            eyes = (lx, ly, rx, ry)
        if min(x1 - x0, y1 - y0) >= min_face_size:
            boxes.append(DetectedFace((x0, y0, x1 - x0, y1 - y0), face.score, eyes))
    return sorted(boxes, key=lambda face: (face.box[0], face.box[1]))


def _crop(image: DecodedImage, face: DetectedFace, spec: PreprocessSpec) -> np.ndarray:
    """The face as the classifier takes it (its margin; turned upright by its eyes when the
    model was trained so), cut from the (possibly reduced) decoded pixels."""
    scale = image.scale
    x, y, w, h = face.box
    scaled = (
        round(x * scale),
        round(y * scale),
        max(1, round(w * scale)),
        max(1, round(h * scale)),
    )
    eyes = None
    if face.eyes is not None:
        lx, ly, rx, ry = (value * scale for value in face.eyes)
        eyes = (lx, ly, rx, ry)
    return cut_face(image.pixels, scaled, spec, eyes)
