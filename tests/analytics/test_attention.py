"""Attention over an ad's seconds: a viewer who looks away between two known seconds shows
as a dip in those bins; the photo page shows each face's pose and whether it counted.

The reaction video is built from a London-set face (frontal, eyes open), blanked (the viewer
gone from the frame) between seconds 2 and 4; the model is the tiny test artifact (labels
arbitrary): these tests check who looked and when, not which emotion.
"""

from __future__ import annotations

import io

import numpy as np
import pytest
from django.core.files.base import ContentFile
from django.urls import reverse
from PIL import Image

from analytics import exports, results
from analytics.attention import FrameCounts, attention_bins
from analytics.selectors.dashboards import DashboardFilters
from analytics.services.tallies import tallies_rebuild
from campaigns.models import Face, ImageStatus, ReactionImage, UploadBatch, Viewer
from campaigns.services import batches, extraction, images
from tests import factories
from tests.analytics.dashboard_data import face_add
from tests.ingest_support import zip_build
from tests.shared_data import shared_file
from tests.video_support import video_bytes

pytestmark = pytest.mark.django_db

AWAY = (2.0, 4.0)


@pytest.fixture(scope="module")
def viewer_face() -> np.ndarray:
    path = shared_file("london-faces/neutral/001_03.jpg")
    return np.asarray(Image.open(path).convert("RGB").resize((320, 320)))


@pytest.fixture
def ad(active_model):
    team = factories.team_create()
    return factories.ad_create(campaign=factories.campaign_create(team=team))


def _analysed(ad, members: dict[str, bytes]) -> UploadBatch:
    batch = batches.batch_create(
        ad=ad, upload=ContentFile(zip_build(members), "r.zip"), source_name="r.zip"
    )
    extraction.batch_extract(batch_id=batch.pk)
    ids = list(
        batch.images.filter(status=ImageStatus.PENDING).order_by("pk").values_list("pk", flat=True)
    )
    batch.refresh_from_db()
    assert batch.model_version_id is not None
    images.images_classify(image_ids=ids, model_version_id=batch.model_version_id)
    batch.refresh_from_db()
    return batch


def _looking_away_video(face: np.ndarray) -> bytes:
    blank = np.full_like(face, 128)
    return video_bytes(lambda t: blank if AWAY[0] <= t < AWAY[1] else face, seconds=6, fps=10)


def test_a_viewer_looking_away_between_known_seconds_dips_in_those_bins(ad, viewer_face, client):
    # given a reaction video whose viewer is gone from the frame between seconds 2 and 4
    members = {
        "r1.mp4": _looking_away_video(viewer_face),
        "manifest.csv": b"file,viewer,offset_seconds\r\nr1.mp4,resp-1,0\r\n",
    }
    batch = _analysed(ad, members)
    assert batch.status == "done", batch.error
    # when the timeline is exported in bins of 1 s
    filters = DashboardFilters(model_version=batch.model_version)
    header, rows = exports.export_table(
        level="timeline", campaign=ad.campaign, filters=filters, ad=ad, bin_seconds=1
    )
    timeline = {row[1]: dict(zip(header, row, strict=True)) for row in rows}
    # then every second has its frames, present and attentive where the viewer looked...
    assert sorted(timeline, key=float) == ["0", "1", "2", "3", "4", "5"]
    for second in ("0", "1", "4", "5"):
        assert float(timeline[second]["attentive"]) == 1.0, timeline[second]
        assert float(timeline[second]["still_looking"]) == 1.0
    # ...and neither present nor attentive in the seconds they were away (still looking: they
    # come back later)
    for second in ("2", "3"):
        assert float(timeline[second]["present"]) == 0.0, timeline[second]
        assert float(timeline[second]["attentive"]) == 0.0
        assert float(timeline[second]["attentive_ci_high"]) <= 1.0
        assert timeline[second]["frames"] == "2"
    # and the dashboard's timeline fragment shows the attention table beside it
    client.force_login(factories.user_create(team=ad.campaign.team))
    html = client.get(
        reverse("campaigns:campaign_dashboard_timeline", args=[ad.campaign.pk])
    ).content.decode()
    assert 'id="attention"' in html and "Still looking" in html
    assert "think of something else" in html


def test_the_photo_page_shows_the_pose_and_whether_the_face_counted(ad, viewer_face, client):
    # given a photo of a frontal face, analysed
    buffer = io.BytesIO()
    Image.fromarray(viewer_face).save(buffer, format="JPEG")
    batch = _analysed(ad, {"a.jpg": buffer.getvalue()})
    face = Face.objects.get(image__batch=batch)
    assert face.yaw is not None and abs(face.yaw) < 10 and face.attentive and face.readable
    # when its page is shown
    client.force_login(factories.user_create(team=ad.campaign.team))
    html = client.get(reverse("campaigns:photo_detail", args=[face.image_id])).content.decode()
    # then it says the pose, attentive, and that its expression counts
    assert "Pose: yaw" in html and 'data-attentive="yes"' in html
    assert "Its expression counts in the shares." in html


def test_a_face_under_the_quality_threshold_is_marked_as_not_counted(ad, client):
    # given a face analysed as turned far away (quality 0)
    batch = factories.batch_create(ad=ad, status="done")
    image = factories.image_create(batch=batch, status=ImageStatus.DONE)
    face = factories.face_create(image=image, model_version=factories.model_version_create())
    Face.objects.filter(pk=face.pk).update(
        yaw=70.0, pitch=0.0, roll=0.0, eye_openness=0.3, quality=0.0
    )
    client.force_login(factories.user_create(team=ad.campaign.team))
    html = client.get(reverse("campaigns:photo_detail", args=[image.pk])).content.decode()
    assert 'data-attentive="no"' in html and 'data-counted="no"' in html
    assert "Its expression is not counted" in html


def test_still_looking_counts_viewers_attentive_now_or_later():
    # given viewer 1 attentive in bins 0-3, viewer 2 in bins 0-1 then away until the end
    rows = [FrameCounts(1, b, 1, 2, 2, 2) for b in range(4)]
    rows += [FrameCounts(1, b, 2, 2, 2, 2 if b < 2 else 0) for b in range(4)]
    # when binned
    (bins,) = attention_bins(rows, width=1).values()
    # then half the viewers are still looking from bin 2 on, and the attentive share drops
    assert [b.still_looking.value for b in bins if b.still_looking] == [1.0, 1.0, 0.5, 0.5]
    assert [b.attentive.value for b in bins] == [1.0, 1.0, 0.5, 0.5]
    assert all(b.attentive.low <= b.attentive.value <= b.attentive.high for b in bins)


def test_faces_under_the_quality_threshold_are_left_out_of_the_shares_and_counted_aside(client):
    # given an ad with three readable happy faces and two unreadable sad ones (quality 0.1)
    team = factories.team_create()
    campaign = factories.campaign_create(team=team)
    ad = factories.ad_create(campaign=campaign)
    batch = factories.batch_create(ad=ad, status="done")
    model = factories.model_version_create()
    for label, quality in [("happy", 0.9)] * 3 + [("sad", 0.1)] * 2 + [("happy", None)]:
        image = factories.image_create(batch=batch, status=ImageStatus.DONE)
        face_add(image=image, model_version=model, label=label, quality=quality)
    # when the dashboard's figures are read (from the tallies)
    found = results.campaign_results(
        campaign=campaign, filters=DashboardFilters(model_version=model, as_classified=True)
    )
    # then only the readable faces count, and the unreadable ones are counted aside
    (summary,) = found.summaries
    assert summary.faces == 4 and summary.counts["sad"] == 0
    assert found.unreadable_faces == 2
    # and a recount from the faces agrees with the tallies kept in step
    tallies_rebuild(batch_ids=[batch.pk])
    again = results.campaign_results(
        campaign=campaign, filters=DashboardFilters(model_version=model, as_classified=True)
    )
    assert again.summaries[0].faces == 4
    # and the page says how many were left out
    client.force_login(factories.user_create(team=team))
    html = client.get(
        reverse("campaigns:campaign_dashboard", args=[campaign.pk]), {"model_version": model.pk}
    ).content.decode()
    assert "2 faces not counted in the shares" in html


def _frames_of_viewers(ad, model, attentive_frames: list[int], *, frames: int = 4) -> None:
    """One viewer per entry, each with `frames` frames a second apart, the first
    `attentive_frames[i]` of them attentive, the others turned away (yaw 60)."""
    batch = factories.batch_create(ad=ad, status="done")
    for number, looking in enumerate(attentive_frames):
        viewer = Viewer.objects.create(campaign=ad.campaign, external_id=f"{ad.name}-{number}")
        for second in range(frames):
            image = factories.image_create(batch=batch, status=ImageStatus.DONE)
            ReactionImage.objects.filter(pk=image.pk).update(viewer=viewer, offset_seconds=second)
            face = factories.face_create(image=image, model_version=model)
            yaw = 0.0 if second < looking else 60.0
            Face.objects.filter(pk=face.pk).update(
                yaw=yaw, pitch=0.0, roll=0.0, eye_openness=0.3, quality=0.9
            )


def test_the_verdict_ranks_ads_on_attention_when_chosen(client):
    # given ad A whose 12 viewers all look at every frame, and ad B whose first 6 viewers
    # look at all 4 of their frames and whose other 6 at none (attentive share 24/48 = 0.5)
    team = factories.team_create()
    campaign = factories.campaign_create(team=team)
    model = factories.model_version_create()
    a = factories.ad_create(campaign=campaign, name="A")
    b = factories.ad_create(campaign=campaign, name="B")
    _frames_of_viewers(a, model, [4] * 12)
    _frames_of_viewers(b, model, [4] * 6 + [0] * 6)
    # when the verdict is read on attention
    found = results.campaign_results(
        campaign=campaign, filters=DashboardFilters(model_version=model), headline="attention"
    )
    # then A ranks first at 1.0, B second at exactly 0.5 with an interval from its viewers
    first, second = found.verdict.standings
    assert (first.name, first.rank, first.estimate.value) == ("A", 1, 1.0)
    assert (second.name, second.rank) == ("B", 2)
    assert second.estimate.value == pytest.approx(0.5)
    # the sandwich variance by hand: 12 viewers of 4 frames, residuals +-4 * 0.5, so
    # 12 / 11 * 12 * 2^2 / 48^2
    assert second.estimate.sampling_error == pytest.approx((12 / 11 * 48 / 48**2) ** 0.5)
    assert 0.15 < second.estimate.interval.low < 0.5 < second.estimate.interval.high < 0.85
    assert second.clearly_behind
    # and the page names attention as the headline, uncorrected
    client.force_login(factories.user_create(team=team))
    html = client.get(
        reverse("campaigns:campaign_dashboard", args=[campaign.pk]),
        {"model_version": model.pk, "headline": "attention"},
    ).content.decode()
    assert "Which ad is better on attentive share?" in html
    assert "never corrected for the model's errors" in html
    # and the timeline draws the attentive share (A flat at 100 over its 4 seconds)
    part = client.get(
        reverse("campaigns:campaign_dashboard_timeline", args=[campaign.pk]),
        {"model_version": model.pk, "headline": "attention"},
    )
    chart = part.context["timeline_chart"]
    assert chart["label"] == "attentive share"
    lines = [trace for trace in chart["traces"] if trace.get("name") == "A"]
    assert lines and set(lines[0]["y"]) == {100.0}
