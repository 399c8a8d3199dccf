"""A large teacher network trained with PyTorch on a lent GPU, to be distilled on CPU into
the served `cpu-small` networks (`ml.cli.train --teacher <teacher_probabilities.npz>`).

The GPU machine has PyTorch but not TensorFlow, cannot reach ../shared, holds a session for
about 15 minutes and gives back files of at most 16 MiB. So this module imports only numpy
and torch (nothing else of `ml`), trains on the faces `ml.teacher_faces` packed here (the
student's exact training data, fingerprint included), stops on a time budget, keeps the
best PublicTest checkpoint on disk as it goes (float16, in parts of at most 15 MiB), and
gives back what distillation needs: the teacher's probabilities on every packed face.

    python -m ml.cli.gpu_teacher train --faces var/gpu/faces.npz --out OUT --minutes 8
    python -m ml.cli.gpu_teacher predict --teacher OUT --faces FACES.npz --out probs.npz
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from ml.gpu_teacher import (
    PART_BYTES,
    PROBABILITIES_FILE,
    TeacherConfig,
    load_faces,
    train_teacher,
    write_probabilities,
)

logger = logging.getLogger(__name__)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    fit = commands.add_parser("train", help="train a teacher and write its probabilities")
    fit.add_argument("--faces", required=True, help="the .npz that ml.teacher_faces packed")
    fit.add_argument("--out", required=True, help="folder for weights, teacher.json, probabilities")
    fit.add_argument("--minutes", type=float, default=TeacherConfig.minutes, help="time budget")
    fit.add_argument("--max-epochs", type=int, default=TeacherConfig.max_epochs)
    fit.add_argument("--widths", default="64,128,256,512", help="channels per stage")
    fit.add_argument("--batch-size", type=int, default=TeacherConfig.batch_size)
    fit.add_argument("--learning-rate", type=float, default=TeacherConfig.learning_rate)
    fit.add_argument("--seed", type=int, default=1)
    fit.add_argument("--device", default="auto", help="auto (CUDA when present), cuda or cpu")
    fit.add_argument("--steps-per-epoch", type=int, help="fewer steps, for smoke runs")
    fit.add_argument("--part-bytes", type=int, default=PART_BYTES, help="largest weights file")
    again = commands.add_parser("predict", help="a trained teacher's probabilities on faces")
    again.add_argument("--teacher", required=True, help="folder that `train` wrote")
    again.add_argument("--faces", required=True)
    again.add_argument("--out", required=True, help="the .npz to write")
    again.add_argument("--device", default="auto")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")

    faces = load_faces(
        Path(args.faces), required=() if args.command == "predict" else ("train", "valid")
    )
    if args.command == "predict":
        accuracies = write_probabilities(Path(args.teacher), faces, Path(args.out), args.device)
        logger.info("accuracy: %s", json.dumps(accuracies))
        return 0
    config = TeacherConfig(
        widths=tuple(int(w) for w in args.widths.split(",")),
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        max_epochs=args.max_epochs,
        minutes=args.minutes,
    )
    out = Path(args.out)
    meta = train_teacher(
        faces,
        config,
        out,
        seed=args.seed,
        device_name=args.device,
        steps_per_epoch=args.steps_per_epoch,
        part_bytes=args.part_bytes,
    )
    accuracies = write_probabilities(out, faces, out / PROBABILITIES_FILE, args.device)
    logger.info(
        "best PublicTest %.4f at epoch %d of %d; accuracy on the packed splits: %s",
        meta["best_valid_accuracy"],
        meta["best_epoch"],
        meta["epochs_done"],
        json.dumps(accuracies),
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
