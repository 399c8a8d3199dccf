"""The web server as deployed: gunicorn with fer_site/gunicorn.py (the image's and compose's
command), on the test database. Idle connections must not stop it answering, and the API's
rate limit holds across its worker processes."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import pytest
import requests
from django.conf import settings as django_settings

from api.services import api_token_create
from tests import factories
from tests.ingest_support import database_url, free_port, process_stop
from tests.service_support import service_missing

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

WORKERS = 2


@dataclass
class Server:
    url: str
    process: subprocess.Popen[bytes]
    log: Path


@pytest.fixture
def gunicorn(tmp_path, settings) -> Iterator[Server]:
    """gunicorn with the project's settings file, 2 worker processes, on a free port."""
    port = free_port()
    log = tmp_path / "gunicorn.log"
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "WEB_CONCURRENCY": str(WORKERS),
        "WEB_THREADS": "4",
        "API_RATE_LIMIT": "20/hour",
    }
    command = [
        sys.executable, "-m", "gunicorn", "-c", "python:fer_site.gunicorn",
        "--bind", f"127.0.0.1:{port}", "fer_site.wsgi:application",
    ]  # fmt: skip
    with log.open("w") as out:
        process = subprocess.Popen(
            command, cwd=settings.BASE_DIR, env=env, stdout=out, stderr=subprocess.STDOUT
        )
    server = Server(url=f"http://127.0.0.1:{port}", process=process, log=log)
    deadline = time.monotonic() + 60
    while True:
        try:
            requests.get(f"{server.url}/healthz", timeout=5)
            break
        except requests.ConnectionError:
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"gunicorn did not start:\n{log.read_text()[-4000:]}")
            time.sleep(0.3)
    yield server
    process_stop(process)


def test_idle_half_open_connections_do_not_stop_the_server_answering(gunicorn, report_figure):
    # given more idle connections than the server has worker processes, each opened and never
    # sent a byte (a client gone quiet, a half-open connection)
    address = ("127.0.0.1", urlparse(gunicorn.url).port or 80)
    idle = [socket.create_connection(address) for _ in range(3 * WORKERS)]
    try:
        time.sleep(1)
        # when the load balancer's probe asks for /healthz
        started = time.monotonic()
        response = requests.get(f"{gunicorn.url}/healthz", timeout=10)
        elapsed = time.monotonic() - started
    finally:
        for connection in idle:
            connection.close()
    # then it is answered at once (sync workers held one idle connection each, 20 s or more)
    assert response.status_code in (200, 503) and "ok" in response.json()
    assert elapsed < 5, f"/healthz took {elapsed:.1f} s"
    report_figure(
        f"/healthz beside {len(idle)} idle connections ({WORKERS} workers): {elapsed:.2f} s"
    )


def test_the_api_rate_limit_holds_across_worker_processes(gunicorn):
    if not django_settings.CACHE_URL:
        service_missing("no Redis cache configured (CELERY_BROKER_URL is not redis://)")
    # given a token limited to 20 requests an hour, and a server of 2 worker processes
    team = factories.team_create()
    user = factories.user_create(team=team)
    _, secret = api_token_create(user=user, team=team, name="burst")

    def ask(_: int) -> int:
        # a connection of its own each: the requests spread over both processes
        return requests.get(
            f"{gunicorn.url}/api/v1/teams/",
            headers={"Authorization": f"Bearer {secret}"},
            timeout=30,
        ).status_code

    # when it sends 60 requests at once
    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = Counter(pool.map(ask, range(60)))
    # then exactly 20 are answered and the rest refused (per process, each had its own 20)
    assert statuses == {200: 20, 429: 40}, statuses
