"""Faces and expressions of photos on the command line.

    python -m inference.cli.predict IMAGE... [--json] [--model DIR] [--detector NAME]

Exit status 0 when at least one photo was analysed, 1 when every photo failed (each error
is printed), 2 for a usage error or a model that cannot be loaded.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path

from inference.api import (
    DEFAULT_DETECT_MAX_SIDE,
    DEFAULT_MIN_FACE_SIZE,
    ImageResult,
    analyze_images,
)
from inference.classifier import BACKENDS, DEFAULT_MODEL_DIR, EmotionClassifier
from ml.artifact import ArtifactError
from ml.detection import DEFAULT_DETECTOR, DETECTOR_NAMES
from ml.precision import PRECISIONS


def format_result(result: ImageResult) -> str:
    """Human-readable lines for one photo."""
    if result.error:
        return f"{result.source}: ERROR {result.error}"
    lines = [f"{result.source}: {result.width}x{result.height}, {len(result.faces)} face(s)"]
    for number, face in enumerate(result.faces, start=1):
        ranked = sorted(face.probabilities.items(), key=lambda item: -item[1])
        probabilities = " ".join(f"{name} {p:.3f}" for name, p in ranked)
        lines.append(
            f"  face {number}: box x={face.x} y={face.y} w={face.w} h={face.h} "
            f"score {face.score:.2f} -> {face.label}  ({probabilities})"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m inference.cli.predict", description="Detect faces and classify expressions."
    )
    parser.add_argument("images", nargs="+", type=Path, help="photo files")
    parser.add_argument("--json", action="store_true", help="print one JSON list of results")
    parser.add_argument(
        "--model", type=Path, default=DEFAULT_MODEL_DIR, help="model artifact folder"
    )
    parser.add_argument("--detector", default=DEFAULT_DETECTOR, choices=DETECTOR_NAMES)
    parser.add_argument("--backend", default="auto", choices=BACKENDS)
    parser.add_argument("--precision", default="auto", choices=PRECISIONS)
    parser.add_argument("--max-side", type=int, default=DEFAULT_DETECT_MAX_SIDE)
    parser.add_argument("--min-face", type=int, default=DEFAULT_MIN_FACE_SIZE)
    args = parser.parse_args(argv)

    try:
        classifier = EmotionClassifier.load(
            args.model, backend=args.backend, precision=args.precision
        )
    except (ArtifactError, OSError) as exc:
        print(f"cannot load the model: {exc}", file=sys.stderr)
        return 2
    results = analyze_images(
        args.images,
        detector=args.detector,
        classifier=classifier,
        detect_max_side=args.max_side,
        min_face_size=args.min_face,
    )
    if args.json:
        print(json.dumps([asdict(result) for result in results], indent=2))
    else:
        print("\n".join(format_result(result) for result in results))
    return 0 if any(result.ok for result in results) else 1


if __name__ == "__main__":
    sys.exit(main())
