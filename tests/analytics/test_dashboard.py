"""Campaign dashboard, ad page and photo pages: right numbers, scoped to the user's teams."""

import datetime as dt

import pytest
from django.urls import reverse

from analytics.selectors import decisions
from analytics.selectors.dashboards import DashboardFilters
from campaigns.models import UploadBatch
from inference.services import model_version_activate
from tests import factories
from tests.analytics.dashboard_data import (
    batch_on,
    face_add,
    photo_with_faces,
    viewer_create,
    viewer_reaction,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def campaign_with_two_ads():
    """Ad A: 6 happy + 2 sad faces (one at confidence 0.4); ad B: 1 happy + 5 angry."""
    team = factories.team_create()
    user = factories.user_create(team=team)
    campaign = factories.campaign_create(team=team, name="Spring launch")
    model = model_version_activate(model_version=factories.model_version_create())
    ad_a = factories.ad_create(campaign=campaign, name="Ad A")
    ad_b = factories.ad_create(campaign=campaign, name="Ad B")
    batch_a = batch_on(ad=ad_a, day=dt.date(2026, 3, 1))
    photo_with_faces(batch=batch_a, model_version=model, labels=["happy"] * 4)
    photo_with_faces(batch=batch_a, model_version=model, labels=["happy", "happy", "sad"])
    low = photo_with_faces(batch=batch_a, model_version=model, labels=[])
    face_add(image=low, model_version=model, label="sad", confidence=0.4)
    batch_b = batch_on(ad=ad_b, day=dt.date(2026, 3, 5))
    photo_with_faces(batch=batch_b, model_version=model, labels=["angry"] * 5 + ["happy"])
    photo_with_faces(batch=batch_b, model_version=model, labels=[])
    return user, campaign, model, ad_a, ad_b


def test_ad_summaries_count_faces_per_emotion_in_the_database(campaign_with_two_ads):
    # given two ads with known faces
    _, campaign, model, _ad_a, _ad_b = campaign_with_two_ads
    # when summarised
    summaries = {
        s.name: s
        for s in decisions.ad_summaries(
            campaign=campaign, filters=DashboardFilters(model_version=model)
        )
    }
    # then counts, photos, dominant emotion and valence shares are right
    a, b = summaries["Ad A"], summaries["Ad B"]
    assert (a.photos, a.faces, a.counts["happy"], a.counts["sad"]) == (3, 8, 6, 2)
    assert (b.photos, b.faces, b.counts["angry"], b.counts["happy"]) == (2, 6, 5, 1)
    assert a.dominant == "positive" and b.dominant == "negative"
    assert a.positive.share == pytest.approx(6 / 8)
    assert b.negative.share == pytest.approx(5 / 6)
    assert a.mean_confidence == pytest.approx((7 * 0.9 + 0.4) / 8)
    happy = a.shares[3]
    assert happy.emotion == "happy" and happy.interval.low < 0.75 < happy.interval.high


def test_filters_narrow_by_confidence_date_and_model_version(campaign_with_two_ads):
    _, campaign, model, *_ = campaign_with_two_ads
    other_model = factories.model_version_create()

    def faces(**kwargs):
        filters = DashboardFilters(**{"model_version": model, **kwargs})
        return {s.name: s.faces for s in decisions.ad_summaries(campaign=campaign, filters=filters)}

    assert faces(min_confidence=0.5) == {"Ad A": 7, "Ad B": 6}
    assert faces(date_from=dt.date(2026, 3, 2)) == {"Ad A": 0, "Ad B": 6}
    assert faces(date_to=dt.date(2026, 3, 1)) == {"Ad A": 8, "Ad B": 0}
    assert faces(model_version=other_model) == {"Ad A": 0, "Ad B": 0}


def test_each_ads_mix_is_grouped_by_upload_day(campaign_with_two_ads):
    _, campaign, model, ad_a, ad_b = campaign_with_two_ads
    scan = decisions.faces_scan(
        filters=DashboardFilters(model_version=model), ad__campaign=campaign
    )
    days = scan.breakdown(ad_names={ad_a.pk: "Ad A", ad_b.pk: "Ad B"}).ad_days
    assert [(day, c["happy"], c["sad"]) for day, c in days[ad_a.pk]] == [
        (dt.date(2026, 3, 1), 6, 2)
    ]
    assert [(day, c["happy"], c["angry"]) for day, c in days[ad_b.pk]] == [
        (dt.date(2026, 3, 5), 1, 5)
    ]


def test_dashboard_page_shows_counts_chart_data_and_the_verdict_in_words(
    client, campaign_with_two_ads
):
    user, campaign, _, _ad_a, _ad_b = campaign_with_two_ads
    client.force_login(user)
    # when the dashboard is opened
    response = client.get(reverse("campaigns:campaign_dashboard", args=[campaign.pk]))
    # then the table, chart data, the verdict and the local Plotly script are there
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-col="faces">8<' in html and 'data-col="faces">6<' in html
    bar = response.context["bar_chart"]
    assert bar["faces"] == [8, 6]
    happy = next(t for t in bar["traces"] if t["name"] == "happy")
    assert happy["y"] == [75.0, pytest.approx(100 / 6, abs=0.01)]
    verdict = response.context["verdict"]
    # 8 and 6 faces of no known viewer: too few to rank, and the page says so
    assert verdict.ranked == [] and verdict.summary in html
    assert "Too few faces (8) to rank" in html and "each face counts as one unit" in html
    assert "static/campaigns/vendor/plotly.min.js" in html
    assert "cdn" not in html.lower()
    assert "Positive = happy" in html


def test_dashboard_with_a_minimum_confidence_filter(client, campaign_with_two_ads):
    user, campaign, *_ = campaign_with_two_ads
    client.force_login(user)
    response = client.get(
        reverse("campaigns:campaign_dashboard", args=[campaign.pk]), {"min_confidence": "0.5"}
    )
    assert response.context["bar_chart"]["faces"] == [7, 6]


def test_dashboard_rejects_an_inverted_date_range_with_a_message(client, campaign_with_two_ads):
    user, campaign, *_ = campaign_with_two_ads
    client.force_login(user)
    response = client.get(
        reverse("campaigns:campaign_dashboard", args=[campaign.pk]),
        {"date_from": "2026-03-05", "date_to": "2026-03-01"},
    )
    assert response.status_code == 200
    assert "The end date is before the start date." in response.content.decode()


def test_empty_dashboard_says_what_to_do_next(client):
    team = factories.team_create()
    user = factories.user_create(team=team)
    campaign = factories.campaign_create(team=team)
    client.force_login(user)
    url = reverse("campaigns:campaign_dashboard", args=[campaign.pk])
    assert "no ads yet" in client.get(url).content.decode()
    factories.ad_create(campaign=campaign)
    assert "Upload a ZIP of reaction photos" in client.get(url).content.decode()


def test_campaign_list_shows_faces_analysed_and_dominant_emotion(client, campaign_with_two_ads):
    user, *_ = campaign_with_two_ads
    client.force_login(user)
    html = client.get(reverse("campaigns:campaign_list")).content.decode()
    assert 'data-col="faces">14<' in html
    assert ">happy</a> (50% of faces, as classified;" in html


def test_ad_page_lists_batches_and_draws_face_boxes(client, campaign_with_two_ads):
    user, _, _, ad_a, _ = campaign_with_two_ads
    client.force_login(user)
    response = client.get(reverse("campaigns:ad_detail", args=[ad_a.pk]))
    html = response.content.decode()
    assert response.status_code == 200
    assert html.count('class="face-box label-') == 8
    assert 'viewBox="0 0 640 480"' in html
    assert "photos-" in html  # the batch's source name


def test_photo_page_shows_probabilities_of_each_face(client, campaign_with_two_ads):
    user, _, _model, ad_a, _ = campaign_with_two_ads
    image = ad_a.batches.get().images.order_by("id").last()
    client.force_login(user)
    response = client.get(reverse("campaigns:photo_detail", args=[image.pk]))
    html = response.content.decode()
    assert "Face #1: sad" in html and "0.400" in html


def test_photo_file_is_read_from_storage(client, campaign_with_two_ads):
    from django.core.files.base import ContentFile

    user, _, _, ad_a, _ = campaign_with_two_ads
    image = ad_a.batches.get().images.first()
    image.file.save("reaction.jpg", ContentFile(b"\xff\xd8jpeg-bytes"))
    client.force_login(user)
    response = client.get(reverse("campaigns:photo_file", args=[image.pk]))
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == b"\xff\xd8jpeg-bytes"


@pytest.mark.parametrize(
    ("name", "arg"),
    [
        ("campaigns:campaign_dashboard", "campaign"),
        ("campaigns:campaign_export", "campaign"),
        ("campaigns:ad_detail", "ad"),
        ("campaigns:ad_export", "ad"),
        ("campaigns:photo_detail", "image"),
        ("campaigns:photo_file", "image"),
    ],
)
def test_another_teams_user_gets_404_and_anonymous_users_log_in(
    client, campaign_with_two_ads, name, arg
):
    _, campaign, _, ad_a, _ = campaign_with_two_ads
    objects = {"campaign": campaign, "ad": ad_a, "image": ad_a.batches.get().images.first()}
    url = reverse(name, args=[objects[arg].pk])
    # anonymous: redirected to the login page
    assert client.get(url).status_code == 302
    # a user of another team: 404, as if it did not exist
    client.force_login(factories.user_create(team=factories.team_create()))
    assert client.get(url).status_code == 404


def test_dashboard_says_when_uploads_are_still_being_analysed(client):
    team = factories.team_create()
    user = factories.user_create(team=team)
    ad = factories.ad_create(campaign=factories.campaign_create(team=team))
    factories.batch_create(ad=ad, status=UploadBatch.Status.PROCESSING)
    client.force_login(user)
    html = client.get(reverse("campaigns:campaign_dashboard", args=[ad.campaign.pk])).content
    assert b"1 upload still being analysed" in html
    assert b"The photos are still being analysed" in html


def _chart_texts(chart: dict) -> list[str]:
    """Every string of a chart's traces that Plotly draws: names, categories, hover texts."""
    texts = []
    for trace in chart["traces"]:
        texts += [trace.get("name", ""), trace.get("hovertemplate", "")]
        texts += [x for x in trace.get("x", []) if isinstance(x, str)]
    return texts


def test_ad_names_are_drawn_by_the_charts_as_text_never_as_markup(client):
    # given ads named with a link, a styled span and a hover-template field, with faces on
    # two upload days and on the ad's timeline
    team = factories.team_create()
    user = factories.user_create(team=team)
    campaign = factories.campaign_create(team=team)
    model = model_version_activate(model_version=factories.model_version_create())
    names = [
        '<a href="https://evil.example/phish">Click me</a>',
        '<span style="font-size:80px">Big</span> & %{customdata[0]}',
    ]
    for name in names:
        ad = factories.ad_create(campaign=campaign, name=name)
        for day in (dt.date(2026, 3, 1), dt.date(2026, 3, 2)):
            batch = batch_on(ad=ad, day=day)
            viewer = viewer_create(campaign=campaign, external_id=f"{ad.pk}-{day}")
            viewer_reaction(
                batch=batch, model_version=model, viewer=viewer, labels_at=[(1, "happy")]
            )
    client.force_login(user)
    # when the dashboard and its timeline are drawn
    page = client.get(reverse("campaigns:campaign_dashboard", args=[campaign.pk]))
    timeline = client.get(reverse("campaigns:campaign_dashboard_timeline", args=[campaign.pk]))
    charts = [page.context["bar_chart"], page.context["days_chart"]]
    charts.append(timeline.context["timeline_chart"])
    texts = [text for chart in charts for text in _chart_texts(chart)]
    # then no chart text holds a tag or a template field that Plotly would interpret
    assert all(chart["traces"] for chart in charts)
    assert not [t for t in texts if "<a" in t or "<span" in t or "& %{customdata[0]}" in t]
    # and each name is there, written so that Plotly shows it as it was typed
    assert '&lt;a href="https://evil.example/phish"&gt;Click me&lt;/a&gt;' in texts
    assert '&lt;span style="font-size:80px"&gt;Big&lt;/span&gt; &amp; &#37;{customdata[0]}' in texts
