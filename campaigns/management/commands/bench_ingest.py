"""End-to-end ingest throughput beside the bare inference rate on the same photos or frames.

Builds a ZIP of N synthetic photos (FER2013 faces on cluttered backgrounds), or with
--videos of N synthetic reaction videos, times `analyze_images` in this process in chunks of
INGEST_CHUNK_SIZE twice (the bare rates; for videos, decoding the sampled frames included):
one photo after another as before the pipeline, then through the pipeline (feeder threads
and the batching classifier thread). Then it starts a worker (`--pool`, `--concurrency`),
pushes the ZIP through batch_create -> broker -> worker -> database and times it, and prints
the time per stage of the bare pipeline and of the worker (from the chunk timings its log
holds).
"""

from __future__ import annotations

import dataclasses
import functools
import io
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import zipfile
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from django.conf import settings
from django.core.files import File
from django.core.management.base import BaseCommand, CommandError
from django.db.models import Max, Min
from PIL import Image

from campaigns.models import Ad, Campaign, ImageStatus, Team, UploadBatch
from campaigns.services import batches, teams
from campaigns.services import images as images_service
from inference.video import read_frames, sample_times

if TYPE_CHECKING:
    from inference.api import ImageResult
    from inference.decoding import ImageSource


class Command(BaseCommand):
    help = "Photos/s and time per stage of the whole ingest stack against bare analyze_images."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--photos", type=int, default=1000)
        parser.add_argument(
            "--videos", type=int, default=0, help="reaction videos instead of photos"
        )
        parser.add_argument("--video-seconds", type=float, default=20.0)
        parser.add_argument(
            "--pool", choices=("prefork", "threads"), default="prefork", help="worker pool"
        )
        parser.add_argument(
            "--concurrency", type=int, default=1, help="worker processes (prefork) or threads"
        )
        parser.add_argument(
            "--decode-threads",
            type=int,
            default=settings.INFERENCE_DECODE_THREADS,
            help="feeder threads per process (INFERENCE_DECODE_THREADS)",
        )
        parser.add_argument(
            "--batch-wait-ms",
            type=int,
            default=settings.INFERENCE_BATCH_WAIT_MS,
            help="INFERENCE_BATCH_WAIT_MS",
        )
        parser.add_argument(
            "--no-worker", action="store_true", help="use the workers already running"
        )
        parser.add_argument("--seed", type=int, default=0)

    def handle(
        self,
        *args,
        photos: int,
        videos: int,
        video_seconds: float,
        pool: str,
        concurrency: int,
        decode_threads: int,
        batch_wait_ms: int,
        no_worker: bool,
        seed: int,
        **options,
    ):
        from inference.api import analyze_images
        from inference.registry import classifier_get, detector_get
        from inference.selectors import model_version_active

        model_version = model_version_active()
        if model_version is None:
            raise CommandError(
                "no model version is active; register one with "
                "`python manage.py register_model DIR --activate`"
            )
        detector, classifier = detector_get(), classifier_get(model_version=model_version)
        unit, members, analysed, chunks = self._workload(
            photos=photos, videos=videos, video_seconds=video_seconds, seed=seed
        )
        in_flight = concurrency if pool == "threads" else 1
        pipelined = f"bare pipeline, {decode_threads} feeders, {in_flight} chunk(s) at once"
        runs = [
            ("bare, one photo at a time (before)", 0, 1),
            (pipelined, decode_threads, in_flight),
        ]
        bare = []
        for label, threads, parallel in runs:
            analyze = functools.partial(
                analyze_images,
                detector=detector,
                classifier=classifier,
                batch_size=settings.INFERENCE_BATCH_SIZE,
                decode_threads=threads,
                batch_wait_ms=batch_wait_ms,
            )
            analyze(chunks[0]()[:2])  # warm-up (and the pipeline's threads started)
            bare.append((label, *_bare_run(chunks, analyze, parallel=parallel)))

        worker = None if no_worker else worker_start(
            pool, concurrency, decode_threads=decode_threads, batch_wait_ms=batch_wait_ms
        )  # fmt: skip
        try:
            batch, first_result, stack_s, cpu_s = _stack_run(members, worker=worker)
        finally:
            if worker is not None:
                worker.terminate()
                worker.wait(timeout=30)
        stack_rate = batch.images_processed / stack_s
        # The inference phase alone: extraction (unzip, rows, fan-out) comes before it.
        span = batch.images.aggregate(first=Min("claimed_at"), last=Max("processed_at"))
        phase_s = (
            (span["last"] - span["first"]).total_seconds()
            if span["first"] and span["last"]
            else float("nan")
        )
        before_rate = analysed / bare[0][1]
        worker_label = "no worker started" if no_worker else f"{pool} x{concurrency}"
        lines = [f"{'path':<58}{unit:>8}{'seconds':>10}{unit + '/s':>10}"]
        for label, seconds, _, _ in bare:
            lines.append(f"{label:<58}{analysed:>8}{seconds:>10.1f}{analysed / seconds:>10.1f}")
        lines.append(
            f"{'upload->broker->worker->DB (' + worker_label + ')':<58}"
            f"{batch.images_processed:>8}{stack_s:>10.1f}{stack_rate:>10.1f}"
        )
        self.stdout.write("\n".join(lines))
        self.stdout.write(
            f"batch {batch.pk}: {batch.status}, {batch.faces_found} faces (bare runs: "
            f"{', '.join(str(faces) for _, _, faces, _ in bare)}); first result after "
            f"{first_result or 0:.1f}s, end-to-end latency {stack_s:.1f}s\n"
            f"stack against the bare run before: {stack_rate / before_rate - 1:+.1%}; "
            f"against the bare pipeline: {stack_rate / (analysed / bare[1][1]) - 1:+.1%}\n"
            f"worker's inference phase (first claim to last photo stored, after extraction): "
            f"{phase_s:.1f}s, {batch.images_processed / phase_s:.1f} {unit}/s"
        )
        if cpu_s is not None:
            self.stdout.write(
                f"worker CPU (all its processes and threads, extraction included): "
                f"{1000 * cpu_s / batch.images_processed:.1f} ms per "
                f"{unit[:-1]}"
            )
        worker_stages = None if no_worker else _worker_stages(worker_log())
        self.stdout.write(_stage_table(unit, analysed, bare[1][3], worker_stages))

    def _workload(
        self, *, photos: int, videos: int, video_seconds: float, seed: int
    ) -> tuple[str, dict[str, bytes], int, list[Callable[[], list[ImageSource]]]]:
        """What is analysed: its unit (photos or frames), the upload's members, how many
        units, and the chunks a worker would get (each read when run)."""
        size = settings.INGEST_CHUNK_SIZE
        if videos:
            members = {
                f"bench/{seed}-{index:04}.mp4": data
                for index, data in enumerate(_videos(videos, seconds=video_seconds, seed=seed))
            }
            times = sample_times(video_seconds, settings.VIDEO_SAMPLE_FPS)
            analysed = len(times) * videos
            self.stdout.write(
                f"{videos} videos of {video_seconds:g} s, {analysed} frames at "
                f"{settings.VIDEO_SAMPLE_FPS:g}/s, chunks of {size}"
            )
            # Frames are decoded from the video here, as the worker does before analysis.
            chunks: list[Callable[[], list[ImageSource]]] = [
                functools.partial(_frames, data, times[at : at + size])
                for data in members.values()
                for at in range(0, len(times), size)
            ]
            return "frames", members, analysed, chunks
        images = _photos(photos, seed=seed)
        members = {f"bench/{seed}-{index:06}.jpg": data for index, data in enumerate(images)}
        self.stdout.write(f"{len(images)} photos, chunks of {size}")
        chunks = [
            functools.partial(list, images[at : at + size]) for at in range(0, len(images), size)
        ]
        return "photos", members, len(images), chunks


def _stack_run(
    members: dict[str, bytes], *, worker: subprocess.Popen | None
) -> tuple[UploadBatch, float | None, float, float | None]:
    """Upload `members` as one ZIP and wait for the batch to finish: the batch, the seconds
    to its first result and to its end (from the upload's start), and the CPU seconds the
    worker spent meanwhile (None without a worker of ours)."""
    ad = _bench_ad()
    with tempfile.TemporaryFile() as spool:
        with zipfile.ZipFile(spool, "w", compression=zipfile.ZIP_STORED) as zf:
            for name, data in members.items():
                zf.writestr(name, data)
        spool.seek(0)
        cpu_before = _tree_cpu_seconds(worker.pid) if worker is not None else None
        started = time.perf_counter()
        batch = batches.batch_create(
            ad=ad, upload=File(spool, name="bench.zip"), source_name="bench.zip"
        )
    first_result = None
    while True:
        batch.refresh_from_db()
        if first_result is None and batch.images.filter(status=ImageStatus.DONE).exists():
            first_result = time.perf_counter() - started
        if batch.is_finished:
            break
        if worker is not None and worker.poll() is not None:
            raise CommandError(f"the benchmark worker exited; see {worker_log()}")
        time.sleep(0.2)
    stack_s = time.perf_counter() - started
    cpu_after = _tree_cpu_seconds(worker.pid) if worker is not None else None
    cpu_s = cpu_after - cpu_before if cpu_before is not None and cpu_after is not None else None
    return batch, first_result, stack_s, cpu_s


def _frames(data: bytes, times: list[float]) -> list[ImageSource]:
    return [pixels for _, pixels in read_frames(io.BytesIO(data), times)]


def _bare_run(
    chunks: list[Callable[[], list[ImageSource]]],
    analyze: Callable[..., list[ImageResult]],
    *,
    parallel: int,
) -> tuple[float, int, dict[str, float]]:
    """Seconds, faces and stage seconds of analysing every chunk, `parallel` at a time."""
    from inference.api import StageTimings
    from inference.pipeline import pipeline_stats

    before = pipeline_stats()
    timings = StageTimings()
    lock = threading.Lock()

    def run(chunk: Callable[[], list[ImageSource]]) -> int:
        own = StageTimings()
        results = analyze(chunk(), timings=own)
        with lock:
            timings.add(own)
        return sum(len(result.faces) for result in results)

    started = time.perf_counter()
    if parallel > 1:
        with ThreadPoolExecutor(parallel) as executor:
            faces = sum(executor.map(run, chunks))
    else:
        faces = sum(map(run, chunks))
    seconds = time.perf_counter() - started
    stages = {name: float(value) for name, value in dataclasses.asdict(timings).items()}
    after = pipeline_stats()
    if after is not None and before is not None and after.batches > before.batches:
        stages |= {
            "batches": after.batches - before.batches,
            "batch_faces": after.faces - before.faces,
            "classifier_busy": after.busy - before.busy,
            "classifier_idle": after.idle - before.idle,
        }
    return seconds, faces, stages


def _tree_cpu_seconds(pid: int) -> float | None:
    """CPU seconds (user + system) of a process and its descendants so far; None off Linux."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return None
    # utime and stime are fields 14 and 15 of stat, counted after the command's ")".
    seconds = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    for child in children:
        seconds += _tree_cpu_seconds(int(child)) or 0.0
    return seconds


def _worker_stages(log_path: Path) -> dict[str, float]:
    """The stage seconds of every chunk the worker logged, summed; its classifier's totals."""
    totals: dict[str, float] = defaultdict(float)
    classifiers: dict[int, dict[str, float]] = {}
    for line in log_path.read_text(errors="replace").splitlines():
        _, found, record = line.partition(images_service.CHUNK_TIMINGS_PREFIX)
        if not found:
            continue
        values = json.loads(record)
        if "classifier" in values:
            classifiers[values.pop("pid")] = values.pop("classifier")
        for name, value in values.items():
            if isinstance(value, int | float) and name != "pid":
                totals[name] += value
    for stats in classifiers.values():
        totals["batches"] += stats["batches"]
        totals["batch_faces"] += stats["faces"]
        totals["classifier_busy"] += stats["busy"]
        totals["classifier_idle"] += stats["idle"]
    return dict(totals)


def _stage_table(
    unit: str, count: int, bare: dict[str, float], worker: dict[str, float] | None
) -> str:
    """Milliseconds per photo (or frame) of each stage; decode, detect and preprocess are
    summed over the feeder threads, so with several they add up to more than the wall time."""
    rows = [
        ("decode", "decode"),
        ("detect", "detect"),
        ("preprocess (crop, resize)", "preprocess"),
        ("classify (CNN, its batches' time)", "classify"),
        ("chunk waited for the classifier", "classify_wait"),
        ("classifier thread busy", "classifier_busy"),
        ("classifier waited for input", "classifier_idle"),
        ("claim photos (database)", "claim"),
        ("read photos from storage", "read"),
        ("analyse (wall, the pipeline)", "analyse"),
        ("store faces and status (database)", "store"),
    ]
    columns = [("bare pipeline", bare), ("worker", worker or {})]
    lines = [f"ms per {unit[:-1]:<37}" + "".join(f"{name:>16}" for name, _ in columns)]
    for label, key in rows:
        cells = [
            f"{1000 * values[key] / count:>16.2f}" if key in values else f"{'-':>16}"
            for _, values in columns
        ]
        lines.append(f"{label:<44}" + "".join(cells))
    batch_cells = [
        f"{values['batch_faces'] / values['batches']:>16.1f}"
        if values.get("batches")
        else f"{'-':>16}"
        for _, values in columns
    ]
    lines.append(f"{'faces per classifier batch (mean)':<44}" + "".join(batch_cells))
    if worker is None:
        lines.append("(no worker started here: the worker column needs its log)")
    return "\n".join(lines)


def _bench_ad() -> Ad:
    team = Team.objects.filter(name="Benchmark").first() or teams.team_create(name="Benchmark")
    campaign = Campaign.objects.filter(team=team, name="Benchmark").first()
    campaign = campaign or teams.campaign_create(team=team, name="Benchmark")
    # A new ad each run: photos repeated within an ad would be skipped as duplicates.
    return teams.ad_create(
        campaign=campaign, name=f"bench {UploadBatch.objects.count() + 1}-{time.time():.0f}"
    )


def _videos(count: int, *, seconds: float, seed: int) -> list[bytes]:
    """Reaction videos at 640x480, 25 frames/s: one FER2013 face each, another every second."""
    from inference.scenes import compose_scene, video_bytes

    faces = _fer_faces(limit=120)
    rng = np.random.default_rng(seed)
    videos = []
    for _ in range(count):
        chosen = [faces[int(i)] for i in rng.integers(0, len(faces), size=int(seconds) + 1)]
        scenes = [
            compose_scene([face], [180], height=480, width=640, rng=rng)[0] for face in chosen
        ]
        videos.append(video_bytes(_scene_at(scenes), seconds=seconds, fps=25))
    return videos


def _scene_at(scenes: list[np.ndarray]) -> Callable[[float], np.ndarray]:
    return lambda t: scenes[int(t)]


def _fer_faces(*, limit: int) -> list[np.ndarray]:
    archive = Path(settings.FER_DATA_DIR) / "fer2013.tar.gz"
    if not archive.is_file():
        raise CommandError(f"FER2013 archive not found at {archive} (set FER_DATA_DIR)")
    faces = []
    with tarfile.open(archive) as tar:
        for member in tar:
            handle = tar.extractfile(member)
            if handle and member.name.startswith("test/") and "PrivateTest" in member.name:
                faces.append(np.asarray(Image.open(io.BytesIO(handle.read())).convert("L")))
                if len(faces) >= limit:
                    break
    return faces


def _photos(count: int, *, seed: int) -> list[bytes]:
    from inference.scenes import compose_scene

    faces = _fer_faces(limit=300)
    rng = np.random.default_rng(seed)
    photos = []
    for _ in range(count):
        n = int(rng.integers(1, 3))
        chosen = [faces[int(i)] for i in rng.integers(0, len(faces), size=n)]
        scene, _ = compose_scene(chosen, [130] * n, height=480, width=640, rng=rng)
        buffer = io.BytesIO()
        Image.fromarray(scene).save(buffer, format="JPEG", quality=88)
        photos.append(buffer.getvalue())
    return photos


def worker_log() -> Path:
    """This run's own worker log: benchmarks run side by side must not write into one file."""
    return Path(settings.VAR_DIR) / f"bench-worker-{os.getpid()}.log"


def worker_start(
    pool: str, concurrency: int, *, decode_threads: int, batch_wait_ms: int
) -> subprocess.Popen:
    log_path = worker_log()
    log = log_path.open("w")
    worker = subprocess.Popen(  # noqa: S603  this interpreter, arguments built here
        [sys.executable, "-m", "celery", "-A", "fer_site", "worker", "--queues",
         "ingest,inference", "--pool", pool, "--concurrency", str(concurrency),
         "--without-gossip", "--without-mingle", "--loglevel", "INFO"],
        cwd=settings.BASE_DIR,
        env={
            **os.environ,
            "TF_CPP_MIN_LOG_LEVEL": "2",
            "INFERENCE_DECODE_THREADS": str(decode_threads),
            "INFERENCE_BATCH_WAIT_MS": str(batch_wait_ms),
        },
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    deadline = time.monotonic() + 180
    # Ready only once every process has loaded the model (worker_process_init; a threads
    # pool loads it once, in its one process).
    processes = concurrency if pool == "prefork" else 1
    while "ready." not in log_path.read_text() or log_path.read_text().count("loaded ") < processes:
        if worker.poll() is not None or time.monotonic() > deadline:
            raise CommandError(f"the benchmark worker did not start; see {log_path}")
        time.sleep(0.5)
    return worker
