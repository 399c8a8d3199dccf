"""End-to-end ingest throughput beside the bare inference rate on the same photos or frames.

Builds a ZIP of N synthetic photos (FER2013 faces on cluttered backgrounds), or with
--videos of N synthetic reaction videos, times `analyze_images` in this process in chunks of
INGEST_CHUNK_SIZE (the bare rate; for videos, decoding the sampled frames included), then
starts a worker, pushes the ZIP through batch_create -> broker -> worker -> database and
times it.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
from django.conf import settings
from django.core.files import File
from django.core.management.base import BaseCommand, CommandError
from PIL import Image

from campaigns.models import Ad, Campaign, ImageStatus, Team, UploadBatch
from campaigns.services import batches, teams
from inference.video import read_frames, sample_times


class Command(BaseCommand):
    help = "Photos/s and latency of the whole ingest stack against bare analyze_images."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--photos", type=int, default=1000)
        parser.add_argument(
            "--videos", type=int, default=0, help="reaction videos instead of photos"
        )
        parser.add_argument("--video-seconds", type=float, default=20.0)
        parser.add_argument("--concurrency", type=int, default=1, help="worker processes")
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
        concurrency: int,
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
        size = settings.INGEST_CHUNK_SIZE
        detector, classifier = detector_get(), classifier_get(model_version=model_version)
        if videos:
            unit = "frames"
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
            analyze_images(  # warm-up
                [
                    pixels
                    for _, pixels in read_frames(io.BytesIO(next(iter(members.values()))), [0])
                ],
                detector=detector,
                classifier=classifier,
            )
            started = time.perf_counter()
            faces = 0
            for data in members.values():
                for at in range(0, len(times), size):
                    frames = read_frames(io.BytesIO(data), times[at : at + size])
                    results = analyze_images(
                        [pixels for _, pixels in frames], detector=detector, classifier=classifier
                    )
                    faces += sum(len(r.faces) for r in results)
        else:
            unit = "photos"
            images = _photos(photos, seed=seed)
            members = {f"bench/{seed}-{index:06}.jpg": data for index, data in enumerate(images)}
            analysed = len(images)
            self.stdout.write(f"{len(images)} photos, chunks of {size}")
            analyze_images(images[:2], detector=detector, classifier=classifier)  # warm-up
            started = time.perf_counter()
            faces = 0
            for at in range(0, len(images), size):
                results = analyze_images(
                    images[at : at + size], detector=detector, classifier=classifier
                )
                faces += sum(len(r.faces) for r in results)
        bare_s = time.perf_counter() - started
        bare_rate = analysed / bare_s

        worker = None if no_worker else _worker_start(concurrency)
        try:
            ad = _bench_ad()
            with tempfile.TemporaryFile() as spool:
                with zipfile.ZipFile(spool, "w", compression=zipfile.ZIP_STORED) as zf:
                    for name, data in members.items():
                        zf.writestr(name, data)
                spool.seek(0)
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
                    raise CommandError("the benchmark worker exited; see var/bench-worker.log")
                time.sleep(0.2)
            stack_s = time.perf_counter() - started
        finally:
            if worker is not None:
                worker.terminate()
                worker.wait(timeout=30)
        stack_rate = batch.images_processed / stack_s
        overhead = 1 - stack_rate / bare_rate
        self.stdout.write(
            f"{'path':<34}{unit:>8}{'seconds':>10}{unit + '/s':>10}\n"
            f"{'bare analyze_images (1 process)':<34}{analysed:>8}{bare_s:>10.1f}"
            f"{bare_rate:>10.1f}\n"
            f"{'upload->broker->worker->DB':<34}{batch.images_processed:>8}{stack_s:>10.1f}"
            f"{stack_rate:>10.1f}\n"
            f"batch {batch.pk}: {batch.status}, {batch.faces_found} faces (bare run: {faces}); "
            f"first result after {first_result or 0:.1f}s, end-to-end latency {stack_s:.1f}s\n"
            f"queue + database overhead: {overhead:.1%} of the bare rate (goal <= 20%)"
        )


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


def _worker_start(concurrency: int) -> subprocess.Popen:
    log_path = Path(settings.VAR_DIR) / "bench-worker.log"
    log = log_path.open("w")
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "fer_site", "worker", "--queues",
         "ingest,inference", "--pool", "prefork", "--concurrency", str(concurrency),
         "--without-gossip", "--without-mingle", "--loglevel", "INFO"],
        cwd=settings.BASE_DIR, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    deadline = time.monotonic() + 180
    # Ready only once every pool process has loaded the model (worker_process_init).
    while (
        "ready." not in log_path.read_text() or log_path.read_text().count("loaded ") < concurrency
    ):
        if worker.poll() is not None or time.monotonic() > deadline:
            raise CommandError(f"the benchmark worker did not start; see {log_path}")
        time.sleep(0.5)
    return worker
