"""The dashboard's decisions in a browser, from uploads analysed by real workers with the
shipped model: which ad is better, when in the ad, for whom, and a model switch that keeps
the results.

Two ads, ten viewers each, 10 s reaction videos and a manifest. Spot A's viewers look happy
all along. Spot B's five viewers in DE look happy for 5 s, then sad; its five in FR stay
happy. So A is the more positive ad, B's positive share falls at 0:05, and only in DE.
"""

from __future__ import annotations

import json
import re
import shutil

import numpy as np
import pytest

from campaigns.models import BatchStatus, UploadBatch
from inference.services import model_version_register
from ml import SHIPPED_MODEL_DIR
from tests import factories
from tests.browser_support import log_in, needs_chromium, step
from tests.ingest_support import batch_wait, zip_build
from tests.video_support import confident_scenes, video_bytes

pytestmark = [
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    needs_chromium,
]

# Spot B's change (half its viewers turn sad) must stand out of 18 Holm-corrected changes.
VIEWERS = 16
SECONDS = 10
BATCH_TIMEOUT_S = 300


def _reactions(ad_key: str, happy: list[np.ndarray], sad: list[np.ndarray]) -> bytes:
    """The ZIP of one ad: a video per viewer and the manifest naming viewer and market."""
    members: dict[str, bytes] = {}
    manifest = ["file,viewer,offset_seconds,market"]
    for i in range(VIEWERS):
        market = "DE" if i < VIEWERS // 2 else "FR"
        turns_sad = ad_key == "b" and market == "DE"

        def frame(t: float, i: int = i, turns_sad: bool = turns_sad) -> np.ndarray:
            scene = sad[i % len(sad)] if turns_sad and t >= SECONDS / 2 else happy[i % len(happy)]
            # a mark of the viewer in the corner: two viewers' videos are never the same
            # file (an upload skips a file it already has)
            marked = scene.copy()
            marked[:16, :16] = 15 * i
            return marked

        name = f"viewer-{ad_key}{i}.mp4"
        members[name] = video_bytes(frame, seconds=SECONDS, fps=10)
        manifest.append(f"{name},{ad_key}{i},0,{market}")
    members["manifest.csv"] = ("\n".join(manifest) + "\n").encode()
    return zip_build(members)


def _model_copy(tmp_path, version: str):
    """The shipped artifact under another version number (a retrained model, as far as the
    platform can tell)."""
    folder = tmp_path / f"model-{version}"
    shutil.copytree(SHIPPED_MODEL_DIR, folder)
    meta = json.loads((folder / "model.json").read_text())
    meta["version"] = version
    (folder / "model.json").write_text(json.dumps(meta))
    return folder


def test_the_dashboard_says_which_ad_when_for_whom_and_keeps_results_across_models(
    browser,
    live_server,
    worker_start,
    model_cache,
    settings,
    tmp_path,
):
    base = live_server.url
    shipped = model_version_register(source_dir=SHIPPED_MODEL_DIR, activate=True)
    happy, sad = confident_scenes("happy", 4), confident_scenes("sad", 4)
    team = factories.team_create(name="Decisions team")
    user = factories.user_create(username="decider", team=team)
    campaign = factories.campaign_create(team=team, name="Launch")
    ads = {key: factories.ad_create(campaign=campaign, name=f"Spot {key.upper()}") for key in "ab"}
    settings.INGEST_CHUNK_SIZE = 40
    worker = worker_start()
    context = browser.new_context()
    page = context.new_page()
    dashboard = f"{base}/campaigns/{campaign.pk}/dashboard/"

    with step(page, "decisions-1-upload-two-ads"):
        log_in(page, base, user.username)
        for key, ad in ads.items():
            archive = tmp_path / f"spot-{key}.zip"
            archive.write_bytes(_reactions(key, happy, sad))
            page.goto(f"{base}/ads/{ad.pk}/")
            page.click("#upload-photos")
            page.set_input_files("input[type=file]", str(archive))
            page.click("#upload-form button[type=submit]")
            page.wait_for_url(re.compile(r".*/batches/\d+/$"))
        for ad in ads.values():
            batch = batch_wait(
                UploadBatch.objects.get(ad=ad),
                until=lambda b: b.is_finished,
                timeout=BATCH_TIMEOUT_S,
                workers=[worker],
            )
            assert batch.status == BatchStatus.DONE, batch.error
        # the batch page reloads itself when its batch finishes: read on in a fresh tab
        page.close()
        page = context.new_page()

    with step(page, "decisions-2-which-ad"):
        page.goto(dashboard)
        summary = page.inner_text("#verdict-summary")
        assert re.match(
            r"Spot A is the best ad on positive: Spot A is \d+ points more positive than "
            r"Spot B \(95% CI \d+ to \d+\)",
            summary,
        ), summary
        first = page.locator("#ranking tbody tr").first
        assert "Spot A" in first.inner_text() and "16 viewers" in first.inner_text()
        assert "Each viewer counts as one unit" in page.inner_text("#verdict")

    with step(page, "decisions-3-when-in-the-ad"):
        page.wait_for_selector("#timeline-chart .main-svg")
        moments = page.inner_text("#key-moments")
        assert re.search(r"Spot B, 0:05-0:0\d: the positive share falls by \d+ points", moments)
        assert "Spot A," not in moments

    def positive_shares() -> dict[str, str]:
        rows = page.locator("#ranking tbody tr")
        return {
            rows.nth(i).locator("td").nth(1).inner_text(): rows.nth(i)
            .locator("td")
            .nth(2)
            .inner_text()
            for i in range(rows.count())
        }

    with step(page, "decisions-4-for-whom"):
        everyone = positive_shares()
        page.select_option("select[name=breakdown]", "market")
        page.click("#dashboard-filters button[type=submit]")
        segments = page.inner_text("#segment-table")
        assert "DE" in segments and "FR" in segments and "8 viewers" in segments
        page.select_option("select[name=segment]", "market=DE")
        page.click("#dashboard-filters button[type=submit]")
        in_de = positive_shares()
        assert "Showing only viewers with market: DE" in page.inner_text("#segments")
        # B's share among DE viewers (sad half the time) is below its share among everyone
        assert int(in_de["Spot B"].rstrip("%")) < int(everyone["Spot B"].rstrip("%"))
        assert "8 viewers" in page.inner_text("#ranking")

    new_version = model_version_register(source_dir=_model_copy(tmp_path, "1.4-b"), activate=True)
    with step(page, "decisions-5-a-new-model-keeps-the-results"):
        page.goto(dashboard)
        assert page.inner_text("#verdict-summary") == summary
        notes = page.inner_text("#model-versions")
        assert f"Spot A shows the results of {shipped.name} {shipped.version}" in notes
        page.click(f"text=Re-analyse Spot A with {new_version.name} {new_version.version}")
        page.wait_for_url(re.compile(r".*/dashboard/.*"))
        batch = batch_wait(
            UploadBatch.objects.get(ad=ads["a"]),
            until=lambda b: b.is_finished and b.model_version_id == new_version.pk,
            timeout=BATCH_TIMEOUT_S,
            workers=[worker],
        )
        assert batch.status == BatchStatus.DONE, batch.error
        page.goto(dashboard)
        notes = page.inner_text("#model-versions")
        assert "Spot A shows the results" not in notes
        assert f"Spot B shows the results of {shipped.name} {shipped.version}" in notes
        # the same weights under a new version: the same verdict, read from the new results
        assert page.inner_text("#verdict-summary") == summary
