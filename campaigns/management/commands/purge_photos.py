"""Apply the photo retention policy now (beat also runs it hourly)."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from campaigns.services.retention import photos_purge, retention_description


class Command(BaseCommand):
    help = (
        "Delete stored photos past PHOTO_RETENTION_DAYS (or all analysed ones in immediate mode)."
    )

    def handle(self, *args, **options) -> None:
        deleted = photos_purge()
        self.stdout.write(retention_description())
        self.stdout.write(f"{deleted} stored photos deleted.")
