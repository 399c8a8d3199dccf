"""The dashboard's filters as a marketer picks them on the page, validated before a selector
sees them."""

from __future__ import annotations

from typing import Any

from django import forms

from analytics.headlines import HEADLINES
from analytics.selectors.dashboards import DashboardFilters
from inference.models import ModelVersion
from ml import CONFIDENCE_STEPS


class ConfidenceStepField(forms.TypedChoiceField):
    """A minimum confidence, one of the tallies' steps (percent). "70", "70%" and the
    fraction "0.7" (links from older pages) all mean 70%."""

    def __init__(self, **kwargs: Any) -> None:
        choices = [(str(step), f"{step}%" if step else "none") for step in CONFIDENCE_STEPS]
        super().__init__(choices=choices, coerce=int, **kwargs)

    def to_python(self, value: Any) -> str:
        text = str(value or "").strip().rstrip("%").strip()
        if not text:
            return ""
        try:
            number = float(text)
        except ValueError:
            return text  # not a number: refused as not one of the choices
        percent = number * 100 if 0 < number <= 1 else number
        return str(round(percent)) if abs(percent - round(percent)) < 1e-6 else text


class DashboardFilterForm(forms.Form):
    date_from = forms.DateField(
        required=False, label="Uploaded from", widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(
        required=False, label="Uploaded to", widget=forms.DateInput(attrs={"type": "date"})
    )
    min_confidence = ConfidenceStepField(
        required=False,
        label="Minimum confidence",
        help_text="Only faces whose top emotion has at least this probability.",
    )
    model_version = forms.ModelChoiceField(
        queryset=ModelVersion.objects.all(),
        required=False,
        empty_label="Newest results of each ad",
        label="Model version",
    )
    headline = forms.ChoiceField(
        required=False, label="Rank ads by", choices=[("positive", "positive share")]
    )
    segment = forms.ChoiceField(required=False, label="Viewers", choices=[("", "all viewers")])
    breakdown = forms.ChoiceField(
        required=False, label="Break down by", choices=[("", "(no breakdown)")]
    )
    shares = forms.ChoiceField(
        required=False,
        label="Shares",
        choices=[("", "corrected for the model's errors"), ("classified", "as classified")],
        help_text="Corrected: what viewers showed, allowing for how often the model misreads "
        "real faces. As classified: the share of faces the model gave each label.",
    )

    with_low_quality = forms.BooleanField(
        required=False,
        label="Include low-quality capture sessions",
        help_text="Viewers whose capture session fell under the study's quality threshold "
        "are left out of every figure unless this is ticked.",
    )

    def __init__(
        self, *args: Any, segments: dict[str, list[str]] | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        choices = {
            "positive": "positive share",
            "negative": "negative share",
            "valence": "valence",
            "attention": "attentive share (facing the screen, eyes open)",
        }
        headline_field = self.fields["headline"]
        assert isinstance(headline_field, forms.ChoiceField)  # noqa: S101  narrows the type for mypy
        headline_field.choices = [(key, choices.get(key, f"{key} share")) for key in HEADLINES]
        segments = segments or {}
        segment_field = self.fields["segment"]
        assert isinstance(segment_field, forms.ChoiceField)  # noqa: S101  narrows the type for mypy
        segment_field.choices = [("", "all viewers")] + [
            (f"{name}={value}", f"{name}: {value}")
            for name, values in segments.items()
            for value in values
        ]
        breakdown_field = self.fields["breakdown"]
        assert isinstance(breakdown_field, forms.ChoiceField)  # noqa: S101  narrows the type for mypy
        breakdown_field.choices = [("", "(no breakdown)")] + [(n, n) for n in segments]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("date_from") and data.get("date_to") and data["date_to"] < data["date_from"]:
            raise forms.ValidationError("The end date is before the start date.")
        return data

    def filters(self) -> DashboardFilters:
        """The filters to apply; invalid input falls back to the defaults (errors are shown).

        Without a chosen version, each ad shows its own newest results (see
        `selectors.dashboards.with_ad_versions`)."""
        data = self.cleaned_data if self.is_valid() else {}
        confidence = data.get("min_confidence") or 0
        segment = data.get("segment") or ""
        name, _, value = segment.partition("=")
        return DashboardFilters(
            model_version=data.get("model_version"),
            date_from=data.get("date_from"),
            date_to=data.get("date_to"),
            min_confidence=confidence / 100,
            segment=(name, value) if name and value else None,
            as_classified=data.get("shares") == "classified",
            with_low_quality=bool(data.get("with_low_quality")),
        )
