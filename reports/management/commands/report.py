"""Write a campaign's PDF report: the dashboard's figures, charts and key moments."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.http import QueryDict

from analytics.forms import DashboardFilterForm
from analytics.selectors import decisions
from campaigns.models import Campaign
from reports import pdf


class Command(BaseCommand):
    help = (
        "Write a campaign's report as PDF, with the dashboard's filters (the same figures as "
        "its page and its Report button)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--campaign", type=int, required=True, help="campaign id")
        parser.add_argument("--output", "-o", required=True, help="the PDF file to write")
        parser.add_argument("--headline", help="rank ads by: positive (default), negative, ...")
        parser.add_argument("--breakdown", help="a viewer attribute to break segments down by")
        parser.add_argument("--segment", help="only viewers with this attribute value: market=DE")
        parser.add_argument("--min-confidence", help="one of the dashboard's steps: 40 ... 90")
        parser.add_argument("--model-version", help="a model version id (default: each ad's)")
        parser.add_argument("--date-from", help="uploads from this day (YYYY-MM-DD)")
        parser.add_argument("--date-to", help="uploads until this day (YYYY-MM-DD)")
        parser.add_argument(
            "--shares-classified",
            action="store_true",
            help="shares as classified instead of corrected for the model's errors",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        campaign = Campaign.objects.filter(pk=options["campaign"]).first()
        if campaign is None:
            raise CommandError(f"no campaign with id {options['campaign']}")
        query = QueryDict(mutable=True)
        for name in (
            "headline",
            "breakdown",
            "segment",
            "min_confidence",
            "model_version",
            "date_from",
            "date_to",
        ):
            if options[name]:
                query[name] = options[name]
        if options["shares_classified"]:
            query["shares"] = "classified"
        form = DashboardFilterForm(query, segments=decisions.attribute_values(campaign=campaign))
        if not form.is_valid():
            problems = "; ".join(f"{k}: {' '.join(map(str, v))}" for k, v in form.errors.items())
            raise CommandError(f"invalid filters: {problems}")
        started = time.perf_counter()
        report = pdf.campaign_report_read(
            campaign=campaign,
            filters=form.filters(),
            headline=form.cleaned_data.get("headline") or None,
            breakdown=form.cleaned_data.get("breakdown") or "",
        )
        body = pdf.campaign_report_pdf(report)
        path = Path(options["output"])
        path.write_bytes(body)
        self.stderr.write(
            f"wrote {path} ({len(body) / 1024:,.0f} KiB) in {time.perf_counter() - started:.1f} s"
        )
