"""Synthetic labelled photos and reaction videos: FER2013 faces scaled up and pasted on
cluttered backgrounds.

Real group photos with labelled expressions are scarce; these scenes give known boxes and
labels for the box-mapping tests and the bench's accuracy and recall columns.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
from PIL import Image

from ml import CLASSES
from ml.detection import FaceFraming

MANIFEST_FILE = "scenes.json"
_MILLISECONDS = Fraction(1, 1000)


@dataclass(frozen=True)
class PlacedFace:
    """Where a face was pasted (x, y, w, h) and its FER2013 label."""

    box: tuple[int, int, int, int]
    label: str


def load_fer_faces(
    fer_dir: str | Path, *, prefix: str = "PrivateTest", limit_per_class: int | None = None
) -> list[tuple[np.ndarray, str]]:
    """(48x48 gray face, label) pairs from an unpacked FER2013 image-folder release."""
    faces = []
    for label in CLASSES:
        folder = "train" if prefix == "Training" else "test"
        paths = sorted((Path(fer_dir) / folder / label).glob(f"{prefix}_*.jpg"))
        if not paths:
            paths = sorted((Path(fer_dir) / label).glob(f"{prefix}_*.jpg"))
        for path in paths[:limit_per_class]:
            faces.append((np.asarray(Image.open(path).convert("L")), label))
    return faces


def make_background(height: int, width: int, rng: np.random.Generator) -> np.ndarray:
    """A smooth colour field with blurred noise and a few shapes: texture without faces."""
    corners = rng.integers(30, 226, size=(2, 2, 3)).astype(np.float32)
    background: np.ndarray = cv2.resize(corners, (width, height), interpolation=cv2.INTER_LINEAR)
    noise = rng.normal(0, 25, size=(max(1, height // 8), max(1, width // 8), 3)).astype(np.float32)
    background += cv2.resize(noise, (width, height), interpolation=cv2.INTER_CUBIC)
    for _ in range(int(rng.integers(2, 6))):
        colour = tuple(int(c) for c in rng.integers(0, 256, size=3))
        x0, y0 = int(rng.integers(0, width)), int(rng.integers(0, height))
        x1, y1 = (
            x0 + int(rng.integers(20, width // 2 + 21)),
            y0 + int(rng.integers(20, height // 2 + 21)),
        )
        cv2.rectangle(background, (x0, y0), (x1, y1), colour, thickness=-1)
    return np.clip(background, 0, 255).astype(np.uint8)


def compose_scene(
    faces: list[np.ndarray],
    sizes: list[int],
    *,
    height: int,
    width: int,
    rng: np.random.Generator,
) -> tuple[np.ndarray, list[tuple[int, int, int, int]]]:
    """Paste each face, scaled to its size, at a random place not overlapping the others."""
    scene = make_background(height, width, rng)
    boxes: list[tuple[int, int, int, int]] = []
    for face, size in zip(faces, sizes, strict=True):
        place = _free_place(boxes, size, height=height, width=width, rng=rng)
        if place is None:
            raise ValueError(f"no room for a {size}px face in a {width}x{height} scene")
        _paste(scene, face, place, size)
        boxes.append((*place, size, size))
    return scene, boxes


def _free_place(
    boxes: Sequence[tuple[int, int, int, int]],
    size: int,
    *,
    height: int,
    width: int,
    rng: np.random.Generator,
) -> tuple[int, int] | None:
    """A random (x, y) where a `size` px face stands a quarter of its size clear of `boxes`."""
    for _ in range(200):
        x = int(rng.integers(0, width - size + 1))
        y = int(rng.integers(0, height - size + 1))
        gap = size // 4
        if all(
            x + size + gap <= bx or bx + bw + gap <= x or y + size + gap <= by or by + bh + gap <= y
            for bx, by, bw, bh in boxes
        ):
            return x, y
    return None


def _paste(scene: np.ndarray, face: np.ndarray, place: tuple[int, int], size: int) -> None:
    x, y = place
    scaled = cv2.resize(face, (size, size), interpolation=cv2.INTER_CUBIC)
    scene[y : y + size, x : x + size] = scaled[:, :, None] if scaled.ndim == 2 else scaled


def compose_edge_scene(
    faces: list[np.ndarray],
    *,
    height: int,
    width: int,
    rng: np.random.Generator,
    close_up: bool,
) -> tuple[np.ndarray, list[tuple[int, int, int, int]]]:
    """A scene whose first face the frame cuts: by its left or right edge (25-50% of the face
    outside), or, with `close_up`, a foreground face of 0.8-1.2 times the photo's height cut
    by its bottom and side; the other faces (60-200 px) stand whole where there is room.
    Boxes are the visible part of each face."""
    scene = make_background(height, width, rng)
    first = faces[0]
    if close_up:
        size = int(height * rng.uniform(0.8, 1.2))
        x = -int(size * rng.uniform(0.1, 0.3)) if rng.random() < 0.5 else width - int(size * 0.8)
        y = height - int(size * rng.uniform(0.8, 0.95))
    else:
        size = int(rng.integers(120, max(121, min(300, height // 2))))
        outside = int(size * rng.uniform(0.25, 0.5))
        x = -outside if rng.random() < 0.5 else width - size + outside
        y = int(rng.integers(0, height - size + 1))
    scaled = cv2.resize(first, (size, size), interpolation=cv2.INTER_CUBIC)
    x0, y0, x1, y1 = max(0, x), max(0, y), min(width, x + size), min(height, y + size)
    visible = scaled[y0 - y : y1 - y, x0 - x : x1 - x]
    scene[y0:y1, x0:x1] = visible[:, :, None] if visible.ndim == 2 else visible
    boxes = [(x0, y0, x1 - x0, y1 - y0)]
    for face in faces[1:]:
        size = int(rng.integers(60, 201))
        place = _free_place(boxes, size, height=height, width=width, rng=rng)
        if place is not None:
            _paste(scene, face, place, size)
            boxes.append((*place, size, size))
    return scene, boxes


def write_scenes(
    fer_dir: str | Path,
    out_dir: str | Path,
    *,
    count: int = 120,
    seed: int = 0,
    split: str = "PrivateTest",
    edge: bool = False,
) -> Path:
    """Write `count` JPEG scenes (1 to 4 faces, 60 to 260 px, in 480 to 1600 px photos).

    Faces come from FER2013 `split` (PrivateTest for benches; Training for calibrating
    the face framing without touching test faces), each used once while they last;
    scenes.json lists boxes and labels. With `edge`, every scene's first face is cut by the
    frame (`compose_edge_scene`: half of them at a side, half close-ups in the foreground).
    """
    rng = np.random.default_rng(seed)
    pool = load_fer_faces(fer_dir, prefix=split)
    if not pool:
        raise ValueError(f"no {split} faces under {fer_dir}")
    order = rng.permutation(len(pool))
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    manifest: dict[str, list[dict]] = {}
    used = 0
    for index in range(count):
        n_faces = int(rng.integers(1, 5))
        chosen = [pool[order[(used + i) % len(pool)]] for i in range(n_faces)]
        used += n_faces
        while True:  # a random layout with no room for every face is drawn again
            width = int(rng.integers(480, 1601))
            height = int(width * rng.uniform(0.6, 1.0))
            if edge:
                scene, boxes = compose_edge_scene(
                    [face for face, _ in chosen],
                    height=height,
                    width=width,
                    rng=rng,
                    close_up=index % 2 == 1,
                )
                chosen = chosen[: len(boxes)]
                break
            sizes = [int(rng.integers(60, max(61, min(261, height // 3)))) for _ in chosen]
            try:
                scene, boxes = compose_scene(
                    [face for face, _ in chosen], sizes, height=height, width=width, rng=rng
                )
                break
            except ValueError:
                continue
        name = f"scene_{index:04d}.jpg"
        Image.fromarray(scene).save(out_dir / name, quality=90)
        manifest[name] = [
            asdict(PlacedFace(box=box, label=label))
            for box, (_, label) in zip(boxes, chosen, strict=True)
        ]
    path = out_dir / MANIFEST_FILE
    path.write_text(json.dumps(manifest, indent=1) + "\n")
    return path


def measure_framing(detector, scenes_dir: str | Path) -> tuple[FaceFraming, int, int]:
    """Median mapping from `detector`'s boxes to the pasted FER2013 frames of a scene folder.

    `detector` must return its own box shape (`detection.raw_detector`, not framed).
    Returns the framing and how many pasted faces were matched (each holds the other's
    centre) out of how many.
    """
    folder = Path(scenes_dir)
    truth = json.loads((folder / MANIFEST_FILE).read_text())
    scales, dxs, dys, total = [], [], [], 0
    for name, placed in truth.items():
        rgb = np.asarray(Image.open(folder / name).convert("RGB"))
        found = [face.box for face in detector.detect(rgb)]
        for face in placed:
            total += 1
            frame = face["box"]
            match = next(
                (b for b in found if _holds_centre(frame, b) and _holds_centre(b, frame)), None
            )
            if match is None:
                continue
            side = max(match[2], match[3])
            scales.append(frame[2] / side)
            dxs.append((frame[0] + frame[2] / 2 - match[0] - match[2] / 2) / side)
            dys.append((frame[1] + frame[3] / 2 - match[1] - match[3] / 2) / side)
    if not scales:
        raise ValueError(f"{detector.name} matched none of the {total} faces in {folder}")
    framing = FaceFraming(
        scale=round(float(np.median(scales)), 3),
        dx=round(float(np.median(dxs)), 3),
        dy=round(float(np.median(dys)), 3),
    )
    return framing, len(scales), total


def boxes_match(box, other) -> bool:
    """True when two (x, y, w, h) boxes each hold the other's centre: the same face."""
    return _holds_centre(box, other) and _holds_centre(other, box)


def _holds_centre(box, other) -> bool:
    x, y, w, h = box
    cx, cy = other[0] + other[2] / 2, other[1] + other[3] / 2
    return x <= cx <= x + w and y <= cy <= y + h


def video_bytes(
    frame_at: Callable[[float], np.ndarray],
    *,
    seconds: float | None = None,
    fps: int = 10,
    times: Sequence[float] | None = None,
    container: str = "mp4",
    codec: str = "mpeg4",
) -> bytes:
    """A video whose frame at time t is `frame_at(t)` (RGB uint8, even width and height): at
    `fps` for `seconds`, or at the given `times` (a variable frame rate)."""
    if times is None:
        if seconds is None:
            raise ValueError("give seconds or times")
        times = [k / fps for k in range(int(round(seconds * fps)))]
    buffer = io.BytesIO()
    output = av.open(buffer, mode="w", format=container)
    first = frame_at(0.0)
    stream = output.add_stream(codec, rate=fps)
    assert isinstance(stream, av.VideoStream)  # noqa: S101  narrows the type for mypy
    stream.width, stream.height = first.shape[1], first.shape[0]
    stream.pix_fmt = "yuv420p"
    stream.codec_context.time_base = _MILLISECONDS
    for t in times:
        frame = av.VideoFrame.from_ndarray(frame_at(t), format="rgb24")
        frame.pts, frame.time_base = int(round(t * 1000)), _MILLISECONDS
        for packet in stream.encode(frame):
            output.mux(packet)
    for packet in stream.encode():
        output.mux(packet)
    output.close()
    return buffer.getvalue()
