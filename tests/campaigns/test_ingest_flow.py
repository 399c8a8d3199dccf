"""The ingest services in one process: upload -> extraction -> chunks -> closed batch.

The broker is not involved here (on_commit callbacks do not run inside a test transaction):
each step is called as the worker would call it. tests/e2e runs the same path through real
worker processes.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone

from campaigns.models import BatchStatus, Face, ImageStatus, ReactionImage, UploadBatch
from campaigns.services import batches, extraction, images, reprocess, retention
from inference.services import model_version_register
from tests import factories
from tests.ingest_support import plain_photo, zip_build

pytestmark = pytest.mark.django_db


@pytest.fixture
def ad():
    team = factories.team_create()
    return factories.ad_create(campaign=factories.campaign_create(team=team))


def _upload(ad, members: dict[str, bytes], name: str = "photos.zip") -> UploadBatch:
    return batches.batch_create(
        ad=ad, upload=ContentFile(zip_build(members), name=name), source_name=name
    )


def _run(batch: UploadBatch) -> UploadBatch:
    """What the workers do for a batch: extract, then every chunk (the last one closes it)."""
    if batch.status == BatchStatus.RECEIVED:
        extraction.batch_extract(batch_id=batch.pk)
    batch.refresh_from_db()
    ids = list(batch.images.filter(status=ImageStatus.PENDING).values_list("pk", flat=True))
    for start in range(0, len(ids), 4):
        assert batch.model_version_id is not None
        images.images_classify(
            image_ids=ids[start : start + 4], model_version_id=batch.model_version_id
        )
    if not ids:
        batches.batch_close(batch_id=batch.pk)
    batch.refresh_from_db()
    return batch


def test_a_batch_goes_from_upload_to_done_with_exact_counts(ad, active_model, face_photos):
    # given a ZIP of 5 photos with faces, one of them twice, and a text file
    members = {f"p{i}.jpg": face_photos[i] for i in range(5)}
    members["again/p0-copy.jpg"] = face_photos[0]
    members["notes.txt"] = b"not a photo"
    batch = _upload(ad, members)
    # when the batch is extracted and analysed
    batch = _run(batch)
    # then it is done with exact counters, and faces exist for the active version only
    assert batch.status == BatchStatus.DONE
    assert (batch.images_total, batch.images_processed, batch.images_failed) == (7, 5, 0)
    assert (batch.images_skipped, batch.images_duplicate) == (2, 1)
    faces = Face.objects.filter(image__batch=batch)
    assert batch.faces_found == faces.count() > 0
    assert set(faces.values_list("model_version", flat=True)) == {active_model.pk}
    # and the copy points at the original, photos are stored by content hash
    copy = batch.images.get(original_name="again/p0-copy.jpg")
    assert copy.duplicate_of is not None and copy.duplicate_of.original_name == "p0.jpg"
    assert copy.status == ImageStatus.SKIPPED
    original = batch.images.get(original_name="p0.jpg")
    assert original.file.name == f"photos/{original.sha256[:2]}/{original.sha256}.jpg"
    assert default_storage.exists(original.file.name)
    assert batch.images.get(original_name="notes.txt").error == "not a photo or a video (.txt file)"


def test_the_same_photo_in_a_later_batch_of_the_ad_is_a_duplicate(ad, active_model, face_photos):
    # given a finished batch with a photo
    first = _run(_upload(ad, {"a.jpg": face_photos[0]}))
    # when a second batch of the same ad holds the same photo under another name, and a new one
    second = _run(_upload(ad, {"b.jpg": face_photos[0], "c.jpg": face_photos[1]}))
    # then the repeat is skipped as a duplicate of the first batch's photo, counted once
    repeat = second.images.get(original_name="b.jpg")
    assert repeat.duplicate_of == first.images.get()
    assert (second.images_processed, second.images_duplicate) == (1, 1)
    assert Face.objects.filter(image__sha256=repeat.sha256).count() == first.faces_found


def test_running_a_chunk_again_replaces_its_faces_never_adds(ad, active_model, face_photos):
    # given an analysed batch
    batch = _run(_upload(ad, {f"p{i}.jpg": face_photos[i] for i in range(3)}))
    before = sorted(Face.objects.filter(image__batch=batch).values_list("image", "x", "y", "label"))
    ids = list(batch.images.values_list("pk", flat=True))
    # when the same chunk is delivered again, and the batch is analysed again with the same
    # version (its photos already have faces of that version)
    images.images_classify(image_ids=ids, model_version_id=active_model.pk)
    reprocess.batch_reprocess(batch=batch, model_version=active_model)
    images.images_classify(image_ids=ids, model_version_id=active_model.pk)
    # then every photo still has exactly the faces it had
    after = sorted(Face.objects.filter(image__batch=batch).values_list("image", "x", "y", "label"))
    assert after == before
    assert set(batch.images.values_list("status", flat=True)) == {ImageStatus.DONE}


def test_a_photo_held_by_another_worker_is_left_alone(ad, active_model, face_photos):
    # given a photo claimed a moment ago by another worker
    batch = _upload(ad, {"a.jpg": face_photos[0]})
    extraction.batch_extract(batch_id=batch.pk)
    image = ReactionImage.objects.get(batch=batch)
    assert images.images_claim(image_ids=[image.pk], model_version_id=active_model.pk)
    # when a duplicate delivery of its chunk runs
    images.images_classify(image_ids=[image.pk], model_version_id=active_model.pk)
    # then it writes nothing and the batch stays open
    assert not Face.objects.filter(image=image).exists()
    assert batches.batch_close(batch_id=batch.pk) is False


def test_a_poison_photo_fails_alone_with_its_reason(ad, active_model, face_photos):
    # given good photos and a file that claims to be a JPEG but is truncated garbage
    members = {"good1.jpg": face_photos[0], "good2.jpg": face_photos[1]}
    members["poison.jpg"] = face_photos[2][:200]
    # when analysed in one chunk
    batch = _run(_upload(ad, members))
    # then the poison photo failed with the decoder's reason and the batch is partial
    poison = batch.images.get(original_name="poison.jpg")
    assert poison.status == ImageStatus.FAILED and poison.error
    assert batch.status == BatchStatus.PARTIAL
    assert (batch.images_processed, batch.images_failed) == (2, 1)


def test_a_photo_whose_worker_dies_every_time_fails_after_the_attempt_limit(
    ad, active_model, face_photos, settings
):
    # given a photo claimed INGEST_MAX_ATTEMPTS times, each claim abandoned by a dead worker,
    # beside a good photo of the same batch
    batch = _upload(ad, {"killer.jpg": face_photos[0], "good.jpg": face_photos[1]})
    extraction.batch_extract(batch_id=batch.pk)
    killer = ReactionImage.objects.get(batch=batch, original_name="killer.jpg")
    good = ReactionImage.objects.get(batch=batch, original_name="good.jpg")
    limit = dt.timedelta(seconds=settings.INGEST_CHUNK_TIME_LIMIT + 1)
    first_claim = timezone.now() - settings.INGEST_MAX_ATTEMPTS * limit
    for attempt in range(settings.INGEST_MAX_ATTEMPTS):
        won = images.images_claim(
            image_ids=[killer.pk],
            model_version_id=active_model.pk,
            now=first_claim + attempt * limit,
        )
        assert won == [killer.pk]
    # when the sweeper re-sends the chunk
    images.images_classify(image_ids=[killer.pk, good.pk], model_version_id=active_model.pk)
    # then the photo fails alone with the reason, and the chunk closes the batch partial
    killer.refresh_from_db()
    assert killer.status == ImageStatus.FAILED
    assert f"did not finish in {settings.INGEST_MAX_ATTEMPTS} attempts" in killer.error
    assert not Face.objects.filter(image=killer).exists()
    batch.refresh_from_db()
    assert batch.status == BatchStatus.PARTIAL
    assert (batch.images_processed, batch.images_failed) == (1, 1)


def test_an_abandoned_claim_below_the_attempt_limit_is_taken_over(
    ad, active_model, face_photos, settings
):
    batch = _upload(ad, {"a.jpg": face_photos[0]})
    extraction.batch_extract(batch_id=batch.pk)
    image = ReactionImage.objects.get(batch=batch)
    long_ago = timezone.now() - dt.timedelta(seconds=settings.INGEST_CHUNK_TIME_LIMIT + 1)
    images.images_claim(image_ids=[image.pk], model_version_id=active_model.pk, now=long_ago)
    images.images_classify(image_ids=[image.pk], model_version_id=active_model.pk)
    image.refresh_from_db()
    assert image.status == ImageStatus.DONE and image.attempts == 2


@pytest.mark.parametrize(
    ("data", "message"),
    [(b"PK\x03\x04 this is broken", "not a readable ZIP"), (b"\x00" * 100, "not a readable ZIP")],
)
def test_a_corrupt_archive_fails_the_batch_and_writes_nothing(ad, active_model, data, message):
    # given an upload that is not a readable ZIP
    batch = batches.batch_create(ad=ad, upload=ContentFile(data, name="x.zip"), source_name="x.zip")
    # when extracted
    extraction.batch_extract(batch_id=batch.pk)
    # then the batch failed with a clear message and no row was written
    batch.refresh_from_db()
    assert batch.status == BatchStatus.FAILED
    assert message in batch.error and "Nothing was imported" in batch.error
    assert not batch.images.exists()


def test_an_archive_without_photos_fails_with_the_reason(ad, active_model):
    batch = _run(_upload(ad, {"a.txt": b"x", "b.zip": zip_build({"c.png": plain_photo(1)})}))
    assert batch.status == BatchStatus.FAILED
    assert batch.error == "No photos to analyse (2 members skipped)."


def test_extraction_delivered_twice_records_each_member_once(ad, active_model, face_photos):
    # given an extracted batch
    batch = _upload(ad, {"a.jpg": face_photos[0], "b.jpg": face_photos[1]})
    extraction.batch_extract(batch_id=batch.pk)
    # when the extraction message is delivered again
    extraction.batch_extract(batch_id=batch.pk)
    # then nothing changed
    assert batch.images.count() == 2


def test_upload_over_the_size_limit_is_refused(ad, active_model, settings):
    settings.UPLOAD_MAX_BYTES = 100
    with pytest.raises(ValidationError, match="upload limit"):
        _upload(ad, {"a.png": plain_photo(1, size=(64, 64))})
    assert not UploadBatch.objects.exists()


def test_upload_without_an_active_model_is_refused(ad, model_cache):
    with pytest.raises(ValidationError, match="No model version is active"):
        _upload(ad, {"a.png": plain_photo(1)})


def test_loose_photos_become_a_batch(ad, active_model, face_photos):
    # given two loose photos as a browser sends them
    photos = [
        ContentFile(face_photos[0], name="me.jpg"),
        ContentFile(face_photos[1], name="you.jpg"),
    ]
    # when uploaded and processed
    batch = _run(batches.batch_create_from_files(ad=ad, files=photos))
    # then both are analysed under their own names
    assert batch.source_name == "2 photos"
    assert sorted(batch.images.values_list("original_name", flat=True)) == ["me.jpg", "you.jpg"]
    assert batch.images_processed == 2


def test_reprocess_with_another_version_keeps_both_results(
    ad, active_model, model_artifacts, face_photos
):
    # given a batch analysed with version 1
    batch = _run(_upload(ad, {f"p{i}.jpg": face_photos[i] for i in range(3)}))
    v1_faces = Face.objects.filter(image__batch=batch, model_version=active_model).count()
    v2 = model_version_register(source_dir=model_artifacts[1], allow_unmeasured=True)
    # when it is reprocessed with version 2
    reprocess.batch_reprocess(batch=batch, model_version=v2)
    batch = _run(batch)
    # then faces exist for both versions, the batch reports version 2's, and none doubled
    assert batch.status == BatchStatus.DONE and batch.model_version == v2
    assert Face.objects.filter(image__batch=batch, model_version=active_model).count() == v1_faces
    assert batch.faces_found == Face.objects.filter(image__batch=batch, model_version=v2).count()
    assert batch.faces_found == v1_faces


def test_reprocess_of_an_unfinished_batch_is_refused(ad, active_model, face_photos):
    batch = _upload(ad, {"a.jpg": face_photos[0]})
    extraction.batch_extract(batch_id=batch.pk)
    with pytest.raises(ValidationError):
        reprocess.batch_reprocess(batch=batch, model_version=active_model)


def test_retention_deletes_old_photos_and_keeps_results(ad, active_model, face_photos, settings):
    # given an analysed batch and a retention of 30 days
    settings.PHOTO_RETENTION_DAYS = 30
    batch = _run(_upload(ad, {"a.jpg": face_photos[0], "b.jpg": face_photos[1]}))
    faces = Face.objects.filter(image__batch=batch).count()
    names = list(batch.images.values_list("file", flat=True))
    # when the purge runs now, nothing is old enough; 31 days later, it deletes the photos
    assert retention.photos_purge() == 0
    batch.images.update(processed_at=timezone.now() - dt.timedelta(days=31))
    assert retention.photos_purge() == 2
    # then the files are gone, rows remember it, faces stay, and reprocessing is refused
    assert not any(default_storage.exists(name) for name in names)
    assert batch.images.filter(photo_deleted_at__isnull=False, file="").count() == 2
    assert Face.objects.filter(image__batch=batch).count() == faces
    with pytest.raises(ValidationError, match="retention"):
        reprocess.batch_reprocess(batch=batch, model_version=active_model)


def test_retention_keeps_a_photo_that_another_ad_still_needs(
    ad, active_model, face_photos, settings
):
    # given the same photo analysed long ago in one ad and pending in another ad
    settings.PHOTO_RETENTION_DAYS = 1
    old = _run(_upload(ad, {"a.jpg": face_photos[0]}))
    old.images.update(processed_at=timezone.now() - dt.timedelta(days=5))
    other_ad = factories.ad_create(campaign=ad.campaign)
    pending = _upload(other_ad, {"a.jpg": face_photos[0]})
    extraction.batch_extract(batch_id=pending.pk)
    # when the purge runs
    deleted = retention.photos_purge()
    # then the shared file stays until the other ad's copy is analysed
    assert deleted == 0
    assert default_storage.exists(old.images.get().file.name)


def test_immediate_retention_deletes_each_photo_after_analysis(
    ad, active_model, face_photos, settings
):
    settings.PHOTO_RETENTION = "immediate"
    batch = _run(_upload(ad, {"a.jpg": face_photos[0], "b.jpg": face_photos[1]}))
    assert batch.status == BatchStatus.DONE
    assert batch.images.filter(file="", photo_deleted_at__isnull=False).count() == 2
    assert batch.faces_found == Face.objects.filter(image__batch=batch).count() > 0
    assert "right after analysis" in retention.retention_description()
