"""Head pose and attention checked against a known answer; prints the errors in degrees.

    python -m benchmarks.attention --faces /work/shared/datasets/london-faces

The London set's faces look straight at the camera, eyes open: each should read as attentive
and near 0 degrees of yaw, pitch and roll. The same faces are then turned by a known angle:

- **roll**: the photo rotated in its plane about the face's centre. The answer is exact.
- **yaw**: the photo seen as a flat card turned about the vertical axis through the face's
  centre, under a pinhole camera whose focal length is the photo's width (a homography).
  A flat picture turned is not a turned head: the nose does not hide the far cheek and the
  ears do not move, so the mesh sees less turn than the card's angle; the figure printed is
  the measured yaw against the card's angle and shows how far that approximation carries.

Prints the attentive share of the untouched faces, their angles' distance from 0, per roll
the median and 90th-percentile error of the measured change, and per card angle the mean
measured change of yaw.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import cv2
import numpy as np

from ml.attention import FaceAttention, face_attention
from ml.detection import DEFAULT_DETECTOR, FaceDetector, get_detector

ROLLS = (-45.0, -30.0, -15.0, 15.0, 30.0, 45.0)
YAWS = (-40.0, -20.0, 20.0, 40.0)

Warp = Callable[[np.ndarray, float], np.ndarray]


def rotate_in_plane(rgb: np.ndarray, degrees: float) -> np.ndarray:
    """The photo turned `degrees` clockwise about its centre (the face's roll grows by it)."""
    height, width = rgb.shape[:2]
    matrix = cv2.getRotationMatrix2D((width / 2, height / 2), -degrees, 1.0)
    return cv2.warpAffine(rgb, matrix, (width, height), borderMode=cv2.BORDER_REPLICATE)


def turn_card(rgb: np.ndarray, degrees: float) -> np.ndarray:
    """The photo as a flat card turned `degrees` about its vertical centre line (positive:
    its right half goes away from the camera), seen by a pinhole camera of focal = width."""
    height, width = rgb.shape[:2]
    focal = float(width)
    theta = math.radians(degrees)
    corners = np.array([[0, 0], [width, 0], [width, height], [0, height]], dtype=np.float64)
    x, y = corners[:, 0] - width / 2, corners[:, 1] - height / 2
    depth = focal + x * math.sin(theta)
    projected = np.stack(
        [focal * x * math.cos(theta) / depth + width / 2, focal * y / depth + height / 2], axis=1
    )
    homography = cv2.getPerspectiveTransform(
        corners.astype(np.float32), projected.astype(np.float32)
    )
    return cv2.warpPerspective(rgb, homography, (width, height), borderMode=cv2.BORDER_REPLICATE)


def measure(rgb: np.ndarray, detector: FaceDetector) -> FaceAttention | None:
    """The largest face's attention, or None when no face is found."""
    faces = detector.detect(rgb)
    if not faces:
        return None
    face = max(faces, key=lambda found: found.box[2] * found.box[3])
    return face_attention(rgb, face.box, face.eyes)


def _load(paths: Sequence[Path]) -> list[np.ndarray]:
    photos = []
    for path in paths:
        bgr = cv2.imread(str(path))
        if bgr is not None:
            photos.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    return photos


def _changes(
    photos: Sequence[np.ndarray],
    *,
    detector: FaceDetector,
    warp: Warp,
    angle: float,
    axis: str,
    base: Sequence[FaceAttention | None],
) -> list[float]:
    """The measured change of `axis` per face found both before and after the warp."""
    changes = []
    for photo, before in zip(photos, base, strict=True):
        after = measure(warp(photo, angle), detector)
        if before is not None and after is not None:
            changes.append(getattr(after, axis) - getattr(before, axis))
    return changes


def _line(name: str, values: Sequence[float], found: int) -> str:
    if not values:
        return f"{name:>24}: no face found"
    median, p90 = np.percentile(values, [50, 90])
    return f"{name:>24}: median {median:5.1f} deg, 90th pct {p90:5.1f} deg ({found} faces)"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--faces", type=Path, required=True, help="the London set's folder")
    parser.add_argument("--limit", type=int, default=0, help="at most this many photos")
    parser.add_argument("--detector", default=DEFAULT_DETECTOR)
    args = parser.parse_args(argv)
    paths = sorted(args.faces.glob("*/*.jpg"))
    if args.limit:
        paths = paths[: args.limit]
    photos = _load(paths)
    detector = get_detector(args.detector)
    base = [measure(photo, detector) for photo in photos]
    found = [face for face in base if face is not None]
    attentive = sum(face.attentive for face in found)
    print(f"frontal faces: {len(photos)} photos, a face found in {len(found)}")
    print(
        f"attentive: {attentive}/{len(found)} = {attentive / max(1, len(found)):.1%} "
        f"(|yaw| <= 30, |pitch| <= 25, eyes open)"
    )
    for axis in ("yaw", "pitch", "roll"):
        print(_line(f"{axis} at 0", [abs(getattr(face, axis)) for face in found], len(found)))
    for angle in ROLLS:
        changes = _changes(
            photos, detector=detector, warp=rotate_in_plane, angle=angle, axis="roll", base=base
        )
        errors = [abs(change - angle) for change in changes]
        print(_line(f"roll {angle:+.0f} error (exact)", errors, len(errors)))
    for angle in YAWS:
        changes = _changes(
            photos, detector=detector, warp=turn_card, angle=angle, axis="yaw", base=base
        )
        mean = float(np.mean(changes)) if changes else float("nan")
        print(f"{'yaw ' + format(angle, '+.0f') + ' (flat card)':>24}: mean change {mean:+.1f} deg")
    return 0


if __name__ == "__main__":
    sys.exit(main())
