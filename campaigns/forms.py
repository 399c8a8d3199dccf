from django import forms

from campaigns.models import Ad, Campaign, Team


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

    def __init__(self, *args, teams, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["team"].queryset = teams
        if teams.count() == 1:
            self.fields["team"].initial = teams.first()


class AdForm(forms.ModelForm):
    creative_url = forms.URLField(
        required=False, assume_scheme="https", label="Creative URL", max_length=200
    )

    class Meta:
        model = Ad
        fields = ["name", "creative", "creative_url"]


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files under one name (Django's FileField takes one)."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("widget", MultipleFileInput(attrs={"accept": "image/*"}))
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
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

    def clean(self) -> dict:
        cleaned = super().clean()
        if bool(cleaned.get("archive")) == bool(cleaned.get("photos")):
            raise forms.ValidationError("Choose either one ZIP file or one or more photos.")
        return cleaned


class ReprocessForm(forms.Form):
    model_version = forms.ModelChoiceField(queryset=None, label="Model version")

    def __init__(self, *args, **kwargs) -> None:
        from inference.models import ModelVersion

        super().__init__(*args, **kwargs)
        self.fields["model_version"].queryset = ModelVersion.objects.all()
