"""How many viewers at once one web process and one worker keep up with.

Starts a web process (gunicorn, 1 process, WEB_THREADS threads) and a worker (1 process) on
the configured database and broker, unless --url names a running site; makes a throwaway
study of an ad lasting --seconds; then N simulated viewers consent, watch it and send their
camera's frames at --fps, a chunk a second, as the page's script does (JPEGs of real photos,
320x240). Prints the frames received per second, the frame requests' latency, and the
worker's lag behind playback (a frame analysed at wall time w, taken at second t of an ad
that started at s: w - (s + t)), while the ad plays and after it ends. The study, its
uploads and files are deleted at the end.
"""

from __future__ import annotations

import http.client
import io
import json
import os
import secrets
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.management.base import BaseCommand, CommandError
from django.db import IntegrityError
from PIL import Image

from campaigns.models import ImageStatus, ReactionImage, UploadBatch
from campaigns.services import batches, teams
from inference.selectors import model_version_active
from studies.models import SessionAd, Study
from studies.services import studies


@dataclass
class _Viewer:
    frames_sent: int = 0
    frames_stored: int = 0
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _multipart(fields: dict[str, str], files: dict[str, bytes]) -> tuple[bytes, str]:
    boundary = secrets.token_hex(16)
    parts = []
    for name, value in fields.items():
        head = f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
        parts.append(f"{head}{value}\r\n".encode())
    for name, data in files.items():
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; '
            f'filename="{name}.jpg"\r\nContent-Type: image/jpeg\r\n\r\n'.encode()
            + data
            + b"\r\n"
        )
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def _jpeg(image: Image.Image, viewer: int, index: int) -> bytes:
    """The photo as one camera frame: a pixel set apart, so no two frames share a file."""
    frame = image.copy()
    frame.putpixel((0, 0), (viewer % 256, index % 256, index // 256 % 256))
    buffer = io.BytesIO()
    frame.save(buffer, format="JPEG", quality=80)
    return buffer.getvalue()


class Command(BaseCommand):
    help = "Frames received per second and worker lag for N viewers capturing at once."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--viewers", type=int, nargs="+", default=[1, 2, 4])
        parser.add_argument("--seconds", type=float, default=30.0)
        parser.add_argument("--fps", type=int, default=5)
        parser.add_argument("--url", default="", help="a running site (else one is started)")
        parser.add_argument(
            "--photos",
            default=str(Path(os.environ.get("FER_DATA_DIR", "")) / "sample-photos"),
            help="folder of photos the viewers' cameras show",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if model_version_active() is None:
            raise CommandError("no active model version: register one with register_model")
        frames = self._frames(Path(options["photos"]))
        web = worker = None
        url = options["url"]
        try:
            if not url:
                port = 8700 + os.getpid() % 200
                url = f"http://127.0.0.1:{port}"
                web = self._start(
                    ["gunicorn", "-c", "python:fer_site.gunicorn", "fer_site.wsgi",
                     "--bind", f"127.0.0.1:{port}", "--workers", "1"],
                    "web",
                )  # fmt: skip
                worker = self._start(
                    ["celery", "-A", "fer_site", "worker", "--queues", "ingest,inference",
                     "--concurrency", "1", "--without-gossip", "--without-mingle",
                     "--loglevel", "INFO"],
                    "worker",
                )  # fmt: skip
                self._wait_ready(url, worker)
            for n in options["viewers"]:
                self._run(n, url=url, seconds=options["seconds"], fps=options["fps"], frames=frames)
        finally:
            for process in (web, worker):
                if process is not None:
                    process.terminate()
                    process.wait(timeout=30)

    def _frames(self, folder: Path) -> list[Image.Image]:
        paths = sorted(p for p in folder.glob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
        if not paths:
            raise CommandError(f"no photos in {folder} (set --photos or FER_DATA_DIR)")
        frames = []
        for path in paths[:20]:
            image = Image.open(path).convert("RGB")
            image.thumbnail((320, 240))
            frames.append(image)
        return frames

    def _log(self, name: str) -> Path:
        return Path(settings.VAR_DIR) / f"bench-capture-{name}-{os.getpid()}.log"

    def _start(self, command: list[str], name: str) -> subprocess.Popen[bytes]:
        log = self._log(name).open("w")
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "WEB_THREADS": "8"}
        return subprocess.Popen(  # noqa: S603  this interpreter running our own modules
            [sys.executable, "-m", *command],
            cwd=settings.BASE_DIR,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    def _wait_ready(self, url: str, worker: subprocess.Popen[bytes]) -> None:
        deadline = time.monotonic() + 240
        log = self._log("worker")
        while "ready." not in log.read_text() or "loaded " not in log.read_text():
            if worker.poll() is not None or time.monotonic() > deadline:
                raise CommandError(f"the worker did not start; see {log}")
            time.sleep(0.5)
        parts = urllib.parse.urlsplit(url)
        while time.monotonic() < deadline:
            try:
                connection = http.client.HTTPConnection(
                    parts.hostname or "127.0.0.1", parts.port, timeout=5
                )
                connection.request("GET", "/accounts/login/")
                if connection.getresponse().status == 200:
                    return
            except OSError:
                time.sleep(0.5)
        raise CommandError(f"the web process did not answer; see {self._log('web')}")

    def _study(self, seconds: float) -> Study:
        team = teams.team_create(name=f"bench-capture-{secrets.token_hex(4)}")
        campaign = teams.campaign_create(team=team, name="bench")
        ad = teams.ad_create(campaign=campaign, name="bench ad")
        ad.creative.save("bench.webm", ContentFile(b"not played by the bench"), save=False)
        ad.duration_seconds = seconds
        ad.save()
        return studies.study_create(campaign=campaign, ads=[ad], name="bench")

    def _run(
        self, n: int, *, url: str, seconds: float, fps: int, frames: list[Image.Image]
    ) -> None:
        study = self._study(seconds)
        study.capture_fps = fps
        study.save(update_fields=["capture_fps"])
        viewers = [_Viewer() for _ in range(n)]
        threads = [
            threading.Thread(
                target=self._watch,
                kwargs={
                    "url": url,
                    "study": study,
                    "viewer": v,
                    "k": k,
                    "seconds": seconds,
                    "fps": fps,
                    "frames": frames,
                },
                daemon=True,
            )
            for k, v in enumerate(viewers)
        ]
        started = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        span = time.monotonic() - started
        ended_at = time.time()
        batch_ids = list(
            SessionAd.objects.filter(session__study=study).values_list("batch_id", flat=True)
        )
        deadline = time.monotonic() + 600
        while ReactionImage.objects.filter(
            batch_id__in=batch_ids, status__in=[ImageStatus.PENDING, ImageStatus.PROCESSING]
        ).exists():
            if time.monotonic() > deadline:
                break
            time.sleep(0.5)
        caught_up = time.time() - ended_at
        lags, lags_playing = [], []
        starts = dict(
            SessionAd.objects.filter(session__study=study).values_list("batch_id", "started_at")
        )
        for batch_id, offset, processed in ReactionImage.objects.filter(
            batch_id__in=batch_ids, status=ImageStatus.DONE
        ).values_list("batch_id", "offset_seconds", "processed_at"):
            if processed is None or starts.get(batch_id) is None:
                continue
            taken = starts[batch_id].timestamp() + (offset or 0.0)
            lag = processed.timestamp() - taken
            lags.append(lag)
            if processed.timestamp() <= ended_at:
                lags_playing.append(lag)
        sent = sum(v.frames_sent for v in viewers)
        stored = sum(v.frames_stored for v in viewers)
        latencies = [x for v in viewers for x in v.latencies]
        errors = [e for v in viewers for e in v.errors]
        self.stdout.write(
            f"{n} viewers x {seconds:g} s at {fps} fps: {stored}/{sent} frames stored, "
            f"{stored / span:.1f} frames received/s (wanted {n * fps}); frame request p50 "
            f"{statistics.median(latencies) * 1000 if latencies else float('nan'):.0f} ms, p95 "
            f"{_percentile(latencies, 0.95) * 1000:.0f} ms; worker lag behind playback p50 "
            f"{statistics.median(lags) if lags else float('nan'):.1f} s, p95 "
            f"{_percentile(lags, 0.95):.1f} s, max {max(lags, default=float('nan')):.1f} s "
            f"(while playing: p95 {_percentile(lags_playing, 0.95):.1f} s); all analysed "
            f"{caught_up:.1f} s after the ad ended; errors {len(errors)}"
            + (f" (first: {errors[0]})" if errors else "")
        )
        batches.batches_delete(
            batches=UploadBatch.objects.filter(pk__in=batch_ids).exclude(
                status__in=["received", "extracting", "processing"]
            )
        )
        team = study.campaign.team
        for attempt in range(5):
            # The ad's timeline rollups are being rebuilt after its uploads closed: a rollup
            # written while the team is deleted makes the delete fail; try again.
            time.sleep(2)
            try:
                team.delete()
                break
            except IntegrityError:
                if attempt == 4:
                    raise

    def _watch(
        self,
        *,
        url: str,
        study: Study,
        viewer: _Viewer,
        k: int,
        seconds: float,
        fps: int,
        frames: list[Image.Image],
    ) -> None:
        parts = urllib.parse.urlsplit(url)
        connection = http.client.HTTPConnection(
            parts.hostname or "127.0.0.1", parts.port, timeout=60
        )
        base = f"/s/{study.slug}/api/"
        token = ""

        def post(path: str, body: bytes, content_type: str) -> dict[str, Any]:
            connection.request(
                "POST",
                base + path,
                body=body,
                headers={"Content-Type": content_type, "X-Capture-Token": token},
            )
            response = connection.getresponse()
            data = json.loads(response.read() or b"{}")
            if response.status != 200:
                raise RuntimeError(f"{path}: {response.status} {data}")
            return dict(data)

        try:
            started = post(
                "start", json.dumps({"query": {"pid": f"bench-{k}"}}).encode(), "application/json"
            )
            token = started["token"]
            ad_id = started["ads"][0]["id"]
            post(f"ads/{ad_id}/start", b"{}", "application/json")
            begin = time.monotonic()
            total = int(seconds * fps)
            index = 0
            while index < total:
                # one chunk a second: the frames whose playback time has come
                due = min(total, int((time.monotonic() - begin) * fps))
                chunk = list(range(index, due))
                if chunk:
                    meta = [{"i": i, "t": round(i / fps, 3), "l": 120} for i in chunk]
                    body, content_type = _multipart(
                        {"meta": json.dumps(meta)},
                        {f"f{i}": _jpeg(frames[(i + k) % len(frames)], k, i) for i in chunk},
                    )
                    sent_at = time.monotonic()
                    result = post(f"ads/{ad_id}/frames", body, content_type)
                    viewer.latencies.append(time.monotonic() - sent_at)
                    viewer.frames_sent += len(chunk)
                    viewer.frames_stored += int(result["stored"])
                    index = due
                # the next chunk a second later, as the page sends them
                time.sleep(max(0.0, begin + int(time.monotonic() - begin) + 1.0 - time.monotonic()))
            post(
                f"ads/{ad_id}/end",
                json.dumps({"played_seconds": seconds}).encode(),
                "application/json",
            )
            post("finish", json.dumps({"outcome": "completed"}).encode(), "application/json")
        except (OSError, RuntimeError, ValueError) as exc:
            viewer.errors.append(str(exc)[:200])
        finally:
            connection.close()
