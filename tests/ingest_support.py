"""Shared pieces of the ingest tests: a registered tiny model, photos with faces, ZIPs, workers.

Fixtures are imported by the conftest of each test folder that needs them.
"""

from __future__ import annotations

import io
import os
import runpy
import signal
import socket
import subprocess
import sys
import time
import uuid
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import numpy as np
import pytest
from django.db import connection
from PIL import Image

from campaigns.models import UploadBatch
from inference.models import ModelVersion
from ml import CLASSES
from ml.artifact import ArtifactMetadata, write_metadata
from tests.shared_data import fer_test_faces


def model_artifact_build(folder: Path, *, version: str, seed: int) -> Path:
    """A real (untrained) CNN artifact of the project's tiny config, as ml/ writes it."""
    import keras

    from ml.networks import build_model, get_config

    keras.utils.set_random_seed(seed)
    model = build_model(get_config("tiny"), (48, 48, 1))
    folder.mkdir(parents=True, exist_ok=True)
    model.save(folder / "model.keras")
    write_metadata(folder, ArtifactMetadata(name="ingest-test", version=version))
    return folder


@pytest.fixture(scope="session")
def model_artifacts(tmp_path_factory) -> tuple[Path, Path]:
    """Two versions of a tiny model with different weights (built once per test session)."""
    root = tmp_path_factory.mktemp("ingest-models")
    return (
        model_artifact_build(root / "v1", version="1", seed=1),
        model_artifact_build(root / "v2", version="2", seed=2),
    )


@pytest.fixture
def model_cache(settings, tmp_path) -> Path:
    """Each test loads models from its own storage, so it needs its own local model cache."""
    settings.MODEL_CACHE_DIR = str(tmp_path / "model-cache")
    return Path(settings.MODEL_CACHE_DIR)


@pytest.fixture
def active_model(model_artifacts, model_cache) -> ModelVersion:
    from inference.services import model_version_register

    # An untrained model: there are no errors on real photos worth measuring.
    return model_version_register(
        source_dir=model_artifacts[0], activate=True, allow_unmeasured=True
    )


@pytest.fixture(scope="session")
def face_photos() -> list[bytes]:
    """12 distinct JPEG photos, each with one or two FER2013 faces scaled up on a background."""
    from inference.scenes import compose_scene

    faces = [pixels for pixels, _ in fer_test_faces(18 // len(CLASSES) + 1, limit=18)]
    rng = np.random.default_rng(5)
    photos = []
    used = 0
    for index in range(12):
        n = 1 + index % 2
        scene, _ = compose_scene(faces[used : used + n], [140] * n, height=400, width=640, rng=rng)
        used = (used + n) % len(faces)
        buffer = io.BytesIO()
        Image.fromarray(scene).save(buffer, format="JPEG", quality=90)
        photos.append(buffer.getvalue())
    return photos


@pytest.fixture
def many_photos(face_photos) -> list[bytes]:
    """36 distinct photos with faces: the 12 scenes, mirrored and darkened."""
    photos = list(face_photos)
    for transform in (np.fliplr, lambda a: (a * 0.8).astype(np.uint8)):
        for data in face_photos:
            pixels = transform(np.asarray(Image.open(io.BytesIO(data))))
            buffer = io.BytesIO()
            Image.fromarray(np.ascontiguousarray(pixels)).save(buffer, format="JPEG")
            photos.append(buffer.getvalue())
    return photos


def plain_photo(seed: int, size: tuple[int, int] = (64, 48)) -> bytes:
    """A small distinct PNG without faces: for tests about bookkeeping, not detection."""
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, size=(size[1], size[0], 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def zip_build(members: dict[str, bytes], *, compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=compression) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buffer.getvalue()


def database_url() -> str:
    """URL of the database this test run uses (the test database, not the configured one)."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    credentials = quote(db["USER"] or "", safe="")
    if db["PASSWORD"]:
        credentials += ":" + quote(db["PASSWORD"], safe="")
    host = db["HOST"] or "localhost"
    return f"postgres://{credentials}@{host}:{db['PORT'] or 5432}/{quote(db['NAME'], safe='')}"


@dataclass
class Worker:
    process: subprocess.Popen[bytes]
    log: Path

    def pool_processes(self) -> list[int]:
        """Pids of the worker's child processes (its pool, and its beat when embedded)."""
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return [int(pid) for pid in children.read_text().split()] if children.exists() else []

    def kill(self) -> None:
        """kill -9 the whole worker: main process, pool children and embedded beat."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture
def worker_start(tmp_path, settings) -> Iterator[Callable[..., Worker]]:
    """Start real `celery worker` processes (both queues, beat embedded) on the test database."""
    started: list[Worker] = []

    def start(
        *, beat: bool = True, pool: str = "prefork", concurrency: int = 1, **env_overrides: str
    ) -> Worker:
        """A worker with the sweeper's beat embedded, or without it (`beat=False`: lost work
        then comes back only through redelivery, never through the sweeper); one prefork
        process unless told otherwise."""
        log = tmp_path / f"worker-{len(started) + 1}.log"
        env = {
            **os.environ,
            "DATABASE_URL": database_url(),
            "MEDIA_ROOT": str(settings.MEDIA_ROOT),
            "MODEL_CACHE_DIR": str(settings.MODEL_CACHE_DIR),
            "INGEST_CHUNK_SIZE": str(settings.INGEST_CHUNK_SIZE),
            "INGEST_CHUNK_TIME_LIMIT": "12",
            "INGEST_SWEEP_SECONDS": "2",
            "PHOTO_RETENTION": settings.PHOTO_RETENTION,
            "FACE_DETECTOR": settings.FACE_DETECTOR,
            "TF_CPP_MIN_LOG_LEVEL": "2",
            **env_overrides,
        }
        command = [
            sys.executable, "-m", "celery", "-A", "fer_site", "worker",
            "--queues", "ingest,inference", "--pool", pool, "--concurrency", str(concurrency),
            "--without-gossip", "--without-mingle", "--loglevel", "INFO",
        ]  # fmt: skip
        if beat:
            command += ["--beat", "--schedule", str(tmp_path / f"beat-{len(started)}")]
        with log.open("w") as out:
            process = subprocess.Popen(
                command,
                cwd=settings.BASE_DIR,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        worker = Worker(process=process, log=log)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()


def batch_wait(
    batch: UploadBatch,
    *,
    until: Callable[[UploadBatch], bool],
    timeout: float,
    workers: list[Worker],
) -> UploadBatch:
    """Poll the batch row until `until` holds; fail with the worker logs when it never does."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        batch.refresh_from_db()
        if until(batch):
            return batch
        time.sleep(0.3)
    logs = "\n\n".join(f"--- {w.log.name}\n{w.log.read_text()[-6000:]}" for w in workers)
    pytest.fail(f"batch {batch.pk} stuck in {batch.status} after {timeout}s\n{logs}")


@dataclass
class S3Store:
    """A real S3 HTTP API (moto's server, in this process) on a loopback port, with one
    bucket; `default_storage` of the test points at it, and `env()` points a worker there."""

    endpoint: str
    bucket: str
    port: int
    server: Any = None

    def env(self) -> dict[str, str]:
        """The environment that selects this bucket (fer_site/settings.py reads it)."""
        return {
            "S3_BUCKET": self.bucket,
            "S3_ENDPOINT_URL": self.endpoint,
            "S3_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "test-key",
            "AWS_SECRET_ACCESS_KEY": "test-secret",
        }

    def client(self) -> Any:
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name="us-east-1",
            aws_access_key_id="test-key",
            aws_secret_access_key="test-secret",
        )

    def object_names(self, prefix: str = "") -> list[str]:
        """Every object key in the bucket under `prefix`, read over the S3 API."""
        pages = (
            self.client()
            .get_paginator("list_objects_v2")
            .paginate(Bucket=self.bucket, Prefix=prefix)
        )
        return sorted(item["Key"] for page in pages for item in page.get("Contents", ()))

    def start(self) -> None:
        """(Re)start the server on the same port; the buckets and objects are still there."""
        from moto.server import ThreadedMotoServer

        self.server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self.server.start()

    def stop(self) -> None:
        """The store goes away: connections to the port are refused until `start`."""
        if self.server is not None:
            self.server.stop()
            self.server = None


def process_stop(process: subprocess.Popen[Any]) -> None:
    """Ask a server process the tests started to stop; kill it if it does not in 20 s."""
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def storages_from_env(env: dict[str, str]) -> dict[str, Any]:
    """STORAGES exactly as fer_site/settings.py builds it from `env`."""
    saved = {name: os.environ.get(name) for name in env}
    os.environ.update(env)
    try:
        conf = runpy.run_path(str(Path(__file__).resolve().parent.parent / "fer_site/settings.py"))
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    return dict(conf["STORAGES"])


@pytest.fixture
def s3_store(settings) -> Iterator[S3Store]:
    """moto's S3 server on a free loopback port, a fresh private bucket, and the test's
    default_storage on it (the same settings a worker gets from `S3Store.env()`)."""
    import logging

    werkzeug_log = logging.getLogger("werkzeug")
    level = werkzeug_log.level
    werkzeug_log.setLevel(logging.WARNING)  # one access-log line per request otherwise
    port = free_port()
    store = S3Store(
        endpoint=f"http://127.0.0.1:{port}", bucket=f"fer-{uuid.uuid4().hex[:12]}", port=port
    )
    store.start()
    store.client().create_bucket(Bucket=store.bucket)
    settings.STORAGES = storages_from_env(store.env())
    yield store
    if store.server is None:
        store.start()
    # The server keeps its objects in this process's memory: drop them with the bucket.
    client = store.client()
    for key in store.object_names():
        client.delete_object(Bucket=store.bucket, Key=key)
    client.delete_bucket(Bucket=store.bucket)
    store.stop()
    werkzeug_log.setLevel(level)
