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
