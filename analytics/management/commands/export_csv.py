"""Export a campaign's or an ad's results as CSV (the same files as the dashboard's links)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from analytics import exports
from analytics.selectors.dashboards import DashboardFilters, confidence_step, with_ad_versions
from campaigns.models import Ad, Campaign
from inference.models import ModelVersion


class Command(BaseCommand):
    help = (
        "Write a campaign's (or one ad's) CSV, one row per face, ad, timeline bin or viewer, "
        "to a file or stdout."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        target = parser.add_mutually_exclusive_group(required=True)
        target.add_argument("--campaign", type=int, help="campaign id")
        target.add_argument("--ad", type=int, help="ad id")
        parser.add_argument("--level", choices=exports.EXPORT_LEVELS, default="faces")
        parser.add_argument("--output", "-o", help="file to write (default: stdout)")
        parser.add_argument(
            "--model-version",
            type=int,
            help="ModelVersion id (default: each ad's newest version that analysed it, as the "
            "dashboard shows); 0 for faces of every version",
        )
        parser.add_argument(
            "--min-confidence",
            type=float,
            default=0.0,
            help="0-1: only faces whose top emotion has at least this probability (for the "
            "ads level one of 0, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)",
        )
        parser.add_argument(
            "--with-low-quality",
            action="store_true",
            help="count the faces of viewers marked low quality (capture sessions under the "
            "study's quality threshold), left out by default",
        )
        parser.add_argument(
            "--bin-seconds",
            type=float,
            default=exports.DEFAULT_BIN_SECONDS,
            help="with --level timeline: seconds of the ad per row (default 1)",
        )
        parser.add_argument(
            "--bom",
            action=argparse.BooleanOptionalAction,
            default=True,
            help="start with a UTF-8 BOM, so Excel reads accents right (default; --no-bom "
            "for tools that want plain UTF-8)",
        )
        parser.add_argument(
            "--dialect",
            choices=exports.CSV_DIALECTS,
            default="excel",
            help="excel: commas and decimal points (default); eu: semicolons and decimal "
            "commas, as German or French Excel opens them",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        ad = campaign = None
        if options["ad"] is not None:
            ad = Ad.objects.select_related("campaign").filter(pk=options["ad"]).first()
            if ad is None:
                raise CommandError(f"no ad with id {options['ad']}")
            campaign = ad.campaign
        else:
            campaign = Campaign.objects.filter(pk=options["campaign"]).first()
            if campaign is None:
                raise CommandError(f"no campaign with id {options['campaign']}")
        if options["level"] == "ads":
            # The per-ad summary comes from the tallies, which count faces at these steps.
            try:
                confidence_step(options["min_confidence"])
            except ValueError as exc:
                raise CommandError(str(exc)) from exc
        filters = DashboardFilters(
            model_version=self._model_version(options["model_version"]),
            min_confidence=options["min_confidence"],
            with_low_quality=options["with_low_quality"],
        )
        if options["model_version"] is None:
            ad_ids = [ad.pk] if ad is not None else campaign.ads.values_list("pk", flat=True)
            filters = with_ad_versions(filters, ad_ids=ad_ids)
        if options["bin_seconds"] <= 0:
            raise CommandError("--bin-seconds must be more than 0")
        header, rows = exports.export_table(
            level=str(options["level"]),
            campaign=campaign,
            filters=filters,
            ad=ad,
            bin_seconds=options["bin_seconds"],
        )
        lines = exports.csv_lines(header, rows, bom=options["bom"], dialect=options["dialect"])
        if options["output"]:
            path = Path(options["output"])
            with path.open("w", encoding="utf-8", newline="") as fh:
                fh.writelines(lines)
            self.stderr.write(f"wrote {path}")
        else:
            sys.stdout.writelines(lines)

    @staticmethod
    def _model_version(model_version_id: int | None) -> ModelVersion | None:
        if not model_version_id:
            return None
        found = ModelVersion.objects.filter(pk=model_version_id).first()
        if found is None:
            raise CommandError(f"no model version with id {model_version_id}")
        return found
