"""The photo page: every face boxed and labelled, numbered from 1, in its emotion's colour,
with labels that read the same on a thumbnail-sized scan and on a phone's 12-megapixel photo."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from analytics.charts import EMOTION_COLOURS
from analytics.templatetags.photo_overlay import LABEL_SIZE
from campaigns.models import ImageStatus
from ml import CLASSES
from tests import factories
from tests.analytics.dashboard_data import face_add

pytestmark = pytest.mark.django_db

_TEXT = re.compile(r"<text ([^>]*)>([^<]*)</text>")
_ATTR = re.compile(r'([\w-]+)="([^"]*)"')


@pytest.fixture
def member_photo(client):
    team = factories.team_create()
    client.force_login(factories.user_create(team=team))
    ad = factories.ad_create(campaign=factories.campaign_create(team=team))
    batch = factories.batch_create(ad=ad, status="done")
    model = factories.model_version_create()

    def photo(width: int, height: int, boxes: list[tuple[int, int, int, int]], label="happy"):
        image = factories.image_create(batch=batch, status=ImageStatus.DONE)
        image.width, image.height = width, height
        image.save()
        for box in boxes:
            face_add(image=image, model_version=model, label=label, box=box)
        return image

    return photo


def _labels(client, image) -> list[tuple[dict[str, str], str]]:
    html = client.get(reverse("campaigns:photo_detail", args=[image.pk])).content.decode()
    return [(dict(_ATTR.findall(attrs)), text) for attrs, text in _TEXT.findall(html)]


@pytest.mark.parametrize(("width", "height"), [(200, 150), (640, 480), (4032, 3024)])
def test_label_size_is_a_fixed_share_of_the_photos_width(client, member_photo, width, height):
    # given photos of very different sizes, each with a face in the middle
    image = member_photo(width, height, [(width // 3, height // 3, width // 4, height // 4)])
    # when the page is drawn
    ((attrs, _),) = _labels(client, image)
    # then the label's size is the same share of the photo's width (so the same share of the
    # photo as displayed: the overlay is scaled with it)
    assert float(attrs["font-size"]) / width == pytest.approx(LABEL_SIZE, abs=0.001)
    # and it sits above the box
    assert float(attrs["y"]) < height // 3 and "inside" not in attrs["class"]


def test_a_face_that_fills_the_photo_is_labelled_inside_its_box(client, member_photo):
    # given a selfie whose face box is the whole photo
    image = member_photo(1080, 1440, [(0, 0, 1080, 1440)])
    ((attrs, text),) = _labels(client, image)
    # then its label is drawn inside the box, below its top edge, within the photo
    size = float(attrs["font-size"])
    assert "inside" in attrs["class"]
    assert size <= float(attrs["y"]) <= 1440 and 0 <= float(attrs["x"]) < 1080
    assert text == "#1 happy"


def test_a_label_near_the_right_edge_stays_inside_the_photo(client, member_photo):
    image = member_photo(640, 480, [(600, 200, 40, 40)], label="surprise")
    ((attrs, text),) = _labels(client, image)
    width_estimate = 0.6 * float(attrs["font-size"]) * len(text)
    assert float(attrs["x"]) + width_estimate <= 640 + 1  # coordinates are rounded to 0.1


def test_faces_are_numbered_from_one_in_their_emotions_colour(client, member_photo):
    image = member_photo(640, 480, [(10, 100, 60, 60), (300, 100, 60, 60)], label="sad")
    labels = _labels(client, image)
    assert [text for _, text in labels] == ["#1 sad", "#2 sad"]
    assert {attrs["fill"] for attrs, _ in labels} == {EMOTION_COLOURS["sad"]}
    html = client.get(reverse("campaigns:photo_detail", args=[image.pk])).content.decode()
    assert "Face #1: sad" in html and "Face #2: sad" in html and "Face #0" not in html
    assert html.count(f'stroke="{EMOTION_COLOURS["sad"]}"') == 2


def test_the_page_has_a_legend_of_the_seven_emotion_colours(client, member_photo):
    image = member_photo(640, 480, [(10, 100, 60, 60)])
    html = client.get(reverse("campaigns:photo_detail", args=[image.pk])).content.decode()
    legend = html[html.index('id="emotion-legend"') :]
    legend = legend[: legend.index("</ul>")]
    entries = re.findall(
        r'data-emotion="(\w+)"><span class="swatch" style="background: (#\w+)"', legend
    )
    assert entries == [(name, EMOTION_COLOURS[name]) for name in CLASSES]
