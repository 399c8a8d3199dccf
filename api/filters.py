"""The dashboard's filters, read from an API request's query string by the API's own
serializers (the schema, and a 400 that names the bad parameter), into the same
`DashboardFilters` the dashboard's page builds from its form.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.core.validators import RegexValidator
from rest_framework import serializers
from rest_framework.exceptions import NotFound, ValidationError

from analytics.exports import CSV_DIALECTS, DEFAULT_BIN_SECONDS, EXPORT_LEVELS
from analytics.headlines import HEADLINES
from analytics.selectors.dashboards import DashboardFilters
from inference.models import ModelVersion
from ml import CONFIDENCE_STEPS


class FilterQuerySerializer(serializers.Serializer):
    date_from = serializers.DateField(
        required=False, help_text="Only uploads made on or after this day."
    )
    date_to = serializers.DateField(
        required=False, help_text="Only uploads made on or before this day (not before date_from)."
    )
    min_confidence = serializers.ChoiceField(
        choices=list(CONFIDENCE_STEPS),
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

    with_low_quality = serializers.BooleanField(
        required=False,
        help_text="true: the faces of viewers marked low quality (a capture session under the "
        "study's quality threshold) count too; by default they are left out.",
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        date_from, date_to = attrs.get("date_from"), attrs.get("date_to")
        if date_from and date_to and date_to < date_from:
            raise ValidationError("The end date is before the start date.")
        return attrs


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


def request_filters(*, query: Any, serializer: type[FilterQuerySerializer]) -> RequestFilters:
    """The dashboard's filters from a query string, or a 400 that names the bad parameter
    (404 for a model version that does not exist)."""
    checked = serializer(data=query)
    checked.is_valid(raise_exception=True)
    data = dict(checked.validated_data)
    model_version = None
    if "model_version" in data:
        model_version = ModelVersion.objects.filter(pk=data["model_version"]).first()
        if model_version is None:
            raise NotFound(f"Model version {data['model_version']} does not exist.")
    # A segment or attribute that no viewer has is a valid question with an empty answer.
    name, _, value = data.get("segment", "").partition("=")
    if data.get("shares") == "corrected":
        data.pop("shares")  # the default
    return RequestFilters(
        filters=DashboardFilters(
            model_version=model_version,
            date_from=data.get("date_from"),
            date_to=data.get("date_to"),
            min_confidence=data.get("min_confidence", 0) / 100,
            segment=(name, value) if name and value else None,
            as_classified=data.get("shares") == "classified",
            with_low_quality=bool(data.get("with_low_quality")),
        ),
        headline=data.get("headline") or None,
        breakdown=data.get("breakdown") or "",
        query=data,
    )
