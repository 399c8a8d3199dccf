"""The adversarial probe's inputs (issue 33) through the real ingest services: one bad row, a
stray offset or a flood of tiny videos never sinks an upload, and the work it makes is bounded.
"""

from __future__ import annotations

import re
import zipfile

import pytest
from django.core.files.base import ContentFile

from campaigns.models import BatchStatus, ImageKind, ImageStatus, ReactionImage, UploadBatch
from campaigns.services import batches, extraction, images
from tests import factories
from tests.bad_inputs import MANIFEST_PHOTOS, manifest_cases, tiny_long_video
from tests.ingest_support import plain_photo, zip_build

pytestmark = pytest.mark.django_db


@pytest.fixture
def ad(active_model):
    team = factories.team_create()
    return factories.ad_create(campaign=factories.campaign_create(team=team))


def _extracted(ad, members: dict[str, bytes]) -> UploadBatch:
    # Stored, not deflated: the corpus's filler compresses past the bomb ratio.
    data = zip_build(members, compression=zipfile.ZIP_STORED)
    batch = batches.batch_create(ad=ad, upload=ContentFile(data, "r.zip"), source_name="r.zip")
    extraction.batch_extract(batch_id=batch.pk)
    batch.refresh_from_db()
    return batch


def _photos() -> dict[str, bytes]:
    return {name: plain_photo(seed) for seed, name in enumerate(MANIFEST_PHOTOS)}


@pytest.mark.parametrize("case", list(manifest_cases()), ids=lambda case: case.name)
def test_a_bad_manifest_never_sinks_the_upload_and_each_bad_row_is_named(ad, case):
    # given photos and a manifest as a tool writes it, or broken as the probe broke it
    members = {**_photos(), "manifest.csv": case.data}
    # when the upload is extracted
    batch = _extracted(ad, members)
    # then every photo is imported, with the viewer its good row names
    assert batch.status == BatchStatus.PROCESSING, batch.error
    photos = batch.images.filter(kind=ImageKind.PHOTO, status=ImageStatus.PENDING)
    assert sorted(photos.values_list("original_name", flat=True)) == list(MANIFEST_PHOTOS)
    viewers = {
        p.original_name: p.viewer.external_id for p in photos.select_related("viewer") if p.viewer
    }
    assert viewers == case.viewers
    # and the batch's notes name each row that was left out or changed
    named = {int(m) for note in batch.notes for m in re.findall(r"^row (\d+)", note)}
    assert named == set(case.noted_rows), batch.notes


@pytest.mark.parametrize("data", [b"", b"\xef\xbb\xbf\r\n"], ids=["empty", "bom-only"])
def test_an_empty_manifest_is_a_note_not_a_skipped_photo(ad, data):
    # given an upload whose manifest.csv is empty (or holds only a BOM)
    # when extracted
    batch = _extracted(ad, {**_photos(), "manifest.csv": data})
    # then the photos are imported, the manifest is no row, and a note says it was ignored
    assert batch.status == BatchStatus.PROCESSING
    assert not batch.images.filter(original_name="manifest.csv").exists()
    assert batch.images_total == len(MANIFEST_PHOTOS) and batch.images_skipped == 0
    assert len(batch.notes) == 1 and "manifest.csv" in batch.notes[0]
    assert "empty" in batch.notes[0]


def test_huge_offsets_are_dropped_at_upload_and_the_chunk_analyses_every_photo(ad):
    # given photos at 3e9 s and 1e300 s (the first overflowed the tallies' integer column and
    # failed the whole chunk, valid offsets included, 15 minutes later)
    manifest = b"file,viewer,offset_seconds\na.jpg,v1,3e9\nb.jpg,v2,1e300\nc.jpg,v3,2\n"
    batch = _extracted(ad, {**_photos(), "manifest.csv": manifest})
    # when its photos are analysed
    ids = list(batch.images.values_list("pk", flat=True))
    assert batch.model_version_id is not None
    images.images_classify(image_ids=ids, model_version_id=batch.model_version_id)
    batch.refresh_from_db()
    # then every photo is done, the huge offsets gone (noted), the good one kept
    assert batch.status == BatchStatus.DONE, batch.error
    offsets = dict(batch.images.values_list("original_name", "offset_seconds"))
    assert offsets == {"a.jpg": None, "b.jpg": None, "c.jpg": 2.0}
    assert sum("past the longest an ad may be" in note for note in batch.notes) == 2


def test_offsets_past_the_ads_length_are_dropped_and_the_photo_kept(ad):
    # given an ad of 30 s and a photo at second 31
    ad.duration_seconds = 30
    ad.save()
    manifest = b"file,viewer,offset_seconds\na.jpg,v1,29.5\nb.jpg,v2,31\n"
    # when extracted
    batch = _extracted(
        ad, {"a.jpg": plain_photo(1), "b.jpg": plain_photo(2), "manifest.csv": manifest}
    )
    # then the photo past the ad keeps its row and viewer, without an offset, and is noted
    rows = {r.original_name: r for r in batch.images.select_related("viewer")}
    assert rows["a.jpg"].offset_seconds == 29.5
    viewer = rows["b.jpg"].viewer
    assert rows["b.jpg"].offset_seconds is None and viewer and viewer.external_id == "v2"
    assert batch.notes == [
        "row 3: offset_seconds 31 for b.jpg is past the ad's length (30 s); the file is "
        "analysed without an offset"
    ]


def test_tiny_long_videos_are_sampled_within_the_frame_budget_with_a_note(ad, settings):
    # given 6 videos of 2x2 pixels lasting 299 s each (a few hundred bytes for 598 frames each
    # at 2 a second), and a budget of 1,000 frames per upload
    settings.INGEST_MAX_FRAMES = 1_000
    members = {f"v{i}.mp4": tiny_long_video(seconds=299 + i / 10) for i in range(6)}
    assert sum(map(len, members.values())) < 20_000
    # when extracted
    batch = _extracted(ad, members)
    # then the upload holds at most the budget's frames, each video sampled over its whole span
    frames = ReactionImage.objects.filter(batch=batch, kind=ImageKind.FRAME)
    assert 900 < frames.count() <= 1_000
    for video in batch.videos.all():
        times = [t or 0.0 for t in video.frames.values_list("frame_seconds", flat=True)]
        assert times[0] == 0 and times[-1] > 290
    # and a note says the rate was lowered, and why
    (note,) = batch.notes
    assert "3,5" in note and "INGEST_MAX_FRAMES" in note and "sampled at" in note


def test_a_videos_frames_stop_at_the_ads_end(ad):
    # given an ad of 20 s, and a video of 299 s whose recording starts at second 5
    ad.duration_seconds = 20
    ad.save()
    manifest = b"file,viewer,offset_seconds\nv.mp4,resp-1,5\n"
    # when extracted
    batch = _extracted(ad, {"v.mp4": tiny_long_video(seconds=299), "manifest.csv": manifest})
    # then only its first 15 s are sampled (2 a second), each frame within the ad, with a note
    offsets = list(
        batch.images.filter(kind=ImageKind.FRAME)
        .order_by("frame_seconds")
        .values_list("offset_seconds", flat=True)
    )
    assert len(offsets) == 30 and offsets[0] == 5 and offsets[-1] == 19.5
    assert batch.notes == [
        "1 videos run past the ad's length (20 s) from their offset: only the part within it "
        "is analysed (v.mp4)"
    ]


def test_videos_past_the_frame_budget_are_skipped_with_their_reason(ad, settings):
    # given a budget of 2 frames and three videos (each keeps at least its first frame)
    settings.INGEST_MAX_FRAMES = 2
    members = {f"v{i}.mp4": tiny_long_video(seconds=10 + i) for i in range(3)}
    # when extracted
    batch = _extracted(ad, members)
    # then two videos have one frame each, the third is skipped with the reason
    assert batch.images.filter(kind=ImageKind.FRAME).count() == 2
    (skipped,) = batch.images.filter(status=ImageStatus.SKIPPED)
    assert skipped.original_name == "v2.mp4" and "INGEST_MAX_FRAMES" in skipped.error
