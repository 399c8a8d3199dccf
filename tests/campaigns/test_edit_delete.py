"""Editing and deleting campaigns, ads and uploads in the app: team-scoped, CSRF-protected,
confirmed first; a deletion takes its results and stored files with it, never another
upload's."""

from __future__ import annotations

import hashlib

import pytest
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from campaigns.models import (
    Ad,
    BatchStatus,
    Campaign,
    Face,
    ImageKind,
    ImageStatus,
    ReactionImage,
    ReactionVideo,
    UploadBatch,
    Viewer,
)
from campaigns.services import batches, teams
from campaigns.services.extraction import photo_store
from tests import factories
from tests.analytics.dashboard_data import face_add, viewer_create
from tests.ingest_support import plain_photo

pytestmark = pytest.mark.django_db


@pytest.fixture
def model_version():
    return factories.model_version_create()


def _photo(batch: UploadBatch, data: bytes, model_version, *, faces: int = 1) -> ReactionImage:
    """An analysed photo stored as extraction stores it (by content hash), with its faces."""
    sha = hashlib.sha256(data).hexdigest()
    image = ReactionImage.objects.create(
        batch=batch,
        original_name=f"{sha[:8]}.png",
        sha256=sha,
        file=photo_store(data=data, sha256=sha),
        status=ImageStatus.DONE,
        width=64,
        height=48,
        processed_at=timezone.now(),
    )
    for _ in range(faces):
        face_add(image=image, model_version=model_version, label="happy")
    return image


def _video(batch: UploadBatch, model_version) -> ReactionVideo:
    """A stored reaction video with one analysed frame."""
    data = b"\x00\x00\x00\x18ftypisom" + bytes(range(256)) * 4
    sha = hashlib.sha256(data + str(batch.pk).encode()).hexdigest()
    name = default_storage.save(f"videos/{sha[:2]}/{sha}.mp4", ContentFile(data))
    video = ReactionVideo.objects.create(
        batch=batch,
        original_name="r.mp4",
        sha256=sha,
        file=name,
        duration_seconds=1.0,
        width=64,
        height=48,
    )
    frame = ReactionImage.objects.create(
        batch=batch,
        kind=ImageKind.FRAME,
        original_name="r.mp4 @ 0.00 s",
        sha256="",
        status=ImageStatus.DONE,
        video=video,
        frame_seconds=0.0,
    )
    face_add(image=frame, model_version=model_version, label="sad")
    return video


@pytest.fixture
def world(client, model_version):
    """A member's campaign with two ads; ad one has a finished upload of two photos and a
    video, ad two an upload holding one of those photos again (the same stored file)."""
    team = factories.team_create(name="Acme")
    user = factories.user_create(team=team)
    client.force_login(user)
    campaign = factories.campaign_create(team=team, name="Spring")
    ad, other_ad = (factories.ad_create(campaign=campaign, name=n) for n in ("One", "Two"))
    batch = factories.batch_create(ad=ad, status=BatchStatus.DONE)
    shared = _photo(batch, plain_photo(1), model_version, faces=2)
    own = _photo(batch, plain_photo(2), model_version)
    video = _video(batch, model_version)
    other_batch = factories.batch_create(ad=other_ad, status=BatchStatus.DONE)
    again = _photo(other_batch, plain_photo(1), model_version)
    assert again.file.name == shared.file.name
    return {
        "user": user,
        "team": team,
        "campaign": campaign,
        "ad": ad,
        "other_ad": other_ad,
        "batch": batch,
        "other_batch": other_batch,
        "files": {"shared": shared.file.name, "own": own.file.name, "video": video.file.name},
    }


# Uploads ---------------------------------------------------------------------------------------


def test_deleting_an_upload_asks_first_and_deletes_nothing_on_the_question(client, world):
    # when the member opens the upload's delete link
    response = client.get(reverse("campaigns:batch_delete", args=[world["batch"].pk]))
    # then a confirmation page says what goes, with a CSRF-protected form, and nothing went
    assert response.status_code == 200
    html = response.content.decode()
    assert "This cannot be undone" in html and 'name="csrfmiddlewaretoken"' in html
    assert '<form method="post">' in html
    footprint = response.context["footprint"]
    assert (footprint.uploads, footprint.photos, footprint.videos, footprint.faces) == (1, 2, 1, 4)
    assert UploadBatch.objects.filter(pk=world["batch"].pk).exists()


def test_deleting_an_upload_deletes_its_results_and_files_but_not_a_shared_photo(
    client, world, django_capture_on_commit_callbacks
):
    batch, files = world["batch"], world["files"]
    # when the member confirms
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("campaigns:batch_delete", args=[batch.pk]))
    # then they are back on the ad's page, and the upload, its rows and faces are gone
    assert response.status_code == 302
    assert response.url == reverse("campaigns:ad_detail", args=[world["ad"].pk])
    assert not UploadBatch.objects.filter(pk=batch.pk).exists()
    assert not ReactionImage.objects.filter(batch_id=batch.pk).exists()
    assert not ReactionVideo.objects.filter(batch_id=batch.pk).exists()
    assert not Face.objects.filter(image__batch__ad=world["ad"]).exists()
    # and its own photo and video are deleted from storage
    assert not default_storage.exists(files["own"])
    assert not default_storage.exists(files["video"])
    # but the photo another upload also holds stays, with that upload's results
    assert default_storage.exists(files["shared"])
    assert Face.objects.filter(image__batch=world["other_batch"]).count() == 1
    page = client.get(reverse("campaigns:ad_detail", args=[world["ad"].pk]))
    assert "was deleted" in page.content.decode() or "were deleted" in page.content.decode()


def test_an_upload_still_being_processed_cannot_be_deleted(client, world):
    batch = factories.batch_create(ad=world["ad"], status=BatchStatus.PROCESSING)
    # the confirmation page says why instead of offering the button
    page = client.get(reverse("campaigns:batch_delete", args=[batch.pk]))
    assert b"still being processed" in page.content and b'<form method="post">' not in page.content
    # and a POST is refused with the reason, deleting nothing
    response = client.post(reverse("campaigns:batch_delete", args=[batch.pk]), follow=True)
    assert response.redirect_chain[-1][0] == reverse("campaigns:batch_detail", args=[batch.pk])
    assert f"{batch.source_name} is still being processed" in response.content.decode()
    assert UploadBatch.objects.filter(pk=batch.pk).exists()


def test_batch_delete_refuses_every_unfinished_status(world):
    for status in (BatchStatus.RECEIVED, BatchStatus.EXTRACTING, BatchStatus.PROCESSING):
        batch = factories.batch_create(ad=world["ad"], status=status)
        with pytest.raises(ValidationError, match="still being processed"):
            batches.batch_delete(batch=batch)
        assert UploadBatch.objects.filter(pk=batch.pk).exists()


def test_files_stay_until_the_deletion_is_committed(world, django_capture_on_commit_callbacks):
    # when the upload is deleted but the transaction has not committed yet
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        batches.batch_delete(batch=world["batch"])
    # then its files are still there (a rolled-back deletion keeps them); the commit deletes
    assert default_storage.exists(world["files"]["own"])
    for callback in callbacks:
        callback()
    assert not default_storage.exists(world["files"]["own"])


# Ads ---------------------------------------------------------------------------------------------


def test_deleting_an_ad_deletes_its_uploads_files_and_creative(
    client, world, django_capture_on_commit_callbacks
):
    ad = world["ad"]
    ad.creative.save("spot.png", ContentFile(plain_photo(9)))
    creative = ad.creative.name
    page = client.get(reverse("campaigns:ad_delete", args=[ad.pk]))
    assert page.status_code == 200 and page.context["footprint"].uploads == 1
    # when confirmed
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("campaigns:ad_delete", args=[ad.pk]))
    # then the campaign page follows, without the ad, its uploads or their files
    assert response.url == reverse("campaigns:campaign_detail", args=[world["campaign"].pk])
    assert not Ad.objects.filter(pk=ad.pk).exists()
    assert not UploadBatch.objects.filter(ad_id=ad.pk).exists()
    assert not default_storage.exists(world["files"]["own"])
    assert not default_storage.exists(world["files"]["video"])
    assert not default_storage.exists(creative)
    # and the other ad keeps its upload and the photo file it shares
    assert UploadBatch.objects.filter(pk=world["other_batch"].pk).exists()
    assert default_storage.exists(world["files"]["shared"])


def test_an_ad_with_an_upload_in_progress_cannot_be_deleted(client, world):
    factories.batch_create(ad=world["ad"], status=BatchStatus.EXTRACTING)
    response = client.post(reverse("campaigns:ad_delete", args=[world["ad"].pk]), follow=True)
    assert "still being processed" in response.content.decode()
    assert Ad.objects.filter(pk=world["ad"].pk).exists()
    # and nothing of it was deleted either
    assert UploadBatch.objects.filter(pk=world["batch"].pk).exists()


def test_editing_an_ad_changes_it_and_replaces_its_creative(
    client, world, django_capture_on_commit_callbacks
):
    ad = world["ad"]
    ad.creative.save("old.png", ContentFile(plain_photo(8)))
    old = ad.creative.name
    url = reverse("campaigns:ad_edit", args=[ad.pk])
    # the form shows the ad as it is
    form = client.get(url).context["form"]
    assert form["name"].value() == "One"
    # when a new name, length and creative are saved
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            url,
            {
                "name": "One (30s cut)",
                "duration_seconds": "30",
                "creative": SimpleUploadedFile("new.png", plain_photo(7)),
            },
        )
    # then the ad's page follows with the changes, and the old file is gone from storage
    assert response.status_code == 302
    assert response.url == reverse("campaigns:ad_detail", args=[ad.pk])
    ad.refresh_from_db()
    assert (ad.name, ad.duration_seconds) == ("One (30s cut)", 30.0)
    assert ad.creative.name != old and default_storage.exists(ad.creative.name)
    assert not default_storage.exists(old)
    # and its uploads are untouched
    assert UploadBatch.objects.filter(ad=ad).count() == 1


def test_clearing_an_ads_creative_deletes_the_file(
    client, world, django_capture_on_commit_callbacks
):
    ad = world["ad"]
    ad.creative.save("old.png", ContentFile(plain_photo(8)))
    old = ad.creative.name
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            reverse("campaigns:ad_edit", args=[ad.pk]), {"name": "One", "creative-clear": "on"}
        )
    ad.refresh_from_db()
    assert not ad.creative and not default_storage.exists(old)


def test_renaming_an_ad_to_a_taken_name_is_a_form_error(client, world):
    response = client.post(reverse("campaigns:ad_edit", args=[world["ad"].pk]), {"name": "Two"})
    assert response.status_code == 200
    assert "already has an ad named" in response.content.decode()
    assert Ad.objects.get(pk=world["ad"].pk).name == "One"


# Campaigns -----------------------------------------------------------------------------------


def test_editing_a_campaign_changes_its_fields_not_its_team(client, world):
    campaign = world["campaign"]
    url = reverse("campaigns:campaign_edit", args=[campaign.pk])
    assert client.get(url).context["form"]["name"].value() == "Spring"
    response = client.post(
        url,
        {"name": "Spring 2025", "brand": "Acme Cola", "starts_on": "2025-03-01"},
    )
    assert response.url == reverse("campaigns:campaign_detail", args=[campaign.pk])
    campaign.refresh_from_db()
    assert (campaign.name, campaign.brand, str(campaign.starts_on)) == (
        "Spring 2025",
        "Acme Cola",
        "2025-03-01",
    )
    assert campaign.team == world["team"]


def test_campaign_edits_are_validated(client, world):
    factories.campaign_create(team=world["team"], name="Autumn")
    url = reverse("campaigns:campaign_edit", args=[world["campaign"].pk])
    taken = client.post(url, {"name": "Autumn"})
    backwards = client.post(
        url, {"name": "Spring", "starts_on": "2025-05-02", "ends_on": "2025-05-01"}
    )
    assert "already has a campaign named" in taken.content.decode()
    assert "cannot end before it starts" in backwards.content.decode()
    assert Campaign.objects.get(pk=world["campaign"].pk).name == "Spring"


def test_deleting_a_campaign_deletes_its_ads_viewers_uploads_and_files(
    client, world, django_capture_on_commit_callbacks
):
    campaign = world["campaign"]
    viewer_create(campaign=campaign, external_id="resp-1", market="DE")
    kept = factories.campaign_create(team=world["team"], name="Kept")
    page = client.get(reverse("campaigns:campaign_delete", args=[campaign.pk]))
    assert page.context["footprint"].uploads == 2 and "2 ads" in page.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("campaigns:campaign_delete", args=[campaign.pk]))
    assert response.url == reverse("campaigns:campaign_list")
    assert not Campaign.objects.filter(pk=campaign.pk).exists()
    assert not Ad.objects.filter(campaign_id=campaign.pk).exists()
    assert not Viewer.objects.filter(campaign_id=campaign.pk).exists()
    assert not Face.objects.exists()
    # every file of its uploads is gone, the shared one too: no upload holds it any more
    assert not any(default_storage.exists(name) for name in world["files"].values())
    assert Campaign.objects.filter(pk=kept.pk).exists()


def test_a_campaign_with_an_upload_in_progress_cannot_be_deleted(client, world):
    factories.batch_create(ad=world["other_ad"], status=BatchStatus.PROCESSING)
    page = client.get(reverse("campaigns:campaign_delete", args=[world["campaign"].pk]))
    assert b"still being processed" in page.content and b'<form method="post">' not in page.content
    with pytest.raises(ValidationError, match="campaign Spring can be deleted once"):
        teams.campaign_delete(campaign=world["campaign"])
    assert UploadBatch.objects.filter(ad__campaign=world["campaign"]).count() == 3


# Scoping, CSRF and links -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("campaigns:campaign_edit", "campaign"),
        ("campaigns:campaign_delete", "campaign"),
        ("campaigns:ad_edit", "ad"),
        ("campaigns:ad_delete", "ad"),
        ("campaigns:batch_delete", "batch"),
    ],
)
def test_another_teams_objects_are_404_to_edit_or_delete(client, world, name, key):
    # given a member of another team
    client.force_login(factories.user_create(team=factories.team_create()))
    url = reverse(name, args=[world[key].pk])
    # when they open or post the edit or delete page of this team's object
    # then both are 404 and nothing changed
    assert client.get(url).status_code == 404
    assert client.post(url, {"name": "Mine"}).status_code == 404
    assert Campaign.objects.get(pk=world["campaign"].pk).name == "Spring"
    assert Ad.objects.get(pk=world["ad"].pk).name == "One"
    assert UploadBatch.objects.filter(pk=world["batch"].pk).exists()


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("campaigns:campaign_delete", "campaign"),
        ("campaigns:ad_delete", "ad"),
        ("campaigns:batch_delete", "batch"),
    ],
)
def test_a_delete_without_the_csrf_token_is_refused(world, name, key):
    # given a browser session of the member, as another site would use it
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(world["user"])
    # when a form posts the deletion without the page's token
    response = browser.post(reverse(name, args=[world[key].pk]))
    # then it is refused and nothing was deleted
    assert response.status_code == 403
    assert UploadBatch.objects.filter(pk=world["batch"].pk).exists()


def test_the_pages_link_to_edit_and_delete(client, world):
    campaign_page = client.get(reverse("campaigns:campaign_detail", args=[world["campaign"].pk]))
    ad_page = client.get(reverse("campaigns:ad_detail", args=[world["ad"].pk]))
    batch_page = client.get(reverse("campaigns:batch_detail", args=[world["batch"].pk]))
    for url in (
        reverse("campaigns:campaign_edit", args=[world["campaign"].pk]),
        reverse("campaigns:campaign_delete", args=[world["campaign"].pk]),
        reverse("campaigns:ad_edit", args=[world["ad"].pk]),
        reverse("campaigns:ad_delete", args=[world["ad"].pk]),
    ):
        assert url in campaign_page.content.decode()
    assert reverse("campaigns:ad_edit", args=[world["ad"].pk]) in ad_page.content.decode()
    assert reverse("campaigns:ad_delete", args=[world["ad"].pk]) in ad_page.content.decode()
    delete_batch = reverse("campaigns:batch_delete", args=[world["batch"].pk])
    assert delete_batch in ad_page.content.decode()
    assert delete_batch in batch_page.content.decode()
