"""Throughput and accuracy of the pipeline on a folder of photos, beside the `fer` package.

    python -m benchmarks.pipeline --images DIR [--detector NAME|all] [--model DIR]
                              [--peer-python /path/to/fer-venv/bin/python]
                              [--faces FER_DIR] [--chunk 32] [--limit N] [--mesh both|on|off]
    python -m benchmarks.pipeline --make-scenes OUT --fer-dir FER_DIR [--count 120]
                              [--scene-split Training] [--seed S] [--edge-scenes]
    python -m benchmarks.pipeline --calibrate-framing --images SCENES

A `scenes.json` beside the photos (written by --make-scenes) adds face recall and
expression accuracy against the pasted FER2013 PrivateTest faces. --calibrate-framing
measures each detector's FaceFraming on scenes of Training faces. `--faces` compares the
classifiers alone on FER2013 PrivateTest crops. Each detector runs with the face mesh and
irises (head pose, eyes, gaze, quality: `ml.attention`) and without, unless --mesh picks one.
Timings are wall-clock on this machine.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np

from inference.api import StageTimings, analyze_images
from inference.classifier import (
    BACKENDS,
    DEFAULT_BATCH_SIZE,
    DEFAULT_MODEL_DIR,
    EmotionClassifier,
)
from inference.peer import Row, run_peer
from inference.scenes import (
    MANIFEST_FILE,
    boxes_match,
    load_fer_faces,
    measure_framing,
    write_scenes,
)
from ml.detection import (
    DEFAULT_DETECTOR,
    DETECTOR_NAMES,
    FRAMINGS,
    TiledDetector,
    get_detector,
    raw_detector,
)
from ml.precision import PRECISIONS

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff"}


def list_images(folder: Path, limit: int | None) -> list[Path]:
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    return files[:limit] if limit else files


def score_against_truth(
    predictions: dict[str, list[tuple[list[int], str]]], truth: dict[str, list[dict]]
) -> tuple[float, float]:
    """(recall, accuracy) over the true faces: a face counts as found when its box and a
    detected box contain each other's centre; accuracy counts a missed face as wrong."""
    found = correct = total = 0
    for name, faces in truth.items():
        detected = predictions.get(name, [])
        for face in faces:
            total += 1
            match = next(
                (label for box, label in detected if boxes_match(box, face["box"])),
                None,
            )
            found += match is not None
            correct += match == face["label"]
    return (found / total, correct / total) if total else (float("nan"), float("nan"))


def run_ours(
    files: list[Path],
    *,
    detector: str,
    classifier: EmotionClassifier,
    chunk: int,
    attention: bool = True,
) -> tuple[Row, dict[str, list[tuple[list[int], str]]]]:
    """The pipeline end to end, with or without the face mesh and irises (`ml.attention`)."""
    # warm-up
    analyze_images(files[:1], detector=detector, classifier=classifier, attention=attention)
    timings = StageTimings()
    predictions = {}
    with_face = 0
    started = time.perf_counter()
    for start in range(0, len(files), chunk):
        for path, result in zip(
            files[start : start + chunk],
            analyze_images(
                files[start : start + chunk],
                detector=detector,
                classifier=classifier,
                timings=timings,
                attention=attention,
            ),
            strict=True,
        ):
            predictions[path.name] = [(list(face.box), face.label) for face in result.faces]
            with_face += bool(result.faces)
    seconds = time.perf_counter() - started
    n = max(1, len(files))
    row = Row(
        system=(
            f"ours ({detector}, {classifier.backend} {classifier.precision}"
            f"{', mesh' if attention else ', no mesh'})"
        ),
        photos=len(files),
        faces=timings.faces,
        seconds=seconds,
        decode_ms=1000 * timings.decode / n,
        detect_ms=1000 * timings.detect / n,
        classify_ms=1000 * timings.classify / n,
        mesh_ms=1000 * timings.attention / n,
        with_face=with_face / n,
    )
    return row, predictions


def print_table(rows: list[Row], *, title: str) -> None:
    def fmt(value: float | None, spec: str) -> str:
        return "-" if value is None or math.isnan(value) else format(value, spec)

    print(f"\n{title}")
    header = (
        f"{'system':<34} {'photos':>6} {'faces':>6} {'photos/s':>9} {'faces/s':>8} "
        f"{'decode ms':>9} {'detect ms':>9} {'mesh ms':>7} {'classify ms':>11} {'>=1 face':>8} "
        f"{'recall':>7} {'accuracy':>8}"
    )
    print(header)
    print("-" * len(header))
    for row in rows:
        print(
            f"{row.system:<34} {row.photos:>6} {row.faces:>6} "
            f"{fmt(row.photos / row.seconds if row.seconds else None, '9.1f')} "
            f"{fmt(row.faces / row.seconds if row.seconds else None, '8.1f')} "
            f"{fmt(row.decode_ms, '9.1f')} {fmt(row.detect_ms, '9.1f')} "
            f"{fmt(row.mesh_ms, '7.1f')} "
            f"{fmt(row.classify_ms, '11.1f')} {fmt(row.with_face, '8.1%')} "
            f"{fmt(row.recall, '7.1%')} {fmt(row.accuracy, '8.1%')}"
        )


def compare_classifiers(
    fer_dir: Path, classifier: EmotionClassifier, peer_python: str | None, limit: int | None
) -> None:
    """Both classifiers alone on FER2013 PrivateTest 48x48 crops: faces/s and accuracy."""
    pairs = load_fer_faces(fer_dir, limit_per_class=limit)
    crops = [face for face, _ in pairs]
    labels = np.array([label for _, label in pairs])
    classifier.predict_faces(crops[:64])
    started = time.perf_counter()
    probabilities = classifier.predict_faces(crops)
    seconds = time.perf_counter() - started
    predicted = np.array(classifier.classes)[probabilities.argmax(axis=1)]
    rows = [
        Row(
            system=(
                f"ours {classifier.name} ({classifier.backend} {classifier.precision}, "
                f"batch {classifier.batch_size})"
            ),
            photos=len(crops),
            faces=len(crops),
            seconds=seconds,
            accuracy=float((predicted == labels).mean()),
        )
    ]
    if peer_python:
        paths = []
        for label in classifier.classes:
            folder = fer_dir / "test" / label
            paths += sorted(folder.glob("PrivateTest_*.jpg"))[:limit]
        row, predictions = run_peer(paths, peer_python=peer_python, mode="faces")
        peer_labels = [predictions[p.name][0][1] if predictions[p.name] else "" for p in paths]
        row.accuracy = float(
            (np.array(peer_labels) == np.array([p.parent.name for p in paths])).mean()
        )
        row.decode_ms = row.detect_ms = row.with_face = None
        row.system = "fer 25.10.3 (classifier only)"
        rows.append(row)
    print_table(rows, title="Classifier alone on FER2013 PrivateTest crops (photos = faces)")


def calibrate_framing(scenes: Path) -> None:
    """Print each base detector's measured FaceFraming, for detection.FRAMINGS."""
    print(f"Framing measured on {scenes} (raw detector box -> pasted FER2013 frame)")
    print(f"{'detector':18s} {'matched':>9s} {'scale':>7s} {'dx':>7s} {'dy':>7s}")
    for name in FRAMINGS:
        detector = raw_detector(name)
        if name != "haar":
            # Tiled, as the default detector runs it: more faces found, the same box shape.
            detector = TiledDetector(name, detector)
        framing, matched, total = measure_framing(detector, scenes)
        print(
            f"{name:18s} {matched:>4d}/{total:<4d} {framing.scale:7.3f} "
            f"{framing.dx:7.3f} {framing.dy:7.3f}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.pipeline", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--images", type=Path, help="folder of photos (searched recursively)")
    parser.add_argument(
        "--detector", default=DEFAULT_DETECTOR, help=f"{', '.join(DETECTOR_NAMES)} or all"
    )
    parser.add_argument(
        "--model", type=Path, default=DEFAULT_MODEL_DIR, help="model artifact folder"
    )
    parser.add_argument("--backend", choices=BACKENDS, default="auto")
    parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE)
    parser.add_argument("--precision", choices=PRECISIONS, default="auto")
    parser.add_argument("--chunk", type=int, default=32, help="photos per analyze_images call")
    parser.add_argument("--limit", type=int, help="at most this many photos (or faces per class)")
    parser.add_argument("--peer-python", help="python of a virtualenv with `fer` installed")
    parser.add_argument(
        "--mesh",
        choices=("both", "on", "off"),
        default="both",
        help="run the face mesh and irises (attention): with and without by default",
    )
    parser.add_argument(
        "--faces", type=Path, help="unpacked FER2013 folder: classifier-only comparison"
    )
    parser.add_argument(
        "--make-scenes", type=Path, help="write synthetic labelled scenes here and exit"
    )
    parser.add_argument("--fer-dir", type=Path, help="unpacked FER2013 folder for --make-scenes")
    parser.add_argument("--count", type=int, default=120, help="scenes to write")
    parser.add_argument(
        "--scene-split",
        default="PrivateTest",
        choices=("PrivateTest", "PublicTest", "Training"),
        help="FER2013 split whose faces --make-scenes pastes",
    )
    parser.add_argument("--seed", type=int, default=0, help="layout seed for --make-scenes")
    parser.add_argument(
        "--edge-scenes",
        action="store_true",
        help="--make-scenes: cut each scene's first face by the frame (side or close-up)",
    )
    parser.add_argument(
        "--calibrate-framing",
        action="store_true",
        help="measure each base detector's box -> FER2013 frame mapping on --images scenes",
    )
    args = parser.parse_args(argv)

    if args.make_scenes:
        if not args.fer_dir:
            parser.error("--make-scenes needs --fer-dir")
        print(
            write_scenes(
                args.fer_dir,
                args.make_scenes,
                count=args.count,
                seed=args.seed,
                split=args.scene_split,
                edge=args.edge_scenes,
            )
        )
        return 0
    if args.calibrate_framing:
        if not args.images:
            parser.error("--calibrate-framing needs --images SCENES (from --make-scenes)")
        calibrate_framing(args.images)
        return 0
    if not args.images and not args.faces:
        parser.error("give --images DIR and/or --faces FER_DIR")

    classifier = EmotionClassifier.load(
        args.model, backend=args.backend, batch_size=args.batch_size, precision=args.precision
    )
    if args.images:
        files = list_images(args.images, args.limit)
        if not files:
            parser.error(f"no images under {args.images}")
        manifest = args.images / MANIFEST_FILE
        truth = json.loads(manifest.read_text()) if manifest.is_file() else None
        if truth is not None:
            truth = {
                name: faces for name, faces in truth.items() if name in {p.name for p in files}
            }
        detectors = DETECTOR_NAMES if args.detector == "all" else (args.detector,)
        rows = []
        for name in detectors:
            get_detector(name)
            for attention in (True, False) if args.mesh == "both" else (args.mesh == "on",):
                row, predictions = run_ours(
                    files,
                    detector=name,
                    classifier=classifier,
                    chunk=args.chunk,
                    attention=attention,
                )
                if truth:
                    row.recall, row.accuracy = score_against_truth(predictions, truth)
                rows.append(row)
        if args.peer_python:
            row, predictions = run_peer(files, peer_python=args.peer_python, mode="photos")
            if truth:
                row.recall, row.accuracy = score_against_truth(predictions, truth)
            rows.append(row)
        print_table(
            rows, title=f"End to end on {len(files)} photos in {args.images} (ms are per photo)"
        )
    if args.faces:
        compare_classifiers(args.faces, classifier, args.peer_python, args.limit)
    return 0


if __name__ == "__main__":
    sys.exit(main())
