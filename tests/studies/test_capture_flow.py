"""The viewer's side of a study through HTTP, as the page's script calls it: consent first,
frames into the campaigns pipeline with their offsets, idempotent retries, limits, outcomes
and their redirects, withdrawal. No worker: the rows are checked where the services write them."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.utils import timezone

from analytics.results import campaign_results
from analytics.selectors.dashboards import DashboardFilters
from campaigns.models import (
    BatchStatus,
    Face,
    ImageStatus,
    ReactionImage,
    UploadBatch,
    Viewer,
    ViewerAttribute,
)
from studies.models import CaptureSession, SessionAd, SessionStatus, StudyStatus
from studies.selectors import study_counts
from studies.services import sessions, studies
from studies.services.sessions import token_hash
from tests import factories
from tests.studies.support import Viewer as ViewerClient
from tests.studies.support import jpeg, model_active, study_build

pytestmark = pytest.mark.django_db


@pytest.fixture
def study():
    model_active()
    return study_build()


def _watch(viewer: ViewerClient, ad_id: int, seconds: list[float]) -> None:
    assert viewer.post("capture_ad_start", ad_id=ad_id).status_code == 200
    frames = [(i, t, jpeg(i)) for i, t in enumerate(seconds)]
    response = viewer.frames(ad_id, frames)
    assert response.status_code == 200, response.content
    assert response.json()["stored"] == len(frames)


def test_the_page_shows_consent_first_and_stores_nothing(client, study):
    # when a viewer opens the link with their survey's parameters
    response = client.get(f"/s/{study.slug}/?pid=r-17&age_band=25-34")
    # then the consent text and the team's name are shown, with the script served from here
    assert response.status_code == 200
    page = response.content.decode()
    assert study.campaign.team.name in page and "Stop and delete my data" in page
    assert "I agree" in page and "{team}" not in page
    assert "How long the pictures are kept: Photos are" in page
    assert 'src="http' not in page and 'href="http' not in page
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    # and nothing was stored
    assert not CaptureSession.objects.exists() and not Viewer.objects.exists()


def test_consent_makes_a_viewer_with_the_kept_parameters(study):
    viewer = ViewerClient(study)
    response = viewer.start(pid="r-17", age_band="25-34", market="DE", email="x@example.com")
    assert response.status_code == 200
    body = response.json()
    assert [ad["kind"] for ad in body["ads"]] == ["video"] and body["fps"] == 5
    session = CaptureSession.objects.get()
    # the token is not stored, its hash is
    assert session.token_hash == token_hash(viewer.token) and viewer.token not in str(
        CaptureSession.objects.values().get()
    )
    assert session.viewer is not None and session.viewer.external_id == "r-17"
    assert session.viewer.attribute_dict == {"age_band": "25-34", "market": "DE"}


def test_frames_become_photos_with_their_playback_offsets_and_retries_add_nothing(study):
    viewer = ViewerClient(study)
    viewer.start(pid="r-1")
    ad = study.study_ads.get().ad
    _watch(viewer, ad.pk, [0.0, 0.2, 0.41, 0.6])
    # when the same chunk is sent again (a retry after a network error) with one new frame
    again = viewer.frames(ad.pk, [(i, 0.2 * i, jpeg(i)) for i in range(5)])
    # then only the new frame is stored
    assert again.json() == {"stored": 1, "duplicates": 4, "refused": []}
    session = CaptureSession.objects.get()
    batch = UploadBatch.objects.get(ad=ad)
    images = ReactionImage.objects.filter(batch=batch).order_by("offset_seconds")
    assert [i.offset_seconds for i in images] == [0.0, 0.2, 0.41, 0.6, 0.8]
    assert {i.viewer_id for i in images} == {session.viewer_id}
    assert {i.status for i in images} == {ImageStatus.PENDING}
    assert all(default_storage.exists(i.file.name) for i in images)
    assert batch.status == BatchStatus.RECEIVED and batch.model_version is not None
    assert SessionAd.objects.get().frames_received == 5


def test_bad_frames_are_refused_alone_and_limits_hold(study, settings):
    viewer = ViewerClient(study)
    viewer.start(pid="r-2")
    ad = study.study_ads.get().ad
    viewer.post("capture_ad_start", ad_id=ad.pk)
    settings.CAPTURE_MAX_FRAME_BYTES = 4000
    big = jpeg(1, size=(400, 300))
    assert len(big) > 4000
    response = viewer.frames(
        ad.pk, [(0, 0.0, jpeg(0)), (1, 0.2, b"GIF89a..."), (2, -1.0, jpeg(2)), (3, 0.6, big)]
    )
    assert response.status_code == 200
    body = response.json()
    assert body["stored"] == 1
    assert [r["index"] for r in body["refused"]] == [1, 2, 3]
    assert "not a JPEG" in body["refused"][0]["reason"]
    # too many frames in one request
    settings.CAPTURE_MAX_FRAMES_PER_REQUEST = 2
    response = viewer.frames(ad.pk, [(i, 0.1 * i, jpeg(i)) for i in range(10, 13)])
    assert response.status_code == 413
    # faster than the study's frame rate allows
    settings.CAPTURE_MAX_FRAMES_PER_REQUEST = 500
    flood = [(i, 0.01 * i, jpeg(i)) for i in range(100, 200)]
    assert viewer.frames(ad.pk, flood).status_code == 429
    assert ReactionImage.objects.count() == 1


def test_a_token_opens_only_its_own_session(study):
    ad = study.study_ads.get().ad
    first, second = ViewerClient(study), ViewerClient(study)
    first.start(pid="a")
    second.start(pid="b")
    _watch(first, ad.pk, [0.0])
    second.post("capture_ad_start", ad_id=ad.pk)
    _watch_b = second.frames(ad.pk, [(0, 0.0, jpeg(50))])
    assert _watch_b.json()["stored"] == 1  # its own frame 0, not a duplicate of the first's
    forged = ViewerClient(study)
    forged.token = "not-a-token"
    assert forged.frames(ad.pk, [(1, 0.2, jpeg(9))]).status_code == 403
    other_study = study_build(name="Other", team_name="Other team")
    first.study = other_study  # the token of one study does not open another's
    assert first.post("capture_withdraw").status_code == 403
    assert ReactionImage.objects.count() == 2


def test_a_paused_or_closed_study_accepts_nothing(study):
    viewer = ViewerClient(study)
    viewer.start(pid="r-3")
    ad = study.study_ads.get().ad
    viewer.post("capture_ad_start", ad_id=ad.pk)
    studies.study_status_set(study=study, status=StudyStatus.PAUSED)
    assert viewer.frames(ad.pk, [(0, 0.0, jpeg(0))]).status_code == 409
    assert ViewerClient(study).start(pid="r-4").status_code == 409
    studies.study_status_set(study=study, status=StudyStatus.CLOSED)
    assert "not taking part" in ViewerClient(study).client.get(f"/s/{study.slug}/").content.decode()
    assert not ReactionImage.objects.exists()


def test_complete_ends_the_upload_and_redirects_with_the_participant_id(study):
    viewer = ViewerClient(study)
    viewer.start(pid="r 5/é")
    ad = study.study_ads.get().ad
    _watch(viewer, ad.pk, [0.2 * i for i in range(10)])
    assert viewer.post("capture_ad_end", {"played_seconds": 2.0}, ad_id=ad.pk).status_code == 200
    batch = UploadBatch.objects.get(ad=ad)
    assert batch.status == BatchStatus.PROCESSING
    response = viewer.post("capture_finish", {"outcome": "completed"})
    assert response.json() == {
        "status": "completed",
        "redirect": "https://survey.example.com/done?pid=r%205%2F%C3%A9&s=c",
    }
    session = CaptureSession.objects.get()
    assert not session.low_quality, session.quality
    assert session.viewer is not None and session.viewer.attribute_dict["capture_quality"] == "ok"
    assert not session.viewer.low_quality
    # the page may ask again: same answer, nothing changes
    assert viewer.post("capture_finish", {"outcome": "failed"}).json()["status"] == "completed"
    # and frames after the end are refused
    assert viewer.frames(ad.pk, [(99, 1.0, jpeg(99))]).status_code == 409


def test_missing_frames_make_a_low_quality_session_sent_to_failed(study):
    viewer = ViewerClient(study)
    viewer.start(pid="r-6")
    ad = study.study_ads.get().ad
    _watch(viewer, ad.pk, [0.0, 0.2])
    viewer.post("capture_ad_end", {"played_seconds": 10.0}, ad_id=ad.pk)
    response = viewer.post("capture_finish", {"outcome": "completed"})
    assert response.json()["redirect"].endswith("pid=r-6&s=f")
    session = CaptureSession.objects.get()
    assert session.low_quality and session.quality["frames_expected"] == 50
    assert study_counts(study=study)["low_quality"] == 1
    assert ViewerAttribute.objects.get(name="capture_quality").value == "low"
    assert session.viewer is not None and session.viewer.low_quality


def test_declining_counts_and_redirects_without_keeping_anything(study):
    viewer = ViewerClient(study)
    response = viewer.post("capture_decline", {"query": {"pid": "r-7", "market": "DE"}})
    assert response.json() == {
        "status": "declined",
        "redirect": "https://survey.example.com/done?pid=r-7&s=d",
    }
    assert not Viewer.objects.exists()
    counts = study_counts(study=study)
    assert (counts["declined"], counts["started"]) == (1, 0)


def test_camera_refused_is_declined(study):
    viewer = ViewerClient(study)
    viewer.start(pid="r-8")
    response = viewer.post("capture_finish", {"outcome": "declined", "reason": "camera refused"})
    assert response.json()["redirect"].endswith("pid=r-8&s=d")
    counts = study_counts(study=study)
    assert (counts["declined"], counts["started"]) == (1, 1)


def test_withdrawal_deletes_the_viewer_frames_faces_and_files(study):
    viewer = ViewerClient(study)
    viewer.start(pid="r-9", market="DE")
    ad = study.study_ads.get().ad
    _watch(viewer, ad.pk, [0.0, 0.2, 0.4])
    image = ReactionImage.objects.first()
    assert image is not None
    batch = UploadBatch.objects.get()
    model_version = batch.model_version
    assert model_version is not None
    ReactionImage.objects.filter(pk=image.pk).update(status=ImageStatus.DONE)
    factories.face_create(image=image, model_version=model_version)
    # when the viewer stops and deletes their data mid-ad
    response = viewer.post("capture_withdraw")
    assert response.json()["status"] == "withdrawn"
    # then nothing of them is left: rows, results and stored files
    assert not ReactionImage.objects.exists() and not Face.objects.exists()
    assert not UploadBatch.objects.exists() and not Viewer.objects.exists()
    assert not ViewerAttribute.objects.exists()
    session = CaptureSession.objects.get()
    assert (session.status, session.participant_id, session.params) == ("withdrawn", "", {})
    # and the session takes nothing more
    assert viewer.frames(ad.pk, [(5, 1.0, jpeg(5))]).status_code in (404, 409)
    assert study_counts(study=study)["withdrawn"] == 1


def test_withdrawal_deletes_stored_files_once_committed(study, django_capture_on_commit_callbacks):
    viewer = ViewerClient(study)
    viewer.start(pid="r-10")
    ad = study.study_ads.get().ad
    _watch(viewer, ad.pk, [0.0, 0.2])
    files = [i.file.name for i in ReactionImage.objects.all()]
    assert files and all(default_storage.exists(name) for name in files)
    with django_capture_on_commit_callbacks(execute=True):
        viewer.post("capture_withdraw")
    assert not any(default_storage.exists(name) for name in files)


def test_the_quota_closes_the_link(study):
    studies.study_update(study=study, quota=1)
    viewer = ViewerClient(study)
    viewer.start(pid="q-1")
    ad = study.study_ads.get().ad
    _watch(viewer, ad.pk, [0.2 * i for i in range(10)])
    viewer.post("capture_ad_end", {"played_seconds": 2.0}, ad_id=ad.pk)
    viewer.post("capture_finish", {"outcome": "completed"})
    response = ViewerClient(study).start(pid="q-2")
    assert response.status_code == 409 and "all the viewers" in response.json()["error"]


def test_a_silent_session_is_closed_as_abandoned(study):
    viewer = ViewerClient(study)
    viewer.start(pid="r-11")
    ad = study.study_ads.get().ad
    _watch(viewer, ad.pk, [0.0])
    CaptureSession.objects.update(last_seen_at=timezone.now() - dt.timedelta(hours=1))
    assert sessions.sessions_close_abandoned() == 1
    session = CaptureSession.objects.get()
    assert (session.status, session.reason) == (SessionStatus.FAILED, "abandoned")
    assert UploadBatch.objects.get().status == BatchStatus.PROCESSING


def test_redirect_urls_must_be_web_urls(study):
    with pytest.raises(ValidationError):
        studies.study_update(study=study, complete_url="javascript:alert(1)")
    with pytest.raises(ValidationError):
        studies.study_update(study=study, failed_url="ftp://example.com/x")


def test_a_changed_consent_text_is_a_new_version(study):
    assert study.consent_version == 1
    studies.study_update(study=study, consent_text="New words.")
    assert study.consent_version == 2
    viewer = ViewerClient(study)
    viewer.start(pid="r-12")
    assert CaptureSession.objects.get().consent_version == 2


def test_dark_frames_make_a_low_quality_session(study):
    viewer = ViewerClient(study)
    viewer.start(pid="r-13")
    ad = study.study_ads.get().ad
    viewer.post("capture_ad_start", ad_id=ad.pk)
    viewer.frames(ad.pk, [(i, 0.2 * i, jpeg(i)) for i in range(10)], luma=12)
    viewer.post("capture_ad_end", {"played_seconds": 2.0}, ad_id=ad.pk)
    viewer.post("capture_finish", {"outcome": "completed"})
    session = CaptureSession.objects.get()
    assert session.low_quality and session.quality["reasons"] == ["10 of 10 frames too dark"]


def test_an_image_creative_is_shown_for_the_studys_seconds():
    model_active()
    study = study_build(image_seconds=7)
    ad = study.study_ads.get().ad
    ad.creative.name = "creatives/poster.png"
    ad.save()
    body = ViewerClient(study).start(pid="r-14").json()
    assert [(a["kind"], a["seconds"]) for a in body["ads"]] == [("image", 7)]


def test_quality_is_decided_again_once_every_frame_is_analysed(study):
    # given a session that completed before any frame was analysed
    viewer = ViewerClient(study)
    viewer.start(pid="r-15")
    ad = study.study_ads.get().ad
    _watch(viewer, ad.pk, [0.2 * i for i in range(10)])
    viewer.post("capture_ad_end", {"played_seconds": 2.0}, ad_id=ad.pk)
    viewer.post("capture_finish", {"outcome": "completed"})
    assert not CaptureSession.objects.get().low_quality
    assert sessions.sessions_quality_refresh() == 0  # its upload is still being analysed
    # when the workers find a face in 2 frames of 10
    batch = UploadBatch.objects.get()
    assert batch.model_version is not None
    ReactionImage.objects.update(status=ImageStatus.DONE)
    for image in ReactionImage.objects.all()[:2]:
        factories.face_create(image=image, model_version=batch.model_version)
    UploadBatch.objects.update(status=BatchStatus.DONE)
    # then the session is low quality after all, once
    assert sessions.sessions_quality_refresh() == 1
    session = CaptureSession.objects.get()
    assert session.low_quality and session.quality["reasons"] == ["a face in 2 of 10 frames"]
    assert ViewerAttribute.objects.get(name="capture_quality").value == "low"
    assert sessions.sessions_quality_refresh() == 0
    # and its viewer is left out of the campaign's figures unless a filter puts it back
    assert session.viewer is not None and session.viewer.low_quality
    campaign = ad.campaign
    found = campaign_results(campaign=campaign, filters=DashboardFilters())
    assert (found.total_faces, found.low_quality_viewers) == (0, 1)
    asked = DashboardFilters(with_low_quality=True)
    assert campaign_results(campaign=campaign, filters=asked).total_faces == 2
