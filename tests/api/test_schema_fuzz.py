"""Schemathesis against a live server: every operation of /api/schema/, every check, a
bounded number of examples each, with a real token; no failure allowed.

The server is pytest-django's live_server on the test database (PostgreSQL in CI); the
fuzzer is schemathesis's own command line in a subprocess, as an integration would run it.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from kombu import Queue

from fer_site.celery import app
from inference.services import model_version_activate
from tests import factories
from tests.api.conftest import team_world

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

# Examples per operation and phase: enough to reach every parameter, bounded for CI's time.
MAX_EXAMPLES = int(os.environ.get("API_FUZZ_EXAMPLES", "12"))
SEED = int(os.environ.get("API_FUZZ_SEED", "23"))


@pytest.fixture
def ingest_queue_emptied() -> Iterator[None]:
    """The uploads the fuzzer makes queue their extraction: no later test's worker gets them."""
    yield
    with app.connection_for_write() as connection:
        Queue("ingest").bind(connection.default_channel).purge()


def test_schemathesis_finds_no_failure(
    live_server, settings, tmp_path, report_figure, ingest_queue_emptied
):
    # given a team with campaigns, ads, uploads and faces, and its token, and an active model
    # (so that uploads are read, not refused first with a 409)
    settings.API_RATE_LIMIT = "100000/minute"
    model = model_version_activate(model_version=factories.model_version_create(version="1.0"))
    ours = team_world(name="Fuzz", model=model, viewers=3)
    team_world(name="Stranger", model=model, viewers=2)
    ids = {
        "campaign": [ours.campaign.pk],
        "ad": [ad.pk for ad in ours.ads.values()],
        "batch": [batch.pk for batch in ours.batches.values()],
        "model_version": [model.pk],
    }
    env = {
        **os.environ,
        "SCHEMATHESIS_HOOKS": "tests.api.schemathesis_hooks",
        "FUZZ_IDS": json.dumps(ids),
        "PYTHONPATH": str(settings.BASE_DIR),
    }
    command = [
        sys.executable, "-m", "schemathesis.cli", "run", f"{live_server.url}/api/schema/",
        "--checks", "all",
        "--max-examples", str(MAX_EXAMPLES),
        "--seed", str(SEED),
        "--header", f"Authorization: Bearer {ours.secret}",
        "--workers", "1",
        "--request-timeout", "30",
        # NUL is generated too: the schema says that no string the API reads may hold one.
        "--no-color",
    ]  # fmt: skip
    # when schemathesis runs every operation
    started = time.monotonic()
    result = subprocess.run(
        command,
        # Its caches and example database stay in this test's folder: every run starts fresh.
        cwd=tmp_path,
        env=env,
        check=False,
        capture_output=True,
        text=True,
        timeout=900,
    )
    elapsed = time.monotonic() - started
    output = result.stdout + result.stderr
    cases = re.search(r"(\d+) generated", output)
    report_figure(
        f"schemathesis: {cases.group(1) if cases else '?'} test cases over every operation "
        f"in {elapsed:.0f} s, exit {result.returncode}"
    )
    log = Path(settings.VAR_DIR) / "test-artifacts" / "schemathesis.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text(output)
    # then it reports no failure and no error
    assert result.returncode == 0, output[-20000:]
    selected = re.search(r"Operations:\s+(\d+) selected / (\d+) total", output)
    assert selected and selected.group(1) == selected.group(2), "not every operation ran"
