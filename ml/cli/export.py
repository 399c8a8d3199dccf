"""Export an artifact's Keras model to TFLite for CPU serving, and measure both.

    python -m ml.cli.export --model DIR [--faces 2048] [--batch 256] [--check-only]
        [--reference DIR]

Prints faces/s of the Keras model in float32 and in bfloat16 (`ml.precision`: what workers
serve on CPUs with native bfloat16) and of TFLite, and writes DIR/model.tflite (unless
--check-only) only if it predicts the same classes as the Keras model on the sample (it must:
same weights, float32). `--reference` also measures another artifact's Keras model in the
same run: this CPU's speed varies between sessions, so the ratio of the two compares across
sessions where faces/s do not.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from ml.artifact import TFLITE_FILE, load_keras_model
from ml.export import convert_to_tflite, keras_faces_per_second, tflite_faces_per_second
from ml.precision import with_precision


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", required=True, help="artifact folder")
    parser.add_argument("--faces", type=int, default=2048)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--check-only", action="store_true", help="measure, write nothing")
    parser.add_argument("--reference", help="artifact folder measured beside it, for a ratio")
    args = parser.parse_args(argv)

    model, meta = load_keras_model(args.model)
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (args.faces, *meta.input_shape), dtype=np.uint8)
    content = convert_to_tflite(model)
    keras_rate, keras_out = keras_faces_per_second(model, images, args.batch)
    bf16_rate, bf16_out = keras_faces_per_second(
        with_precision(model, "bfloat16"), images, args.batch
    )
    lite_rate, lite_out = tflite_faces_per_second(content, images, args.batch)
    agreement = float((keras_out.argmax(1) == lite_out.argmax(1)).mean())
    max_diff = float(np.abs(keras_out - lite_out).max())
    print(
        f"{'runtime':8s} {'precision':9s} {'faces/s':>9s}  (batch {args.batch}, {args.faces} faces)"
    )
    print(f"{'keras':8s} {'float32':9s} {keras_rate:9.0f}")
    print(
        f"{'keras':8s} {'bfloat16':9s} {bf16_rate:9.0f}  label agreement with float32 "
        f"{float((keras_out.argmax(1) == bf16_out.argmax(1)).mean()):.4f}"
    )
    print(f"{'tflite':8s} {'float32':9s} {lite_rate:9.0f}")
    if args.reference:
        reference, reference_meta = load_keras_model(args.reference)
        if reference_meta.input_shape != meta.input_shape:
            parser.error(
                f"--reference takes input {reference_meta.input_shape}, not {meta.input_shape}"
            )
        label = f"{reference_meta.name} {reference_meta.version}"
        for precision, rate in (("float32", keras_rate), ("bfloat16", bf16_rate)):
            reference_rate, _ = keras_faces_per_second(
                with_precision(reference, precision), images, args.batch
            )
            print(f"{'keras':8s} {precision:9s} {reference_rate:9.0f}  reference: {label}")
            print(f"speed {rate / reference_rate:.2f}x the reference's (keras {precision})")
    print(f"tflite label agreement {agreement:.4f}, max probability difference {max_diff:.2e}")
    if agreement < 0.999 or max_diff > 1e-3:
        print("TFLite output differs from Keras: not written", file=sys.stderr)
        return 1
    if args.check_only:
        return 0
    path = Path(args.model) / TFLITE_FILE
    path.write_bytes(content)
    print(f"wrote {path} ({len(content) / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
