"""Seed a campaign with N faces and time the dashboard and the face-level export.

The seeded campaign looks like a video test: every photo is a frame of one viewer's reaction
(FRAMES_PER_VIEWER frames, FRAMES_PER_SECOND apart, so the timeline and key moments have work
to do), and every viewer has an age band, a market and a gender for the segment breakdowns.

Everything runs in one transaction that is rolled back at the end, so the database is left as
it was. Requests go through Django's test Client (full middleware, templates, no network).
The timeline reads the ads' rollups (built after seeding, as an upload's close does), except
under a segment filter, where it sums the second tallies: both are timed.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import random
import statistics
import time
import tracemalloc
from collections.abc import Iterable
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection, models, transaction
from django.test import Client
from django.test.utils import setup_test_environment
from django.urls import reverse
from django.utils import timezone

from analytics.results import attention_read
from analytics.selectors.dashboards import DashboardFilters, with_ad_versions
from analytics.services.tallies import tallies_rebuild, timeline_rollups_rebuild
from campaigns.models import (
    Ad,
    Campaign,
    Face,
    ImageStatus,
    ReactionImage,
    SecondTally,
    UploadBatch,
    Viewer,
    ViewerAttribute,
    ViewerTally,
)
from campaigns.services import teams
from inference.models import ModelVersion
from inference.selectors import model_version_active
from ml import CLASSES

# One face a frame: a reaction frame shows its viewer (others are not counted).
FACES_PER_PHOTO = 1
BULK_SIZE = 5000
COPY_ROWS = 100_000
# Ads hold 10%, 30% and 60% of the faces, so the ad exports show memory against size.
AD_SHARES = (0.1, 0.3, 0.6)
UPLOAD_DAYS = 14
FRAMES_PER_VIEWER = 60
FRAMES_PER_SECOND = 2
AD_SECONDS = FRAMES_PER_VIEWER // FRAMES_PER_SECOND
VIEWER_ATTRIBUTES = {
    "age_band": ("18-24", "25-34", "35-54", "55+"),
    "market": ("DE", "FR", "UK", "US"),
    "gender": ("female", "male"),
}
# What the bench renders: the plain page, a confidence floor, a breakdown, a segment filter.
DASHBOARD_QUERIES: tuple[dict[str, str], ...] = (
    {},
    {"min_confidence": "60"},
    {"breakdown": "market"},
    {"segment": "market=DE"},
)


def _attention_row(rng: random.Random) -> dict[str, float]:
    """A face's pose, eyes and quality: mostly facing the screen, some turned away."""
    return {
        "yaw": rng.gauss(0.0, 20.0),
        "pitch": rng.gauss(0.0, 12.0),
        "roll": rng.gauss(0.0, 5.0),
        "eye_openness": rng.uniform(0.05, 0.4),
        "gaze_x": 0.0,
        "gaze_y": 0.0,
        "sharpness": 500.0,
        "quality": rng.uniform(0.2, 1.0),
    }


def _rows_insert(model: type[models.Model], rows: Iterable[dict[str, Any]]) -> None:
    """Insert plain rows fast: PostgreSQL's COPY in chunks, else bulk_create."""
    pending: list[dict[str, Any]] = []

    def flush() -> None:
        if not pending:
            return
        if connection.vendor == "postgresql":
            columns = list(pending[0])
            buffer = io.StringIO()
            writer = csv.writer(buffer, quoting=csv.QUOTE_NONNUMERIC)  # "" is an empty text
            for row in pending:
                writer.writerow(
                    [v.isoformat() if isinstance(v, dt.datetime) else v for v in row.values()]
                )
            buffer.seek(0)
            quote = connection.ops.quote_name
            with connection.cursor() as cursor:
                cursor.copy_expert(
                    f"COPY {quote(model._meta.db_table)} ({', '.join(quote(c) for c in columns)}) "
                    "FROM STDIN WITH (FORMAT csv)",
                    buffer,
                )
        else:
            model._default_manager.bulk_create(
                [model(**row) for row in pending], batch_size=BULK_SIZE
            )
        pending.clear()

    for row in rows:
        pending.append(row)
        if len(pending) == COPY_ROWS:
            flush()
    flush()


class Command(BaseCommand):
    help = "Seed a campaign with --faces faces, report dashboard p50/p95 and export time/memory."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--faces", type=int, default=200_000)
        parser.add_argument("--requests", type=int, default=20, help="dashboard renders to time")
        parser.add_argument("--seed", type=int, default=7)

    def handle(self, *args: Any, **options: Any) -> None:
        setup_test_environment()
        rng = random.Random(options["seed"])  # noqa: S311  seeded synthetic faces, not a secret
        with transaction.atomic():
            campaign, ads, user = self._seed(options["faces"], rng)
            client = Client()
            client.force_login(user)
            self._time_dashboard(client, campaign.pk, options["requests"])
            self._time_attention(campaign, options["requests"])
            self._time_exports(client, ads)
            transaction.set_rollback(True)
        self.stdout.write("seeded rows rolled back")

    def _seed(self, n_faces: int, rng: random.Random):
        started = time.perf_counter()
        user = get_user_model().objects.create_user(username="bench-dashboard-user")
        team = teams.team_create(name="bench-dashboard-team", owner=user)
        campaign = teams.campaign_create(team=team, name="bench campaign")
        model = model_version_active()
        if model is None:
            model = ModelVersion.objects.create(
                name="bench", version="0", artifact="models/bench/0/", classes=list(CLASSES)
            )
        # Skewed per-ad emotion mixes, so the charts and the test have something to show.
        now = timezone.now()
        ads = []
        for index, share in enumerate(AD_SHARES):
            ad = teams.ad_create(campaign=campaign, name=f"Ad {index + 1}")
            Ad.objects.filter(pk=ad.pk).update(duration_seconds=AD_SECONDS)
            weights = [rng.random() + (2.0 if i == index else 0.0) for i in range(len(CLASSES))]
            self._seed_ad(
                ad, n_faces=int(n_faces * share), weights=weights, model=model, now=now, rng=rng
            )
            ads.append((ad, int(n_faces * share)))
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                for model_cls in (
                    Face,
                    ReactionImage,
                    UploadBatch,
                    Ad,
                    Viewer,
                    ViewerAttribute,
                    ViewerTally,
                    SecondTally,
                ):
                    cursor.execute(f"ANALYZE {model_cls._meta.db_table}")
        total = Face.objects.filter(image__batch__ad__campaign=campaign).count()
        viewers = Viewer.objects.filter(campaign=campaign).count()
        self.stdout.write(
            f"seeded {total} faces of {viewers} viewers on {connection.vendor} "
            f"in {time.perf_counter() - started:.1f}s"
        )
        for ad, ad_faces in ads:
            started = time.perf_counter()
            rollups = timeline_rollups_rebuild(ad_id=ad.pk)
            self.stdout.write(
                f"timeline rollups of an ad of {ad_faces} faces: {rollups} rows in "
                f"{time.perf_counter() - started:.1f}s (what an upload's close queues)"
            )
        return campaign, ads, user

    def _seed_ad(self, ad, *, n_faces, weights, model, now, rng) -> None:
        photos = max(1, n_faces // FACES_PER_PHOTO)
        batches = []
        for day in range(UPLOAD_DAYS):
            batch = UploadBatch.objects.create(
                ad=ad,
                source_name=f"day-{day}.zip",
                status=UploadBatch.Status.DONE,
                model_version=model,
            )
            UploadBatch.objects.filter(pk=batch.pk).update(
                created_at=now - dt.timedelta(days=UPLOAD_DAYS - day)
            )
            batches.append(batch)
        viewers = self._seed_viewers(ad, -(-photos // FRAMES_PER_VIEWER), rng)
        image_rows = (
            {
                "batch_id": batches[i // FRAMES_PER_VIEWER % UPLOAD_DAYS].pk,
                "viewer_id": viewers[i // FRAMES_PER_VIEWER].pk,
                "offset_seconds": (i % FRAMES_PER_VIEWER) / FRAMES_PER_SECOND,
                "original_name": f"ad{ad.pk}-{i}.jpg",
                "sha256": f"{ad.pk:08x}{i:056x}",
                "status": ImageStatus.DONE,
                "width": 640,
                "height": 480,
                "processed_at": now,
                "kind": "photo",
                "attempts": 1,
                "claim_token": "",
                "error": "",
                "file": "",
                "created_at": now,
            }
            for i in range(photos)
        )
        _rows_insert(ReactionImage, image_rows)
        image_ids = list(
            ReactionImage.objects.filter(batch__ad=ad).order_by("id").values_list("id", flat=True)
        )

        def face_rows():
            for i in range(n_faces):
                label = rng.choices(CLASSES, weights=weights)[0]
                top = rng.uniform(0.3, 0.99)
                rest = (1 - top) / (len(CLASSES) - 1)
                yield {
                    "image_id": image_ids[i // FACES_PER_PHOTO % len(image_ids)],
                    "x": rng.randrange(0, 500),
                    "y": rng.randrange(0, 350),
                    "w": 80,
                    "h": 80,
                    "detector_score": 0.9,
                    "label": label,
                    "model_version_id": model.pk,
                    "created_at": now,
                    **{f"prob_{n}": (top if n == label else rest) for n in CLASSES},
                    **_attention_row(rng),
                }

        _rows_insert(Face, face_rows())
        tallies_rebuild(batch_ids=[batch.pk for batch in batches])

    @staticmethod
    def _seed_viewers(ad: Ad, count: int, rng: random.Random) -> list[Viewer]:
        viewers = Viewer.objects.bulk_create(
            [Viewer(campaign=ad.campaign, external_id=f"ad{ad.pk}-v{i}") for i in range(count)],
            batch_size=BULK_SIZE,
        )
        if viewers and viewers[0].pk is None:
            viewers = list(Viewer.objects.filter(campaign=ad.campaign).order_by("id"))[-count:]
        ViewerAttribute.objects.bulk_create(
            [
                ViewerAttribute(viewer=viewer, name=name, value=rng.choice(values))
                for viewer in viewers
                for name, values in VIEWER_ATTRIBUTES.items()
            ],
            batch_size=BULK_SIZE,
        )
        return viewers

    def _time_dashboard(self, client: Client, campaign_id: int, requests: int) -> None:
        """The page, then the timeline fragment it loads after itself, per filter."""
        for name, what in (
            ("campaigns:campaign_dashboard", "dashboard"),
            ("campaigns:campaign_dashboard_timeline", "timeline and key moments"),
        ):
            url = reverse(name, args=[campaign_id])
            for params in DASHBOARD_QUERIES:
                client.get(url, params)  # warm caches and connections
                timings = []
                for _ in range(requests):
                    started = time.perf_counter()
                    response = client.get(url, params)
                    timings.append((time.perf_counter() - started) * 1000)
                    if response.status_code != 200:
                        raise CommandError(f"{url} answered {response.status_code}")
                timings.sort()
                p95 = timings[min(len(timings) - 1, int(round(0.95 * len(timings))) - 1)]
                label = ", ".join(f"{k}={v}" for k, v in params.items()) or "no filter"
                self.stdout.write(
                    f"{what} ({label}): p50 {statistics.median(timings):.0f} ms, "
                    f"p95 {p95:.0f} ms over {requests} renders"
                )

    def _time_attention(self, campaign: Campaign, requests: int) -> None:
        """The attention timeline alone (part of the timeline fragment): read from the frames
        at every request, not from tallies."""
        filters = with_ad_versions(
            DashboardFilters(), ad_ids=list(campaign.ads.values_list("pk", flat=True))
        )
        timings = []
        for _ in range(requests + 1):
            started = time.perf_counter()
            found = attention_read(campaign=campaign, filters=filters, width=1)
            timings.append((time.perf_counter() - started) * 1000)
        timings = sorted(timings[1:])
        bins = sum(len(b) for b in found.values())
        self.stdout.write(
            f"attention timeline ({bins} bins of 1 s): p50 {statistics.median(timings):.0f} ms, "
            f"max {timings[-1]:.0f} ms over {requests} reads"
        )

    def _time_exports(self, client: Client, ads: list[tuple[Ad, int]]) -> None:
        """Each ad's face export twice: timed plainly, then under tracemalloc for peak memory."""
        for ad, n_faces in ads:
            url = reverse("campaigns:ad_export", args=[ad.pk])
            started = time.perf_counter()
            rows, size = self._drain(client.get(url, {"level": "faces"}))
            elapsed = time.perf_counter() - started
            tracemalloc.start()
            self._drain(client.get(url, {"level": "faces"}))
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            self.stdout.write(
                f"face export of {n_faces} faces: {rows} rows, {size / 1e6:.1f} MB in "
                f"{elapsed:.1f}s ({rows / elapsed:,.0f} rows/s), "
                f"peak Python memory {peak / 1e6:.1f} MB"
            )

    @staticmethod
    def _drain(response) -> tuple[int, int]:
        """Consume a streaming response chunk by chunk; return (data rows, bytes)."""
        size = lines = 0
        for chunk in response.streaming_content:
            size += len(chunk)
            lines += chunk.count(b"\n")
        return lines - 1, size
