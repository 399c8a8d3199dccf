"""Photos in, faces with their expression out: the one entry point of workers, CLI and bench."""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np

from ml import CLASSES
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
from .detection import DEFAULT_DETECTOR, DetectedFace, FaceDetector, get_detector

# Photos are shrunk to this longest side before detection; boxes are mapped back.
DEFAULT_DETECT_MAX_SIDE = 1024
# Faces narrower than this (in original pixels) are too small to read an expression from.
DEFAULT_MIN_FACE_SIZE = 24


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
    """Seconds spent per stage, summed over calls (the bench reads them)."""

    decode: float = 0.0
    detect: float = 0.0
    classify: float = 0.0
    images: int = 0
    faces: int = 0


@dataclass
class _Pending:
    result: ImageResult
    faces: list[DetectedFace]
    batch: np.ndarray


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
) -> list[ImageResult]:
    """Decode, detect, crop and classify every face of every photo, in input order.

    A photo that cannot be decoded gets `error` set and no faces; the others are unaffected.
    The faces of all photos go through the classifier together, `batch_size` at a time.
    """
    if isinstance(detector, str):
        detector = get_detector(detector)
    if classifier is None:
        classifier = get_classifier(DEFAULT_MODEL_DIR)
    elif not isinstance(classifier, EmotionClassifier):
        classifier = get_classifier(classifier)
    timings = timings if timings is not None else StageTimings()

    pending = []
    for index, source in enumerate(sources):
        result = ImageResult(source=source_name(source, index))
        started = time.perf_counter()
        try:
            image = decode_image(source, max_pixels=max_pixels, min_side=detect_max_side)
        except ImageDecodeError as exc:
            result.error = str(exc)
            pending.append(_Pending(result, [], _empty_batch(classifier)))
            continue
        finally:
            timings.decode += time.perf_counter() - started
        result.width, result.height = image.width, image.height
        started = time.perf_counter()
        faces = _detect_in_original(image, detector, detect_max_side, min_face_size)
        timings.detect += time.perf_counter() - started
        started = time.perf_counter()
        crops = [_crop(image, face, classifier.spec) for face in faces]
        batch = preprocess_faces(crops, classifier.spec) if crops else _empty_batch(classifier)
        timings.classify += time.perf_counter() - started
        pending.append(_Pending(result, faces, batch))

    started = time.perf_counter()
    all_faces = np.concatenate([_empty_batch(classifier)] + [item.batch for item in pending])
    probabilities = classifier.predict_preprocessed(all_faces, batch_size=batch_size)
    timings.classify += time.perf_counter() - started

    offset = 0
    for item in pending:
        for face in item.faces:
            x, y, w, h = face.box
            row = probabilities[offset]
            offset += 1
            item.result.faces.append(
                FaceResult(
                    x=x,
                    y=y,
                    w=w,
                    h=h,
                    score=face.score,
                    label=CLASSES[int(np.argmax(row))],
                    probabilities={name: float(p) for name, p in zip(CLASSES, row, strict=True)},
                )
            )
    timings.images += len(pending)
    timings.faces += offset
    return [item.result for item in pending]


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
