"""A chunk's claims stay alive while its worker analyses them, and the sweep sends again the
photos of a worker that stopped (killed): recovery in seconds, not after the time limit.

The sweep sends through the configured broker; the test reads what it sent off the
inference queue (and leaves the queue empty for the tests after it).
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterator

import pytest
from django.core.files.base import ContentFile
from django.utils import timezone
from kombu import Queue

from campaigns.models import BatchStatus, ImageStatus, ReactionImage, UploadBatch
from campaigns.services import batches, extraction, images
from fer_site.celery import app
from inference.services import model_version_activate
from tests import factories
from tests.ingest_support import plain_photo, zip_build


@pytest.fixture
def sent_chunks() -> Iterator[Callable[[], list[list[int]]]]:
    """Reads the image ids of each chunk sent to the inference queue so far."""
    with app.connection_for_write() as connection:
        queue = Queue("inference").bind(connection.default_channel)
        queue.declare()
        queue.purge()

        def read() -> list[list[int]]:
            chunks = []
            while (message := queue.get(no_ack=True)) is not None:
                args, _, _ = message.decode()
                chunks.append(list(args[0]))
            return chunks

        yield read
        queue.purge()


def _batch(photos: int) -> UploadBatch:
    model_version_activate(model_version=factories.model_version_create())
    ad = factories.ad_create(campaign=factories.campaign_create(team=factories.team_create()))
    members = {f"p{i}.png": plain_photo(i) for i in range(photos)}
    batch = batches.batch_create(
        ad=ad, upload=ContentFile(zip_build(members), "b.zip"), source_name="b.zip"
    )
    extraction.batch_extract(batch_id=batch.pk)
    batch.refresh_from_db()
    return batch


def _claim(batch: UploadBatch, names: list[str], *, at: dt.datetime, token: str) -> list[int]:
    ids = list(batch.images.filter(original_name__in=names).values_list("pk", flat=True))
    assert batch.model_version_id is not None
    won = images.images_claim(
        image_ids=ids, model_version_id=batch.model_version_id, claim_token=token, now=at
    )
    assert sorted(won) == sorted(ids)
    return ids


@pytest.mark.django_db
def test_the_sweep_sends_again_the_photos_of_a_worker_that_stopped(sent_chunks, settings):
    # given a batch whose chunk was claimed by a worker silent for longer than the claim
    # timeout (killed), and another chunk claimed by a worker alive a moment ago
    batch = _batch(photos=4)
    now = timezone.now()
    stale = now - dt.timedelta(seconds=settings.INGEST_CLAIM_TIMEOUT + 1)
    killed = _claim(batch, ["p0.png", "p1.png", "p2.png"], at=stale, token="killed")
    alive = _claim(batch, ["p3.png"], at=now - dt.timedelta(seconds=1), token="alive")
    # when the sweep runs (far within INGEST_CHUNK_TIME_LIMIT, which was the only way back)
    assert images.images_resume_abandoned(now=now) == len(killed)
    # then the killed worker's photos are pending again, their attempt counted, and sent
    rows = {row.pk: row for row in batch.images.all()}
    assert {rows[pk].status for pk in killed} == {ImageStatus.PENDING}
    assert {rows[pk].attempts for pk in killed} == {1}
    assert rows[alive[0]].status == ImageStatus.PROCESSING
    # and a second sweep right after sends nothing more
    assert images.images_resume_abandoned(now=now) == 0
    assert sorted(pk for chunk in sent_chunks() for pk in chunk) == sorted(killed)


@pytest.mark.django_db
def test_a_photo_abandoned_the_most_times_fails_alone_and_the_batch_closes(sent_chunks, settings):
    # given a batch's only photo claimed INGEST_MAX_ATTEMPTS times, its worker killed each time
    batch = _batch(photos=1)
    (image,) = batch.images.all()
    ReactionImage.objects.filter(pk=image.pk).update(attempts=settings.INGEST_MAX_ATTEMPTS - 1)
    long_ago = timezone.now() - dt.timedelta(seconds=settings.INGEST_CLAIM_TIMEOUT + 1)
    _claim(batch, ["p0.png"], at=long_ago, token="killer")
    # when the sweep runs
    assert images.images_resume_abandoned() == 0
    # then the photo failed with the reason and nothing was sent; the batch is closed
    image.refresh_from_db()
    assert image.status == ImageStatus.FAILED
    assert f"did not finish in {settings.INGEST_MAX_ATTEMPTS} attempts" in image.error
    assert UploadBatch.objects.get(pk=batch.pk).status == BatchStatus.FAILED
    assert sent_chunks() == []


@pytest.mark.django_db(transaction=True)
def test_a_chunk_being_analysed_keeps_its_claims_alive(settings):
    # given claims made a claim timeout ago by a chunk that is still at work
    settings.INGEST_CLAIM_TIMEOUT = 4
    batch = _batch(photos=2)
    claimed_at = timezone.now() - dt.timedelta(seconds=settings.INGEST_CLAIM_TIMEOUT)
    ids = _claim(batch, ["p0.png", "p1.png"], at=claimed_at, token="busy")
    # when its worker keeps them alive for a while
    with images.claims_kept_alive(image_ids=ids, claimed_at=claimed_at):
        time.sleep(settings.INGEST_CLAIM_TIMEOUT / 4 * 2.5)
        # then they were refreshed, the sweep leaves them alone and no other chunk takes them
        alive = set(batch.images.values_list("claim_alive_at", flat=True))
        assert all(at is not None and at > claimed_at for at in alive)
        assert images.images_resume_abandoned() == 0
        assert batch.model_version_id is not None
        assert images.images_claim(image_ids=ids, model_version_id=batch.model_version_id) == []
