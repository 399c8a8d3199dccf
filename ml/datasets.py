"""Load FER datasets into cached uint8 arrays: the FER2013 CSV, image folders, or their .tar.gz.

Forms read:
- FER2013 CSV (`emotion,pixels,Usage`): labels 0 angry, 1 disgust, 2 fear, 3 happy, 4 sad,
  5 surprise, 6 neutral, mapped explicitly to the canonical order of `ml.CLASSES`.
- Folders `<split>/<class>/*.jpg|png` (or a .tar/.tar.gz of them): the FER2013 image release,
  where the file-name prefix (Training_, PublicTest_, PrivateTest_) carries the official split,
  and MMAFEDB-style train/valid/test folders, RGB or gray, any size.

Splits are named `train`, `valid` and `test`; FER2013's Training / PublicTest / PrivateTest and
the folder names val/validation are accepted as aliases.

With a spec that aligns (`PreprocessSpec.align`), every face crop is turned upright by its eyes
as serving turns detected faces, and `extra_train` photo folders (`<class>/<image>`, such as
DiffusionFER) join the training split through serving's own detect-align-crop path.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import logging
import os
import tarfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, TypeAlias

import numpy as np
from PIL import Image, UnidentifiedImageError

from ml import CLASSES
from ml.detection import eyes_in_face_crop, largest_face
from ml.preprocessing import Eyes, PreprocessSpec, cut_face, preprocess_faces

logger = logging.getLogger(__name__)

# One decoded image as the readers collect it: (pixels, class name, where it came from).
Row: TypeAlias = tuple[np.ndarray, str, str]

SPLITS: tuple[str, ...] = ("train", "valid", "test")
SPLIT_ALIASES = {
    "train": "train",
    "training": "train",
    "valid": "valid",
    "val": "valid",
    "validation": "valid",
    "publictest": "valid",
    "test": "test",
    "privatetest": "test",
}
# FER2013 CSV label -> canonical class name (the CSV orders sad, surprise, neutral differently).
FER2013_CSV_LABELS = {
    0: "angry",
    1: "disgust",
    2: "fear",
    3: "happy",
    4: "sad",
    5: "surprise",
    6: "neutral",
}
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp"}
FER_PIXELS = 48 * 48

# Colour-to-gray conversions a real photo may have gone through before it reached us (BT.601
# luma, which serving uses; BT.709 luma; the plain mean): a colour training photo is turned to
# gray by several, so the network does not learn one camera's gray.
GRAY_WEIGHTS: tuple[tuple[float, float, float], ...] = (
    (0.299, 0.587, 0.114),
    (0.2126, 0.7152, 0.0722),
    (1 / 3, 1 / 3, 1 / 3),
)


@dataclass(frozen=True)
class FaceLocator:
    """What training asks of serving's detector: the eyes of a face crop (to align it) and
    the framed largest face of a photo, box (x, y, w, h) and eyes. `default_face_locator`
    builds it from `ml.detection`, the serving detector, so training and serving find faces
    alike."""

    eyes_in_crop: Callable[[np.ndarray], Eyes | None]
    face_in_photo: Callable[[np.ndarray], tuple[tuple[int, int, int, int], Eyes | None] | None]


def default_face_locator() -> FaceLocator:
    """The locator built on the serving detector (BlazeFace)."""

    def face_in_photo(rgb: np.ndarray) -> tuple[tuple[int, int, int, int], Eyes | None] | None:
        face = largest_face(rgb)
        return None if face is None else (face.box, face.eyes)

    return FaceLocator(eyes_in_crop=eyes_in_face_crop, face_in_photo=face_in_photo)


def data_dir() -> Path:
    """The shared datasets' folder: `FER_DATA_DIR` (a relative one from the checkout's root, as
    the settings read it), by default `../shared/datasets` beside the checkout."""
    root = Path(__file__).resolve().parents[1]
    value = os.environ.get("FER_DATA_DIR")
    path = Path(value) if value else root.parent / "shared" / "datasets"
    return path if path.is_absolute() else (root / path).resolve()


def recorded_path(path: str | Path) -> str:
    """A dataset's path as an artifact records it: relative to `data_dir()` when it lies there
    (`fer2013.tar.gz`, `real-photos-dev/manifest.csv`), else its name alone. Never the folders
    of the machine that trained or measured the model; the fingerprint says which data it was."""
    resolved = Path(path).resolve()
    try:
        return resolved.relative_to(data_dir()).as_posix()
    except ValueError:
        return resolved.name


def recorded_path_found(recorded: str) -> Path:
    """The folder or file a recorded path names on this machine: under `data_dir()`, or as
    written (an absolute path, or one relative to the working folder, of older artifacts)."""
    for candidate in (data_dir() / recorded, Path(recorded)):
        if candidate.exists():
            return candidate
    raise DatasetError(
        f"{recorded} is not in the data folder {data_dir()}: set FER_DATA_DIR to the folder "
        "that holds it"
    )


class DatasetError(ValueError):
    """The dataset cannot be read as asked (bad layout, bad rows, empty split)."""


def canonical_split(name: str) -> str:
    try:
        return SPLIT_ALIASES[name.strip().lower()]
    except KeyError:
        raise DatasetError(
            f"unknown split {name!r}: use one of train/valid/test "
            "(or Training/PublicTest/PrivateTest)"
        ) from None


@dataclass
class SplitData:
    images: np.ndarray  # uint8 (N, S, S, C)
    labels: np.ndarray  # int64 (N,), indices into CLASSES
    sources: list[str]

    def __len__(self) -> int:
        return len(self.labels)

    def class_counts(self) -> dict[str, int]:
        counts = np.bincount(self.labels, minlength=len(CLASSES))
        return {name: int(counts[i]) for i, name in enumerate(CLASSES)}

    def select(self, keep: np.ndarray) -> SplitData:
        return SplitData(
            self.images[keep],
            self.labels[keep],
            [s for s, k in zip(self.sources, keep, strict=True) if k],
        )


@dataclass
class DuplicateReport:
    """Exact duplicates (identical decoded pixels), within and across splits."""

    within: dict[str, int] = field(default_factory=dict)  # extra copies inside each split
    across: dict[str, int] = field(default_factory=dict)  # e.g. "train~test": images shared
    dropped_from_train: int = 0

    @property
    def total_extra_copies(self) -> int:
        return sum(self.within.values()) + sum(self.across.values())


@dataclass
class Dataset:
    splits: dict[str, SplitData]
    spec: PreprocessSpec
    source: str
    unreadable: list[tuple[str, str]] = field(default_factory=list)
    duplicates: DuplicateReport = field(default_factory=DuplicateReport)
    # Photo folders added to the training split: path -> counts (images, faces used, variants).
    extra_train: dict[str, dict[str, Any]] = field(default_factory=dict)

    def split(self, name: str) -> SplitData:
        key = canonical_split(name)
        data = self.splits.get(key)
        if data is None or len(data) == 0:
            raise DatasetError(f"split {name!r} is empty in {self.source}")
        return data

    def fingerprint(self) -> str:
        """sha256 over every split's pixels and labels: identifies the training data exactly."""
        digest = hashlib.sha256()
        for name in SPLITS:
            if name in self.splits:
                digest.update(name.encode())
                digest.update(self.splits[name].images.tobytes())
                digest.update(self.splits[name].labels.astype(np.int64).tobytes())
        return digest.hexdigest()

    def summary(self) -> dict[str, Any]:
        """What model.json records of the data (`training_data`), paths by `recorded_path`."""
        extra_train = {recorded_path(folder): counts for folder, counts in self.extra_train.items()}
        extra = {"extra_train": extra_train} if extra_train else {}
        return {
            "source": recorded_path(self.source),
            **extra,
            "fingerprint": self.fingerprint(),
            "splits": {name: data.class_counts() for name, data in self.splits.items()},
            "sizes": {name: len(data) for name, data in self.splits.items()},
            "unreadable": len(self.unreadable),
            "duplicates": {
                "within_split": self.duplicates.within,
                "across_splits": self.duplicates.across,
                "dropped_from_train": self.duplicates.dropped_from_train,
            },
        }


def add_training_data_arguments(parser: argparse.ArgumentParser) -> None:
    """`--data`, `--align`, `--extra-train`, `--extra-variants` and `--cache-dir`: the faces
    a training run sees, given alike to `ml.train` and to `ml.teacher_faces` (which packs them
    for a GPU teacher), read back by `load_training_data`."""
    parser.add_argument("--data", required=True, help="FER2013 CSV, image folder or .tar.gz")
    parser.add_argument(
        "--align", action="store_true", help="turn faces upright by their eyes (model.json)"
    )
    parser.add_argument(
        "--extra-train",
        action="append",
        default=[],
        metavar="PHOTO_DIR",
        help="<class>/<photo> folder added to the training split (repeatable)",
    )
    parser.add_argument(
        "--extra-variants",
        type=int,
        default=3,
        help="gray conversions of each --extra-train colour photo (default 3)",
    )
    add_cache_dir_argument(parser)


def load_training_data(args: argparse.Namespace) -> Dataset:
    return load_dataset(
        args.data,
        PreprocessSpec(align=args.align),
        cache_dir=args.cache_dir,
        extra_train=args.extra_train,
        extra_variants=args.extra_variants,
    )


# --- readers -------------------------------------------------------------------------------


def _read_csv(
    path: Path, spec: PreprocessSpec
) -> tuple[dict[str, list[Row]], list[tuple[str, str]]]:
    rows: dict[str, list[Row]] = {s: [] for s in SPLITS}
    with path.open(newline="") as handle:
        reader = csv.DictReader(handle)
        missing = {"emotion", "pixels", "Usage"} - set(reader.fieldnames or [])
        if missing:
            raise DatasetError(f"{path}: CSV lacks the column(s) {sorted(missing)}")
        for line_no, row in enumerate(reader, start=2):
            try:
                label = FER2013_CSV_LABELS[int(row["emotion"])]
            except (KeyError, ValueError):
                raise DatasetError(
                    f"{path}:{line_no}: emotion {row['emotion']!r} is not a label 0-6"
                ) from None
            values = row["pixels"].split()
            if len(values) != FER_PIXELS:
                raise DatasetError(
                    f"{path}:{line_no}: pixels has {len(values)} values, expected {FER_PIXELS} "
                    "(48x48)"
                )
            try:
                pixels = np.array(values, dtype=np.int64)
            except ValueError:
                raise DatasetError(f"{path}:{line_no}: pixels are not all integers") from None
            if pixels.min() < 0 or pixels.max() > 255:
                raise DatasetError(f"{path}:{line_no}: pixel values must lie in 0..255")
            split = canonical_split(row["Usage"])
            rows[split].append(
                (pixels.astype(np.uint8).reshape(48, 48), label, f"{path.name}:{line_no}")
            )
    return rows, []


def _split_of(relative: PurePosixPath) -> tuple[str, str]:
    """(split, class name) of `<split>/<class>/<file>`; an official-split file prefix wins."""
    if len(relative.parts) < 3:
        raise DatasetError(f"{relative}: expected <split>/<class>/<image>")
    split_dir, class_dir = relative.parts[-3], relative.parts[-2]
    if class_dir not in CLASSES:
        raise DatasetError(
            f"unknown class folder {class_dir!r} (at {relative}); expected one of {list(CLASSES)}"
        )
    prefix = relative.name.split("_", 1)[0]
    if "_" in relative.name and prefix.lower() in ("training", "publictest", "privatetest"):
        return canonical_split(prefix), class_dir
    return canonical_split(split_dir), class_dir


def _decode(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as image:
        image.load()
        if image.mode not in ("L", "RGB"):
            return np.asarray(image.convert("RGB"))
        return np.asarray(image)


def _iter_folder(root: Path) -> Iterator[tuple[PurePosixPath, bytes | None, str]]:
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for filename in sorted(filenames):
            if filename.startswith("."):
                continue
            full = Path(dirpath) / filename
            yield PurePosixPath(full.relative_to(root).as_posix()), None, str(full)


def _iter_tar(path: Path) -> Iterator[tuple[PurePosixPath, bytes | None, str]]:
    with tarfile.open(path) as archive:
        for member in archive:
            name = PurePosixPath(member.name)
            if not member.isfile() or any(p.startswith(".") for p in name.parts):
                continue
            handle = archive.extractfile(member)
            yield name, handle.read() if handle else b"", f"{path.name}:{member.name}"


def _read_images(
    path: Path, spec: PreprocessSpec
) -> tuple[dict[str, list[Row]], list[tuple[str, str]]]:
    rows: dict[str, list[Row]] = {s: [] for s in SPLITS}
    unreadable: list[tuple[str, str]] = []
    entries: Iterable[tuple[PurePosixPath, bytes | None, str]] = (
        _iter_tar(path) if path.is_file() else _iter_folder(path)
    )
    for relative, data, shown in entries:
        if relative.suffix.lower() not in IMAGE_SUFFIXES:
            continue
        split, label = _split_of(relative)
        try:
            pixels = _decode(data if data is not None else Path(shown).read_bytes())
            face = preprocess_faces([pixels], spec)[0]
        except (UnidentifiedImageError, OSError, ValueError) as exc:
            unreadable.append((shown, str(exc) or type(exc).__name__))
            continue
        rows[split].append((face, label, shown))
    return rows, unreadable


# --- assembly ------------------------------------------------------------------------------


def _to_split(rows: list[Row], spec: PreprocessSpec, locator: FaceLocator | None) -> SplitData:
    shape = (spec.input_size, spec.input_size, spec.channels)
    if not rows:
        return SplitData(np.empty((0, *shape), np.uint8), np.empty((0,), np.int64), [])
    faces = [r[0] for r in rows]
    images = preprocess_faces(faces, spec) if faces[0].shape != shape else np.stack(faces)
    if spec.align:
        images = align_face_crops(images, spec, locator or default_face_locator())
    labels = np.array([CLASSES.index(r[1]) for r in rows], dtype=np.int64)
    return SplitData(images, labels, [r[2] for r in rows])


def align_face_crops(images: np.ndarray, spec: PreprocessSpec, locator: FaceLocator) -> np.ndarray:
    """Face crops (N, S, S, C) whose frame is the whole image, each turned upright by its eyes
    (left as it is where none are found) through `cut_face`, as serving cuts detected faces."""
    aligned = np.empty_like(images)
    found = 0
    side = images.shape[1]
    for index, image in enumerate(images):
        face = image[:, :, 0] if image.shape[2] == 1 else image
        eyes = locator.eyes_in_crop(face)
        found += eyes is not None
        crop = cut_face(face, (0, 0, side, side), spec, eyes)
        aligned[index] = preprocess_faces([crop], spec)[0]
    logger.info("aligned %d faces: eyes found in %d", len(images), found)
    return aligned


def gray_variants(rgb: np.ndarray, count: int, rng: np.random.Generator) -> list[np.ndarray]:
    """`count` gray versions of a colour crop: BT.601 luma first (what serving does), then
    other conversions from `GRAY_WEIGHTS` in random order, then random channel mixes."""
    others = [GRAY_WEIGHTS[i] for i in rng.permutation(np.arange(1, len(GRAY_WEIGHTS)))]
    weights = [GRAY_WEIGHTS[0], *others]
    while len(weights) < count:
        mix = rng.dirichlet((2.0, 2.0, 2.0))
        weights.append((float(mix[0]), float(mix[1]), float(mix[2])))
    pixels = rgb[:, :, :3].astype(np.float32)
    return [
        np.clip(np.rint(pixels @ np.array(w, np.float32)), 0, 255).astype(np.uint8)
        for w in weights[:count]
    ]


def load_face_photos(
    root: Path,
    spec: PreprocessSpec,
    locator: FaceLocator,
    *,
    variants: int = 1,
    seed: int = 0,
) -> tuple[SplitData, dict[str, Any]]:
    """Photos in `<class>/<image>` folders through serving's path (largest face found,
    framed, aligned when the spec says so, cropped), each as `variants` gray conversions
    when the model is gray; photos where no face is found are left out and counted."""
    rng = np.random.default_rng(seed)
    images: list[np.ndarray] = []
    labels: list[int] = []
    sources: list[str] = []
    photos = no_face = 0
    for class_dir in sorted(d for d in root.iterdir() if d.is_dir() and d.name in CLASSES):
        for path in sorted(class_dir.iterdir()):
            if path.suffix.lower() not in IMAGE_SUFFIXES:
                continue
            photos += 1
            rgb = _decode(path.read_bytes())
            if rgb.ndim == 2:
                rgb = np.stack([rgb] * 3, axis=2)
            found = locator.face_in_photo(rgb)
            if found is None:
                no_face += 1
                continue
            crop = cut_face(rgb, found[0], spec, found[1])
            crops = gray_variants(crop, variants, rng) if spec.channels == 1 else [crop]
            images.extend(preprocess_faces(crops, spec))
            labels.extend([CLASSES.index(class_dir.name)] * len(crops))
            sources.extend(f"{path}#{i}" for i in range(len(crops)))
    if not images:
        raise DatasetError(f"{root}: no face found in any <class>/<image> photo")
    data = SplitData(np.stack(images), np.array(labels, dtype=np.int64), sources)
    counts = {
        "photos": photos,
        "no_face": no_face,
        "variants": variants if spec.channels == 1 else 1,
        "images": len(data),
        "classes": data.class_counts(),
    }
    logger.info("%s: %s", root, counts)
    return data, counts


def _hashes(data: SplitData) -> list[bytes]:
    return [hashlib.blake2b(img.tobytes(), digest_size=16).digest() for img in data.images]


def _find_duplicates(splits: dict[str, SplitData], drop_cross_split: bool) -> DuplicateReport:
    report = DuplicateReport()
    hashes = {name: _hashes(data) for name, data in splits.items()}
    for name, values in hashes.items():
        report.within[name] = len(values) - len(set(values))
    names = [n for n in SPLITS if n in splits]
    for i, first in enumerate(names):
        for second in names[i + 1 :]:
            shared = set(hashes[first]) & set(hashes[second])
            report.across[f"{first}~{second}"] = sum(h in shared for h in hashes[second])
    if drop_cross_split and "train" in splits:
        held_out = set().union(*(set(hashes[n]) for n in names if n != "train"))
        keep = np.array([h not in held_out for h in hashes["train"]], dtype=bool)
        report.dropped_from_train = int((~keep).sum())
        if report.dropped_from_train:
            splits["train"] = splits["train"].select(keep)
    return report


def _cache_file(path: Path, spec: PreprocessSpec, cache_dir: Path) -> Path:
    stat = path.stat()
    key = hashlib.sha256(
        f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|{sorted(spec.to_dict().items())}|v1".encode()
    ).hexdigest()[:20]
    return cache_dir / f"{path.name}-{key}.npz"


def add_cache_dir_argument(parser: argparse.ArgumentParser) -> None:
    """`--cache-dir`, defaulting to env FER_CACHE_DIR: decoding FER2013 takes a minute, a
    cached copy a second, and training and ensembling both load it."""
    parser.add_argument(
        "--cache-dir",
        default=os.environ.get("FER_CACHE_DIR"),
        help="cache decoded arrays between runs (env FER_CACHE_DIR)",
    )


def load_dataset(
    path: str | Path,
    spec: PreprocessSpec | None = None,
    *,
    drop_cross_split_duplicates: bool = True,
    cache_dir: str | Path | None = None,
    extra_train: Sequence[str | Path] = (),
    extra_variants: int = 1,
    locator: FaceLocator | None = None,
) -> Dataset:
    """Read a dataset (CSV, folder or tarball) into uint8 arrays at the model's input size.

    Unreadable images are logged with their paths and skipped (`Dataset.unreadable`); exact
    duplicates are counted, and training images that also stand in valid/test are dropped.
    A folder-tree with no images, or a requested split that is empty, raises `DatasetError`.
    `extra_train` photo folders join the training split (`load_face_photos`, each photo as
    `extra_variants` gray conversions); `locator` finds faces for them and for alignment.
    """
    spec = spec or PreprocessSpec()
    path = Path(path)
    if not path.exists():
        raise DatasetError(f"{path} does not exist")
    dataset = _load_base(path, spec, drop_cross_split_duplicates, cache_dir, locator)
    for folder in extra_train:
        extra, counts = load_face_photos(
            Path(folder), spec, locator or default_face_locator(), variants=extra_variants
        )
        train = dataset.splits.get("train")
        if train is not None:
            extra = SplitData(
                np.concatenate([train.images, extra.images]),
                np.concatenate([train.labels, extra.labels]),
                train.sources + extra.sources,
            )
        dataset.splits["train"] = extra
        dataset.extra_train[str(folder)] = counts
    return dataset


def _load_base(
    path: Path,
    spec: PreprocessSpec,
    drop_cross_split_duplicates: bool,
    cache_dir: str | Path | None,
    locator: FaceLocator | None,
) -> Dataset:
    cached = None
    if cache_dir is not None and path.is_file():
        cached = _cache_file(path, spec, Path(cache_dir))
    if cached is not None and cached.is_file():
        return _load_cached(cached, spec, str(path), drop_cross_split_duplicates)

    if path.is_file() and path.suffix.lower() == ".csv":
        rows, unreadable = _read_csv(path, spec)
    elif path.is_dir() or tarfile.is_tarfile(path):
        rows, unreadable = _read_images(path, spec)
    else:
        raise DatasetError(f"{path}: not a FER2013 CSV, an image folder, nor a tar archive")

    for shown, reason in unreadable:
        logger.warning("unreadable image skipped: %s (%s)", shown, reason)
    if unreadable:
        logger.warning("%d unreadable image(s) skipped in %s", len(unreadable), path)
    splits = {name: _to_split(rows[name], spec, locator) for name in SPLITS if rows[name]}
    if not splits:
        raise DatasetError(f"{path}: no images found (expected <split>/<class>/<image> files)")

    if cached is not None:
        cached.parent.mkdir(parents=True, exist_ok=True)
        arrays = {}
        for name, data in splits.items():
            arrays[f"{name}_images"] = data.images
            arrays[f"{name}_labels"] = data.labels
            arrays[f"{name}_sources"] = np.array(data.sources)
        arrays["unreadable"] = np.array([f"{s}\t{r}" for s, r in unreadable])
        tmp = cached.with_suffix(".tmp.npz")
        # allow_pickle is savez's default, named so that mypy matches **arrays to its arrays.
        np.savez(tmp, allow_pickle=True, **arrays)
        tmp.replace(cached)

    duplicates = _find_duplicates(splits, drop_cross_split_duplicates)
    return Dataset(splits, spec, str(path), unreadable, duplicates)


def _load_cached(cached: Path, spec: PreprocessSpec, source: str, drop: bool) -> Dataset:
    with np.load(cached) as arrays:
        splits = {
            name: SplitData(
                arrays[f"{name}_images"],
                arrays[f"{name}_labels"],
                [str(s) for s in arrays[f"{name}_sources"]],
            )
            for name in SPLITS
            if f"{name}_images" in arrays
        }
        unreadable = [tuple(str(u).split("\t", 1)) for u in arrays["unreadable"]]
    duplicates = _find_duplicates(splits, drop)
    return Dataset(splits, spec, source, unreadable, duplicates)  # type: ignore[arg-type]
