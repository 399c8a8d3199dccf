from __future__ import annotations

from typing import Any

from django import forms

from campaigns.models import Ad, Campaign
from studies.models import Study


class StudyForm(forms.ModelForm):
    ads = forms.ModelMultipleChoiceField(
        queryset=Ad.objects.none(),
        widget=forms.CheckboxSelectMultiple,
        help_text="Ads with a video or image creative; shown in this order unless random.",
    )

    complete_url = forms.URLField(
        required=False,
        max_length=1000,
        assume_scheme="https",
        help_text="http(s); {pid} is replaced by the participant id.",
    )
    declined_url = forms.URLField(required=False, max_length=1000, assume_scheme="https")
    failed_url = forms.URLField(required=False, max_length=1000, assume_scheme="https")

    class Meta:
        model = Study
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
            "consent_text": "Editing it makes a new consent version; {team} is your team.",
        }

    def __init__(self, *args: Any, campaign: Campaign, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        ads = self.fields["ads"]
        assert isinstance(ads, forms.ModelMultipleChoiceField)
        ads.queryset = Ad.objects.filter(campaign=campaign).exclude(creative="")
        self.instance.campaign = campaign
        if self.instance.pk:
            self.initial["ads"] = [sa.ad_id for sa in self.instance.study_ads.all()]
