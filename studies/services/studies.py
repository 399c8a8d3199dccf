"""A study created, edited and opened, paused or closed."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from campaigns.models import Ad, Campaign
from studies.models import Study, StudyAd, StudyStatus


def _ads_check(*, campaign: Campaign, ads: Sequence[Ad]) -> None:
    if not ads:
        raise ValidationError("Choose at least one ad to show.")
    foreign = [ad.name for ad in ads if ad.campaign_id != campaign.pk]
    if foreign:
        raise ValidationError(f"{foreign[0]} is not an ad of {campaign.name}.")
    missing = [ad.name for ad in ads if not ad.creative]
    if missing:
        raise ValidationError(
            f"{missing[0]} has no creative to show: upload its video or image first."
        )


def study_create(*, campaign: Campaign, ads: Sequence[Ad], **fields: Any) -> Study:
    """A new open study of `campaign` showing `ads` (in this order when the order is fixed)."""
    _ads_check(campaign=campaign, ads=ads)
    with transaction.atomic():
        study = Study(campaign=campaign, slug=secrets.token_urlsafe(16), **fields)
        study.full_clean()
        study.save()
        StudyAd.objects.bulk_create(
            [StudyAd(study=study, ad=ad, position=i) for i, ad in enumerate(ads)]
        )
    return study


def study_update(*, study: Study, ads: Sequence[Ad] | None = None, **fields: Any) -> Study:
    """Edit a study; a changed consent text is a new consent version."""
    old_text = Study.objects.values_list("consent_text", flat=True).get(pk=study.pk)
    for name, value in fields.items():
        setattr(study, name, value)
    if study.consent_text != old_text:
        study.consent_version += 1
    with transaction.atomic():
        study.full_clean()
        study.save()
        if ads is not None:
            _ads_check(campaign=study.campaign, ads=ads)
            StudyAd.objects.filter(study=study).delete()
            StudyAd.objects.bulk_create(
                [StudyAd(study=study, ad=ad, position=i) for i, ad in enumerate(ads)]
            )
    return study


def study_status_set(*, study: Study, status: str) -> Study:
    """Open, pause or close the study's link; a paused or closed one accepts nothing."""
    if status not in StudyStatus.values:
        raise ValidationError(f"{status!r} is not a study status.")
    Study.objects.filter(pk=study.pk).update(status=status)
    study.status = status
    return study
