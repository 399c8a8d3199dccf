"""Reaction capture in a real browser: Debian's Chromium with a fake camera fed from a file
the test makes, the study's public page, real workers analysing the frames as they come.

The viewer looks happy for the first 6 seconds of the camera and sad after; the ad lasts
12 s. The camera opens again when the ad starts, so the file's first frame is the ad's first
second (within the time the video takes to start playing)."""

from __future__ import annotations

import csv
import io
import os
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from django.core.files.base import ContentFile
from django.db.models import Count
from PIL import Image

from analytics import exports
from analytics.selectors.dashboards import DashboardFilters
from campaigns.models import BatchStatus, Face, ImageStatus, ReactionImage, UploadBatch, Viewer
from studies.models import CaptureSession, SessionStatus
from studies.services import studies
from tests import factories
from tests.browser_support import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS
from tests.studies.camera_support import chromium_camera_args, y4m_write
from tests.video_support import video_bytes

pytestmark = [
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not CHROMIUM.is_file(), reason=f"Chromium not found at {CHROMIUM}"),
]

AD_SECONDS = 12
SWITCH_SECONDS = 6


def _ad_video() -> bytes:
    """The ad: 12 s of VP8 WebM (Chromium plays it without proprietary codecs)."""

    def frame(t: float) -> np.ndarray:
        pixels = np.zeros((120, 160, 3), dtype=np.uint8)
        pixels[:, :, 0] = int(t * 20) % 256
        pixels[:, : int(160 * t / AD_SECONDS), 1] = 200
        return pixels

    return video_bytes(frame, seconds=AD_SECONDS, fps=10, container="webm", codec="libvpx")


@pytest.fixture
def study(live_server):
    team = factories.team_create(name="Acme Research")
    campaign = factories.campaign_create(team=team, name="Spring launch")
    ad = factories.ad_create(campaign=campaign, name="Spot 12s")
    ad.creative.save("spot.webm", ContentFile(_ad_video()), save=False)
    ad.duration_seconds = AD_SECONDS
    ad.save()
    back = f"{live_server.url}/thanks/?pid={{pid}}"
    return studies.study_create(
        campaign=campaign,
        ads=[ad],
        name="Wave 1",
        kept_params="market",
        complete_url=back + "&s=complete",
        declined_url=back + "&s=declined",
        failed_url=back + "&s=failed",
    )


@pytest.fixture
def launch(tmp_path) -> Iterator:
    """Start Chromium with a fake camera; every browser is closed after the test."""
    playwright_api = pytest.importorskip("playwright.sync_api")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with playwright_api.sync_playwright() as playwright:
        opened = []

        def start(camera: Path | None, *, allow: bool = True):
            browser = playwright.chromium.launch(
                executable_path=str(CHROMIUM),
                args=CHROMIUM_ARGS + chromium_camera_args(camera, allow=allow),
            )
            opened.append(browser)
            return browser.new_page(viewport={"width": 390, "height": 844})

        try:
            yield start
        finally:
            for browser in opened:
                browser.close()
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)


def _shot(page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"capture-{name}.png"), full_page=True)


def _face_camera(folder: Path) -> Path:
    """A camera that shows one still face (a FER2013 face on a background)."""
    from tests.shared_data import fer_test_faces
    from tests.video_support import face_scene

    (face, _), *_ = fer_test_faces(1)
    scene = face_scene(face, seed=3)
    return y4m_write(folder / "face.y4m", lambda t: scene, seconds=2, fps=10)


def _consent_and_start(page, url: str) -> None:
    """Open the link, agree, pass the camera check and start the ads."""
    page.goto(url)
    page.click("#agree")
    page.wait_for_selector("#start", state="visible", timeout=60_000)
    page.click("#start")


def _stored_files(media: Path) -> list[Path]:
    folder = media / "photos"
    return [p for p in folder.rglob("*") if p.is_file()] if folder.exists() else []


def test_a_viewer_watches_and_the_timeline_shows_the_change_in_its_bin(
    study,
    live_server,
    launch,
    worker_start,
    model_cache,
    tmp_path,
    settings,
    report_figure,
    media_root,
):
    # given the shipped model, a worker, and a camera file: happy for 6 s, then sad
    from inference.services import model_version_register
    from ml import SHIPPED_MODEL_DIR
    from tests.video_support import confident_scenes

    model_version = model_version_register(source_dir=SHIPPED_MODEL_DIR, activate=True)
    happy, sad = confident_scenes("happy", 1)[0], confident_scenes("sad", 1)[0]
    camera = y4m_write(
        tmp_path / "cam.y4m",
        lambda t: happy if t < SWITCH_SECONDS else sad,
        seconds=2 * AD_SECONDS,
        fps=10,
    )
    settings.INGEST_CHUNK_SIZE = 8
    # and the team's rule: photos deleted right after analysis
    settings.PHOTO_RETENTION = "immediate"
    worker = worker_start(INGEST_CHUNK_TIME_LIMIT="300")
    page = launch(camera)
    # and a network that drops three chunk uploads mid-ad
    dropped: list[str] = []
    seen: list[str] = []

    def flaky(route):
        seen.append(route.request.url)
        if len(dropped) < 3 and len(seen) % 2 == 0:
            dropped.append(route.request.url)
            route.abort()
        else:
            route.continue_()

    page.route("**/api/ads/*/frames", flaky)
    # when the viewer opens the link from the survey, agrees, passes the camera check and
    # watches the ad
    page.goto(f"{live_server.url}/s/{study.slug}/?pid=resp-42&market=DE&email=x@y.z")
    assert "Acme Research" in page.content()
    assert not CaptureSession.objects.exists()
    page.click("#agree")
    try:
        page.wait_for_selector("#start", state="visible", timeout=60_000)
    except Exception:
        _shot(page, "camera-check")
        raise
    page.click("#start")
    try:
        page.wait_for_url("**/thanks/?pid=resp-42&s=complete", timeout=90_000)
    except Exception:
        _shot(page, "watch")
        raise
    finished = time.monotonic()
    # then the frames arrived once each, stamped with the ad's playback time
    session = CaptureSession.objects.get()
    assert session.status == SessionStatus.COMPLETED and not session.low_quality, session.quality
    assert len(dropped) == 3
    batch = UploadBatch.objects.get(ad__studies=study)
    frames = ReactionImage.objects.filter(batch=batch)
    names = list(frames.values_list("original_name", flat=True))
    assert len(names) == len(set(names))
    offsets = sorted(t for t in frames.values_list("offset_seconds", flat=True) if t is not None)
    assert len(offsets) == len(names)
    assert len(offsets) >= AD_SECONDS * 5 * 0.7, len(offsets)
    assert offsets[0] < 1.0 and AD_SECONDS - 1.0 < offsets[-1] <= AD_SECONDS
    viewer = Viewer.objects.get()
    assert (viewer.external_id, viewer.attribute_dict) == (
        "resp-42",
        {"market": "DE", "capture_quality": "ok"},
    )
    # and the workers analyse them: the upload is done within seconds of the end
    deadline = time.monotonic() + 120
    while UploadBatch.objects.get(pk=batch.pk).status != BatchStatus.DONE:
        assert time.monotonic() < deadline, worker.log.read_text()[-4000:]
        time.sleep(0.3)
    report_figure(f"upload done {time.monotonic() - finished:.1f} s after the ad ended")
    assert not (
        Face.objects.filter(image__batch=batch)
        .values("image")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
    ).exists()
    assert frames.filter(status=ImageStatus.DONE).count() == len(names)
    # and under "delete right after analysis" only the faces' results remain
    assert not frames.exclude(file="").exists() and not _stored_files(media_root)
    # and the ad's timeline in 3 s bins shows happy before the switch and sad after it
    filters = DashboardFilters(model_version=model_version)
    header, rows = exports.export_table(
        level="timeline", campaign=study.campaign, filters=filters, ad=batch.ad, bin_seconds=3
    )
    timeline = list(
        csv.DictReader(io.StringIO("".join(exports.csv_lines(header, rows, bom=False))))
    )
    assert [r["second_from"] for r in timeline] == ["0", "3", "6", "9"]
    shares = [(float(r["share_happy"]), float(r["share_sad"])) for r in timeline]
    report_figure(f"timeline happy/sad shares by 3 s bin: {shares}")
    for happy_share, sad_share in shares[:2]:
        assert happy_share >= 0.7 and sad_share <= 0.2, shares
    for happy_share, sad_share in shares[2:]:
        assert sad_share >= 0.7 and happy_share <= 0.2, shares
    # and the participant's kept parameter is a segment: the same timeline for market = DE
    segment = DashboardFilters(model_version=model_version, segment=("market", "DE"))
    header, rows = exports.export_table(
        level="timeline", campaign=study.campaign, filters=segment, ad=batch.ad, bin_seconds=3
    )
    assert [row[header.index("viewers")] for row in rows] == [1, 1, 1, 1]


def test_camera_refused_goes_to_the_declined_url(study, live_server, launch):
    from tests.studies.support import model_active

    model_active()
    page = launch(None, allow=False)
    page.goto(f"{live_server.url}/s/{study.slug}/?pid=resp-1")
    page.click("#agree")
    page.wait_for_url("**/thanks/?pid=resp-1&s=declined", timeout=30_000)
    session = CaptureSession.objects.get()
    assert (session.status, session.reason) == (SessionStatus.DECLINED, "camera refused")


def test_no_face_goes_to_the_failed_url(study, live_server, launch, tmp_path):
    from tests.studies.support import model_active

    model_active()
    gray = np.full((240, 320, 3), 140, dtype=np.uint8)
    page = launch(y4m_write(tmp_path / "empty.y4m", lambda t: gray, seconds=2, fps=10))
    page.goto(f"{live_server.url}/s/{study.slug}/?pid=resp-2")
    page.click("#agree")
    for _ in range(2):
        page.wait_for_selector("#retry", state="visible", timeout=30_000)
        assert "cannot see your face" in page.inner_text("#camera-message")
        page.click("#retry")
    page.wait_for_url("**/thanks/?pid=resp-2&s=failed", timeout=30_000)
    assert CaptureSession.objects.get().status == SessionStatus.FAILED


def test_stop_and_delete_mid_ad_leaves_nothing(study, live_server, launch, tmp_path, media_root):
    from tests.studies.support import model_active

    model_active()
    page = launch(_face_camera(tmp_path))
    _consent_and_start(page, f"{live_server.url}/s/{study.slug}/?pid=resp-3&market=FR")
    deadline = time.monotonic() + 30
    while ReactionImage.objects.count() < 5:
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert _stored_files(media_root)
    # when the viewer stops and deletes their data while the ad plays
    page.click("#withdraw")
    page.wait_for_url("**/thanks/?pid=resp-3&s=declined", timeout=30_000)
    time.sleep(1.5)  # a chunk in flight is refused: the session is withdrawn
    # then nothing of them is left in the database or the store
    assert not ReactionImage.objects.exists() and not Face.objects.exists()
    assert not UploadBatch.objects.exists() and not Viewer.objects.exists()
    assert not _stored_files(media_root)
    assert CaptureSession.objects.get().status == SessionStatus.WITHDRAWN


def test_an_image_creative_is_shown_for_its_seconds_then_the_next_ad_plays(
    study, live_server, launch, tmp_path
):
    # given a study of an image shown 3 s, then the 12 s video
    from tests.studies.support import model_active

    model_active()
    poster = factories.ad_create(campaign=study.campaign, name="Poster")
    buffer = io.BytesIO()
    Image.new("RGB", (320, 200), (230, 120, 40)).save(buffer, format="PNG")
    poster.creative.save("poster.png", ContentFile(buffer.getvalue()), save=True)
    video_ad = study.study_ads.get().ad
    studies.study_update(study=study, ads=[poster, video_ad], image_seconds=3)
    page = launch(_face_camera(tmp_path))
    # when the viewer watches both
    _consent_and_start(page, f"{live_server.url}/s/{study.slug}/?pid=resp-5")
    page.wait_for_url("**/thanks/?pid=resp-5&s=complete", timeout=90_000)
    # then each ad has its upload, the image's frames within its 3 s
    by_ad = {
        ad_id: sorted(
            t
            for t in ReactionImage.objects.filter(batch__ad_id=ad_id).values_list(
                "offset_seconds", flat=True
            )
            if t is not None
        )
        for ad_id in (poster.pk, video_ad.pk)
    }
    assert 10 <= len(by_ad[poster.pk]) <= 16 and by_ad[poster.pk][-1] <= 3.0, by_ad[poster.pk]
    assert len(by_ad[video_ad.pk]) >= AD_SECONDS * 5 * 0.7
    assert CaptureSession.objects.get().status == SessionStatus.COMPLETED
