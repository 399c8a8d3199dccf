"""Viewers marked low quality (a capture session under a study's quality threshold) are left
out of every figure by default, and a filter puts them back: the dashboard's summary and
timeline, the exports and the API. Faces of no known viewer are unaffected."""

from __future__ import annotations

import csv
import datetime as dt
from collections import Counter

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test import Client
from django.urls import reverse

from analytics.results import campaign_results
from analytics.selectors import decisions
from analytics.selectors.dashboards import DashboardFilters, low_quality_viewer_count
from analytics.services.tallies import timeline_rollups_rebuild
from api.services import api_token_create
from campaigns.models import Ad, BatchStatus, UploadBatch, Viewer
from campaigns.services.batches import ad_tally_generations_bump
from reports.pdf import filters_in_force
from tests import factories
from tests.analytics.dashboard_data import photo_with_faces, viewer_create, viewer_reaction

pytestmark = pytest.mark.django_db

SECONDS = 10


@pytest.fixture
def marked():
    """One ad: a viewer happy for 10 s, a viewer marked low quality sad for 10 s, and a
    photo of no known viewer with one neutral face; the ad's rollups built."""
    team = factories.team_create()
    user = factories.user_create(team=team)
    campaign = factories.campaign_create(team=team, name="Studied")
    ad = factories.ad_create(campaign=campaign, name="Spot")
    model = factories.model_version_create()
    batch = factories.batch_create(ad=ad, status=BatchStatus.DONE)
    UploadBatch.objects.filter(pk=batch.pk).update(model_version=model)
    kept = viewer_create(campaign=campaign, external_id="kept", market="DE")
    low = viewer_create(campaign=campaign, external_id="low", market="DE")
    for viewer, label in ((kept, "happy"), (low, "sad")):
        labels = [(float(t), label) for t in range(SECONDS)]
        viewer_reaction(batch=batch, model_version=model, viewer=viewer, labels_at=labels)
    photo_with_faces(batch=batch, model_version=model, labels=["neutral"])
    Viewer.objects.filter(pk=low.pk).update(low_quality=True)
    ad_tally_generations_bump(ad_ids=[ad.pk])  # as marking a viewer does
    assert timeline_rollups_rebuild(ad_id=ad.pk) > 0
    return user, campaign, ad


def _labels(timeline) -> Counter:
    found: Counter = Counter()
    for bins in timeline.bins.values():
        for bin_ in bins:
            found.update(
                dict(zip(bin_.units.labels, bin_.units.sums.astype(int).tolist(), strict=True))
            )
    return found


def test_the_summary_leaves_the_marked_viewer_out_unless_asked(marked):
    _, campaign, _ = marked
    # by default: the kept viewer's 10 faces and the photo's one
    found = campaign_results(campaign=campaign, filters=DashboardFilters())
    assert found.total_faces == SECONDS + 1
    assert found.summaries[0].counts["sad"] == 0
    assert found.low_quality_viewers == 1
    # with the filter: the marked viewer's 10 sad faces too
    found = campaign_results(campaign=campaign, filters=DashboardFilters(with_low_quality=True))
    assert found.total_faces == 2 * SECONDS + 1
    assert found.summaries[0].counts["sad"] == SECONDS
    # a segment counts its own marked viewers only
    none_there = DashboardFilters(segment=("market", "FR"))
    assert low_quality_viewer_count(filters=none_there, ad__campaign=campaign) == 0


def test_the_timeline_reads_rollups_without_the_marked_viewer_and_tallies_with_it(marked):
    _, campaign, ad = marked
    filters = DashboardFilters(model_version=UploadBatch.objects.get().model_version)
    # by default the rollups are read (they never hold a marked viewer)
    assert set(decisions.timeline_rollups(filters=filters, ad_ids=[ad.pk], step=0, width=1)) == {
        ad.pk
    }
    default = decisions.faces_scan(filters=filters, ad__campaign=campaign).timelines()
    assert _labels(default)["sad"] == 0 and _labels(default)["happy"] == SECONDS
    # with the filter the tallies are, and hold the marked viewer's faces
    asked = DashboardFilters(model_version=filters.model_version, with_low_quality=True)
    assert decisions.timeline_rollups(filters=asked, ad_ids=[ad.pk], step=0, width=1) == {}
    timeline = decisions.faces_scan(filters=asked, ad__campaign=campaign).timelines()
    assert _labels(timeline)["sad"] == SECONDS and _labels(timeline)["happy"] == SECONDS
    # and the tallies without the filter agree with the rollups
    every_upload = DashboardFilters(
        model_version=filters.model_version, date_from=dt.date(2000, 1, 1)
    )
    tallied = decisions.faces_scan(filters=every_upload, ad__campaign=campaign).timelines()
    assert _labels(tallied) == _labels(default)


def test_the_page_says_how_many_viewers_were_left_out_and_links_the_filter(client, marked):
    user, campaign, _ = marked
    client.force_login(user)
    url = reverse("campaigns:campaign_dashboard", args=[campaign.pk])
    response = client.get(url)
    html = response.content.decode()
    assert response.context["total_faces"] == SECONDS + 1
    assert "1 viewer left out: low-quality capture session;" in html
    assert 'id="include-low-quality"' in html and "with_low_quality=on" in html
    assert "Include low-quality capture sessions" in html
    # the link's filter puts the viewer back, and the timeline fragment follows the page
    response = client.get(url, {"with_low_quality": "on"})
    assert response.context["total_faces"] == 2 * SECONDS + 1
    assert "1 viewer marked low quality" in response.content.decode()
    assert 'id="include-low-quality"' not in response.content.decode()
    timeline_url = reverse("campaigns:campaign_dashboard_timeline", args=[campaign.pk])
    assert _labels(client.get(timeline_url).context["timeline"])["sad"] == 0
    part = client.get(timeline_url, {"with_low_quality": "on"}).context["timeline"]
    assert _labels(part)["sad"] == SECONDS


def _rows(path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig") as fh:
        return list(csv.DictReader(fh))


def test_exports_leave_the_marked_viewer_out_unless_asked(tmp_path, marked):
    _, campaign, _ = marked
    out = tmp_path / "viewers.csv"
    call_command("export_csv", "--campaign", str(campaign.pk), "--level", "viewers", "-o", str(out))
    assert [row["viewer"] for row in _rows(out)] == ["kept"]
    call_command(
        "export_csv",
        *("--campaign", str(campaign.pk), "--level", "viewers", "-o", str(out)),
        "--with-low-quality",
    )
    assert [row["viewer"] for row in _rows(out)] == ["kept", "low"]
    faces = tmp_path / "faces.csv"
    call_command("export_csv", "--campaign", str(campaign.pk), "-o", str(faces))
    assert len(_rows(faces)) == SECONDS + 1
    call_command(
        "export_csv", "--campaign", str(campaign.pk), "-o", str(faces), "--with-low-quality"
    )
    assert len(_rows(faces)) == 2 * SECONDS + 1


def test_the_api_leaves_the_marked_viewer_out_unless_asked(marked):
    user, campaign, ad = marked
    _, secret = api_token_create(user=user, team=campaign.team, name="tool")
    api = Client(headers={"Authorization": f"Bearer {secret}"})
    results = api.get(f"/api/v1/campaigns/{campaign.pk}/results/").json()
    assert (results["total_faces"], results["low_quality_viewers"]) == (SECONDS + 1, 1)
    assert results["filters"]["with_low_quality"] is False
    asked = api.get(f"/api/v1/campaigns/{campaign.pk}/results/?with_low_quality=true").json()
    assert asked["total_faces"] == 2 * SECONDS + 1
    assert asked["filters"]["with_low_quality"] is True
    faces = api.get(f"/api/v1/ads/{ad.pk}/faces/?page_size=100").json()["results"]
    assert len(faces) == SECONDS + 1
    url = f"/api/v1/ads/{ad.pk}/faces/?page_size=100&with_low_quality=true"
    assert len(api.get(url).json()["results"]) == 2 * SECONDS + 1


def test_the_reports_filters_say_how_many_viewers_were_left_out(marked):
    _, campaign, _ = marked
    found = campaign_results(campaign=campaign, filters=DashboardFilters())
    assert "1 viewer left out: low-quality capture session." in filters_in_force(found)
    asked = campaign_results(campaign=campaign, filters=DashboardFilters(with_low_quality=True))
    assert "1 viewer marked low quality counted, as asked." in filters_in_force(asked)


@pytest.mark.django_db(transaction=True)
def test_the_migration_marks_the_viewers_a_study_labelled_low():
    # given the schema before the mark, a viewer labelled capture_quality=low with a frame
    executor = MigrationExecutor(connection)
    before = [("campaigns", "0010_face_attention")]
    after = [("campaigns", "0011_viewer_low_quality")]
    executor.migrate(before)
    old = executor.loader.project_state(before).apps
    team = old.get_model("campaigns", "Team").objects.create(name="T")
    campaign = old.get_model("campaigns", "Campaign").objects.create(team=team, name="C")
    ad = old.get_model("campaigns", "Ad").objects.create(campaign=campaign, name="A")
    batch = old.get_model("campaigns", "UploadBatch").objects.create(ad=ad, source_name="a.zip")
    viewers = old.get_model("campaigns", "Viewer").objects
    low, ok = (viewers.create(campaign=campaign, external_id=e) for e in ("low", "ok"))
    for viewer, value in ((low, "low"), (ok, "ok")):
        viewer.attributes.create(name="capture_quality", value=value)
        batch.images.create(viewer=viewer, original_name=f"{value}.jpg", sha256=value * 8)
    # when the migration runs
    executor = MigrationExecutor(connection)
    executor.migrate(after)
    # then the low one is marked, and its ad's rollups are out of date
    assert set(Viewer.objects.filter(low_quality=True).values_list("external_id", flat=True)) == {
        "low"
    }
    assert Ad.objects.get(pk=ad.pk).tally_generation == 1
    call_command("migrate", verbosity=0)
