"""An upload through the API, analysed by a real worker: the API page's own `requests` example
(docs/api.md) runs against a live server, waits for the batch and reads the verdict."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from analytics.results import campaign_results
from analytics.selectors.dashboards import DashboardFilters
from api.services import api_token_create
from campaigns.models import BatchStatus, Face, UploadBatch
from tests import factories
from tests.ingest_support import batch_wait, zip_build

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

API_PAGE = Path(__file__).resolve().parents[2] / "docs" / "api.md"
EXAMPLE_TIMEOUT_S = 300


def api_page_example() -> str:
    """The first Python block of the documentation's API page."""
    match = re.search(r"```python\n(.*?)```", API_PAGE.read_text(), re.DOTALL)
    assert match, "docs/api.md has no Python example"
    return match.group(1)


def test_the_api_pages_example_uploads_a_zip_waits_and_reads_the_verdict(
    live_server, active_model, face_photos, worker_start, tmp_path
):
    # given a team's token, an ad, a ZIP of reaction photos with one broken member, a worker
    team = factories.team_create(name="Panel team")
    user = factories.user_create(username="panel", team=team)
    _, secret = api_token_create(user=user, team=team, name="Survey tool")
    campaign = factories.campaign_create(team=team, name="Summer")
    ad = factories.ad_create(campaign=campaign, name="Beach spot")
    archive = tmp_path / "reactions.zip"
    members = {f"viewer-{i:02d}.jpg": data for i, data in enumerate(face_photos[:6])}
    archive.write_bytes(zip_build({**members, "broken.jpg": b"not a photo at all"}))
    worker = worker_start()
    # when the API page's example runs, with this server, ad, token and file
    code = api_page_example()
    for literal, value in (
        ('"http://127.0.0.1:8000/api/v1"', repr(f"{live_server.url}/api/v1")),
        ("AD_ID = 1", f"AD_ID = {ad.pk}"),
        ('"Bearer fer_your_token"', repr(f"Bearer {secret}")),
        ('"reactions.zip"', repr(str(archive))),
    ):
        assert literal in code, literal
        code = code.replace(literal, value)
    try:
        run = subprocess.run(
            [sys.executable, "-c", code],
            check=False,
            capture_output=True,
            text=True,
            timeout=EXAMPLE_TIMEOUT_S,
            env={**os.environ, "PYTHONPATH": ""},
        )
    except subprocess.TimeoutExpired:
        batch = UploadBatch.objects.get(ad=ad)
        batch_wait(batch, until=lambda b: b.is_finished, timeout=1, workers=[worker])
        raise
    assert run.returncode == 0, run.stderr + worker.log.read_text()[-4000:]
    # then the worker analysed the upload, and the example printed what the API answered
    batch = UploadBatch.objects.get(ad=ad)
    assert batch.status in (BatchStatus.DONE, BatchStatus.PARTIAL), batch.error
    faces = Face.objects.filter(image__batch=batch).count()
    assert faces > 0
    lines = run.stdout.splitlines()
    assert lines[0] == f"{batch.status} {faces} faces; 1 problems"
    verdict = campaign_results(campaign=campaign, filters=DashboardFilters()).verdict
    assert lines[1] == verdict.summary
    assert lines[2].split()[1:3] == ["Beach", "spot"]
