"""Train a FER CNN and write its artifact.

    python -m ml.cli.train --data PATH --config NAME --out DIR [--epochs N] [--seed S] [--resume]
        [--init-from ARTIFACT_DIR [--init-member N]] [--learning-rate LR]
        [--teacher ARTIFACT_DIR [--teacher-weight W] [--teacher-temperature T]]
        [--align] [--extra-train PHOTO_DIR [--extra-variants K]]

Checkpoints every epoch (last.keras, with optimizer state, so --resume continues a run cut
off by the end of a session) and keeps the best by validation (PublicTest) accuracy.
--init-from starts a new run from an earlier model's weights with a fresh learning-rate
schedule (a warm restart), so CPU budget spent in one session carries into the next.
--teacher distils a trained model (typically the shipped ensemble) into the network being
trained: its probabilities on the Training faces become part of the target.
--align turns every face upright by its eyes (training and, through model.json, serving);
--extra-train mixes a folder of `<class>/<photo>` (DiffusionFER) into the training split
through serving's detect-align-crop path, each colour photo as K gray conversions.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import math
import shutil
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ml.artifact import epochs_in_history
from ml.datasets import add_training_data_arguments, load_training_data
from ml.distill import describe_teacher_file
from ml.networks import get_config
from ml.packaging import save_artifact
from ml.train import STATE_FILE, describe_source, resumed_settings, train

logger = logging.getLogger(__name__)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_training_data_arguments(parser)
    parser.add_argument("--config", required=True, help="cpu-small, gpu-large or tiny")
    parser.add_argument("--out", required=True, help="run folder; the artifact is written here")
    parser.add_argument("--epochs", type=int, help="defaults to the config's")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--resume", action="store_true", help="continue from out/last.keras")
    parser.add_argument(
        "--init-from", help="start from this artifact's (or .keras file's) weights, fresh schedule"
    )
    parser.add_argument(
        "--init-member", type=int, help="with an ensemble as --init-from: which member (from 1)"
    )
    parser.add_argument(
        "--teacher",
        help="distil this artifact, or a GPU teacher's probabilities file (ml.gpu_teacher), "
        "trained on the same data, into the network",
    )
    parser.add_argument(
        "--teacher-weight",
        type=float,
        default=0.5,
        help="share of each target taken from the teacher (default 0.5)",
    )
    parser.add_argument(
        "--teacher-temperature", type=float, default=1.0, help="softens the teacher (default 1)"
    )
    parser.add_argument("--learning-rate", type=float, help="peak rate; the config's by default")
    parser.add_argument("--patience", type=int, help="early-stopping patience (epochs)")
    parser.add_argument("--steps-per-epoch", type=int, help="fewer steps, for smoke runs")
    parser.add_argument("--name", default="fer-cnn")
    parser.add_argument("--version", default=datetime.now(UTC).strftime("%Y.%m.%d"))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")

    config = get_config(args.config)
    overrides: dict[str, Any] = {}
    if args.init_member and not args.init_from:
        parser.error("--init-member needs --init-from")
    if args.init_from:
        overrides["init_from"] = describe_source(Path(args.init_from), args.init_member)
    if args.teacher:
        teacher_path = Path(args.teacher)
        overrides["teacher"] = (
            describe_teacher_file(teacher_path)
            if teacher_path.is_file()
            else describe_source(teacher_path)
        )
        overrides["teacher_weight"] = args.teacher_weight
        overrides["teacher_temperature"] = args.teacher_temperature
    if args.learning_rate:
        overrides["learning_rate"] = args.learning_rate
    if args.patience:
        overrides["early_stopping_patience"] = args.patience
    config = dataclasses.replace(config, **overrides)
    out = Path(args.out)
    seed, epochs = args.seed, args.epochs
    if args.resume:
        config, seed, epochs = resumed_settings(out, config, seed, epochs)
    epochs = epochs or config.epochs
    dataset = load_training_data(args)
    logger.info("data: %s", json.dumps(dataset.summary()["sizes"]))
    logger.info("duplicates: %s", json.dumps(dataset.summary()["duplicates"]))

    started = time.monotonic()
    best = train(
        dataset=dataset,
        config=config,
        out=out,
        epochs=epochs,
        seed=seed,
        resume=args.resume,
        steps_per_epoch=args.steps_per_epoch,
        init_from=Path(args.init_from) if args.init_from else None,
        init_member=args.init_member,
        teacher=Path(args.teacher) if args.teacher else None,
    )
    elapsed = time.monotonic() - started
    import keras

    meta = save_artifact(
        keras.saving.load_model(best, compile=False),
        dataset=dataset,
        config=config.to_dict(),
        seed=seed,
        out=out,
        name=args.name,
        version=args.version,
        epochs_run=epochs_in_history(out),
        training_seconds=elapsed,
        source=best,
    )
    logger.info(
        "artifact written to %s: accuracy %.4f, macro-F1 %.4f on %s",
        out,
        meta.metrics["accuracy"],
        meta.metrics["macro_f1"],
        meta.metrics["test_split"],
    )
    shutil.copy(out / STATE_FILE, out / "train_state.json")
    return 0 if math.isfinite(meta.metrics["accuracy"]) else 1


if __name__ == "__main__":
    sys.exit(main())
