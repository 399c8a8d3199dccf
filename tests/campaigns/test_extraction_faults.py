"""Archives that once jammed or bloated a batch: each is built here for real and extracted.

From the probe of 2026-12-01: a member whose deflate stream is corrupt crashed the extraction
in a loop; two members with one 496-character name broke the insert on PostgreSQL; a photo
sharing another's name was skipped as "not a photo"; 200 solid-colour bitmaps in a 533 KB
upload wrote 209 MB into storage.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import struct
import zipfile
from pathlib import Path

import numpy as np
import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone
from PIL import Image

from campaigns.archives import MAX_NAME_LENGTH, ArchiveLimits, archive_members, open_archive
from campaigns.models import BatchStatus, ImageStatus, UploadBatch
from campaigns.services import batches, extraction
from inference.services import model_version_activate
from tests import factories
from tests.ingest_support import plain_photo, zip_build

pytestmark = pytest.mark.django_db


@pytest.fixture
def ad():
    model_version_activate(model_version=factories.model_version_create())
    team = factories.team_create()
    return factories.ad_create(campaign=factories.campaign_create(team=team))


def bitmap(seed: int, *, size: tuple[int, int] = (300, 200), solid: bool = False) -> bytes:
    """A BMP: a noisy gradient (compresses a few times, like a photo) or one solid colour."""
    width, height = size
    if solid:
        pixels = np.full((height, width, 3), (seed % 256, 30, 30), dtype=np.uint8)
    else:
        rng = np.random.default_rng(seed)
        ramp = np.tile(np.linspace(0, 200, width), (height, 1))
        noise = rng.integers(0, 40, size=(height, width))
        gray = (ramp + noise).astype(np.uint8)
        pixels = np.stack([gray, gray // 2, 255 - gray], axis=-1)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="BMP")
    return buffer.getvalue()


def _upload(ad, data: bytes, name: str = "photos.zip") -> UploadBatch:
    return batches.batch_create(ad=ad, upload=ContentFile(data, name), source_name=name)


def _extract(batch: UploadBatch) -> UploadBatch:
    extraction.batch_extract(batch_id=batch.pk)
    batch.refresh_from_db()
    return batch


def _stored_bytes(media_root: Path) -> int:
    photos = media_root / "photos"
    return sum(p.stat().st_size for p in photos.rglob("*") if p.is_file()) if photos.exists() else 0


def test_a_member_with_a_corrupt_deflate_stream_fails_alone(ad):
    # given a ZIP of two deflated bitmaps, the second with its compressed stream broken
    data = bytearray(zip_build({"good.bmp": bitmap(1), "broken.bmp": bitmap(2)}))
    info = zipfile.ZipFile(io.BytesIO(bytes(data))).getinfo("broken.bmp")
    name_length, extra_length = struct.unpack("<HH", data[info.header_offset + 26 :][:4])
    data[info.header_offset + 30 + name_length + extra_length] = 0xFF  # invalid block type
    # when the batch is extracted
    batch = _extract(_upload(ad, bytes(data)))
    # then the good photo goes on to analysis and the broken one is skipped with a plain reason
    assert batch.status == BatchStatus.PROCESSING, batch.error
    rows = dict(batch.images.values_list("original_name", "status"))
    assert rows == {"good.bmp": ImageStatus.PENDING, "broken.bmp": ImageStatus.SKIPPED}
    broken = batch.images.get(original_name="broken.bmp")
    assert broken.error == "corrupt archive member: its compressed data is damaged"


def test_two_members_with_one_very_long_name_are_both_kept_and_analysed(ad):
    # given two photos under the same 496-character name (the longest a ZIP tool allows here)
    name = "v" * 492 + ".png"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr(name, plain_photo(1))
        with pytest.warns(UserWarning, match="Duplicate"):
            zf.writestr(name, plain_photo(2))
    # when extracted (on PostgreSQL the name column holds 500 characters)
    batch = _extract(_upload(ad, buffer.getvalue()))
    # then both are photos to analyse, under distinct names that fit the column
    names = list(batch.images.order_by("pk").values_list("original_name", flat=True))
    assert batch.status == BatchStatus.PROCESSING and len(set(names)) == 2
    assert all(len(n) <= MAX_NAME_LENGTH for n in names)
    assert names[1].endswith(".png (member 2)") and names[0] == name
    assert set(batch.images.values_list("status", flat=True)) == {ImageStatus.PENDING}


def test_a_photo_that_shares_another_photos_name_is_still_a_photo(ad):
    # given two different photos under one name, beside a text file under its own
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("day1/face.jpg", plain_photo(1))
        with pytest.warns(UserWarning, match="Duplicate"):
            zf.writestr("day1/face.jpg", plain_photo(2))
        zf.writestr("notes.txt", plain_photo(3))
    # when extracted
    batch = _extract(_upload(ad, buffer.getvalue()))
    # then both photos are analysed; only the text file is skipped
    statuses = dict(batch.images.values_list("original_name", "status"))
    assert statuses == {
        "day1/face.jpg": ImageStatus.PENDING,
        "day1/face.jpg (member 2)": ImageStatus.PENDING,
        "notes.txt": ImageStatus.SKIPPED,
    }


def test_loose_photos_with_the_same_name_are_all_analysed(ad):
    photos = [ContentFile(plain_photo(i), name="IMG_0001.JPG") for i in range(3)]
    batch = _extract(batches.batch_create_from_files(ad=ad, files=photos))
    assert batch.images.filter(status=ImageStatus.PENDING).count() == 3
    assert not batch.images.filter(status=ImageStatus.SKIPPED).exists()


def test_solid_colour_bitmaps_of_just_under_a_mebibyte_are_skipped_not_stored(ad, media_root):
    # given the probe's archive: 200 solid-colour bitmaps of about 1 MB each (~500 KB zipped)
    members = {f"flat-{i:03}.bmp": bitmap(i, size=(589, 591), solid=True) for i in range(200)}
    members["real.bmp"] = bitmap(7)
    data = zip_build(members)
    assert len(data) < 700 * 1024 and all(len(m) < 1024**2 for m in members.values())
    # when extracted
    batch = _extract(_upload(ad, data))
    # then every flat bitmap is skipped as a bomb and nothing of them reaches storage
    skipped = batch.images.filter(status=ImageStatus.SKIPPED)
    assert skipped.count() == 200
    assert all(e.startswith("compression ratio") for e in skipped.values_list("error", flat=True))
    assert _stored_bytes(media_root) == len(members["real.bmp"])


def test_an_archive_expanding_far_past_its_own_size_is_refused_whole(ad, media_root, settings):
    # given bitmaps that each compress about 40:1 (under the per-member limit of 100:1)
    rng = np.random.default_rng(3)

    def sparse_bitmap() -> bytes:
        pixels = np.zeros((200, 300, 3), dtype=np.uint8)
        pixels[::7, ::7] = rng.integers(0, 256, size=pixels[::7, ::7].shape)
        buffer = io.BytesIO()
        Image.fromarray(pixels).save(buffer, format="BMP")
        return buffer.getvalue()

    data = zip_build({f"{i}.bmp": sparse_bitmap() for i in range(40)})
    with open_archive(io.BytesIO(data)) as archive:
        listed = archive_members(archive, limits=ArchiveLimits(max_expansion=1000))
    ratios = [m.info.file_size / m.info.compress_size for m in listed]
    assert all(10 < r < settings.INGEST_MAX_RATIO for r in ratios), ratios
    # when extracted with the default budget of 20 times the upload's size
    batch = _extract(_upload(ad, data))
    # then the whole archive is refused with the reason, before anything is stored
    assert batch.status == BatchStatus.FAILED
    assert "more than 20 times" in batch.error and "Nothing was imported" in batch.error
    assert not batch.images.exists() and _stored_bytes(media_root) == 0


def test_an_extraction_that_fails_every_time_fails_the_batch_after_the_attempt_limit(
    ad, media_root, settings
):
    # given storage that cannot take photos (a file where the photos folder should be)
    media_root.mkdir(parents=True, exist_ok=True)
    batch = _upload(ad, zip_build({"a.png": plain_photo(1), "b.png": plain_photo(2)}))
    (media_root / "photos").write_text("not a folder")
    # when every delivery of the extraction fails
    for attempt in range(1, settings.INGEST_MAX_ATTEMPTS):
        with pytest.raises(extraction.ExtractionRetry):
            extraction.batch_extract(batch_id=batch.pk)
        batch.refresh_from_db()
        # then the batch says so while it retries
        assert batch.status == BatchStatus.EXTRACTING
        assert f"attempt {attempt} of {settings.INGEST_MAX_ATTEMPTS}, retrying" in batch.error
    extraction.batch_extract(batch_id=batch.pk)
    # and fails with the reason at the last attempt, never looping
    batch.refresh_from_db()
    assert batch.status == BatchStatus.FAILED
    assert f"could not be unpacked in {settings.INGEST_MAX_ATTEMPTS} attempts" in batch.error
    # in words for the uploader: the exception itself is for the log
    assert "server error" in batch.error and "NotADirectoryError" not in batch.error
    extraction.batch_extract(batch_id=batch.pk)  # a late redelivery changes nothing
    assert UploadBatch.objects.get(pk=batch.pk).status == BatchStatus.FAILED


def test_an_extraction_whose_worker_dies_every_time_fails_after_the_attempt_limit(ad, settings):
    # given a batch whose extraction was delivered INGEST_MAX_ATTEMPTS times to workers that
    # died before finishing it
    batch = _upload(ad, zip_build({"a.png": plain_photo(1)}))
    UploadBatch.objects.filter(pk=batch.pk).update(extract_attempts=settings.INGEST_MAX_ATTEMPTS)
    # when the sweeper sends it once more
    batch = _extract(batch)
    # then the batch fails, saying why
    assert batch.status == BatchStatus.FAILED
    assert "worker was killed or ran out of time" in batch.error


def test_an_extraction_that_fails_after_storing_photos_leaves_no_file_behind(
    ad, media_root, settings
):
    # given an archive of two photos whose second cannot be stored (a file where its folder
    # should be), and one attempt allowed
    settings.INGEST_MAX_ATTEMPTS = 1
    first, second = plain_photo(1), plain_photo(2)
    shas = [hashlib.sha256(data).hexdigest() for data in (first, second)]
    assert shas[0][:2] != shas[1][:2]
    batch = _upload(ad, zip_build({"a.png": first, "b.png": second}))
    (media_root / "photos").mkdir(parents=True)
    (media_root / "photos" / shas[1][:2]).write_text("not a folder")
    # when its extraction fails after the first photo was stored
    batch = _extract(batch)
    # then the batch failed, and neither the photo it stored nor the upload is left behind
    assert batch.status == BatchStatus.FAILED and not batch.images.exists()
    stored = [p for p in (media_root / "photos").rglob("*") if p.is_file()]
    assert stored == [media_root / "photos" / shas[1][:2]]  # the blocker alone
    assert not batch.archive and not any((media_root / "uploads").rglob("*.zip"))


def test_the_daily_sweep_deletes_files_no_row_uses_once_a_day_old(ad, media_root):
    # given a stored photo in use, an orphan photo and video (an extraction killed with its
    # worker), an orphan upload, and a model artifact
    used = _extract(_upload(ad, zip_build({"a.png": plain_photo(1)})))
    (in_use,) = used.images.values_list("file", flat=True)
    orphans = [
        extraction.photo_store(data=plain_photo(2), sha256="ab" + "0" * 62),
        default_storage.save("videos/cd/" + "1" * 64 + ".mp4", ContentFile(b"video")),
        default_storage.save("uploads/2026/12/05/lost.zip", ContentFile(b"zip")),
    ]
    artifact = default_storage.save("models/fer/1/model.keras", ContentFile(b"weights"))
    # when the sweep runs now, then nothing is young enough to be an orphan for sure
    assert batches.stored_orphans_delete() == 0
    # when it runs a day later
    later = timezone.now() + dt.timedelta(days=1, minutes=1)
    deleted = batches.stored_orphans_delete(now=later)
    # then the orphans are gone, and the photo in use and the model artifact stay
    assert deleted == len(orphans)
    assert not any(default_storage.exists(name) for name in orphans)
    assert default_storage.exists(in_use) and default_storage.exists(artifact)
