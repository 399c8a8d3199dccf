"""Forms of the app's pages: what a marketer types, validated before a service sees it."""

from __future__ import annotations

from typing import Any

from django import forms
from django.db.models import QuerySet

from campaigns.models import Ad, Campaign, Team
from inference.models import ModelVersion


class CampaignForm(forms.ModelForm):
    """Campaign fields plus the owning team, limited to the teams passed in."""

    team = forms.ModelChoiceField(queryset=Team.objects.none())

    class Meta:
        model = Campaign
        fields = ["team", "name", "brand", "description", "starts_on", "ends_on"]
        widgets = {
            "starts_on": forms.DateInput(attrs={"type": "date"}),
            "ends_on": forms.DateInput(attrs={"type": "date"}),
            "description": forms.Textarea(attrs={"rows": 3}),
        }

    def __init__(self, *args: Any, teams: QuerySet[Team], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        team_field = self.fields["team"]
        assert isinstance(team_field, forms.ModelChoiceField)
        team_field.queryset = teams
        if teams.count() == 1:
            team_field.initial = teams.first()


class CampaignEditForm(forms.ModelForm):
    """A campaign's own fields; its team stays (moving data between teams is not a marketer's
    edit)."""

    class Meta:
        model = Campaign
        fields = ["name", "brand", "description", "starts_on", "ends_on"]
        widgets = CampaignForm.Meta.widgets


class AdForm(forms.ModelForm):
    creative_url = forms.URLField(
        required=False, assume_scheme="https", label="Creative URL", max_length=200
    )

    class Meta:
        model = Ad
        fields = ["name", "creative", "creative_url", "duration_seconds"]
        labels = {"creative": "Creative (image or video)", "duration_seconds": "Length (s)"}
        help_texts = {
            "duration_seconds": "How long the ad runs, for its timeline (optional).",
        }
        widgets = {
            "creative": forms.ClearableFileInput(attrs={"accept": "image/*,video/*"}),
            "duration_seconds": forms.NumberInput(attrs={"step": "0.1", "min": "0.1"}),
        }


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files under one name (Django's FileField takes one)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("widget", MultipleFileInput(attrs={"accept": "image/*"}))
        super().__init__(*args, **kwargs)

    def clean(self, data: Any, initial: Any = None) -> list[Any]:
        if isinstance(data, list | tuple):
            return [super(MultipleFileField, self).clean(item, initial) for item in data]
        return [super().clean(data, initial)] if data else []


class BatchUploadForm(forms.Form):
    """A ZIP of reaction photos, or several loose photos."""

    archive = forms.FileField(
        required=False,
        label="ZIP of photos",
        widget=forms.ClearableFileInput(attrs={"accept": ".zip,application/zip"}),
    )
    photos = MultipleFileField(required=False, label="…or loose photos")

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if bool(cleaned.get("archive")) == bool(cleaned.get("photos")):
            raise forms.ValidationError("Choose either one ZIP file or one or more photos.")
        return cleaned


class ReprocessForm(forms.Form):
    model_version = forms.ModelChoiceField(
        queryset=ModelVersion.objects.all(), label="Model version"
    )
