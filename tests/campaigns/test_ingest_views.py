"""Upload form, batch page and its JSON status, through HTTP."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from django.contrib.staticfiles import finders
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from campaigns.models import UploadBatch
from campaigns.services import batches, extraction, images
from campaigns.services.transitions import status_change
from tests import factories
from tests.ingest_support import plain_photo, zip_build

pytestmark = pytest.mark.django_db


@pytest.fixture
def team():
    return factories.team_create()


@pytest.fixture
def ad(team):
    return factories.ad_create(campaign=factories.campaign_create(team=team))


@pytest.fixture
def member(client, team):
    user = factories.user_create(team=team)
    client.force_login(user)
    return user


def test_the_upload_page_shows_the_form_with_the_limit(client, member, ad, settings):
    settings.UPLOAD_MAX_BYTES = 5 * 1024**2
    response = client.get(reverse("campaigns:batch_upload", args=[ad.pk]))
    assert response.status_code == 200
    assert b"up to 5 MiB" in response.content
    # and its script (a static file: the pages run no inline script) shows upload progress
    assert b'src="/static/campaigns/batch_upload.js"' in response.content
    script = finders.find("campaigns/batch_upload.js")
    assert script and "xhr.upload" in Path(script).read_text()


def test_a_zip_upload_creates_a_batch_and_answers_its_page(client, member, ad, active_model):
    # given a ZIP posted by the page's script
    upload = SimpleUploadedFile("reactions.zip", zip_build({"a.png": plain_photo(1)}))
    # when posted
    response = client.post(
        reverse("campaigns:batch_upload", args=[ad.pk]),
        {"archive": upload},
        headers={"accept": "application/json"},
    )
    # then a received batch exists and the reply points at its page
    batch = UploadBatch.objects.get()
    assert response.status_code == 201
    assert response.json()["url"] == reverse("campaigns:batch_detail", args=[batch.pk])
    assert (batch.source_name, batch.status, batch.uploaded_by) == (
        "reactions.zip", "received", member
    )  # fmt: skip


def test_loose_photos_are_accepted_and_redirect_without_script(client, member, ad, active_model):
    photos = [SimpleUploadedFile(f"p{i}.png", plain_photo(i)) for i in range(2)]
    response = client.post(reverse("campaigns:batch_upload", args=[ad.pk]), {"photos": photos})
    batch = UploadBatch.objects.get()
    assert response.status_code == 302
    assert response.url == reverse("campaigns:batch_detail", args=[batch.pk])
    assert batch.source_name == "2 photos"


def test_an_empty_form_is_an_error(client, member, ad, active_model):
    response = client.post(
        reverse("campaigns:batch_upload", args=[ad.pk]), {}, headers={"accept": "application/json"}
    )
    assert response.status_code == 400
    assert "either one ZIP" in response.json()["errors"][0]


def test_an_upload_over_the_limit_is_refused_before_it_is_read(client, member, ad, settings):
    settings.UPLOAD_MAX_BYTES = 1000
    upload = SimpleUploadedFile("big.zip", b"x" * 5000)
    response = client.post(reverse("campaigns:batch_upload", args=[ad.pk]), {"archive": upload})
    assert response.status_code == 413
    assert not UploadBatch.objects.exists()


def test_the_status_endpoint_reports_progress(client, member, ad, active_model, face_photos):
    # given a batch being processed: 2 photos, one analysed, plus a duplicate
    from django.core.files.base import ContentFile

    members = {"a.jpg": face_photos[0], "b.jpg": face_photos[1], "c.jpg": face_photos[0]}
    batch = batches.batch_create(
        ad=ad, upload=ContentFile(zip_build(members), "x.zip"), source_name="x.zip"
    )
    extraction.batch_extract(batch_id=batch.pk)
    first = batch.images.get(original_name="a.jpg")
    images.images_classify(image_ids=[first.pk], model_version_id=active_model.pk)
    # when the page polls
    response = client.get(reverse("campaigns:batch_status", args=[batch.pk]))
    # then it reports processing 1/2 with the duplicate counted apart
    status = response.json()
    assert status["stage"] == "processing 1/2"
    assert (status["processed"], status["duplicates"], status["skipped"]) == (1, 1, 0)
    assert status["finished"] is False and status["faces"] > 0
    # and the batch page shows the same, with the retention mode
    page = client.get(reverse("campaigns:batch_detail", args=[batch.pk]))
    assert b"processing 1/2" in page.content and b"Photo retention" in page.content


def test_another_teams_batch_is_not_found(client, member, active_model):
    other_ad = factories.ad_create(campaign=factories.campaign_create(team=factories.team_create()))
    batch = factories.batch_create(ad=other_ad)
    assert client.get(reverse("campaigns:batch_status", args=[batch.pk])).status_code == 404
    assert client.get(reverse("campaigns:batch_detail", args=[batch.pk])).status_code == 404
    assert client.get(reverse("campaigns:batch_upload", args=[other_ad.pk])).status_code == 404


def test_reprocess_from_the_page_needs_a_finished_batch(client, member, ad, active_model):
    batch = factories.batch_create(ad=ad, status=UploadBatch.Status.PROCESSING)
    response = client.post(
        reverse("campaigns:batch_reprocess", args=[batch.pk]), {"model_version": active_model.pk}
    )
    assert response.status_code == 302
    batch.refresh_from_db()
    assert batch.status == UploadBatch.Status.PROCESSING


def test_a_heic_photo_is_stored_and_shown_to_the_browser_as_a_jpeg(
    client, member, ad, active_model
):
    # given an iPhone photo in HEIC, uploaded in a ZIP and extracted
    from django.core.files.base import ContentFile
    from PIL import Image

    pixels = np.random.default_rng(4).integers(0, 256, size=(60, 90, 3), dtype=np.uint8)
    heic = io.BytesIO()
    Image.fromarray(pixels).save(heic, format="HEIF")
    batch = batches.batch_create(
        ad=ad,
        upload=ContentFile(zip_build({"IMG_0001.HEIC": heic.getvalue()}), "x.zip"),
        source_name="x.zip",
    )
    extraction.batch_extract(batch_id=batch.pk)
    image = batch.images.get()
    assert image.status == "pending" and image.file.name.endswith(".heic")
    # when its photo is requested by the page
    response = client.get(reverse("campaigns:photo_file", args=[image.pk]))
    # then the browser gets a JPEG of the same size
    assert response["Content-Type"] == "image/jpeg"
    shown = Image.open(io.BytesIO(b"".join(response.streaming_content)))
    assert (shown.format, shown.size) == ("JPEG", (90, 60))


def test_too_many_loose_photos_get_a_clear_json_error(client, member, ad, active_model, settings):
    # given more loose photos than one upload may hold
    settings.DATA_UPLOAD_MAX_NUMBER_FILES = 3
    photos = [SimpleUploadedFile(f"p{i}.png", plain_photo(i)) for i in range(5)]
    # when the page's script posts them
    response = client.post(
        reverse("campaigns:batch_upload", args=[ad.pk]),
        {"photos": photos},
        headers={"accept": "application/json"},
    )
    # then the answer is JSON saying what to do, and nothing was stored
    assert response.status_code == 400
    assert "More than 3 photos in one upload" in response.json()["errors"][0]
    assert not UploadBatch.objects.exists()


def _analysed_upload(ad, model_version):
    """A finished upload: a photo with a face, two without, one that failed, one text file."""
    from django.utils import timezone

    from campaigns.models import ImageStatus
    from campaigns.services.batches import batch_recount
    from tests.analytics.dashboard_data import face_add

    batch = factories.batch_create(ad=ad, status=UploadBatch.Status.PARTIAL)
    UploadBatch.objects.filter(pk=batch.pk).update(model_version=model_version)
    batch.refresh_from_db()
    names = {}
    for name, status in (
        ("smile.jpg", ImageStatus.DONE),
        ("empty-room.jpg", ImageStatus.DONE),
        ("ceiling.jpg", ImageStatus.DONE),
        ("broken.jpg", ImageStatus.FAILED),
        ("notes.txt", ImageStatus.SKIPPED),
    ):
        image = factories.image_create(batch=batch, status=status)
        image.original_name, image.processed_at = name, timezone.now()
        image.error = "" if status == ImageStatus.DONE else "the image file is damaged"
        image.save()
        names[name] = image
    face_add(image=names["smile.jpg"], model_version=model_version, label="happy")
    # a face of another model version does not make a photo "with a face" for this batch
    face_add(
        image=names["ceiling.jpg"], model_version=factories.model_version_create(), label="sad"
    )
    batch_recount(batch=batch)
    return batch, names


def test_a_finished_upload_links_to_its_results_and_lists_photos_without_a_face(client, member, ad):
    # given a finished upload where two photos had no face
    batch, names = _analysed_upload(ad, factories.model_version_create())
    # when its page is opened
    response = client.get(reverse("campaigns:batch_detail", args=[batch.pk]))
    html = response.content.decode()
    # then it links to the ad's photos and the campaign's dashboard
    assert reverse("campaigns:ad_detail", args=[ad.pk]) in html
    assert reverse("campaigns:campaign_dashboard", args=[ad.campaign_id]) in html
    # and lists the photos analysed without a face, each linked to its page
    assert [i.original_name for i in response.context["faceless"]] == [
        "empty-room.jpg",
        "ceiling.jpg",
    ]
    assert response.context["faceless_count"] == 2
    assert 'id="faceless"' in html
    for name in ("empty-room.jpg", "ceiling.jpg"):
        assert reverse("campaigns:photo_detail", args=[names[name].pk]) in html
    assert reverse("campaigns:photo_detail", args=[names["smile.jpg"].pk]) not in html


def test_an_upload_in_progress_lists_no_results_yet(client, member, ad):
    batch, _ = _analysed_upload(ad, factories.model_version_create())
    status_change(UploadBatch.objects.filter(pk=batch.pk), to=UploadBatch.Status.PROCESSING)
    response = client.get(reverse("campaigns:batch_detail", args=[batch.pk]))
    assert 'id="results"' not in response.content.decode()
    assert 'id="faceless"' not in response.content.decode()


def test_a_re_upload_of_the_same_zip_is_done_and_says_its_photos_were_there(
    client, member, ad, active_model
):
    # given an ad with a ZIP of 150 photos
    from django.core.files.base import ContentFile

    members = {f"p{i:03}.png": plain_photo(i) for i in range(150)}
    first = batches.batch_create(
        ad=ad, upload=ContentFile(zip_build(members), "x.zip"), source_name="x.zip"
    )
    extraction.batch_extract(batch_id=first.pk)
    # when the same ZIP is uploaded again and has been extracted
    again = batches.batch_create(
        ad=ad, upload=ContentFile(zip_build(members), "x.zip"), source_name="x.zip"
    )
    extraction.batch_extract(batch_id=again.pk)
    assert batches.batch_close(batch_id=again.pk)
    response = client.get(reverse("campaigns:batch_detail", args=[again.pk]))
    html = response.content.decode()
    # then the page says "done" (the status's one word, as in the README), not a red failure
    assert response.context["progress"]["stage"] == "done"
    assert "All 150 photos were already uploaded to this ad" in html
    assert 'class="error">All 150' not in html
    # and the duplicates are one collapsed count, not a table of 150 rows in view
    assert '<details class="card" id="duplicates-list">' in html
    assert "150 files already in" in html
    assert 'id="problems"' not in html
    assert client.get(reverse("campaigns:batch_status", args=[again.pk])).json()["stage"] == "done"


def test_reprocessing_is_offered_only_for_a_batch_that_has_photos_to_analyse_again(
    client, member, ad, active_model
):
    # given an upload that was not a ZIP: it failed before extraction, with no photo
    not_a_zip = batches.batch_create(
        ad=ad, upload=ContentFile(b"these are not photos", "notes.zip"), source_name="notes.zip"
    )
    extraction.batch_extract(batch_id=not_a_zip.pk)
    not_a_zip.refresh_from_db()
    assert not_a_zip.status == UploadBatch.Status.FAILED
    # and a finished upload with analysed photos
    analysed, _ = _analysed_upload(ad, active_model)
    # when their pages are opened
    failed_page = client.get(reverse("campaigns:batch_detail", args=[not_a_zip.pk]))
    analysed_page = client.get(reverse("campaigns:batch_detail", args=[analysed.pk]))
    # then only the one with photos offers "Reprocess"; the failed one is "failed", its reason
    # shown, and the action is not there to be refused
    assert 'id="reprocess"' not in failed_page.content.decode()
    assert failed_page.context["progress"]["stage"] == "failed"
    assert not_a_zip.error in failed_page.content.decode()
    assert 'id="reprocess"' in analysed_page.content.decode()
