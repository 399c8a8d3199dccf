"""Import a ZIP of reaction photos for an ad: the upload form's service, from the shell."""

from __future__ import annotations

import time
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.files import File
from django.core.management.base import BaseCommand, CommandError

from campaigns.models import Ad
from campaigns.selectors.batches import batch_progress
from campaigns.services.batches import batch_create
from campaigns.services.retention import retention_description


class Command(BaseCommand):
    help = "Store FILE.zip as a new upload batch of ad ID and queue it; --wait follows progress."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--ad", type=int, required=True, help="id of the ad")
        parser.add_argument("file", type=Path, help="ZIP of photos")
        parser.add_argument("--wait", action="store_true", help="print progress until done")
        parser.add_argument("--timeout", type=float, default=3600, help="seconds to wait")

    def handle(self, *args, ad: int, file: Path, wait: bool, timeout: float, **options) -> None:
        ad_row = Ad.objects.filter(pk=ad).first()
        if ad_row is None:
            raise CommandError(f"No ad with id {ad}.")
        if not file.is_file():
            raise CommandError(f"{file} is not a file.")
        with file.open("rb") as handle:
            try:
                batch = batch_create(ad=ad_row, upload=File(handle), source_name=file.name)
            except ValidationError as exc:
                raise CommandError(" ".join(exc.messages)) from exc
        self.stdout.write(f"Batch {batch.pk} queued for ad {ad_row} ({file.name}).")
        self.stdout.write(retention_description())
        if not wait:
            return
        deadline = time.monotonic() + timeout
        last = ""
        while True:
            batch.refresh_from_db()
            progress = batch_progress(batch=batch)
            line = f"{progress['stage']}"
            if line != last:
                self.stdout.write(line)
                last = line
            if progress["finished"]:
                break
            if time.monotonic() > deadline:
                raise CommandError(
                    f"Batch {batch.pk} is still {progress['stage']} after {timeout}s."
                )
            time.sleep(1)
        self.stdout.write(
            f"{progress['processed']} analysed, {progress['failed']} failed, "
            f"{progress['skipped']} skipped, {progress['duplicates']} duplicates, "
            f"{progress['faces']} faces."
        )
        if batch.error:
            self.stdout.write(self.style.WARNING(batch.error))
        if batch.status == batch.Status.FAILED:
            raise CommandError(f"Batch {batch.pk} failed.")
