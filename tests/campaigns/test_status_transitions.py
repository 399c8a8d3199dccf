import pytest

from campaigns import services
from campaigns.models import BatchStatus, ImageStatus, UploadBatch
from campaigns.services import BATCH_TRANSITIONS, IMAGE_TRANSITIONS, IllegalTransition
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def ad():
    team = factories.team_create()
    return factories.ad_create(campaign=factories.campaign_create(team=team))


def test_batch_walks_the_happy_path(ad):
    # given a received batch whose photos all get analysed
    batch = factories.batch_create(ad=ad)
    # when it is extracted, processed and finished
    services.batch_extraction_start(batch=batch)
    images = [factories.image_create(batch=batch) for _ in range(2)]
    services.batch_processing_start(batch=batch)
    for image in images:
        services.image_processing_start(image=image)
        services.image_done(image=image)
    services.batch_finish(batch=batch)
    # then it is done, with times and counters in the database
    stored = UploadBatch.objects.get(pk=batch.pk)
    assert stored.status == BatchStatus.DONE
    assert stored.started_at is not None and stored.finished_at >= stored.started_at
    assert (stored.images_total, stored.images_processed, stored.images_failed) == (2, 2, 0)


@pytest.mark.parametrize(
    ("failed", "done", "expected"),
    [(0, 3, BatchStatus.DONE), (1, 2, BatchStatus.PARTIAL), (3, 0, BatchStatus.FAILED)],
)
def test_batch_finish_reports_what_happened_to_its_photos(ad, failed, done, expected):
    # given a processing batch with some photos failed
    batch = factories.batch_create(ad=ad, status=BatchStatus.PROCESSING)
    for _ in range(failed):
        factories.image_create(batch=batch, status=ImageStatus.FAILED)
    for _ in range(done):
        factories.image_create(batch=batch, status=ImageStatus.DONE)
    # when it finishes
    services.batch_finish(batch=batch)
    # then its status says so
    stored = UploadBatch.objects.get(pk=batch.pk)
    assert stored.status == expected
    assert (stored.error == "") == (failed == 0)


@pytest.mark.parametrize(
    ("status", "action"),
    [
        (BatchStatus.RECEIVED, services.batch_processing_start),
        (BatchStatus.RECEIVED, services.batch_finish),
        (BatchStatus.EXTRACTING, services.batch_extraction_start),
        (BatchStatus.DONE, services.batch_extraction_start),
        (BatchStatus.PARTIAL, services.batch_processing_start),
    ],
)
def test_illegal_batch_transition_is_refused_and_changes_nothing(ad, status, action):
    # given a batch in some status
    batch = factories.batch_create(ad=ad, status=status)
    # when a transition the table does not allow is attempted
    with pytest.raises(IllegalTransition, match=f"cannot go from '{status}'"):
        action(batch=batch)
    # then the row keeps its status
    assert UploadBatch.objects.get(pk=batch.pk).status == status


@pytest.mark.parametrize("status", [BatchStatus.DONE, BatchStatus.FAILED, BatchStatus.PARTIAL])
def test_finished_batch_cannot_fail_again(ad, status):
    batch = factories.batch_create(ad=ad, status=status)
    with pytest.raises(IllegalTransition):
        services.batch_fail(batch=batch, error="late error")
    assert UploadBatch.objects.get(pk=batch.pk).error == ""


def test_only_one_worker_claims_a_batch(ad):
    # given one received batch seen by two workers (two stale instances of the row)
    first = factories.batch_create(ad=ad)
    second = UploadBatch.objects.get(pk=first.pk)
    # when both try to start extracting it
    services.batch_extraction_start(batch=first)
    # then the second loses, with a clear error
    with pytest.raises(IllegalTransition, match="from 'extracting' to 'extracting'"):
        services.batch_extraction_start(batch=second)


def test_failed_batch_keeps_its_error_message(ad):
    batch = factories.batch_create(ad=ad)
    services.batch_fail(batch=batch, error="not a ZIP archive")
    stored = UploadBatch.objects.get(pk=batch.pk)
    assert (stored.status, stored.error) == (BatchStatus.FAILED, "not a ZIP archive")
    assert stored.finished_at is not None


def test_image_transitions(ad):
    # given a pending photo
    batch = factories.batch_create(ad=ad, status=BatchStatus.PROCESSING)
    image = factories.image_create(batch=batch)
    # when it cannot be marked done before it is claimed
    with pytest.raises(IllegalTransition):
        services.image_done(image=image)
    # then claim -> fail -> requeue -> claim -> done works and records the time
    services.image_processing_start(image=image)
    services.image_fail(image=image, error="corrupt JPEG")
    image.refresh_from_db()
    assert (image.status, image.error) == (ImageStatus.FAILED, "corrupt JPEG")
    services.image_requeue(image=image)
    services.image_processing_start(image=image)
    services.image_done(image=image)
    image.refresh_from_db()
    assert image.status == ImageStatus.DONE and image.error == "" and image.processed_at


def test_skipped_image_cannot_be_processed(ad):
    batch = factories.batch_create(ad=ad, status=BatchStatus.EXTRACTING)
    image = factories.image_create(batch=batch)
    services.image_skip(image=image, reason="duplicate of photo-1.jpg")
    with pytest.raises(IllegalTransition, match="from 'skipped' to 'processing'"):
        services.image_processing_start(image=image)


def test_transition_tables_name_only_real_statuses():
    assert set(BATCH_TRANSITIONS) | set().union(*BATCH_TRANSITIONS.values()) <= set(
        BatchStatus.values
    )
    assert set(IMAGE_TRANSITIONS) | set().union(*IMAGE_TRANSITIONS.values()) <= set(
        ImageStatus.values
    )


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
    services.batch_recount(batch=batch)
    # then the stored counters match
    stored = UploadBatch.objects.get(pk=batch.pk)
    assert (
        stored.images_total,
        stored.images_processed,
        stored.images_failed,
        stored.images_skipped,
        stored.faces_found,
    ) == (4, 1, 1, 1, 2)
