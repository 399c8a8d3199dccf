from __future__ import annotations

from typing import Any

from django import forms
from django.db import models

from campaigns.models import Ad, Campaign
from studies.models import Study


def _formfield(field: models.Field[Any, Any], **kwargs: Any) -> forms.Field | None:
    """Redirect URLs typed without a scheme are https."""
    if isinstance(field, models.URLField):
        kwargs["assume_scheme"] = "https"
    return field.formfield(**kwargs)


class StudyForm(forms.ModelForm):
    ads = forms.ModelMultipleChoiceField(
        queryset=Ad.objects.none(),
        widget=forms.CheckboxSelectMultiple,
        help_text="Ads with a video or image creative; shown in this order unless random.",
    )

    class Meta:
        model = Study
        formfield_callback = _formfield
        fields = [
            "name",
            "ads",
            "ad_order",
            "image_seconds",
            "capture_fps",
            "consent_text",
            "participant_param",
            "kept_params",
            "complete_url",
            "declined_url",
            "failed_url",
            "low_quality_outcome",
            "quota",
        ]
        help_texts = {
            "kept_params": "URL parameters kept as viewer attributes (segments), comma "
            "separated: age_band,market",
            "participant_param": "The URL parameter that names the participant (pid).",
            "complete_url": "http(s); {pid} is replaced by the participant id.",
            "consent_text": "Editing it makes a new consent version; {team} is your team.",
        }

    def __init__(self, *args: Any, campaign: Campaign, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        ads = self.fields["ads"]
        assert isinstance(ads, forms.ModelMultipleChoiceField)  # noqa: S101  narrows the type for mypy
        ads.queryset = Ad.objects.filter(campaign=campaign).exclude(creative="")
        self.instance.campaign = campaign
        if self.instance.pk:
            self.initial["ads"] = [sa.ad_id for sa in self.instance.study_ads.all()]
