"""The ad's page: which model reads its reactions, its creative and length, what was analysed
(photos and video frames each by name), and the creative file behind the team check."""

from __future__ import annotations

import numpy as np
import pytest
from django.core.files.base import ContentFile
from django.urls import reverse

from campaigns.models import ImageKind, ImageStatus, ReactionImage
from campaigns.services import teams
from campaigns.services.batches import batch_recount
from inference.services import model_version_activate
from tests import factories
from tests.analytics.dashboard_data import (
    batch_on,
    photo_with_faces,
    viewer_create,
    viewer_video,
)
from tests.ingest_support import plain_photo
from tests.video_support import video_bytes

pytestmark = pytest.mark.django_db


@pytest.fixture
def campaign():
    return factories.campaign_create(team=factories.team_create())


@pytest.fixture
def member(client, campaign):
    user = factories.user_create(team=campaign.team)
    client.force_login(user)
    return user


def _video(seconds: float = 2) -> bytes:
    return video_bytes(
        lambda t: np.full((96, 128, 3), int(t * 100) % 256, dtype=np.uint8), seconds=seconds, fps=5
    )


def test_a_new_ad_names_the_active_model_not_none_registered(client, member, campaign):
    # given an active model version and a new ad with no upload yet
    model = model_version_activate(model_version=factories.model_version_create(version="1.5"))
    ad = factories.ad_create(campaign=campaign)
    # when its page is opened
    html = client.get(reverse("campaigns:ad_detail", args=[ad.pk])).content.decode()
    # then it names the active model that will read its uploads
    assert "none registered" not in html
    assert f"{model.name} 1.5</strong> (active)" in html


def test_an_ad_without_any_active_model_says_so(client, member, campaign):
    ad = factories.ad_create(campaign=campaign)
    html = client.get(reverse("campaigns:ad_detail", args=[ad.pk])).content.decode()
    assert "Model: none active." in html


def test_the_ad_page_shows_a_video_creative_with_its_poster_and_length(client, member, campaign):
    # given an ad with a video creative and a length
    ad = teams.ad_create(
        campaign=campaign,
        name="Spot",
        creative=ContentFile(_video(), name="spot.mp4"),
        duration_seconds=30,
    )
    # when its page is opened
    html = client.get(reverse("campaigns:ad_detail", args=[ad.pk])).content.decode()
    # then a player shows the creative, its first frame as the poster, and the ad's length
    creative_url = reverse("campaigns:ad_creative", args=[ad.pk])
    poster_url = reverse("campaigns:creative_frame", args=[ad.pk]) + "?t=0"
    assert f'poster="{poster_url}" src="{creative_url}"' in html
    assert "<strong>Length:</strong> 30 s" in html
    # and both addresses answer: the file itself and its poster frame
    response = client.get(creative_url)
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == ad.creative.open("rb").read()
    assert client.get(poster_url)["Content-Type"] == "image/jpeg"


def test_an_image_creative_is_shown_as_an_image_and_a_missing_length_is_asked_for(
    client, member, campaign
):
    ad = teams.ad_create(
        campaign=campaign, name="Still", creative=ContentFile(plain_photo(1), name="still.png")
    )
    html = client.get(reverse("campaigns:ad_detail", args=[ad.pk])).content.decode()
    assert f'<img src="{reverse("campaigns:ad_creative", args=[ad.pk])}"' in html
    assert "<video" not in html
    assert "give the ad its length" in html


def test_another_teams_creative_is_not_found(client, member):
    other = factories.campaign_create(team=factories.team_create())
    ad = teams.ad_create(
        campaign=other, name="Theirs", creative=ContentFile(plain_photo(1), name="still.png")
    )
    assert client.get(reverse("campaigns:ad_creative", args=[ad.pk])).status_code == 404


def test_video_frames_are_called_frames_and_photos_photos(client, member, campaign):
    # given an ad with one analysed photo and three viewers' video frames (132 in all)
    model = model_version_activate(model_version=factories.model_version_create())
    ad = factories.ad_create(campaign=campaign, name="Spot")
    batch = batch_on(ad=ad)
    batch.model_version = model
    batch.save()
    photo_with_faces(batch=batch, model_version=model, labels=["happy"])
    for n in range(3):
        viewer = viewer_create(campaign=campaign, external_id=f"v{n}")
        viewer_video(
            batch=batch,
            model_version=model,
            viewer=viewer,
            labels_at=[(second / 2, "happy") for second in range(44)],
        )
    batch_recount(batch=batch)
    assert batch.images_processed == 133
    assert (
        ReactionImage.objects.filter(status=ImageStatus.DONE, kind=ImageKind.FRAME).count() == 132
    )
    # when the ad's page and the campaign's dashboard are opened
    ad_html = client.get(reverse("campaigns:ad_detail", args=[ad.pk])).content.decode()
    dashboard = client.get(reverse("campaigns:campaign_dashboard", args=[campaign.pk]))
    # then each counts photos and video frames by their names
    assert "<strong>1 photo and 132 video frames</strong> analysed" in ad_html
    assert "133 photos" not in ad_html
    (summary,) = dashboard.context["summaries"]
    assert (summary.photos, summary.frames) == (1, 132)
    assert 'data-col="photos">1 / 132</td>' in dashboard.content.decode()


def test_the_edit_form_links_the_current_creative_through_the_app(client, member, campaign):
    # given an ad with a video creative (the store is private: /media/ is never served)
    ad = teams.ad_create(
        campaign=campaign, name="Spot", creative=ContentFile(_video(), name="spot.mp4")
    )
    # when its edit form is opened
    html = client.get(reverse("campaigns:ad_edit", args=[ad.pk])).content.decode()
    # then "Currently" names the video and links it where it is served, not its storage path
    creative_url = reverse("campaigns:ad_creative", args=[ad.pk])
    assert f'Currently: <a href="{creative_url}">the current video</a>' in html
    assert "/media/" not in html and ad.creative.name not in html
    assert client.get(creative_url).status_code == 200
