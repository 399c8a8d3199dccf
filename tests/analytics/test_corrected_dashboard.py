"""The dashboard, its exports and the API with a model version that ships a measurement:
corrected shares, what is not measured, the as-classified switch, and the statistical rules
of norms and small samples."""

from __future__ import annotations

import csv
import io

import numpy as np
import pytest
from django.urls import reverse

from campaigns.models import BatchStatus, UploadBatch
from inference.models import ModelVersion
from inference.services import model_version_activate
from ml import CLASSES
from ml.measurement import measurement_build
from ml.quantification import GROUP_OF_LABEL
from tests import factories
from tests.analytics.dashboard_data import viewer_create, viewer_reaction
from tests.made_up_model import READS


def _reads_emotion(emotion: int) -> np.ndarray:
    """How the made-up model labels a face showing `emotion`: as itself half of the time,
    else as its group is read (READS); disgust as neutral or sad."""
    if CLASSES[emotion] == "disgust":
        return np.eye(len(CLASSES))[[CLASSES.index("neutral"), CLASSES.index("sad")]].mean(axis=0)
    return 0.5 * np.eye(len(CLASSES))[emotion] + 0.5 * READS[GROUP_OF_LABEL[emotion]]


def measurement_made_up(rng: np.random.Generator) -> dict:
    """A measurement of the made-up model on 900 labelled photos (fear: 12 of them; disgust
    read as neutral or sad), as `python -m inference.cli.measure_errors` writes one."""
    per_emotion = dict.fromkeys(CLASSES, 148) | {"fear": 12}
    labels = np.concatenate([[CLASSES.index(e)] * n for e, n in per_emotion.items()])
    probabilities = np.zeros((len(labels), len(CLASSES)))
    for row, label in zip(probabilities, labels, strict=True):
        read = rng.choice(len(CLASSES), p=_reads_emotion(label))
        row[:] = rng.dirichlet(np.ones(len(CLASSES)))
        row[read] += 2.0
        row[:] /= row.sum()  # in place: the rows are views of `probabilities`
    return measurement_build(
        labels=labels,
        probabilities=probabilities,
        found=np.ones(len(labels), dtype=bool),
        data="made-up",
        people=[f"p{i}" for i in range(len(labels))],
    )


def _frames(rng: np.random.Generator, group: str, count: int) -> list[tuple[float, str]]:
    """`count` frames (one every half second) of a viewer whose face shows the headline
    group `group` (each frame one of its emotions but disgust), labelled as the made-up
    model labels such faces."""
    index = ("positive", "negative", "other").index(group)
    emotions = [
        e for e in range(len(CLASSES)) if GROUP_OF_LABEL[e] == index and CLASSES[e] != "disgust"
    ]
    return [
        (i / 2, CLASSES[rng.choice(len(CLASSES), p=_reads_emotion(int(rng.choice(emotions))))])
        for i in range(count)
    ]


@pytest.fixture
def measured(db):
    """A team with a measured model version; campaign Launch with ads Calm (22 viewers who
    show nothing, half DE, half FR), Happy (22 viewers who smile) and Tiny (3 viewers); and an
    older campaign with one ad of 12 FR viewers."""
    rng = np.random.default_rng(11)
    team = factories.team_create()
    user = factories.user_create(team=team)
    model = factories.model_version_create(version="7.0")
    ModelVersion.objects.filter(pk=model.pk).update(measurement=measurement_made_up(rng))
    model.refresh_from_db()
    model_version_activate(model_version=model)
    campaign = factories.campaign_create(team=team, name="Launch")
    plan = {"Calm": ("other", 22), "Happy": ("positive", 22), "Tiny": ("other", 3)}
    ads = {}
    for name, (group, viewers) in plan.items():
        ad = ads[name] = factories.ad_create(campaign=campaign, name=name)
        batch = factories.batch_create(ad=ad, status=BatchStatus.DONE)
        UploadBatch.objects.filter(pk=batch.pk).update(model_version=model)
        for i in range(viewers):
            viewer = viewer_create(
                campaign=campaign, external_id=f"{name}-{i}", market="DE" if i % 2 else "FR"
            )
            frames = _frames(rng, group, 20)
            if name == "Tiny":  # a sudden smile at 5 s: a change no small ad may report
                frames = [(t, "happy" if t >= 5 else "sad") for t, _ in frames]
            viewer_reaction(batch=batch, model_version=model, viewer=viewer, labels_at=frames)
    older = factories.campaign_create(team=team, name="Older")
    old_ad = factories.ad_create(campaign=older, name="Old spot")
    batch = factories.batch_create(ad=old_ad, status=BatchStatus.DONE)
    UploadBatch.objects.filter(pk=batch.pk).update(model_version=model)
    for i in range(12):
        viewer = viewer_create(campaign=older, external_id=f"old-{i}", market="FR")
        viewer_reaction(
            batch=batch, model_version=model, viewer=viewer, labels_at=_frames(rng, "other", 20)
        )
    return user, campaign, ads, model


def _dashboard(client, campaign, **query):
    return client.get(reverse("campaigns:campaign_dashboard", args=[campaign.pk]), query)


def test_the_dashboard_corrects_shares_and_says_what_it_cannot_measure(client, measured):
    user, campaign, _ads, _model = measured
    client.force_login(user)
    response = _dashboard(client, campaign)
    html = response.content.decode()
    calm = next(s for s in response.context["summaries"] if s.name == "Calm")
    # then a calm audience (no negative face), which the model reads as about a quarter
    # negative, is shown as far less negative once corrected, the count of labels beside it
    assert calm.reading.corrected
    assert calm.negative_as_classified.value > 0.2
    assert calm.negative.share < calm.negative_as_classified.value - 0.1
    assert calm.dominant == "neither"
    # and the page says the shares are corrected, how the model errs, and what an interval
    # covers
    assert "So the shares shown are <strong>corrected</strong>" in html
    reads = response.context["how_to_read"]["misreadings"]
    assert f"it read {round(100 * reads['other_as_negative'])}% of neutral or surprised" in html
    assert "how well the model's errors are known" in html
    # and disgust (its probability tells nothing) and fear (12 photos) are said not to be
    # measured, and drawn as one grey part, never as a share of their own
    assert "Not measured reliably by this model" in html and "<strong>disgust</strong>" in html
    traces = {t["name"]: t for t in response.context["bar_chart"]["traces"]}
    assert "disgust" not in traces and "fear" not in traces
    assert "not measured reliably" in traces
    disgust = next(s for s in calm.shares if s.emotion == "disgust")
    assert not disgust.measured and "AUC" in disgust.reason


def test_shares_as_classified_are_one_switch_away(client, measured):
    user, campaign, _ads, _ = measured
    client.force_login(user)
    response = _dashboard(client, campaign, shares="classified")
    calm = next(s for s in response.context["summaries"] if s.name == "Calm")
    # then the shares are the plain counts of labels, and the page says so
    assert not calm.reading.corrected
    negative = sum(calm.counts[n] for n in ("angry", "disgust", "fear", "sad")) / calm.faces
    assert calm.negative.share == pytest.approx(negative)
    assert "<strong>These shares are as classified</strong>" in response.content.decode()


def test_norms_use_a_mid_rank_percentile_and_the_same_filters_as_the_page(client, measured):
    user, campaign, ads, _ = measured
    client.force_login(user)
    # mid-ranks among three: a sixth, a third (a tie for the bottom), a half, ...
    sixths = [pytest.approx(k / 6) for k in range(1, 6)]
    for headline in ("positive", "negative"):
        response = _dashboard(client, campaign, headline=headline)
        norms = {n.ad_id: n for n in response.context["norms"]}
        # then the pool is the team's three ads with enough viewers (Tiny is not one), each
        # at its mid-rank, (ads beaten + ties / 2) / 3 (itself a tie), whichever way the
        # headline runs: the better of the campaign's two ads higher
        assert {n.norm_ads for n in norms.values()} == {3}
        assert norms[ads["Tiny"].pk].percentile is None
        better, worse = (norms[s.ad_id].percentile for s in response.context["verdict"].ranked)
        assert better in sixths and worse in sixths and better >= worse
    positive = {n.ad_id: n for n in _dashboard(client, campaign).context["norms"]}
    assert positive[ads["Happy"].pk].percentile == pytest.approx(5 / 6)
    # and the campaign average is over all its analysed faces (Tiny's viewers too), with an
    # interval
    average = positive[ads["Happy"].pk].campaign_average
    assert average is not None and average.units == 22 + 22 + 3
    assert average.interval.low < average.value < average.interval.high
    # and a segment of too few viewers is shown greyed, not compared
    rows = _dashboard(client, campaign, breakdown="market").context["segment_rows"]
    assert {row.per_ad[ads["Tiny"].pk].enough for row in rows} == {False}
    assert {row.per_ad[ads["Calm"].pk].enough for row in rows} == {True}
    # and with only DE viewers, the older campaign's ad (all FR) leaves the pool
    only_de = _dashboard(client, campaign, segment="market=DE").context["norms"]
    assert {n.norm_ads for n in only_de} == {2}


def test_an_ad_too_small_to_rank_gets_no_key_moment(client, measured):
    user, campaign, ads, _ = measured
    client.force_login(user)
    url = reverse("campaigns:campaign_dashboard_timeline", args=[campaign.pk])
    part = client.get(url)
    # then Tiny's sudden smile is drawn on the timeline but named as no key moment
    assert ads["Tiny"].pk in part.context["timeline"].bins
    assert all(m.ad_id != ads["Tiny"].pk for m in part.context["moments"])
    # and every band of the timeline stays within 0-100%
    for trace in part.context["timeline_chart"]["traces"]:
        assert all(y is None or 0 <= y <= 100 for y in trace["y"])


def _csv(response) -> list[dict[str, str]]:
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text)))


def test_exports_carry_corrected_and_as_classified_shares_and_what_is_not_measured(
    client, measured
):
    user, campaign, _ads, model = measured
    client.force_login(user)
    url = reverse("campaigns:campaign_export", args=[campaign.pk])
    rows = {row["ad"]: row for row in _csv(client.get(url, {"level": "ads"}))}
    calm = rows["Calm"]
    # then the headline is corrected, the count of labels beside it, and the row says so
    assert float(calm["negative"]) < float(calm["negative_as_classified"]) - 0.1
    assert (
        calm["shares"].startswith("corrected")
        and "model's measured errors" in calm["interval_covers"]
    ) or "uncertainty of the model" in calm["interval_covers"]
    assert calm["model_version"] == f"{model.name} {model.version}"
    assert calm["unit"] == "viewers" and calm["units"] == "22"
    # and disgust is left blank with the reason, never 0
    assert calm["share_disgust"] == "" and "disgust:" in calm["not_measured"]
    assert float(calm["share_happy"]) == pytest.approx(float(calm["positive"]))
    low, value, high = (float(calm[k]) for k in ("valence_ci_low", "valence", "valence_ci_high"))
    assert -1 <= low <= value <= high <= 1
    # and the timeline export leads with the same headline columns, per bin
    timeline = _csv(client.get(url, {"level": "timeline", "bin_seconds": 5}))
    first = timeline[0]
    for column in ("positive", "positive_ci_low", "negative_ci_high", "valence", "dominant"):
        assert first[column] != ""
    assert all(
        0 <= float(row["negative_ci_low"]) <= float(row["negative_ci_high"]) <= 1
        for row in timeline
    )
    # and the viewers export gives each viewer's corrected headline and their labels' mix
    viewers = _csv(client.get(url, {"level": "viewers"}))
    assert {"positive", "negative_as_classified", "share_angry_as_classified"} <= set(viewers[0])


@pytest.mark.django_db
def test_the_api_returns_corrected_shares_null_for_what_is_not_measured(measured):
    from rest_framework.test import APIClient

    user, campaign, _ads, _ = measured
    api = APIClient()
    api.force_authenticate(user)
    url = f"/api/v1/campaigns/{campaign.pk}/results/"
    body = api.get(url).json()
    calm = next(m for m in body["mix"] if m["name"] == "Calm")
    assert calm["reading"]["corrected"] is True
    assert set(calm["reading"]["not_measured"]) == {"disgust", "fear"}
    disgust = next(e for e in calm["emotions"] if e["emotion"] == "disgust")
    assert disgust["share"] is None and disgust["measured"] is False
    assert calm["negative"]["share"] < calm["negative_as_classified"]["value"]
    # every estimate's error is what its interval amounts to: positive where the interval
    # has width, null only where it is everything possible
    for standing in body["verdict"]["standings"]:
        estimate = standing["estimate"]
        assert estimate["standard_error"] > 0 and estimate["ci_low"] < estimate["ci_high"]
        assert estimate["ci_low"] >= 0 and estimate["ci_high"] <= 1
    # and the switch is there too
    plain = api.get(url, {"shares": "classified"}).json()
    assert plain["filters"]["shares"] == "classified"
    calm_plain = next(m for m in plain["mix"] if m["name"] == "Calm")
    assert calm_plain["negative"]["share"] == pytest.approx(calm["negative_as_classified"]["value"])
