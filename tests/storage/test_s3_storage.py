"""Files in an S3 bucket instead of the local disk: the settings, an upload's whole path, the
photo views, retention, model artifacts, and the store failing.

The store is moto's S3 server on a loopback port, spoken to over HTTP by boto3 exactly as a
MinIO or AWS bucket would be (`tests.ingest_support.s3_store`); nothing of boto is mocked.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.urls import reverse
from django.utils import timezone

from campaigns.models import BatchStatus, Face, ImageStatus, UploadBatch
from campaigns.services import batches, extraction, images, retention, teams
from campaigns.storage import StoreUnreachable
from inference.models import ModelVersion
from inference.registry import classifier_get
from inference.services import model_version_register
from tests import factories
from tests.ingest_support import S3Store, plain_photo, storages_from_env, zip_build
from tests.video_support import video_bytes

pytestmark = pytest.mark.django_db


def _local_files(folder: Path) -> list[Path]:
    return [path for path in folder.rglob("*") if path.is_file()] if folder.exists() else []


@pytest.fixture
def s3_model(s3_store: S3Store, model_artifacts, model_cache) -> ModelVersion:
    """The tiny test model registered into the bucket and active."""
    return model_version_register(
        source_dir=model_artifacts[0], activate=True, allow_unmeasured=True
    )


@pytest.fixture
def member_ad(client):
    team = factories.team_create()
    client.force_login(factories.user_create(team=team))
    return factories.ad_create(campaign=factories.campaign_create(team=team))


def _upload(ad, members: dict[str, bytes], name: str = "photos.zip") -> UploadBatch:
    return batches.batch_create(
        ad=ad, upload=ContentFile(zip_build(members), name=name), source_name=name
    )


def test_the_environment_chooses_a_private_bucket_and_the_local_disk_stays_the_default():
    # given the variables an operator sets for MinIO
    env = {
        "S3_BUCKET": "fer-media",
        "S3_ENDPOINT_URL": "http://minio:9000",
        "S3_REGION": "eu-central-1",
        "AWS_ACCESS_KEY_ID": "key",
        "AWS_SECRET_ACCESS_KEY": "secret",
    }
    # when the settings are read
    default = storages_from_env(env)["default"]
    # then files go to that bucket, privately, with unique names and path-style addressing
    assert default["BACKEND"] == "storages.backends.s3.S3Storage"
    options = default["OPTIONS"]
    assert (options["bucket_name"], options["endpoint_url"]) == ("fer-media", "http://minio:9000")
    assert (options["region_name"], options["access_key"]) == ("eu-central-1", "key")
    assert options["default_acl"] is None and options["querystring_auth"] is True
    assert 0 < options["querystring_expire"] <= 600
    assert options["file_overwrite"] is False
    assert options["client_config"].signature_version == "s3v4"
    assert options["client_config"].s3 == {"addressing_style": "path"}
    # and without S3_BUCKET the local disk it is
    local = storages_from_env({"S3_BUCKET": ""})["default"]
    assert local["BACKEND"] == "django.core.files.storage.FileSystemStorage"


def test_a_batch_lives_in_the_bucket_from_upload_to_results_and_never_on_the_local_disk(
    s3_store, s3_model, member_ad, face_photos, media_root, model_cache, client
):
    # given a ZIP of three photos uploaded while files go to the bucket
    members = {f"p{i}.jpg": face_photos[i] for i in range(3)}
    batch = _upload(member_ad, members)
    # then the upload itself is an object in the bucket
    assert s3_store.object_names("uploads/") == [batch.archive.name]
    # when it is extracted and analysed (as the workers would)
    extraction.batch_extract(batch_id=batch.pk)
    ids = list(batch.images.values_list("pk", flat=True))
    images.images_classify(image_ids=ids, model_version_id=s3_model.pk)
    batch.refresh_from_db()
    # then it is done with its faces, its photos are objects named by content hash, and
    # nothing was written under MEDIA_ROOT
    assert batch.status == BatchStatus.DONE, batch.error
    assert batch.images_processed == 3
    assert batch.faces_found == Face.objects.filter(image__batch=batch).count() > 0
    stored = sorted(batch.images.values_list("file", flat=True))
    assert s3_store.object_names("photos/") == stored
    assert all(name.startswith("photos/") for name in stored)
    assert _local_files(media_root) == []
    # and the model's files are in the bucket, copied once into the worker's local cache
    assert s3_store.object_names("models/ingest-test/1/model.json")
    local = Path(classifier_get(model_version=s3_model).model_dir)
    assert local.is_relative_to(model_cache) and (local / "model.json").is_file()
    # and the photo page streams the photo from the bucket to its team
    photo = batch.images.get(original_name="p1.jpg")
    response = client.get(reverse("campaigns:photo_file", args=[photo.pk]))
    assert response.status_code == 200
    assert response["Content-Type"] == "image/jpeg"
    assert b"".join(response.streaming_content) == face_photos[1]


def test_the_photo_views_check_the_team_then_say_why_a_photo_cannot_be_shown(
    s3_store, s3_model, member_ad, face_photos, client
):
    # given a stored photo of the member's team
    batch = _upload(member_ad, {"p.jpg": face_photos[0], "q.jpg": face_photos[1]})
    extraction.batch_extract(batch_id=batch.pk)
    photo, other = batch.images.order_by("original_name")
    url = reverse("campaigns:photo_file", args=[photo.pk])
    # then another team's user gets a 404 and never a storage URL
    outsider = factories.user_create(team=factories.team_create())
    client.force_login(outsider)
    assert client.get(url).status_code == 404
    client.force_login(member_ad.campaign.team.memberships.get().user)
    # when the store goes away, the member reads that it is the store (503, retry later)
    s3_store.stop()
    response = client.get(url)
    assert response.status_code == 503
    assert "file store could not be reached" in response.content.decode()
    assert response["Retry-After"]
    # when it is back, the photo is there again; a deleted object is a plain 404
    s3_store.start()
    assert client.get(url).status_code == 200
    s3_store.client().delete_object(Bucket=s3_store.bucket, Key=other.file.name)
    assert client.get(reverse("campaigns:photo_file", args=[other.pk])).status_code == 404


def test_a_video_creative_is_read_from_the_bucket(s3_store, member_ad, client):
    # given an ad whose creative is a 2 s video stored in the bucket
    import numpy as np

    def frame(t: float) -> np.ndarray:
        return np.full((96, 128, 3), int(t * 100) % 256, dtype=np.uint8)

    ad = teams.ad_update(
        ad=member_ad,
        name=member_ad.name,
        creative=ContentFile(video_bytes(frame, seconds=2, fps=10), name="spot.mp4"),
    )
    assert s3_store.object_names("creatives/") == [ad.creative.name]
    # when its frame at 1 s is asked for
    response = client.get(reverse("campaigns:creative_frame", args=[ad.pk]) + "?t=1")
    # then it is a JPEG decoded from the stored video
    assert response.status_code == 200 and response["Content-Type"] == "image/jpeg"
    assert response.content[:3] == b"\xff\xd8\xff"


def test_two_creatives_of_the_same_name_keep_their_own_objects(s3_store, member_ad):
    # given two ads each uploading "spot.png"
    other = factories.ad_create(campaign=member_ad.campaign)
    first = teams.ad_update(
        ad=member_ad, name=member_ad.name, creative=ContentFile(plain_photo(1), name="spot.png")
    )
    second = teams.ad_update(
        ad=other, name=other.name, creative=ContentFile(plain_photo(2), name="spot.png")
    )
    # then the bucket holds both, as a local disk would (never one overwriting the other)
    assert first.creative.name != second.creative.name
    assert len(s3_store.object_names("creatives/")) == 2


def test_registering_a_model_again_replaces_its_objects(s3_store, model_artifacts, model_cache):
    # given a model registered into the bucket
    model_version_register(source_dir=model_artifacts[0], allow_unmeasured=True)
    before = s3_store.object_names("models/")
    # when it is registered again
    model_version_register(source_dir=model_artifacts[0], activate=True, allow_unmeasured=True)
    # then the same objects are there, no renamed copies
    assert s3_store.object_names("models/") == before
    assert "models/ingest-test/1/model.json" in before


def test_retention_with_the_store_down_deletes_nothing_and_loses_nothing(
    s3_store, s3_model, member_ad, face_photos
):
    # given an analysed batch with its photos in the bucket
    batch = _upload(member_ad, {f"p{i}.jpg": face_photos[i] for i in range(2)})
    extraction.batch_extract(batch_id=batch.pk)
    ids = list(batch.images.values_list("pk", flat=True))
    images.images_classify(image_ids=ids, model_version_id=s3_model.pk)
    # when retention runs while the store is unreachable
    s3_store.stop()
    assert retention.photos_purge(cutoff=batch.images.latest("processed_at").processed_at) == 0
    # then every row still names its photo, so a later purge deletes it
    assert batch.images.filter(file="").count() == 0
    s3_store.start()
    assert retention.photos_purge(cutoff=batch.images.latest("processed_at").processed_at) == 2
    assert s3_store.object_names("photos/") == []
    assert batch.images.filter(file="", photo_deleted_at__isnull=False).count() == 2


def test_an_extraction_while_the_store_is_down_retries_then_fails_with_the_reason(
    s3_store, s3_model, member_ad, face_photos, settings
):
    # given an uploaded ZIP, and then the store going away
    batch = _upload(member_ad, {"p.jpg": face_photos[0]})
    s3_store.stop()
    # when its extraction is delivered: each delivery but the last asks for a retry
    for attempt in range(1, settings.INGEST_MAX_ATTEMPTS):
        with pytest.raises(extraction.ExtractionRetry):
            extraction.batch_extract(batch_id=batch.pk)
        batch.refresh_from_db()
        assert "file store could not be reached" in batch.error
        assert f"attempt {attempt} of {settings.INGEST_MAX_ATTEMPTS}" in batch.error
    extraction.batch_extract(batch_id=batch.pk)
    # then the batch fails saying the store could not be reached, and its upload is kept
    batch.refresh_from_db()
    assert batch.status == BatchStatus.FAILED
    assert "could not be unpacked in" in batch.error
    assert "file store could not be reached" in batch.error
    assert not batch.images.exclude(status=ImageStatus.SKIPPED).exists()
    s3_store.start()
    assert s3_store.object_names("uploads/") == [batch.archive.name]


def test_a_chunk_that_cannot_reach_the_store_gives_its_photos_back_uncounted(
    s3_store, s3_model, member_ad, face_photos
):
    # given an extracted batch of two photos in the bucket, and then the store goes away
    batch = _upload(member_ad, {f"p{i}.jpg": face_photos[i] for i in range(2)})
    extraction.batch_extract(batch_id=batch.pk)
    ids = list(batch.images.values_list("pk", flat=True))
    s3_store.stop()
    try:
        # when a worker runs the chunk
        with pytest.raises(StoreUnreachable, match="the file store could not be reached"):
            images.images_classify(image_ids=ids, model_version_id=s3_model.pk)
        # then the photos are pending again, their attempt not counted, none failed
        rows = list(batch.images.values_list("status", "attempts", "claim_token"))
        assert rows == [(ImageStatus.PENDING, 0, "")] * 2
    finally:
        s3_store.start()
    # and the retried chunk analyses them once the store is back
    images.images_classify(image_ids=ids, model_version_id=s3_model.pk)
    batch.refresh_from_db()
    assert batch.status == BatchStatus.DONE, batch.error
    assert list(batch.images.values_list("attempts", flat=True)) == [1, 1]


def test_the_sweep_of_orphans_lists_the_bucket_and_keeps_what_rows_use(s3_store, member_ad):
    # given a creative in use, an orphan photo and an orphan upload in the bucket
    ad = teams.ad_update(
        ad=member_ad, name=member_ad.name, creative=ContentFile(plain_photo(3), name="spot.png")
    )
    orphans = [
        extraction.photo_store(data=plain_photo(4), sha256="ef" + "2" * 62),
        default_storage.save("uploads/2026/12/05/lost.zip", ContentFile(b"zip")),
    ]
    assert set(orphans) <= set(s3_store.object_names())
    # when the sweep runs a day later
    later = timezone.now() + dt.timedelta(days=1, minutes=1)
    deleted = batches.stored_orphans_delete(now=later)
    # then the orphans are gone from the bucket and the creative stays
    assert deleted == 2
    assert s3_store.object_names() == [ad.creative.name]
