"""The API tokens page's form."""

from __future__ import annotations

from typing import Any

from django import forms
from django.db.models import QuerySet

from campaigns.models import Team


class ApiTokenForm(forms.Form):
    name = forms.CharField(
        max_length=100, help_text="What will use it, e.g. 'Survey tool' or 'BI export'."
    )
    team = forms.ModelChoiceField(
        queryset=Team.objects.none(), help_text="The token reaches this team's data only."
    )

    def __init__(self, *args: Any, teams: QuerySet[Team], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        team_field = self.fields["team"]
        assert isinstance(team_field, forms.ModelChoiceField)  # noqa: S101  narrows the type for mypy
        team_field.queryset = teams
        if teams.count() == 1:
            team_field.initial = teams.first()
