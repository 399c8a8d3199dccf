"""The dashboard's filters, read from an API request's query string.

The query is checked for shape here (for the schema and a 400 with the field's reason) and
then read by the dashboard's own `DashboardFilterForm`, so the API takes exactly the filters
the page takes and turns them into the same `DashboardFilters`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

from django import forms
from django.core.validators import RegexValidator
from rest_framework import serializers
from rest_framework.exceptions import NotFound, ValidationError

from campaigns.exports import CSV_DIALECTS, DEFAULT_BIN_SECONDS, EXPORT_LEVELS
from campaigns.forms import DashboardFilterForm
from campaigns.headlines import HEADLINES
from campaigns.models import Campaign
from campaigns.selectors import decisions
from campaigns.selectors.dashboards import DashboardFilters
from inference.models import ModelVersion


def _confidence_steps() -> list[int]:
    """The minimum confidences the dashboard offers (percent), from its own form field."""
    field = DashboardFilterForm.base_fields["min_confidence"]
    assert isinstance(field, forms.ChoiceField)
    choices = cast("list[tuple[object, str]]", field.choices)
    return [int(str(value)) for value, _ in choices if str(value) != ""]


class FilterQuerySerializer(serializers.Serializer):
    date_from = serializers.DateField(
        required=False, help_text="Only uploads made on or after this day."
    )
    date_to = serializers.DateField(
        required=False, help_text="Only uploads made on or before this day (not before date_from)."
    )
    min_confidence = serializers.ChoiceField(
        choices=_confidence_steps(),
        required=False,
        help_text="Minimum confidence in percent, one of the dashboard's steps: only faces "
        "whose top emotion has at least this probability.",
    )
    model_version = serializers.IntegerField(
        required=False,
        min_value=1,
        help_text="One model version's results for every ad; without it each ad shows its "
        "active version's results, else its newest.",
    )
    segment = serializers.CharField(
        required=False,
        max_length=301,
        validators=[
            RegexValidator(r"^[^=\u0000]+=[^\u0000]+$", "Write the segment as name=value.")
        ],
        help_text="Only the faces of viewers with this attribute value, as name=value "
        "(market=DE); a value no viewer has matches no face.",
    )
    shares = serializers.ChoiceField(
        choices=["corrected", "classified"],
        required=False,
        help_text="corrected (default): shares estimated for what viewers showed, allowing for "
        "the model's errors measured on real photos; classified: the share of faces the model "
        "gave each label.",
    )


class ResultsQuerySerializer(FilterQuerySerializer):
    headline = serializers.ChoiceField(
        choices=list(HEADLINES),
        required=False,
        help_text="What the ads are ranked by (positive share by default).",
    )
    breakdown = serializers.CharField(
        required=False,
        max_length=100,
        help_text="A viewer attribute: each ad's headline for each of its values.",
    )


class ExportQuerySerializer(FilterQuerySerializer):
    level = serializers.ChoiceField(
        choices=list(EXPORT_LEVELS),
        required=False,
        default="faces",
        help_text="One row per face, per ad, per bin of the ad's timeline, or per viewer.",
    )
    bin_seconds = serializers.FloatField(
        required=False,
        default=DEFAULT_BIN_SECONDS,
        min_value=0.001,
        max_value=86400.0,
        help_text="Width of a timeline bin in seconds (level=timeline).",
    )
    bom = serializers.BooleanField(
        required=False,
        default=True,
        help_text="Start the file with a UTF-8 BOM, so Excel reads it right (false for "
        "tools that want plain UTF-8).",
    )
    dialect = serializers.ChoiceField(
        choices=list(CSV_DIALECTS),
        required=False,
        default="excel",
        help_text="excel: commas and decimal points; eu: semicolons and decimal commas, as "
        "German or French Excel opens them.",
    )


@dataclass(frozen=True)
class RequestFilters:
    filters: DashboardFilters
    headline: str | None
    breakdown: str
    query: dict[str, Any]


def request_filters(
    *, campaign: Campaign, query: Any, serializer: type[FilterQuerySerializer]
) -> RequestFilters:
    """The dashboard's filters from a query string, or a 400 that names the bad parameter
    (404 for a model version that does not exist)."""
    checked = serializer(data=query)
    checked.is_valid(raise_exception=True)
    data = dict(checked.validated_data)
    version = data.get("model_version")
    if version is not None and not ModelVersion.objects.filter(pk=version).exists():
        raise NotFound(f"Model version {version} does not exist.")
    segments = decisions.attribute_values(campaign=campaign)
    # A segment or attribute that no viewer has is a valid question with an empty answer.
    if "segment" in data:
        name, _, value = data["segment"].partition("=")
        segments.setdefault(name, [])
        if value not in segments[name]:
            segments[name].append(value)
    if data.get("breakdown"):
        segments.setdefault(data["breakdown"], [])
    if data.get("shares") == "corrected":
        data.pop("shares")  # the form's default
    form_data = {
        key: value.isoformat() if hasattr(value, "isoformat") else str(value)
        for key, value in data.items()
        if key in DashboardFilterForm.base_fields
    }
    form = DashboardFilterForm(form_data, segments=segments)
    if not form.is_valid():
        raise ValidationError(
            {
                ("non_field_errors" if field == "__all__" else field): [str(m) for m in messages]
                for field, messages in form.errors.items()
            }
        )
    return RequestFilters(
        filters=form.filters(),
        headline=form.cleaned_data.get("headline") or None,
        breakdown=form.cleaned_data.get("breakdown") or "",
        query=data,
    )
