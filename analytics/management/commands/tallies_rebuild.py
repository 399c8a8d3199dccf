"""Recount the dashboards' tallies from the faces, and the ads' timeline rollups from them:
every upload, or those of one campaign."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from analytics.services.tallies import tallies_rebuild, timeline_rollups_rebuild
from campaigns.models import UploadBatch


class Command(BaseCommand):
    help = (
        "Recount ViewerTally and SecondTally from the faces and rebuild the timeline rollups "
        "(idempotent): after restoring faces from a backup or writing them outside the pipeline."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--campaign", type=int, help="only this campaign's uploads")

    def handle(self, *args: Any, **options: Any) -> None:
        batches = UploadBatch.objects.all()
        if options["campaign"] is not None:
            batches = batches.filter(ad__campaign_id=options["campaign"])
        batch_ids = list(batches.order_by("pk").values_list("pk", flat=True))
        tallies_rebuild(batch_ids=batch_ids)
        ad_ids = sorted(set(batches.values_list("ad_id", flat=True)))
        rollups = sum(timeline_rollups_rebuild(ad_id=ad_id) for ad_id in ad_ids)
        self.stdout.write(
            f"recounted the tallies of {len(batch_ids)} uploads and rebuilt {rollups} timeline "
            f"rollups of {len(ad_ids)} ads"
        )
