"""Finished batches analysed again with another model version; earlier results stay."""

from __future__ import annotations

from collections.abc import Sequence

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from campaigns.models import (
    BATCH_FINISHED,
    Ad,
    BatchStatus,
    ImageStatus,
    ReactionImage,
    UploadBatch,
)
from campaigns.selectors.batches import batch_reprocess_refusal
from campaigns.services.batches import batch_fan_out, batch_recount
from campaigns.services.transitions import status_change
from inference.models import ModelVersion


def batch_reprocess(*, batch: UploadBatch, model_version: ModelVersion) -> UploadBatch:
    """Analyse a finished batch again with `model_version`; results of other versions stay."""
    refusal = batch_reprocess_refusal(batch=batch)
    if refusal:
        raise ValidationError(refusal)
    analysed = ReactionImage.objects.filter(
        batch=batch, status__in=(ImageStatus.DONE, ImageStatus.FAILED)
    )
    now = timezone.now()
    with transaction.atomic():
        if not status_change(
            UploadBatch.objects.filter(pk=batch.pk, status__in=BATCH_FINISHED),
            to=BatchStatus.PROCESSING,
            model_version=model_version,
            progress_at=now,
            finished_at=None,
            error="",
        ):
            raise ValidationError(f"Batch {batch.source_name} is still being processed.")
        status_change(
            analysed,
            to=ImageStatus.PENDING,
            claimed_at=None,
            error="",
            processed_at=None,
            attempts=0,
        )
        batch.model_version = model_version
        batch_recount(batch=batch)
        transaction.on_commit(lambda: batch_fan_out(batch=batch))
    batch.refresh_from_db()
    return batch


def ad_reprocess(*, ad: Ad, model_version: ModelVersion) -> list[UploadBatch]:
    """Analyse every finished batch of an ad again with `model_version`."""
    batches = []
    for batch in ad.batches.filter(status__in=BATCH_FINISHED).order_by("pk"):
        try:
            batches.append(batch_reprocess(batch=batch, model_version=model_version))
        except ValidationError:
            continue  # nothing to analyse in it, or its photos are gone: the others still go
    if not batches:
        raise ValidationError(f"No batch of {ad.name} can be analysed again.")
    return batches


def ads_reprocess(
    *, ads: Sequence[Ad], model_version: ModelVersion
) -> tuple[list[UploadBatch], list[str]]:
    """`ad_reprocess` for several ads: the batches queued, and why the other ads were not."""
    queued: list[UploadBatch] = []
    problems: list[str] = []
    for ad in ads:
        try:
            queued.extend(ad_reprocess(ad=ad, model_version=model_version))
        except ValidationError as exc:
            problems.extend(exc.messages)
    return queued, problems
