"""The tallies answer what a scan of the faces answers, for any of the dashboard's filters,
and stay in step with the faces through the pipeline's writes."""

from __future__ import annotations

import datetime as dt
import itertools
import math
import random
from collections import Counter, defaultdict
from dataclasses import replace

import numpy as np
import pytest
from django.core.files.base import ContentFile
from django.db import connection
from django.db.models import F
from django.db.models.functions import Floor
from django.utils import timezone

from analytics import comparisons
from analytics.headlines import HEADLINES
from analytics.selectors import decisions
from analytics.selectors.dashboards import (
    AS_CLASSIFIED,
    DashboardFilters,
    confidence_step,
    face_queryset,
    with_ad_versions,
)
from analytics.services.tallies import (
    tallies_rebuild,
    tally_value_fields,
    timeline_rollups_rebuild,
)
from analytics.timelines import Timelines
from campaigns.models import (
    ImageStatus,
    ReactionImage,
    SecondTally,
    TimelineRollup,
    UploadBatch,
    Viewer,
    ViewerTally,
)
from campaigns.services import extraction, images
from campaigns.services.batches import ad_tally_generations_bump, batch_create, batch_delete
from campaigns.services.transitions import status_change
from inference.api import FaceResult, ImageResult
from inference.services import model_version_activate
from ml import CLASSES, CONFIDENCE_STEPS
from ml.quantification import GroupCorrection
from tests import factories
from tests.analytics.dashboard_data import batch_on, face_add, viewer_create
from tests.ingest_support import plain_photo, zip_build

pytestmark = pytest.mark.django_db

DAYS = [dt.date(2026, 3, d) for d in (1, 4, 9)]


@pytest.fixture
def campaign_faces():
    """Two ads over three upload days, faces of two model versions, viewers with a market
    and an age band (frames with offsets), and photos of no known viewer (some with
    offsets), every confidence between 0.3 and 1."""
    rng = random.Random(3)
    team = factories.team_create()
    campaign = factories.campaign_create(team=team, name="Tallied")
    versions = [factories.model_version_create(version=v) for v in ("1", "2")]
    ads = [factories.ad_create(campaign=campaign, name=n) for n in ("Spot A", "Spot B")]
    viewers = [
        viewer_create(
            campaign=campaign,
            external_id=f"v{i}",
            market=rng.choice(["DE", "FR"]),
            age_band=rng.choice(["18-34", "35+"]),
        )
        for i in range(8)
    ]
    for ad in ads:
        for day in DAYS:
            batch = batch_on(ad=ad, day=day)
            UploadBatch.objects.filter(pk=batch.pk).update(model_version=versions[0])
            for _ in range(14):
                image = factories.image_create(batch=batch, status=ImageStatus.DONE)
                if rng.random() < 0.7:
                    image.viewer = rng.choice(viewers)
                if rng.random() < 0.8:
                    image.offset_seconds = rng.uniform(0, 12)
                image.processed_at = timezone.now()
                image.save()
                for version in versions if rng.random() < 0.5 else versions[:1]:
                    for _ in range(rng.randint(1, 2)):
                        face_add(
                            image=image,
                            model_version=version,
                            label=rng.choice(CLASSES),
                            confidence=rng.uniform(0.3, 1.0),
                        )
    return campaign, ads, versions, viewers


def _scanned(filters: DashboardFilters, campaign) -> dict:
    """What the dashboard reads from the tallies: per (ad, viewer) label counts (viewer None:
    the faces of no known viewer), per (ad, timeline bin) label counts."""
    scan = decisions.faces_scan(filters=filters, ad__campaign=campaign)
    units = {}
    for ad_id, group in scan.ad_units().items():
        for viewer, row in zip(group.viewer_ids.tolist(), group.viewer_counts, strict=True):
            units[(ad_id, viewer)] = dict(zip(group.labels, row.astype(int).tolist(), strict=True))
        units[(ad_id, None)] = dict(
            zip(group.labels, group.single_counts.astype(int).tolist(), strict=True)
        )
    timeline = scan.timelines()
    seconds: dict[tuple[int, int], Counter] = defaultdict(Counter)
    for ad_id, bins in timeline.bins.items():
        for bin_ in bins:
            totals = bin_.units.sums
            for label, n in zip(bin_.units.labels, totals.astype(int).tolist(), strict=True):
                if n:
                    seconds[(ad_id, int(bin_.second_from) // timeline.width)][label] += n
    return {"units": _nonzero(units), "seconds": dict(seconds), "width": timeline.width}


def _nonzero(units: dict) -> dict:
    return {k: {lab: n for lab, n in v.items() if n} for k, v in units.items() if any(v.values())}


def _counted(filters: DashboardFilters, campaign, width: int) -> dict:
    """The same read from the faces themselves."""
    faces = face_queryset(filters=filters, ad__campaign=campaign)
    units: dict = defaultdict(Counter)
    for ad_id, viewer, label in faces.values_list(
        "image__batch__ad_id", "image__viewer_id", "label"
    ):
        units[(ad_id, viewer)][label] += 1
    seconds: dict = defaultdict(Counter)
    timed = faces.filter(image__offset_seconds__isnull=False).annotate(
        second=Floor(F("image__offset_seconds"))
    )
    for ad_id, second, label in timed.values_list("image__batch__ad_id", "second", "label"):
        seconds[(ad_id, int(second) // width)][label] += 1
    return {"units": _nonzero(units), "seconds": dict(seconds)}


def test_the_tallies_answer_what_the_faces_answer_for_random_filters(campaign_faces):
    campaign, ads, versions, _viewers = campaign_faces
    rng = random.Random(11)
    segments = [None, ("market", "DE"), ("market", "FR"), ("age_band", "35+")]
    for _ in range(30):
        # given random filters of the dashboard
        first, last = sorted(rng.sample([None, *DAYS], 2), key=lambda d: d or dt.date.min)
        filters = DashboardFilters(
            model_version=rng.choice([None, *versions]),
            date_from=first,
            date_to=last if rng.random() < 0.5 else None,
            min_confidence=rng.choice(CONFIDENCE_STEPS) / 100,
            segment=rng.choice(segments),
        )
        if filters.model_version is None and rng.random() < 0.5:
            filters = with_ad_versions(filters, ad_ids=[ad.pk for ad in ads])
        # when the tallies and a scan of the faces are read
        scanned = _scanned(filters, campaign)
        counted = _counted(filters, campaign, scanned["width"])
        # then they agree on every viewer's, every photo's and every second's counts
        assert scanned["units"] == counted["units"], filters
        assert scanned["seconds"] == counted["seconds"], filters


def test_the_per_ad_summaries_count_faces_and_confidence_like_the_faces(campaign_faces):
    campaign, ads, versions, _ = campaign_faces
    filters = DashboardFilters(model_version=versions[0], min_confidence=0.6)
    summaries = decisions.ad_summaries(campaign=campaign, filters=filters)
    for summary in summaries:
        faces = face_queryset(filters=filters, ad=next(a for a in ads if a.pk == summary.ad_id))
        confidences = [max(f.probabilities.values()) for f in faces]
        assert summary.faces == len(confidences)
        assert summary.confidence_sum == pytest.approx(math.fsum(confidences))
        assert summary.counts == {label: faces.filter(label=label).count() for label in CLASSES}


def _tally_rows() -> dict:
    fields = ["batch_id", "model_version_id", "viewer_key", *tally_value_fields()]
    snapshot = {}
    for tally in (ViewerTally, SecondTally):
        keys = fields[:3] + (["second"] if tally is SecondTally else [])
        values = tally.objects.values_list(*keys, *tally_value_fields())
        snapshot[tally.__name__] = {
            row[: len(keys)]: tuple(round(v, 9) for v in row[len(keys) :]) for row in values
        }
    return snapshot


def _claim(rows: list[ReactionImage], *, model_version, now: dt.datetime) -> None:
    """What a worker does before it writes their faces: queue the photos again, claim them."""
    ids = [row.pk for row in rows]
    status_change(ReactionImage.objects.filter(pk__in=ids), to=ImageStatus.PENDING)
    claimed = images.images_claim(image_ids=ids, model_version_id=model_version.pk, now=now)
    assert claimed == ids


def test_the_pipelines_writes_keep_the_tallies_equal_to_a_recount(campaign_faces):
    _campaign, ads, versions, _viewers = campaign_faces
    batch = UploadBatch.objects.filter(ad=ads[0]).earliest("pk")
    rows = list(batch.images.all()[:6])
    # given photos claimed by a worker and analysed twice (a redelivered chunk), the second
    # time with other faces, one photo failing
    for attempt, labels in enumerate((["happy", "sad"], ["angry"])):
        now = timezone.now() + dt.timedelta(seconds=attempt)
        _claim(rows, model_version=versions[0], now=now)
        outcomes = {
            row.pk: ImageResult(
                source=row.original_name,
                width=64,
                height=48,
                error="cannot decode" if index == 0 and attempt else None,
                faces=[
                    FaceResult(
                        x=index,
                        y=0,
                        w=20,
                        h=20,
                        score=0.9,
                        label=label,
                        probabilities={c: (0.52 if c == label else 0.08) for c in CLASSES},
                    )
                    for label in labels
                ],
            )
            for index, row in enumerate(rows)
        }
        images.image_results_store(
            images=rows,
            outcomes=outcomes,
            errors={},
            model_version_id=versions[0].pk,
            claimed_at=now,
        )
    # then the tallies are what a recount of the faces gives
    kept = _tally_rows()
    tallies_rebuild(batch_ids=list(UploadBatch.objects.values_list("pk", flat=True)))
    assert kept == _tally_rows()


def test_the_tally_sql_takes_every_label_and_threshold_as_a_parameter(campaign_faces):
    # given a recount of every upload, its statements and parameters recorded
    statements: list[tuple[str, list]] = []
    kept = _tally_rows()

    def record(execute, sql, params, many, context):
        statements.append((sql, list(params or [])))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        tallies_rebuild(batch_ids=list(UploadBatch.objects.values_list("pk", flat=True)))
    # then the tallies' statements quote no value into their SQL: the labels and the
    # confidence thresholds arrive as parameters
    written = [(sql, params) for sql, params in statements if sql.startswith("INSERT INTO")]
    assert len(written) == 2  # one per tally (every upload in one chunk)
    for sql, params in written:
        assert "'" not in sql and "0.4" not in sql, sql
        assert set(CLASSES) <= set(params)
        assert {step / 100 for step in CONFIDENCE_STEPS if step} <= set(params)
    # and the recount leaves the tallies the pipeline's writes kept
    assert kept == _tally_rows()


def test_deleting_an_upload_deletes_its_tallies(campaign_faces):
    _campaign, ads, *_ = campaign_faces
    batch = UploadBatch.objects.filter(ad=ads[0]).earliest("pk")
    assert ViewerTally.objects.filter(batch=batch).exists()
    batch_delete(batch=batch)
    assert not ViewerTally.objects.filter(batch_id=batch.pk).exists()
    assert not SecondTally.objects.filter(batch_id=batch.pk).exists()


# A measured correction (as a model version ships one) besides the plain count of labels.
CORRECTION = GroupCorrection.from_confusion(
    np.array([[8, 1, 1, 0, 1, 1, 0]] * 3 + [[0, 0, 0, 9, 1, 0, 0]] + [[2, 0, 1, 0, 5, 2, 1]] * 3)
)


def _timeline_figures(timeline: Timelines) -> dict:
    """Every bin's units, faces and estimate of every headline, as classified and
    corrected, and the key moments."""
    bins = {
        (ad_id, bin_.second_from): [
            (e.units, e.faces, round(e.value, 9), round(e.standard_error, 9))
            for correction in (AS_CLASSIFIED, CORRECTION)
            for e in (bin_.estimate(h, correction) for h in HEADLINES.values())
        ]
        for ad_id, bins in timeline.bins.items()
        for bin_ in bins
    }
    moments = comparisons.key_moments(
        timeline=timeline,
        ad_names=dict.fromkeys(timeline.bins, "ad"),
        headlines=list(HEADLINES.values()),
        readings={},
        eligible=list(timeline.bins),
    )
    changes = [(m.ad_id, m.headline.key, m.second_from, round(m.change.value, 9)) for m in moments]
    return {"width": timeline.width, "bins": bins, "moments": changes}


def test_the_timeline_rollups_answer_what_the_tallies_answer(campaign_faces):
    campaign, ads, versions, _ = campaign_faces
    ad_ids = [ad.pk for ad in ads]
    # given the ads' rollups, rebuilt as an upload's close has them rebuilt
    for ad in ads:
        assert timeline_rollups_rebuild(ad_id=ad.pk) > 0
    rng = random.Random(5)
    for _ in range(12):
        filters = DashboardFilters(
            model_version=rng.choice([None, *versions]),
            min_confidence=rng.choice(CONFIDENCE_STEPS) / 100,
            segment=rng.choice([None, ("market", "DE"), ("age_band", "35+")]),
        )
        if filters.model_version is None:
            filters = with_ad_versions(filters, ad_ids=ad_ids)
        # when the timeline is read from them (the whole audience's, or a segment's), and
        # from the tallies (an upload-date filter that keeps every upload makes the
        # dashboard read the tallies)
        scan = decisions.faces_scan(filters=filters, ad__campaign=campaign)
        step = confidence_step(filters.min_confidence)
        assert set(
            decisions.timeline_rollups(filters=filters, ad_ids=ad_ids, step=step, width=1)
        ) == set(ad_ids)
        from_rollups = _timeline_figures(scan.timelines())
        every_upload = replace(filters, date_from=DAYS[0])
        tallied = decisions.faces_scan(filters=every_upload, ad__campaign=campaign)
        assert (
            decisions.timeline_rollups(filters=every_upload, ad_ids=ad_ids, step=step, width=1)
            == {}
        )
        # then the two agree on every bin, every estimate and every key moment
        assert from_rollups == _timeline_figures(tallied.timelines()), filters


def test_new_viewer_attributes_put_every_ads_rollups_out_of_date(campaign_faces):
    # given current rollups, whose segment rollups hold the viewers' markets
    _campaign, ads, versions, viewers = campaign_faces
    for ad in ads:
        timeline_rollups_rebuild(ad_id=ad.pk)
    filters = with_ad_versions(DashboardFilters(segment=("market", "UK")), ad_ids=[ads[0].pk])
    assert decisions.timeline_rollups(filters=filters, ad_ids=[ads[0].pk], step=0, width=1) == {}
    # when a manifest of a later upload gives a viewer a new market
    model_version_activate(model_version=versions[0])
    manifest = f"file,viewer,market\na.jpg,{viewers[0].external_id},UK\n".encode()
    archive = zip_build({"a.jpg": plain_photo(1), "manifest.csv": manifest})
    batch = batch_create(ad=ads[1], upload=ContentFile(archive, name="a.zip"), source_name="a.zip")
    extraction.batch_extract(batch_id=batch.pk)
    # then no ad's rollups are current until rebuilt (the segments moved)
    for ad in ads:
        assert (
            decisions.timeline_rollups(
                filters=with_ad_versions(DashboardFilters(), ad_ids=[ad.pk]),
                ad_ids=[ad.pk],
                step=0,
                width=1,
            )
            == {}
        )
    timeline_rollups_rebuild(ad_id=ads[0].pk)
    found = decisions.timeline_rollups(filters=filters, ad_ids=[ads[0].pk], step=0, width=1)
    assert set(found) == ({ads[0].pk} if _has_second(ads[0], viewers[0]) else set())


def _has_second(ad, viewer) -> bool:
    return SecondTally.objects.filter(batch__ad=ad, viewer_key=viewer.pk).exists()


def test_a_write_of_faces_puts_the_rollups_out_of_date_until_rebuilt(campaign_faces):
    _campaign, ads, versions, _ = campaign_faces
    filters = DashboardFilters(model_version=versions[0])
    timeline_rollups_rebuild(ad_id=ads[0].pk)
    before = _timeline_figures(decisions.faces_scan(filters=filters, ad=ads[0]).timelines())
    # when the pipeline writes other faces for a photo of the ad that has an offset
    image = ReactionImage.objects.filter(batch__ad=ads[0], offset_seconds__isnull=False).earliest(
        "pk"
    )
    now = timezone.now()
    _claim([image], model_version=versions[0], now=now)
    faces = [
        FaceResult(
            x=i * 30,
            y=0,
            w=20,
            h=20,
            score=0.9,
            label="disgust",
            probabilities={c: (0.94 if c == "disgust" else 0.01) for c in CLASSES},
        )
        for i in range(5)
    ]
    images.image_results_store(
        images=[image],
        outcomes={image.pk: ImageResult(source="x", width=200, height=50, faces=faces)},
        errors={},
        model_version_id=versions[0].pk,
        claimed_at=now,
    )
    # then the rollups are out of date and not read: the timeline has the new faces
    assert decisions.timeline_rollups(filters=filters, ad_ids=[ads[0].pk], step=0, width=1) == {}
    after = _timeline_figures(decisions.faces_scan(filters=filters, ad=ads[0]).timelines())
    assert after != before
    every_upload = replace(filters, date_from=DAYS[0])
    assert after == _timeline_figures(
        decisions.faces_scan(filters=every_upload, ad=ads[0]).timelines()
    )
    # and once rebuilt they are read again, with the same answer
    timeline_rollups_rebuild(ad_id=ads[0].pk)
    assert decisions.timeline_rollups(filters=filters, ad_ids=[ads[0].pk], step=0, width=1)
    assert _timeline_figures(decisions.faces_scan(filters=filters, ad=ads[0]).timelines()) == after


def test_faces_far_apart_get_no_dense_rollup_and_their_timeline_comes_from_the_tallies():
    # given an ad whose few faces lie hours apart (offsets stored before they were bounded at
    # upload, or an ad of three hours with three photos)
    team = factories.team_create()
    ad = factories.ad_create(campaign=factories.campaign_create(team=team))
    version = factories.model_version_create(version="1")
    batch = batch_on(ad=ad)
    for second, label in ((0, "happy"), (5_400, "sad"), (10_799, "happy")):
        image = factories.image_create(batch=batch, status=ImageStatus.DONE)
        ReactionImage.objects.filter(pk=image.pk).update(offset_seconds=second + 0.5)
        face_add(image=image, model_version=version, label=label)
    # when its rollups are rebuilt
    written = timeline_rollups_rebuild(ad_id=ad.pk)
    # then no timeline of mostly empty bins is stored (49 rollups of 125 MB for three faces,
    # 270 MiB of the worker's memory at its peak)
    assert written == 0 and not TimelineRollup.objects.filter(ad=ad).exists()
    # and the dashboard's timeline still shows the three bins, read from the tallies
    filters = DashboardFilters(model_version=version)
    assert decisions.timeline_rollups(filters=filters, ad_ids=[ad.pk], step=0, width=1) == {}
    timeline = decisions.faces_scan(filters=filters, ad=ad).timelines()
    (bins,) = timeline.bins.values()
    assert [b.second_from // timeline.width for b in bins] == [
        s // timeline.width for s in (0, 5_400, 10_799)
    ]


def test_a_viewer_marked_low_quality_leaves_the_tallies_the_faces_and_the_rollups_alike(
    campaign_faces,
):
    # given a viewer marked low quality, its ads' rollups rebuilt after the mark
    campaign, ads, _, viewers = campaign_faces
    Viewer.objects.filter(pk=viewers[0].pk).update(low_quality=True)
    ad_tally_generations_bump(ad_ids=[ad.pk for ad in ads])
    for ad in ads:
        timeline_rollups_rebuild(ad_id=ad.pk)
    market = next(a.value for a in viewers[0].attributes.all() if a.name == "market")
    for with_low_quality, segment in itertools.product((False, True), (None, ("market", market))):
        filters = with_ad_versions(
            DashboardFilters(with_low_quality=with_low_quality, segment=segment),
            ad_ids=[ad.pk for ad in ads],
        )
        # when the tallies (the rollups by default), the faces and the tallies alone are read
        scanned = _scanned(filters, campaign)
        counted = _counted(filters, campaign, scanned["width"])
        tallied = _scanned(replace(filters, date_from=DAYS[0]), campaign)
        # then they agree, and hold the marked viewer's faces only when asked
        assert scanned["units"] == counted["units"] == tallied["units"]
        assert scanned["seconds"] == counted["seconds"] == tallied["seconds"]
        marked = {key for key in scanned["units"] if key[1] == viewers[0].pk}
        assert bool(marked) == with_low_quality
