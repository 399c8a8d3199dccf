"""The upload page as a first-time marketer meets it: what it takes (photos, reaction videos,
a manifest), the example manifest, and loose videos with a manifest beside them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from django.contrib.staticfiles import finders
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from campaigns.manifests import manifest_parse
from campaigns.models import ImageKind, UploadBatch, Viewer
from campaigns.services import extraction
from tests import factories
from tests.ingest_support import plain_photo, zip_build
from tests.video_support import video_bytes

pytestmark = pytest.mark.django_db


@pytest.fixture
def ad():
    team = factories.team_create()
    return factories.ad_create(campaign=factories.campaign_create(team=team))


@pytest.fixture
def member(client, ad):
    user = factories.user_create(team=ad.campaign.team)
    client.force_login(user)
    return user


def _video(seconds: float, *, grey: int) -> bytes:
    frame = np.full((48, 64, 3), grey, dtype=np.uint8)
    return video_bytes(lambda t: frame, seconds=seconds, fps=10)


def test_the_upload_page_explains_photos_videos_and_the_manifest(client, member, ad):
    # when a marketer opens the upload page
    html = client.get(reverse("campaigns:batch_upload", args=[ad.pk])).content.decode()
    # then it names what it takes and links an example manifest to download
    assert "Reaction videos" in html
    assert "2 frames a second" in html
    assert "manifest" in html.lower()
    assert 'id="manifest-example" href="/static/campaigns/example/manifest.csv"' in html
    assert 'download="manifest.csv"' in html
    # and the loose-files field takes videos as well as photos, with a manifest beside them
    assert 'accept="image/*,video/*"' in html
    assert 'name="manifest"' in html


def test_the_example_manifest_is_one_the_ingest_reads_without_a_note():
    # given the example manifest the page links
    path = finders.find("campaigns/example/manifest.csv")
    assert path
    # when it is read as an upload's manifest
    manifest = manifest_parse(Path(path).read_bytes())
    # then each row names a viewer with an offset and attributes, and nothing is noted
    assert manifest.notes == []
    assert manifest.rows["videos/resp-17.mp4"].viewer == "resp-17"
    assert manifest.rows["photos/p01.jpg"].offset_seconds == 12.5
    assert manifest.rows["photos/p01.jpg"].attributes == {
        "age_band": "35-44",
        "market": "FR",
        "panel": "wave-1",
    }


def test_loose_videos_and_a_manifest_become_one_upload_with_viewers_and_frames(
    client, member, ad, active_model
):
    # given two reaction videos and a photo chosen as loose files, and a manifest beside them
    files = [
        SimpleUploadedFile("resp-1.mp4", _video(2, grey=80), content_type="video/mp4"),
        SimpleUploadedFile("resp-2.mp4", _video(2, grey=160), content_type="video/mp4"),
        SimpleUploadedFile("p01.png", plain_photo(1), content_type="image/png"),
    ]
    manifest = SimpleUploadedFile(
        "my survey export.csv",
        b"file,viewer,offset_seconds,market\r\nresp-1.mp4,r1,0,DE\r\np01.png,r3,4,FR\r\n",
        content_type="text/csv",
    )
    # when the page's form posts them
    response = client.post(
        reverse("campaigns:batch_upload", args=[ad.pk]),
        {"photos": files, "manifest": manifest},
        headers={"accept": "application/json"},
    )
    # then one upload holds them, named for what it holds
    assert response.status_code == 201, response.content
    batch = UploadBatch.objects.get(pk=response.json()["batch"])
    assert batch.source_name == "1 photo and 2 videos"
    extraction.batch_extract(batch_id=batch.pk)
    # and its videos were sampled into frames, its viewers and their attributes read from
    # the manifest (a video without a row is its file name's viewer)
    assert batch.videos.count() == 2
    assert batch.images.filter(kind=ImageKind.FRAME).count() == 8
    viewers = {v.external_id: v.attribute_dict for v in Viewer.objects.filter(campaign=ad.campaign)}
    assert viewers == {"r1": {"market": "DE"}, "r3": {"market": "FR"}, "resp-2": {}}
    assert batch.images.get(original_name="p01.png").offset_seconds == 4


def test_a_zip_and_a_separate_manifest_are_refused_with_the_reason(client, member, ad):
    response = client.post(
        reverse("campaigns:batch_upload", args=[ad.pk]),
        {
            "archive": SimpleUploadedFile("r.zip", zip_build({"a.png": plain_photo(1)})),
            "manifest": SimpleUploadedFile("manifest.csv", b"file,viewer\r\na.png,v1\r\n"),
        },
        headers={"accept": "application/json"},
    )
    assert response.status_code == 400
    assert "A ZIP carries its manifest inside it" in response.json()["errors"][0]
    assert not UploadBatch.objects.exists()
