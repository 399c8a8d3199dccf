#!/usr/bin/env bash
# On a machine with an NVIDIA GPU and the project installed with CUDA (the worker-inference
# image, WITH_CUDA=true, or `pip install -e . 'tensorflow[and-cuda]'`): the classifier's own
# faces/s on the GPU, then `manage.py bench_ingest` through the GPU worker in a few worker
# set-ups while nvidia-smi samples the GPU's utilisation every 200 ms. Everything it measures
# goes under $OUT (default var/gpu-bench); summary.txt has the figures for the README.
#
#   FER_DATA_DIR=/path/to/datasets OUT=/tmp/gpu scripts/gpu_bench.sh
#
# PHOTOS (default 1000) photos per run; CONFIGS lists "pool concurrency feeder-threads" runs.
# A scratch SQLite database and the file-system broker are used unless DATABASE_URL and
# CELERY_BROKER_URL name others.
set -euo pipefail
cd "$(dirname "$0")/.."

OUT="${OUT:-var/gpu-bench}"
PYTHON="${PYTHON:-$(command -v .venv/bin/python || command -v python3)}"
PHOTOS="${PHOTOS:-1000}"
CORES="$(nproc)"
CONFIGS="${CONFIGS:-prefork 1 $CORES;threads 4 $CORES;prefork 4 $((CORES / 4 > 0 ? CORES / 4 : 1))}"
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"

if ! command -v nvidia-smi >/dev/null; then
    echo "nvidia-smi not found: this script measures a machine with an NVIDIA GPU" >&2
    exit 2
fi
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$OUT/gpu.csv"
"$PYTHON" -c 'import tensorflow as tf; print(tf.__version__, tf.config.list_physical_devices("GPU"))' \
    2>/dev/null | tee "$OUT/tensorflow.txt"
grep -q GPU "$OUT/tensorflow.txt" || { echo "TensorFlow sees no GPU (tensorflow[and-cuda]?)" >&2; exit 2; }

export DATABASE_URL="${DATABASE_URL:-sqlite:///$PWD/var/gpu-bench.sqlite3}"
export MEDIA_ROOT="${MEDIA_ROOT:-$PWD/var/gpu-bench-media}"
export MODEL_CACHE_DIR="${MODEL_CACHE_DIR:-$PWD/var/gpu-bench-model-cache}"
export TF_CPP_MIN_LOG_LEVEL=2
"$PYTHON" manage.py migrate -v0
"$PYTHON" manage.py register_model --shipped --activate | tee "$OUT/model.txt"

# The classifier alone on the GPU: what the feeders would have to keep up with.
"$PYTHON" - <<'EOF' 2>&1 | grep -v -E '^(I|W|E)0000|^WARNING' | tee "$OUT/classifier.txt"
import time

import numpy as np

from inference.classifier import EmotionClassifier
from ml import SHIPPED_MODEL_DIR

classifier = EmotionClassifier.load(SHIPPED_MODEL_DIR, precision="auto")
faces = np.random.default_rng(0).integers(0, 256, (4096, 48, 48, 1), dtype=np.uint8)
for size in (1, 8, 64, 256, 1024):
    classifier.predict_preprocessed(faces[: size * 2], batch_size=size)  # warm-up, autotune
    started = time.perf_counter()
    classifier.predict_preprocessed(faces, batch_size=size)
    rate = len(faces) / (time.perf_counter() - started)
    print(f"classifier {classifier.backend} {classifier.precision} batch {size}: {rate:.0f} faces/s")
EOF

nvidia-smi --query-gpu=timestamp,utilization.gpu,utilization.memory,memory.used \
    --format=csv,noheader,nounits -lms 200 >"$OUT/nvidia-smi.csv" &
sampler=$!
trap 'kill "$sampler" 2>/dev/null || true' EXIT

: >"$OUT/windows.txt"
IFS=';' read -ra runs <<<"$CONFIGS"
for config in "${runs[@]}"; do
    read -r pool concurrency threads <<<"$config"
    name="$pool-$concurrency-$threads"
    echo "== bench_ingest --pool $pool --concurrency $concurrency --decode-threads $threads"
    start="$(date +%s.%N)"
    "$PYTHON" manage.py bench_ingest --photos "$PHOTOS" --pool "$pool" \
        --concurrency "$concurrency" --decode-threads "$threads" 2>&1 \
        | grep -v -E '^(I|W|E)0000|INFO' | tee "$OUT/bench-$name.txt"
    echo "$name $start $(date +%s.%N)" >>"$OUT/windows.txt"
    cp "$(ls -t var/bench-worker-*.log | head -1)" "$OUT/worker-$name.log"
done
kill "$sampler" 2>/dev/null || true
sleep 1

# GPU utilisation during each run (its whole window: bare runs, extraction and inference).
"$PYTHON" - "$OUT" <<'EOF' | tee "$OUT/summary.txt"
import datetime as dt
import re
import sys
from pathlib import Path

out = Path(sys.argv[1])
samples = []
for line in (out / "nvidia-smi.csv").read_text().splitlines():
    parts = [p.strip() for p in line.split(",")]
    try:
        at = dt.datetime.strptime(parts[0], "%Y/%m/%d %H:%M:%S.%f").timestamp()
        samples.append((at, float(parts[1]), float(parts[3])))
    except (ValueError, IndexError):
        continue
print((out / "gpu.csv").read_text().strip().splitlines()[-1])
print((out / "classifier.txt").read_text().strip())
for line in (out / "windows.txt").read_text().splitlines():
    name, start, end = line.split()
    text = (out / f"bench-{name}.txt").read_text()
    rates = re.findall(r"^(bare.*?|upload.*?)\s+\d+\s+[\d.]+\s+([\d.]+)$", text, re.M)
    phase = re.search(r"inference phase.*?: ([\d.]+)s, ([\d.]+)", text)
    print(f"\n{name}: " + "; ".join(f"{label.strip()}: {rate}/s" for label, rate in rates))
    if phase:
        print(f"  worker inference phase {phase.group(2)} photos/s")
    # The worker's inference phase: its first chunk received to its last chunk stored.
    stamps = [
        dt.datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S,%f").timestamp()
        for line in (out / f"worker-{name}.log").read_text(errors="replace").splitlines()
        if "images_classify_task[" in line and "received" in line or "chunk timings" in line
    ]
    windows = [("the whole run", float(start), float(end))]
    if stamps:
        windows.append(("the worker's inference phase", min(stamps), max(stamps)))
    for label, first, last in windows:
        inside = [s for s in samples if first <= s[0] <= last]
        if inside:
            util = [s[1] for s in inside]
            print(
                f"  GPU utilisation during {label}: mean {sum(util) / len(util):.0f}%, "
                f"max {max(util):.0f}% ({len(util)} samples); "
                f"memory used up to {max(s[2] for s in inside):.0f} MiB"
            )
EOF
