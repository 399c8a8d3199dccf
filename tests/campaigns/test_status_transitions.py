"""The batch and photo lifecycle through the services that run it, checked against the table.

Photos here are plain PNGs and results are built by hand (no detector or CNN), so each test
drives one step of the real services: extraction, claims, stored results, close, fail,
reprocess.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.files.base import ContentFile
from django.utils import timezone

from campaigns.models import BatchStatus, ImageStatus, ReactionImage, UploadBatch
from campaigns.services import batches, extraction, images, reprocess
from campaigns.services.transitions import (
    TRANSITIONS,
    IllegalTransition,
    status_change,
    status_rows_create,
)
from inference.api import ImageResult
from inference.services import model_version_activate
from tests import factories
from tests.ingest_support import plain_photo, zip_build

pytestmark = pytest.mark.django_db


@pytest.fixture
def model_version():
    return model_version_activate(model_version=factories.model_version_create())


@pytest.fixture
def ad():
    team = factories.team_create()
    return factories.ad_create(campaign=factories.campaign_create(team=team))


def _extracted(ad, photos: int = 2, **extra: bytes) -> UploadBatch:
    members = {f"p{i}.png": plain_photo(i) for i in range(photos)} | extra
    batch = batches.batch_create(
        ad=ad, upload=ContentFile(zip_build(members), "b.zip"), source_name="b.zip"
    )
    extraction.batch_extract(batch_id=batch.pk)
    batch.refresh_from_db()
    return batch


def _store(
    batch: UploadBatch,
    claimed_at: dt.datetime,
    *,
    failed: frozenset[str] = frozenset(),
    rows: list[ReactionImage] | None = None,
) -> None:
    """What a worker that claimed `rows` (default: the batch's photos claimed at `claimed_at`)
    stores: no faces, or a decoding error for the names in `failed`."""
    if rows is None:
        rows = list(batch.images.filter(status=ImageStatus.PROCESSING, claimed_at=claimed_at))
    outcomes = {
        row.pk: ImageResult(
            source=row.original_name,
            width=64,
            height=48,
            error="cannot decode" if row.original_name in failed else None,
        )
        for row in rows
    }
    assert batch.model_version_id is not None
    images.image_results_store(
        images=rows,
        outcomes=outcomes,
        errors={},
        model_version_id=batch.model_version_id,
        claimed_at=claimed_at,
    )


def _claim_all(batch: UploadBatch, now: dt.datetime | None = None) -> list[int]:
    ids = list(batch.images.values_list("pk", flat=True))
    assert batch.model_version_id is not None
    return images.images_claim(image_ids=ids, model_version_id=batch.model_version_id, now=now)


def _done(ad) -> UploadBatch:
    """A batch of one photo, extracted, analysed (no faces) and closed."""
    batch = _extracted(ad, photos=1)
    now = timezone.now()
    _claim_all(batch, now)
    _store(batch, now)
    assert batches.batch_close(batch_id=batch.pk)
    return batch


def test_the_table_names_only_real_statuses_and_every_status_can_be_reached():
    for model, table in TRANSITIONS.items():
        statuses = set(model.Status.values)
        sources = set().union(*table.values()) - {None}
        # then every target and source is a real status, and every status is a target
        assert set(table) == statuses, model
        assert sources <= statuses, model


def test_a_batch_walks_from_upload_to_done_through_the_services(ad, model_version):
    # given an uploaded ZIP of two photos
    batch = batches.batch_create(
        ad=ad, upload=ContentFile(zip_build({"a.png": plain_photo(1)}), "b.zip"), source_name="b"
    )
    assert batch.status == BatchStatus.RECEIVED
    # when it is extracted, its photos claimed, their results stored and the batch closed
    extraction.batch_extract(batch_id=batch.pk)
    batch.refresh_from_db()
    assert (batch.status, batch.model_version) == (BatchStatus.PROCESSING, model_version)
    now = timezone.now()
    assert len(_claim_all(batch, now)) == 1
    _store(batch, now)
    assert batches.batch_close(batch_id=batch.pk) is True
    # then it is done, with times and counters in the database
    stored = UploadBatch.objects.get(pk=batch.pk)
    assert stored.status == BatchStatus.DONE and stored.error == ""
    assert stored.started_at is not None and stored.finished_at is not None
    assert stored.finished_at >= stored.started_at
    assert (stored.images_total, stored.images_processed, stored.images_failed) == (1, 1, 0)


@pytest.mark.parametrize(
    ("failed", "expected", "error"),
    [
        (frozenset(), BatchStatus.DONE, ""),
        (frozenset({"p0.png"}), BatchStatus.PARTIAL, "1 photos failed."),
        (frozenset({"p0.png", "p1.png"}), BatchStatus.FAILED, "All 2 photos failed."),
    ],
)
def test_the_close_reports_what_happened_to_the_photos(ad, model_version, failed, expected, error):
    # given an extracted batch of two photos, some of which fail to decode
    batch = _extracted(ad)
    now = timezone.now()
    _claim_all(batch, now)
    _store(batch, now, failed=failed)
    # when it closes
    assert batches.batch_close(batch_id=batch.pk) is True
    # then its status and message say what happened
    stored = UploadBatch.objects.get(pk=batch.pk)
    assert (stored.status, stored.error) == (expected, error)


def test_a_batch_whose_members_were_all_skipped_fails_with_the_reason(ad, model_version):
    # given a ZIP whose only member is not a photo (the one outcome the two old state machines
    # disagreed on: no photo analysed and none failed)
    batch = _extracted(ad, photos=0, **{"notes.txt": b"hello"})
    # when the batch is closed
    batches.batch_close(batch_id=batch.pk)
    # then it failed, saying nothing could be analysed
    batch.refresh_from_db()
    assert batch.status == BatchStatus.FAILED
    assert batch.error == "No photos to analyse (1 members skipped)."


def test_the_same_zip_uploaded_again_is_done_as_already_uploaded(ad, model_version):
    # given an ad whose upload of two photos was analysed
    first = _extracted(ad, photos=2)
    now = timezone.now()
    _claim_all(first, now)
    _store(first, now)
    assert batches.batch_close(batch_id=first.pk)
    # when the same ZIP is uploaded again (with a file that was never a photo)
    again = _extracted(ad, photos=2, **{"notes.txt": b"hello"})
    assert again.status == BatchStatus.PROCESSING
    assert batches.batch_close(batch_id=again.pk) is True
    # then it is done, saying its photos were already there, not failed
    again.refresh_from_db()
    assert again.status == BatchStatus.DONE
    assert again.error == ("All 2 photos were already uploaded to this ad; nothing new to analyse.")
    assert (again.images_duplicate, again.images_processed, again.images_failed) == (2, 0, 0)


def test_a_batch_of_unusable_members_still_fails_even_after_a_done_upload(ad, model_version):
    # given an ad with an analysed upload
    _done(ad)
    # when a ZIP holding nothing usable and nothing already in the ad is closed
    batch = _extracted(ad, photos=0, **{"notes.txt": b"hello", "b.csv": b"x"})
    batches.batch_close(batch_id=batch.pk)
    # then it failed with the reason
    batch.refresh_from_db()
    assert (batch.status, batch.error) == (
        BatchStatus.FAILED,
        "No photos to analyse (2 members skipped).",
    )


def test_a_batch_does_not_close_while_a_photo_is_unfinished(ad, model_version):
    batch = _extracted(ad)
    now = timezone.now()
    _claim_all(batch, now)
    assert batches.batch_close(batch_id=batch.pk) is False
    assert UploadBatch.objects.get(pk=batch.pk).status == BatchStatus.PROCESSING


def test_two_deliveries_of_one_extraction_record_it_once(ad, model_version):
    # given a batch extracted once
    batch = _extracted(ad)
    # when the extraction message arrives again, then nothing moves and nothing is added
    extraction.batch_extract(batch_id=batch.pk)
    batch.refresh_from_db()
    assert batch.status == BatchStatus.PROCESSING and batch.images.count() == 2


def test_only_one_worker_claims_a_photo(ad, model_version):
    # given a photo claimed by one worker a moment ago
    batch = _extracted(ad, photos=1)
    assert len(_claim_all(batch)) == 1
    # when a second worker tries to claim it, then it wins nothing
    assert _claim_all(batch) == []


def test_a_redelivered_chunk_takes_its_own_fresh_claim_back_at_once(ad, model_version):
    # given photos claimed a moment ago by a chunk whose worker process was then killed
    batch = _extracted(ad)
    ids = list(batch.images.values_list("pk", flat=True))
    version = batch.model_version_id
    assert version is not None

    def claim(token: str) -> list[int]:
        return images.images_claim(image_ids=ids, model_version_id=version, claim_token=token)

    assert claim("task-1") == ids
    # when another chunk asks for them, then it gets none: the claim is fresh
    assert claim("task-2") == []
    # when the same chunk's message comes back (same task id), then it takes them all back
    assert claim("task-1") == ids
    assert set(batch.images.values_list("attempts", flat=True)) == {2}


def test_an_abandoned_claim_is_taken_over_and_the_old_claims_results_are_dropped(
    ad, model_version, settings
):
    # given a photo claimed by a worker that then went silent past the chunk's time limit
    batch = _extracted(ad, photos=1)
    long_ago = timezone.now() - dt.timedelta(seconds=settings.INGEST_CHUNK_TIME_LIMIT + 1)
    _claim_all(batch, long_ago)
    first_workers_rows = list(batch.images.all())
    # when another worker claims it, then the first worker's late results change nothing
    now = timezone.now()
    assert len(_claim_all(batch, now)) == 1
    _store(batch, long_ago, failed=frozenset({"p0.png"}), rows=first_workers_rows)
    image = batch.images.get()
    assert (image.status, image.attempts) == (ImageStatus.PROCESSING, 2)
    _store(batch, now)
    image.refresh_from_db()
    assert image.status == ImageStatus.DONE


def test_a_photo_claimed_the_most_times_fails_alone(ad, model_version, settings):
    # given a photo whose every claim was abandoned, INGEST_MAX_ATTEMPTS times
    batch = _extracted(ad, photos=1)
    start = timezone.now() - dt.timedelta(hours=1)
    for attempt in range(settings.INGEST_MAX_ATTEMPTS):
        _claim_all(
            batch, start + attempt * dt.timedelta(seconds=settings.INGEST_CHUNK_TIME_LIMIT + 1)
        )
    # when the chunk is delivered again
    assert _claim_all(batch) == []
    # then the photo failed with the reason, and the batch can close
    image = batch.images.get()
    assert image.status == ImageStatus.FAILED
    assert f"did not finish in {settings.INGEST_MAX_ATTEMPTS} attempts" in image.error
    assert batches.batch_close(batch_id=batch.pk) is True


def test_a_skipped_member_is_never_claimed(ad, model_version):
    batch = _extracted(ad, photos=1, **{"notes.txt": b"hello"})
    skipped = batch.images.get(original_name="notes.txt")
    assert skipped.status == ImageStatus.SKIPPED
    won = images.images_claim(image_ids=[skipped.pk], model_version_id=model_version.pk)
    assert won == []
    assert ReactionImage.objects.get(pk=skipped.pk).status == ImageStatus.SKIPPED


def test_a_finished_batch_cannot_fail_late_and_keeps_its_outcome(ad, model_version):
    batch = _done(ad)
    assert batches.batch_fail(batch=batch, error="late error") is False
    stored = UploadBatch.objects.get(pk=batch.pk)
    assert (stored.status, stored.error) == (BatchStatus.DONE, "")


def test_a_failed_batch_keeps_its_message(ad, model_version):
    batch = batches.batch_create(
        ad=ad, upload=ContentFile(b"not a zip", "x.zip"), source_name="x.zip"
    )
    assert batches.batch_fail(batch=batch, error="not a ZIP archive") is True
    stored = UploadBatch.objects.get(pk=batch.pk)
    assert (stored.status, stored.error) == (BatchStatus.FAILED, "not a ZIP archive")
    assert stored.finished_at is not None


def test_reprocessing_moves_a_finished_batch_and_its_photos_back(ad, model_version):
    # given a done batch
    batch = _done(ad)
    other = factories.model_version_create()
    # when it is reprocessed with another version
    reprocess.batch_reprocess(batch=UploadBatch.objects.get(pk=batch.pk), model_version=other)
    # then it is processing again with that version, its photo pending with a fresh count
    stored = UploadBatch.objects.get(pk=batch.pk)
    image = stored.images.get()
    assert (stored.status, stored.model_version, stored.finished_at) == (
        BatchStatus.PROCESSING, other, None
    )  # fmt: skip
    assert (image.status, image.attempts) == (ImageStatus.PENDING, 0)


def test_a_change_the_table_does_not_allow_is_refused_and_changes_nothing(ad, model_version):
    batch = _extracted(ad, photos=1)
    image = batch.images.get()
    # a pending photo cannot be marked done before a worker claims it
    assert status_change(ReactionImage.objects.filter(pk=image.pk), to=ImageStatus.DONE) == 0
    assert ReactionImage.objects.get(pk=image.pk).status == ImageStatus.PENDING
    # a batch cannot go back to received, nor a photo be skipped after it was recorded
    with pytest.raises(IllegalTransition, match="enter 'received' only when created"):
        status_change(UploadBatch.objects.filter(pk=batch.pk), to=BatchStatus.RECEIVED)
    with pytest.raises(IllegalTransition, match="enter 'skipped' only when created"):
        status_change(ReactionImage.objects.filter(pk=image.pk), to=ImageStatus.SKIPPED)
    assert ReactionImage.objects.get(pk=image.pk).status == ImageStatus.PENDING
    assert UploadBatch.objects.get(pk=batch.pk).status == BatchStatus.PROCESSING


def test_new_rows_may_start_only_where_the_table_allows(ad, model_version):
    batch = _extracted(ad, photos=0, **{"notes.txt": b"x"})
    with pytest.raises(IllegalTransition, match="cannot start as 'done'"):
        status_rows_create(
            [ReactionImage(batch=batch, original_name="x.jpg", sha256="0" * 64, status="done")]
        )
    with pytest.raises(IllegalTransition, match="cannot start as 'processing'"):
        status_rows_create([UploadBatch(ad=ad, source_name="y.zip", status="processing")])
    assert batch.images.count() == 1


def test_batch_recount_counts_images_and_faces(ad):
    # given a batch with photos in every state and two faces
    batch = factories.batch_create(ad=ad, status=BatchStatus.PROCESSING)
    model_version = factories.model_version_create()
    done = factories.image_create(batch=batch, status=ImageStatus.DONE)
    factories.face_create(image=done, model_version=model_version)
    factories.face_create(image=done, model_version=model_version, label="sad")
    factories.image_create(batch=batch, status=ImageStatus.FAILED)
    factories.image_create(batch=batch, status=ImageStatus.SKIPPED)
    factories.image_create(batch=batch, status=ImageStatus.PENDING)
    # when it is recounted
    batches.batch_recount(batch=batch)
    # then the stored counters match
    stored = UploadBatch.objects.get(pk=batch.pk)
    assert (
        stored.images_total,
        stored.images_processed,
        stored.images_failed,
        stored.images_skipped,
        stored.faces_found,
    ) == (4, 1, 1, 1, 2)
