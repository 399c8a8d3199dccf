"""Celery tasks of the analysis: thin, take ids, call one service, safe to run twice.

They go to the `ingest` queue (fer_site/celery.py).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from celery import shared_task

from analytics.services import tallies
from campaigns.services.batches import BROKER_ERRORS
from campaigns.services.extraction import TRANSIENT_ERRORS

logger = logging.getLogger(__name__)


@shared_task(autoretry_for=TRANSIENT_ERRORS, retry_backoff=True, max_retries=3)
def ad_timeline_rollups_task(ad_id: int) -> None:
    """Rebuild an ad's timeline rollups (after one of its uploads finished or was deleted)."""
    tallies.timeline_rollups_rebuild(ad_id=ad_id)


def timeline_rollups_enqueue(*, ad_ids: Sequence[int]) -> None:
    """Have these ads' timeline rollups rebuilt (campaigns calls it through `ads_changed`
    after the commit that changed them); while the broker is down they stay out of date and
    the dashboard reads the second tallies instead (slower, never wrong)."""
    for ad_id in ad_ids:
        try:
            ad_timeline_rollups_task.delay(ad_id)
        except BROKER_ERRORS as exc:
            logger.warning("could not queue the timeline rollups of ad %s: %s", ad_id, exc)
