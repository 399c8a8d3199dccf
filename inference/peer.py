"""The `fer` package (pip install fer) run beside ours on the same photos, in its own
interpreter (it needs a TensorFlow of its own): `inference/cli/fer_peer.py` is the script it
runs, reading the photos' paths as JSON on stdin and writing its faces as JSON."""

from __future__ import annotations

import json
import logging
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

PEER_SCRIPT = Path(__file__).resolve().parent / "cli" / "fer_peer.py"


@dataclass
class Row:
    """One line of the results table."""

    system: str
    photos: int
    faces: int
    seconds: float
    decode_ms: float | None = None
    detect_ms: float | None = None
    classify_ms: float | None = None
    mesh_ms: float | None = None
    with_face: float | None = None
    recall: float | None = None
    accuracy: float | None = None


def run_peer(
    files: list[Path], *, peer_python: str, mode: str
) -> tuple[Row, dict[str, list[tuple[list[int], str]]]]:
    request = json.dumps({"mode": mode, "images": [str(p) for p in files]})
    started = time.perf_counter()
    completed = subprocess.run(  # noqa: S603  the operator's peer Python, our own script
        # -P: the script's own folder must not shadow the standard library on the peer's path
        # (a module of ours named as one of its own would hide it).
        [peer_python, "-P", str(PEER_SCRIPT)],
        input=request,
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - started
    if completed.returncode != 0:
        raise RuntimeError(f"the fer peer failed:\n{completed.stderr[-3000:]}")
    report = json.loads(completed.stdout)
    predictions = {
        Path(r["source"]).name: [(face["box"], face["label"]) for face in r["faces"]]
        for r in report["results"]
    }
    n = max(1, len(files))
    row = Row(
        system="fer 25.10.3 (Haar)",
        photos=len(files),
        faces=sum(len(r["faces"]) for r in report["results"]),
        seconds=report["decode_s"] + report["analyse_s"],
        decode_ms=1000 * report["decode_s"] / n,
        with_face=sum(bool(r["faces"]) for r in report["results"]) / n,
    )
    row.detect_ms = 1000 * report["analyse_s"] / n  # fer detects and classifies in one call
    logger.info("fer peer subprocess: %.1f s wall including its TensorFlow start-up", wall)
    return row, predictions
