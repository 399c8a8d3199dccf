"""Face crop -> model input: the ONE preprocessing used by training and by inference.

Every artifact records the `PreprocessSpec` it was trained with (model.json), and the
classifier rebuilds the spec from there, so a model is never served with other preprocessing.
`cut_face` is the crop both sides take from a photo (or from a FER2013 face, whose frame is
the whole image): with `align`, the face is first turned upright by its eye line.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import cv2
import numpy as np

# Eye centres (x, y) of the eye on the image's left, then of the one on its right, in pixels.
Eyes = tuple[float, float, float, float]

# A tilt beyond this is more likely a wrong eye than a head turned that far: left as it is.
MAX_ALIGN_DEGREES = 45.0
# Eyes closer together than this share of the face frame are not a usable eye line.
MIN_EYE_DISTANCE = 0.1
# An aligned crop is warped at most this many times the input size, then area-resized: the
# warp of a 1,000 px face would cost more than it adds.
ALIGN_OVERSAMPLE = 4


@dataclass(frozen=True)
class PreprocessSpec:
    """Parameters of `preprocess_faces` and `face_crop_box`, stored in model.json."""

    input_size: int = 48
    channels: int = 1
    # Fraction of the face box added on each side before cropping. The detectors already
    # frame faces as FER2013's crops are (ml.detection.FaceFraming), so a model
    # trained on FER2013 wants 0; one trained on looser crops records its margin here.
    crop_margin: float = 0.0
    resize: str = "area"
    # Turn each face upright by its eye line before cropping (`cut_face`). Artifacts from
    # before alignment have no such key in model.json and load with False: served as before.
    align: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PreprocessSpec:
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        spec = cls(**known)
        if spec.channels not in (1, 3):
            raise ValueError(f"preprocessing channels must be 1 or 3, got {spec.channels}")
        if spec.resize not in _INTERPOLATION:
            raise ValueError(f"unknown resize method {spec.resize!r}")
        return spec


_INTERPOLATION = {"area": cv2.INTER_AREA, "linear": cv2.INTER_LINEAR}


def _to_channels(face: np.ndarray, channels: int) -> np.ndarray:
    if face.ndim == 2:
        gray_or_rgb = face
    elif face.ndim == 3 and face.shape[2] == 1:
        gray_or_rgb = face[:, :, 0]
    elif face.ndim == 3 and face.shape[2] in (3, 4):
        gray_or_rgb = face[:, :, :3]
    else:
        raise ValueError(f"a face crop must be HxW, HxWx1, HxWx3 or HxWx4, got shape {face.shape}")
    if channels == 1:
        if gray_or_rgb.ndim == 3:
            return cv2.cvtColor(np.ascontiguousarray(gray_or_rgb), cv2.COLOR_RGB2GRAY)
        return gray_or_rgb
    if gray_or_rgb.ndim == 2:
        return cv2.cvtColor(gray_or_rgb, cv2.COLOR_GRAY2RGB)
    return gray_or_rgb


def preprocess_faces(faces: Sequence[np.ndarray], spec: PreprocessSpec) -> np.ndarray:
    """Turn face crops (gray or RGB, uint8, any size) into a uint8 batch (N, S, S, C).

    The model itself rescales to [0, 1], so this stays uint8: training caches it compactly
    and inference hands it straight to the model.
    """
    size = spec.input_size
    batch = np.empty((len(faces), size, size, spec.channels), dtype=np.uint8)
    for i, crop in enumerate(faces):
        face = np.asarray(crop)
        if face.size == 0:
            raise ValueError(f"face crop {i} is empty")
        if face.dtype != np.uint8:
            face = np.clip(face, 0, 255).astype(np.uint8)
        face = _to_channels(face, spec.channels)
        if face.shape[:2] != (size, size):
            face = cv2.resize(face, (size, size), interpolation=_INTERPOLATION[spec.resize])
        batch[i] = face.reshape(size, size, spec.channels)
    return batch


def face_crop_box(
    box: tuple[int, int, int, int], image_width: int, image_height: int, margin: float
) -> tuple[int, int, int, int]:
    """Square crop (x0, y0, x1, y1) around a detector box (x, y, w, h), inside the image.

    The box grows by `margin` of its size on each side and becomes square around its
    centre, as FER2013's faces are; then it is clipped so a crop never leaves the image.
    """
    x, y, w, h = box
    side = max(w, h) * (1.0 + 2.0 * margin)
    cx, cy = x + w / 2.0, y + h / 2.0
    x0 = max(0, int(round(cx - side / 2.0)))
    y0 = max(0, int(round(cy - side / 2.0)))
    x1 = min(image_width, int(round(cx + side / 2.0)))
    y1 = min(image_height, int(round(cy + side / 2.0)))
    if x1 <= x0 or y1 <= y0:
        raise ValueError(f"box {box} lies outside the {image_width}x{image_height} image")
    return x0, y0, x1, y1


def crop_face(image: np.ndarray, box: tuple[int, int, int, int], margin: float) -> np.ndarray:
    """Cut the face of `box` (x, y, w, h) out of `image` (H x W [x C]) with `margin`."""
    height, width = image.shape[:2]
    x0, y0, x1, y1 = face_crop_box(box, width, height, margin)
    return image[y0:y1, x0:x1]


def eye_line_degrees(eyes: Eyes) -> float:
    """Angle of the line from the image-left eye to the image-right eye, in degrees (image
    coordinates, y down: positive when the right eye is lower, as in a head tilted that way)."""
    left_x, left_y, right_x, right_y = eyes
    return math.degrees(math.atan2(right_y - left_y, right_x - left_x))


def upright_angle(eyes: Eyes | None, frame_side: float) -> float:
    """Degrees to rotate a face by (counter-clockwise on screen) to level its eyes; 0 when the
    eyes are unknown, implausibly close, or tilted beyond `MAX_ALIGN_DEGREES`."""
    if eyes is None or not all(math.isfinite(v) for v in eyes):
        return 0.0
    left_x, left_y, right_x, right_y = eyes
    if math.hypot(right_x - left_x, right_y - left_y) < MIN_EYE_DISTANCE * frame_side:
        return 0.0
    angle = eye_line_degrees(eyes)
    return angle if abs(angle) <= MAX_ALIGN_DEGREES else 0.0


def aligned_crop(
    image: np.ndarray,
    box: tuple[int, int, int, int],
    eyes: Eyes | None,
    *,
    margin: float,
    max_side: int,
) -> np.ndarray:
    """The square frame of `box` (grown by `margin`), rotated about its centre so the eyes
    lie level, at most `max_side` px. Parts of the frame outside the image repeat its edge,
    so a face cut by the photo's edge keeps its square shape and size."""
    x, y, w, h = box
    side = max(w, h) * (1.0 + 2.0 * margin)
    if side <= 0:
        raise ValueError(f"box {box} is empty")
    out_side = max(1, min(int(round(side)), max_side))
    centre = (x + w / 2.0, y + h / 2.0)
    matrix = cv2.getRotationMatrix2D(centre, upright_angle(eyes, side), out_side / side)
    matrix[0, 2] += out_side / 2.0 - centre[0]
    matrix[1, 2] += out_side / 2.0 - centre[1]
    crop: np.ndarray = cv2.warpAffine(
        np.ascontiguousarray(image),
        matrix,
        (out_side, out_side),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REPLICATE,
    )
    return crop


def cut_face(
    image: np.ndarray,
    box: tuple[int, int, int, int],
    spec: PreprocessSpec,
    eyes: Eyes | None = None,
) -> np.ndarray:
    """The crop of the face in `box` (x, y, w, h) that `preprocess_faces` turns into the
    model's input: turned upright by `eyes` when `spec.align`, else as `crop_face` cuts it."""
    if not spec.align:
        return crop_face(image, box, spec.crop_margin)
    return aligned_crop(
        image,
        box,
        eyes,
        margin=spec.crop_margin,
        max_side=ALIGN_OVERSAMPLE * spec.input_size,
    )
