"""An ad's creative: checked when uploaded (type, size, resolution, length), and its frames
asked for with a second that must be one of the ad's."""

from __future__ import annotations

import io

import numpy as np
import pytest
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils.datastructures import MultiValueDict
from PIL import Image

from campaigns.admin import AdAdminForm
from campaigns.models import Ad
from campaigns.services import teams
from inference.scenes import video_bytes
from tests import factories
from tests.ingest_support import plain_photo

pytestmark = pytest.mark.django_db


@pytest.fixture
def campaign():
    return factories.campaign_create(team=factories.team_create())


def _video(seconds: float = 2, size: tuple[int, int] = (128, 96)) -> bytes:
    width, height = size
    return video_bytes(
        lambda t: np.full((height, width, 3), int(t * 100) % 256, dtype=np.uint8),
        seconds=seconds,
        fps=5,
    )


def _png(size: tuple[int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, "white").save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("name", "data", "limits", "reason"),
    [
        ("spot.mp4", b"", {}, "spot.mp4 is empty"),
        ("spot.mp4", b"x" * 2048, {"CREATIVE_MAX_BYTES": 1024}, "CREATIVE_MAX_BYTES"),
        ("notes.txt", b"just some text", {}, "is not an image or a video"),
        ("spot.mp4", b"not a video at all, only text", {}, "not a video this service can read"),
        ("spot.jpg", None, {}, "holds a video: give it a video's extension"),
        ("spot.mp4", None, {"CREATIVE_MAX_PIXELS": 100 * 100}, "128x96; the limit is 10,000"),
        ("spot.mp4", None, {"AD_MAX_SECONDS": 1}, "a creative may last at most 1 s"),
        ("big.png", "png", {"CREATIVE_MAX_PIXELS": 100 * 100}, "200x200; a creative may have"),
        ("broken.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, {}, "not an image this service"),
    ],
    ids=[
        "empty",
        "too-large",
        "text",
        "fake-video",
        "video-named-jpg",
        "video-resolution",
        "video-length",
        "image-resolution",
        "broken-image",
    ],
)
def test_a_creative_past_a_limit_or_of_no_known_kind_is_refused_and_not_stored(
    campaign, settings, name, data, limits, reason
):
    # given a creative that breaks one rule
    for setting, value in limits.items():
        setattr(settings, setting, value)
    content = _video() if data is None else _png((200, 200)) if data == "png" else data
    # when an ad is created with it
    with pytest.raises(ValidationError) as refused:
        teams.ad_create(campaign=campaign, name="Spot", creative=ContentFile(content, name=name))
    # then it is refused on the creative field with the reason, and nothing is stored
    assert reason in " ".join(refused.value.message_dict["creative"])
    assert not Ad.objects.filter(campaign=campaign).exists()
    assert not default_storage.exists("creatives")


def test_a_good_video_or_image_creative_is_stored(campaign):
    ad = teams.ad_create(
        campaign=campaign, name="Spot", creative=ContentFile(_video(), name="spot.mp4")
    )
    assert default_storage.exists(ad.creative.name)
    other = teams.ad_create(
        campaign=campaign, name="Still", creative=ContentFile(plain_photo(1), name="still.png")
    )
    assert default_storage.exists(other.creative.name)


def test_the_ad_page_and_the_admin_say_why_a_creative_is_refused(client, campaign, settings):
    # given an upload limit of 100x100 pixels and a 128x96 video
    settings.CREATIVE_MAX_PIXELS = 100 * 100
    user = factories.user_create(team=campaign.team)
    client.force_login(user)
    # when it is uploaded on the new ad's page
    response = client.post(
        reverse("campaigns:ad_create", args=[campaign.pk]),
        {"name": "Spot", "creative": SimpleUploadedFile("spot.mp4", _video())},
    )
    # then the page shows the reason on the field and no ad is made
    assert response.status_code == 200
    assert "CREATIVE_MAX_PIXELS" in " ".join(response.context["form"].errors["creative"])
    assert not Ad.objects.exists()
    # and the admin's form refuses it the same way
    form = AdAdminForm(
        data={"campaign": campaign.pk, "name": "Spot"},
        files=MultiValueDict({"creative": [SimpleUploadedFile("spot.mp4", _video())]}),
    )
    assert not form.is_valid() and "CREATIVE_MAX_PIXELS" in str(form.errors["creative"])


@pytest.fixture
def video_ad(campaign):
    """An ad whose creative is a 2 s video (stored as it was before creatives were checked)."""
    ad = factories.ad_create(campaign=campaign, name="Spot")
    ad.creative.save("spot.mp4", ContentFile(_video(seconds=2)))
    return ad


@pytest.mark.parametrize("t", ["inf", "-inf", "nan", "1e300", "-1", "abc", "10801"])
def test_a_creative_frame_at_a_second_that_is_not_one_of_an_ad_is_a_400(client, video_ad, t):
    client.force_login(factories.user_create(team=video_ad.campaign.team))
    # when a frame is asked for at an impossible second (inf and 1e300 answered 500)
    response = client.get(reverse("campaigns:creative_frame", args=[video_ad.pk]), {"t": t})
    # then the answer is a 400 that says what t may be
    assert response.status_code == 400
    assert response.content.decode() == "t must be a second of the ad, from 0 to 10,800."


def test_a_creative_frame_within_the_video_is_a_jpeg_and_past_its_end_a_404(client, video_ad):
    client.force_login(factories.user_create(team=video_ad.campaign.team))
    url = reverse("campaigns:creative_frame", args=[video_ad.pk])
    inside = client.get(url, {"t": "1"})
    assert inside.status_code == 200 and inside.content[:3] == b"\xff\xd8\xff"
    assert client.get(url, {"t": "100"}).status_code == 404


def test_a_stored_creative_past_the_pixel_limit_is_never_decoded(client, video_ad, settings):
    # given a creative stored before creatives were checked, larger than the limit now
    settings.CREATIVE_MAX_PIXELS = 100 * 100
    client.force_login(factories.user_create(team=video_ad.campaign.team))
    # when its frame is asked for, then it is not decoded but refused as unreadable
    response = client.get(reverse("campaigns:creative_frame", args=[video_ad.pk]), {"t": "1"})
    assert response.status_code == 404
