"""Reaction videos through real worker processes: a known timeline, and kill -9 mid-video.

The timeline test uses the model the project ships: its viewers look happy for the first ten
seconds of the ad and sad for the next ten, and the timeline export must say so in the
right bins.
"""

from __future__ import annotations

import csv
import io
import os
import signal
import time
from collections.abc import Callable

import numpy as np
import pytest
from django.core.files.base import ContentFile
from django.db.models import Count

from analytics import exports, results
from analytics.headlines import HEADLINES
from analytics.selectors import decisions
from analytics.selectors.dashboards import DashboardFilters
from campaigns.models import BatchStatus, Face, ImageKind, ImageStatus, UploadBatch
from campaigns.services import batches
from inference.services import model_version_register
from ml import SHIPPED_MODEL_DIR
from tests import factories
from tests.ingest_support import batch_wait, zip_build
from tests.shared_data import fer_test_faces
from tests.video_support import confident_scenes, face_scene, video_bytes

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def ad():
    team = factories.team_create()
    return factories.ad_create(campaign=factories.campaign_create(team=team))


def test_a_known_timeline_comes_back_in_the_right_bins(ad, worker_start, model_cache, settings):
    # given the shipped model active, and three viewers' 20 s videos: happy, then sad at 10 s
    model_version = model_version_register(source_dir=SHIPPED_MODEL_DIR, activate=True)
    happy, sad = confident_scenes("happy", 3), confident_scenes("sad", 3)

    def reaction(viewer: int) -> Callable[[float], np.ndarray]:
        return lambda t: happy[viewer] if t < 10 else sad[viewer]

    members = {f"viewer-{i}.mp4": video_bytes(reaction(i), seconds=20, fps=10) for i in range(3)}
    members["manifest.csv"] = b"file,viewer,offset_seconds,market\n" + b"".join(
        f"viewer-{i}.mp4,v{i},0,{'DE' if i else 'FR'}\n".encode() for i in range(3)
    )
    settings.INGEST_CHUNK_SIZE = 16
    worker = worker_start()
    batch = batches.batch_create(
        ad=ad, upload=ContentFile(zip_build(members), "v.zip"), source_name="v.zip"
    )
    # when the workers analyse it
    batch = batch_wait(batch, until=lambda b: b.is_finished, timeout=240, workers=[worker])
    # then every frame is analysed, one face each
    assert batch.status == BatchStatus.DONE, batch.error
    assert batch.images.filter(kind=ImageKind.FRAME, status=ImageStatus.DONE).count() == 120
    # and the timeline export in 5 s bins shows the switch at 10 s, for three viewers
    filters = DashboardFilters(model_version=model_version)
    header, rows = exports.export_table(
        level="timeline", campaign=ad.campaign, filters=filters, ad=ad, bin_seconds=5
    )
    text = "".join(exports.csv_lines(header, rows, bom=False))
    timeline = list(csv.DictReader(io.StringIO(text)))
    assert [(r["second_from"], r["second_to"], r["viewers"]) for r in timeline] == [
        ("0", "5", "3"), ("5", "10", "3"), ("10", "15", "3"), ("15", "20", "3")
    ]  # fmt: skip
    for row in timeline[:2]:
        assert float(row["share_happy"]) >= 0.8 and float(row["share_sad"]) <= 0.1, row
    for row in timeline[2:]:
        assert float(row["share_sad"]) >= 0.8 and float(row["share_happy"]) <= 0.1, row
    # and the worker rebuilt the ad's timeline rollups once the upload finished: the dashboard
    # reads them, and they show the fall at 0:10 (three viewers are too few for a key moment:
    # the small-sample rule of the verdict)
    deadline = time.monotonic() + 60
    while not decisions.timeline_rollups(filters=filters, ad_ids=[ad.pk], step=0, width=1):
        assert time.monotonic() < deadline, worker.log.read_text()[-3000:]
        time.sleep(0.5)
    found = results.campaign_results(
        campaign=ad.campaign, filters=filters, headline=None, breakdown=""
    )
    assert found.timeline.width == 5
    reading = found.reading(ad.pk)
    positive = [
        b.estimate(HEADLINES["positive"], reading.correction).value
        for b in found.timeline.bins[ad.pk]
    ]
    assert min(positive[:2]) > 0.8 and max(positive[2:]) < 0.2, positive
    assert found.moments == []
    # and the viewers export has each viewer with their market
    header, rows = exports.export_table(level="viewers", campaign=ad.campaign, filters=filters)
    viewers = {row[1]: dict(zip(header, row, strict=True)) for row in rows}
    assert {v: viewers[v]["market"] for v in viewers} == {"v0": "FR", "v1": "DE", "v2": "DE"}
    assert all(viewers[v]["faces"] == 40 for v in viewers)


def test_kill_9_mid_video_then_the_chunk_comes_back_with_exact_counts(
    ad, active_model, worker_start, settings, report_figure
):
    # given a worker without the sweeper on one 30 s video, all its 60 frames in one chunk
    faces = [pixels for pixels, _ in fer_test_faces(1)]
    scenes = [face_scene(face, seed=i) for i, face in enumerate(faces)]
    video = video_bytes(lambda t: scenes[int(t) % len(scenes)], seconds=30, fps=10)
    settings.INGEST_CHUNK_SIZE = 60
    worker = worker_start(beat=False, INGEST_CHUNK_TIME_LIMIT="300")
    batch = batches.batch_create(
        ad=ad, upload=ContentFile(zip_build({"long.mp4": video}), "l.zip"), source_name="l.zip"
    )
    batch_wait(
        batch,
        until=lambda b: b.images.filter(status=ImageStatus.PROCESSING).exists(),
        timeout=90,
        workers=[worker],
    )
    # when the pool process decoding it is killed with SIGKILL
    (pool,) = worker.pool_processes()
    os.kill(pool, signal.SIGKILL)
    killed_at = time.monotonic()
    batch.refresh_from_db()
    assert not batch.is_finished, "the chunk finished before the kill: make the video longer"
    # then the chunk comes back, every frame is analysed once and no face is written twice
    batch = batch_wait(batch, until=lambda b: b.is_finished, timeout=120, workers=[worker])
    assert batch.status == BatchStatus.DONE, batch.error
    frames = batch.images.filter(kind=ImageKind.FRAME)
    assert frames.filter(status=ImageStatus.DONE).count() == 60 == batch.images_processed
    assert batch.faces_found == Face.objects.filter(image__batch=batch).count()
    doubled = (
        Face.objects.filter(image__batch=batch).values("image").annotate(n=Count("id"))
    ).filter(n__gt=1)
    assert not doubled.exists()
    report_figure(
        f"pool process kill -9 mid-video -> batch done in {time.monotonic() - killed_at:.1f} s"
    )
    assert UploadBatch.objects.get(pk=batch.pk).images_failed == 0
