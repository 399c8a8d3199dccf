"""Viewers, offsets and reaction videos through the ingest services, in one process.

The videos are written here from FER2013 faces; the model is the tiny test artifact (its
labels are arbitrary), so these tests check who, when and how many, not which emotion.
tests/e2e/test_videos.py checks a known timeline with the shipped model and real workers.
"""

from __future__ import annotations

import csv
import io

import numpy as np
import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from analytics import exports
from analytics.selectors.dashboards import DashboardFilters
from campaigns.models import (
    Face,
    ImageKind,
    ImageStatus,
    ReactionImage,
    ReactionVideo,
    UploadBatch,
    Viewer,
)
from campaigns.services import batches, extraction, images
from tests import factories
from tests.ingest_support import plain_photo, zip_build
from tests.shared_data import fer_test_faces
from tests.video_support import face_scene, video_bytes

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def faces() -> list[np.ndarray]:
    return [pixels for pixels, _ in fer_test_faces(2)]


@pytest.fixture
def ad(active_model):
    team = factories.team_create()
    return factories.ad_create(campaign=factories.campaign_create(team=team))


def _video(
    faces: list[np.ndarray], seconds: float, container: str = "mp4", codec: str = "mpeg4"
) -> bytes:
    frames = [face_scene(face, seed=i) for i, face in enumerate(faces[:4])]
    return video_bytes(
        lambda t: frames[int(t) % len(frames)],
        seconds=seconds,
        fps=10,
        container=container,
        codec=codec,
    )


def _photo(faces: list[np.ndarray], index: int) -> bytes:
    buffer = io.BytesIO()
    from PIL import Image

    Image.fromarray(face_scene(faces[index], seed=100 + index)).save(buffer, format="JPEG")
    return buffer.getvalue()


def _extracted(ad, members: dict[str, bytes]) -> UploadBatch:
    batch = batches.batch_create(
        ad=ad, upload=ContentFile(zip_build(members), "r.zip"), source_name="r.zip"
    )
    extraction.batch_extract(batch_id=batch.pk)
    batch.refresh_from_db()
    return batch


def _analysed(batch: UploadBatch) -> UploadBatch:
    ids = list(batch.images.filter(status=ImageStatus.PENDING).values_list("pk", flat=True))
    assert batch.model_version_id is not None
    for start in range(0, len(ids), 16):
        images.images_classify(
            image_ids=ids[start : start + 16], model_version_id=batch.model_version_id
        )
    batch.refresh_from_db()
    return batch


MANIFEST = (
    b"file,viewer,offset_seconds,age_band,market\r\n"
    b"r1.mp4,resp-1,5,25-34,DE\r\n"
    b"photos/a.jpg,resp-2,2.5,35-44,=cmd()\r\n"
)


def test_videos_photos_and_a_manifest_give_viewers_offsets_and_frames(ad, faces):
    # given two videos (one in the manifest, one not), two photos (one in it) and the manifest
    members = {
        "r1.mp4": _video(faces, 4),
        "panel/r2.webm": _video(faces, 3, container="webm", codec="libvpx"),
        "photos/a.jpg": _photo(faces, 0),
        "photos/b.jpg": _photo(faces, 1),
        "manifest.csv": MANIFEST,
    }
    # when extracted
    batch = _extracted(ad, members)
    # then every video is sampled at 2 frames/s, each frame at its second of the ad
    r1 = ReactionVideo.objects.get(batch=batch, original_name="r1.mp4")
    frames = list(r1.frames.order_by("frame_seconds"))
    assert [f.frame_seconds for f in frames] == [k / 2 for k in range(8)]
    assert [f.offset_seconds for f in frames] == [5 + k / 2 for k in range(8)]
    assert {f.status for f in frames} == {ImageStatus.PENDING}
    assert r1.viewer is not None and r1.viewer.external_id == "resp-1"
    r2 = ReactionVideo.objects.get(batch=batch, original_name="panel/r2.webm")
    assert r2.viewer is not None and r2.viewer.external_id == "r2" and r2.offset_seconds == 0
    assert r2.frames.count() == 6
    # and the photos carry what the manifest says, or nothing
    a = batch.images.get(original_name="photos/a.jpg")
    b = batch.images.get(original_name="photos/b.jpg")
    assert (a.viewer.external_id if a.viewer else None, a.offset_seconds) == ("resp-2", 2.5)
    assert (b.viewer, b.offset_seconds) == (None, None)
    # and the viewers of the campaign hold their attributes (a formula kept as text)
    viewers = {v.external_id: v.attribute_dict for v in Viewer.objects.filter(campaign=ad.campaign)}
    assert viewers == {
        "resp-1": {"age_band": "25-34", "market": "DE"},
        "resp-2": {"age_band": "35-44", "market": "=cmd()"},
        "r2": {},
    }
    # and the manifest is not a member, but its notes are the batch's
    assert not batch.images.filter(original_name="manifest.csv").exists()
    assert batch.notes == [
        "2 files are not in manifest.csv: their photos have no viewer, and a video's viewer "
        "is its file name"
    ]
    assert batch.images_total == 16  # 2 photos + 8 + 6 frames


def test_analysed_frames_keep_the_viewers_face_and_export_who_and_when(ad, faces):
    # given an extracted upload of a video and photos, analysed
    members = {"r1.mp4": _video(faces, 4), "photos/a.jpg": _photo(faces, 0)}
    members["manifest.csv"] = MANIFEST
    batch = _analysed(_extracted(ad, members))
    # then it is done, and a frame or photo of a known viewer has at most one face
    assert batch.status == "done", batch.error
    frames = batch.images.filter(kind=ImageKind.FRAME)
    assert frames.filter(status=ImageStatus.DONE).count() == 8
    for image in batch.images.filter(viewer__isnull=False):
        assert image.faces.count() <= 1
    assert Face.objects.filter(image__in=frames).count() >= 6  # the detector finds the faces
    # and the face export says whose face and when
    filters = DashboardFilters(model_version=batch.model_version)
    header, rows = exports.export_table(level="faces", campaign=ad.campaign, filters=filters)
    table = [dict(zip(header, row, strict=True)) for row in rows]
    frame_rows = [r for r in table if r["source_video"] == "r1.mp4"]
    assert frame_rows and {r["viewer"] for r in frame_rows} == {"resp-1"}
    assert {r["offset_seconds"] for r in frame_rows} <= {f"{5 + k / 2:.3f}" for k in range(8)}
    photo_row = next(r for r in table if r["image"] == "photos/a.jpg")
    assert (photo_row["viewer"], photo_row["offset_seconds"]) == ("resp-2", "2.500")
    # and the timeline export bins them by the ad's seconds, counting viewers
    header, rows = exports.export_table(
        level="timeline", campaign=ad.campaign, filters=filters, ad=ad, bin_seconds=2
    )
    timeline = [dict(zip(header, row, strict=True)) for row in rows]
    assert [(r["second_from"], r["second_to"]) for r in timeline] == [
        ("2", "4"), ("4", "6"), ("6", "8"), ("8", "10")
    ]  # fmt: skip
    assert [r["viewers"] for r in timeline] == [1, 1, 1, 1]
    for row in timeline:
        shares = [float(row[f"share_{name}"]) for name in ("angry", "happy", "sad")]
        assert all(0 <= s <= 1 for s in shares)
        assert float(row["share_happy_ci_low"]) <= float(row["share_happy"])
    # and the viewers export lists each with their attributes
    header, rows = exports.export_table(level="viewers", campaign=ad.campaign, filters=filters)
    listed = {row[1]: dict(zip(header, row, strict=True)) for row in rows}
    assert set(listed) == {"resp-1", "resp-2"}
    assert listed["resp-1"]["market"] == "DE" and listed["resp-2"]["age_band"] == "35-44"


def test_the_csv_of_a_formula_like_attribute_stays_text(ad, faces):
    members = {"photos/a.jpg": _photo(faces, 0), "manifest.csv": MANIFEST}
    batch = _analysed(_extracted(ad, members))
    filters = DashboardFilters(model_version=batch.model_version)
    header, rows = exports.export_table(level="viewers", campaign=ad.campaign, filters=filters)
    text = "".join(exports.csv_lines(header, rows, bom=False))
    (row,) = list(csv.DictReader(io.StringIO(text)))
    assert row["market"] == "'=cmd()"


def test_bad_videos_are_skipped_each_with_its_reason_and_the_rest_goes_on(ad, faces, settings):
    # given a good video beside a corrupt one, one too long, one too large, a photo renamed
    # .mov, an empty one
    settings.VIDEO_MAX_SECONDS = 3
    settings.VIDEO_MAX_PIXELS = 400 * 300
    big = video_bytes(lambda t: np.zeros((480, 640, 3), np.uint8), seconds=1, fps=5)
    members = {
        "good.mp4": _video(faces, 2),
        "corrupt.mp4": b"\x00\x00\x00\x18ftypisom" + bytes(range(256)) * 40,
        "long.mp4": _video(faces, 5),
        "huge.mp4": big,
        "photo.mov": _photo(faces, 0),
        "empty.webm": b"",
    }
    batch = _extracted(ad, members)
    reasons = dict(
        batch.images.filter(status=ImageStatus.SKIPPED).values_list("original_name", "error")
    )
    assert reasons["corrupt.mp4"] == "not a readable video (corrupt, truncated or not a video)"
    assert reasons["long.mp4"] == "the video lasts 5 s; the limit is 3 s"
    assert reasons["huge.mp4"].startswith("the video is 640x480; the limit is 120,000 pixels")
    assert reasons["photo.mov"] == "not a video (unknown file type)"
    assert reasons["empty.webm"] == "empty file"
    assert set(batch.images.filter(kind=ImageKind.VIDEO).values_list("status", flat=True)) == {
        ImageStatus.SKIPPED
    }
    # and the good video is sampled as usual
    assert ReactionVideo.objects.get(batch=batch).original_name == "good.mp4"
    assert batch.images.filter(kind=ImageKind.FRAME, status=ImageStatus.PENDING).count() == 4


def test_a_video_that_ends_early_fails_its_missing_frames_alone(ad, faces):
    # given a Matroska video whose header says 4 s but whose data stops after about 2 s
    whole = _video(faces, 4, container="matroska")
    cut = whole[: int(len(whole) * 0.55)]
    batch = _analysed(_extracted(ad, {"cut.mkv": cut, "ok.png": plain_photo(3)}))
    frames = batch.images.filter(kind=ImageKind.FRAME)
    failed = frames.filter(status=ImageStatus.FAILED)
    # then the frames it holds are analysed and the others fail with the reason
    assert frames.filter(status=ImageStatus.DONE).exists() and failed.exists()
    assert all("the video ends earlier" in e for e in failed.values_list("error", flat=True))
    assert batch.status == "partial"


def test_a_video_uploaded_again_in_the_ad_is_a_duplicate(ad, faces):
    video = _video(faces, 2)
    _analysed(_extracted(ad, {"first.mp4": video}))
    second = _extracted(ad, {"again.mp4": video})
    repeat = second.images.get(original_name="again.mp4")
    assert repeat.status == ImageStatus.SKIPPED and repeat.kind == ImageKind.VIDEO
    assert repeat.error == "duplicate of first.mp4 in this ad"
    assert repeat.duplicate_of is not None and repeat.duplicate_of.kind == ImageKind.FRAME
    assert not ReactionVideo.objects.filter(batch=second).exists()


def test_immediate_retention_deletes_a_video_once_its_frames_are_analysed(ad, faces, settings):
    settings.PHOTO_RETENTION = "immediate"
    batch = _extracted(ad, {"r.mp4": _video(faces, 2)})
    stored = ReactionVideo.objects.get(batch=batch).file.name
    assert default_storage.exists(stored)
    batch = _analysed(batch)
    video = ReactionVideo.objects.get(batch=batch)
    assert batch.status == "done"
    assert video.file.name == "" and video.file_deleted_at is not None
    assert not default_storage.exists(stored)
    assert ReactionImage.objects.filter(video=video, status=ImageStatus.DONE).count() == 4


def test_a_video_member_is_streamed_not_read_whole(ad, faces, settings):
    # given a video larger than a photo may be (the photo limit is for photos only)
    settings.INGEST_MAX_PHOTO_BYTES = 1000
    video = _video(faces, 2)
    assert len(video) > 1000
    batch = _extracted(ad, {"r.mp4": video, "p.png": plain_photo(1, size=(200, 200))})
    assert ReactionVideo.objects.filter(batch=batch).count() == 1
    assert batch.images.get(original_name="p.png").error.startswith("too large")
