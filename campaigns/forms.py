"""Forms of the app's pages: what a marketer types, validated before a service sees it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django import forms
from django.db.models import QuerySet
from django.urls import reverse

from campaigns.archives import VIDEO_EXTENSIONS, extension
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
        assert isinstance(team_field, forms.ModelChoiceField)  # noqa: S101  narrows the type for mypy
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


@dataclass(frozen=True)
class StoredCreative:
    """An ad's current creative as its edit form links it: through the app, after the team
    check (the store is private, so the file's storage URL would not answer)."""

    url: str
    label: str

    def __str__(self) -> str:
        return self.label


class CreativeInput(forms.ClearableFileInput):
    def format_value(self, value: Any) -> Any:
        ad = getattr(value, "instance", None)
        if self.is_initial(value) and ad is not None and ad.pk is not None:
            kind = "video" if extension(value.name) in VIDEO_EXTENSIONS else "image"
            return StoredCreative(
                url=reverse("campaigns:ad_creative", args=[ad.pk]), label=f"the current {kind}"
            )
        return super().format_value(value)


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
            "creative": CreativeInput(attrs={"accept": "image/*,video/*"}),
            "duration_seconds": forms.NumberInput(attrs={"step": "0.1", "min": "0.1"}),
        }


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files under one name (Django's FileField takes one)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("widget", MultipleFileInput(attrs={"accept": "image/*,video/*"}))
        super().__init__(*args, **kwargs)

    def clean(self, data: Any, initial: Any = None) -> list[Any]:
        if isinstance(data, list | tuple):
            return [super(MultipleFileField, self).clean(item, initial) for item in data]
        return [super().clean(data, initial)] if data else []


class BatchUploadForm(forms.Form):
    """A ZIP of reaction photos and videos, or loose photos and videos; either with an
    optional manifest (inside the ZIP, or chosen beside the loose files)."""

    archive = forms.FileField(
        required=False,
        label="ZIP of photos and videos",
        widget=forms.ClearableFileInput(attrs={"accept": ".zip,application/zip"}),
    )
    photos = MultipleFileField(required=False, label="…or loose photos and videos")
    manifest = forms.FileField(
        required=False,
        label="Manifest (optional, with loose files)",
        help_text="manifest.csv naming each file's viewer, offset and attributes; a ZIP "
        "carries its own at its top level.",
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv"}),
    )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if bool(cleaned.get("archive")) == bool(cleaned.get("photos")):
            raise forms.ValidationError(
                "Choose either one ZIP file or one or more photos and videos."
            )
        if cleaned.get("archive") and cleaned.get("manifest"):
            raise forms.ValidationError(
                "A ZIP carries its manifest inside it (manifest.csv at its top level); choose "
                "a separate manifest only with loose files."
            )
        return cleaned


class ReprocessForm(forms.Form):
    model_version = forms.ModelChoiceField(
        queryset=ModelVersion.objects.all(), label="Model version"
    )
