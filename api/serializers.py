"""Shapes of the API's requests and responses. Reading and checking input only: every write
is a service call in the views, every figure comes from a selector."""

from __future__ import annotations

import math
from typing import Any

from django.conf import settings
from django.core.validators import RegexValidator
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from campaigns.models import Ad, Campaign, Face, UploadBatch
from ml import CLASSES

# Python's whitespace (what DRF trims), spelled out: regex engines disagree on what `\s` is,
# and the schema's patterns must mean the same to every client and fuzzer.
_SPACES = "".join(f"\\u{ord(c):04x}" for c in map(chr, range(0x10000)) if c.isspace())
# A name must hold something besides spaces (and never a NUL, which PostgreSQL refuses in
# text: written into the pattern, so the schema says it too).
_NOT_BLANK = RegexValidator(
    f"^[^\\u0000]*[^{_SPACES}\\u0000][^\\u0000]*$", "Give a name that is not only spaces."
)
# A link as a schema pattern can state it (Django's URLValidator has host rules that none can).
_LINK = RegexValidator(
    f"^https?://[^{_SPACES}\\u0000-\\u001f\\u007f]+$",
    "Enter a link starting with http:// or https://.",
)


def _url(context: dict[str, Any], name: str, *args: object) -> str:
    path = reverse(name, args=args)
    request = context.get("request")
    return request.build_absolute_uri(path) if request is not None else path


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField(help_text="What went wrong, in a sentence.")
    # A declared field: the serializer's metaclass takes it off the class (no clash with
    # Serializer.errors).
    errors = serializers.DictField(  # type: ignore[assignment]
        child=serializers.JSONField(),
        required=False,
        help_text="For invalid input: each field's reasons (non_field_errors for the whole).",
    )


@extend_schema_field({"type": "number", "format": "double", "nullable": True})
class FiniteFloatField(serializers.FloatField):
    """A float that is null where it is not finite (an interval that has no bound yet)."""

    def to_representation(self, value: Any) -> float | None:  # type: ignore[override]
        if value is None:
            return None
        number = float(value)
        return number if math.isfinite(number) else None


# A JSON body's value must be of the schema's type: a number is not silently read as text,
# nor a string as a number.


class StrictCharField(serializers.CharField):
    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictIntegerField(serializers.IntegerField):
    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictFloatField(serializers.FloatField):
    def to_internal_value(self, data: Any) -> float:
        if isinstance(data, bool) or not isinstance(data, int | float):
            self.fail("invalid")
        return super().to_internal_value(data)


@extend_schema_field(
    {
        "type": "number",
        "format": "double",
        "minimum": 0,
        "exclusiveMinimum": True,
        "maximum": settings.AD_MAX_SECONDS,
        "nullable": True,
    }
)
class SecondsField(StrictFloatField):
    """A length in seconds, more than 0 and at most AD_MAX_SECONDS (the services refuse
    either with their own message)."""


# Teams, campaigns, ads -----------------------------------------------------------------------


class TeamSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    name = serializers.CharField(read_only=True)


class CampaignSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    team = serializers.IntegerField(
        source="team_id", read_only=True, help_text="The owning team (set when created)."
    )
    name = StrictCharField(max_length=200, validators=[_NOT_BLANK])
    brand = StrictCharField(max_length=200, required=False, allow_blank=True, default="")
    description = StrictCharField(max_length=10000, required=False, allow_blank=True, default="")
    starts_on = serializers.DateField(required=False, allow_null=True, default=None)
    ends_on = serializers.DateField(
        required=False, allow_null=True, default=None, help_text="Not before starts_on."
    )
    created_at = serializers.DateTimeField(read_only=True)
    urls = serializers.SerializerMethodField()

    @extend_schema_field(
        {"type": "object", "additionalProperties": {"type": "string", "format": "uri"}}
    )
    def get_urls(self, campaign: Campaign) -> dict[str, str]:
        return {
            "self": _url(self.context, "api:campaign-detail", campaign.pk),
            "ads": _url(self.context, "api:campaign-ads", campaign.pk),
            "results": _url(self.context, "api:campaign-results", campaign.pk),
            "faces": _url(self.context, "api:campaign-faces", campaign.pk),
            "export": _url(self.context, "api:campaign-export", campaign.pk),
            "dashboard": _url(self.context, "campaigns:campaign_dashboard", campaign.pk),
        }


class CampaignCreateSerializer(CampaignSerializer):
    team = StrictIntegerField(
        source="team_id",
        required=False,
        min_value=1,
        help_text="The owning team: by default the token's team (or the session user's only "
        "team). It cannot be changed later.",
    )


class AdSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    campaign = serializers.IntegerField(source="campaign_id", read_only=True)
    name = StrictCharField(max_length=200, validators=[_NOT_BLANK])
    # No default: a default of "" would sit in the schema's link branch, which "" fails.
    creative_url = StrictCharField(
        max_length=200,
        required=False,
        allow_blank=True,
        validators=[_LINK],
        help_text="A link to the ad (http or https), or empty.",
    )
    duration_seconds = SecondsField(
        required=False,
        allow_null=True,
        default=None,
        help_text="How long the ad runs, in seconds (more than 0), for its timeline.",
    )
    has_creative = serializers.SerializerMethodField(
        help_text="Whether the ad has a creative file (uploaded on its page in the app)."
    )
    created_at = serializers.DateTimeField(read_only=True)
    urls = serializers.SerializerMethodField()

    def get_has_creative(self, ad: Ad) -> bool:
        return bool(ad.creative)

    @extend_schema_field(
        {"type": "object", "additionalProperties": {"type": "string", "format": "uri"}}
    )
    def get_urls(self, ad: Ad) -> dict[str, str]:
        return {
            "self": _url(self.context, "api:ad-detail", ad.pk),
            "uploads": _url(self.context, "api:ad-uploads", ad.pk),
            "faces": _url(self.context, "api:ad-faces", ad.pk),
            "export": _url(self.context, "api:ad-export", ad.pk),
            "page": _url(self.context, "campaigns:ad_detail", ad.pk),
        }


# Uploads and batches -------------------------------------------------------------------------


class ArchiveUploadSerializer(serializers.Serializer):
    archive = serializers.FileField(
        # An empty file gets the service's own message.
        allow_empty_file=True,
        help_text="A ZIP of reaction photos and videos, with an optional top-level "
        "manifest.csv naming each file's viewer, offset and attributes (see the README).",
    )


class FilesUploadSerializer(serializers.Serializer):
    files = serializers.ListField(
        child=serializers.FileField(allow_empty_file=True),
        min_length=1,
        help_text="Loose photos and reaction videos (at most UPLOAD_MAX_PHOTOS; more belong "
        "in a ZIP).",
    )
    manifest = serializers.FileField(
        required=False,
        allow_empty_file=True,
        help_text="The manifest (CSV) naming each file's viewer, offset and attributes.",
    )


class BatchSerializer(serializers.Serializer):
    """An upload with its stored counters (the list); the detail adds live progress."""

    id = serializers.IntegerField(read_only=True)
    ad = serializers.IntegerField(source="ad_id", read_only=True)
    source_name = serializers.CharField(read_only=True)
    status = serializers.ChoiceField(choices=UploadBatch.Status.choices, read_only=True)
    finished = serializers.BooleanField(source="is_finished", read_only=True)
    error = serializers.CharField(read_only=True)
    images_total = serializers.IntegerField(read_only=True)
    images_processed = serializers.IntegerField(read_only=True)
    images_failed = serializers.IntegerField(read_only=True)
    images_skipped = serializers.IntegerField(read_only=True)
    faces_found = serializers.IntegerField(read_only=True)
    model_version = serializers.IntegerField(
        source="model_version_id", read_only=True, allow_null=True
    )
    created_at = serializers.DateTimeField(read_only=True)
    started_at = serializers.DateTimeField(read_only=True, allow_null=True)
    finished_at = serializers.DateTimeField(read_only=True, allow_null=True)
    urls = serializers.SerializerMethodField()

    @extend_schema_field(
        {"type": "object", "additionalProperties": {"type": "string", "format": "uri"}}
    )
    def get_urls(self, batch: UploadBatch) -> dict[str, str]:
        return {
            "self": _url(self.context, "api:batch-detail", batch.pk),
            "page": _url(self.context, "campaigns:batch_detail", batch.pk),
        }


class ProgressSerializer(serializers.Serializer):
    stage = serializers.CharField(help_text="In words: received, processing 3/10, done, ...")
    queued = serializers.BooleanField(
        help_text="False while the task queue cannot be reached: the upload is kept and "
        "starts on its own when the queue is back."
    )
    members = serializers.IntegerField()
    to_analyse = serializers.IntegerField()
    analysed = serializers.IntegerField()
    processed = serializers.IntegerField()
    failed = serializers.IntegerField()
    skipped = serializers.IntegerField()
    duplicates = serializers.IntegerField()
    faces = serializers.IntegerField()
    videos = serializers.IntegerField()
    frames = serializers.IntegerField()
    viewers = serializers.IntegerField()
    notes = serializers.ListField(child=serializers.CharField())


class ProblemSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField(source="original_name")
    kind = serializers.CharField()
    status = serializers.CharField()
    error = serializers.CharField()


class BatchDetailSerializer(BatchSerializer):
    """The batch with its live progress and problem members, which the view reads with the
    batch selectors and passes in the context (`progress`, `problems`)."""

    progress = serializers.SerializerMethodField()
    problems = serializers.SerializerMethodField(
        help_text="Members that failed or were skipped, each with its reason (the first 500)."
    )

    @extend_schema_field(ProgressSerializer())
    def get_progress(self, batch: UploadBatch) -> Any:
        return ProgressSerializer(self.context["progress"]).data

    @extend_schema_field(ProblemSerializer(many=True))
    def get_problems(self, batch: UploadBatch) -> Any:
        return ProblemSerializer(self.context["problems"], many=True).data


# Faces ---------------------------------------------------------------------------------------


class FaceSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    ad = serializers.IntegerField(source="image.batch.ad_id")
    batch = serializers.IntegerField(source="image.batch_id")
    image = serializers.IntegerField(source="image_id")
    image_name = serializers.CharField(source="image.original_name")
    viewer = serializers.CharField(source="image.viewer.external_id", allow_null=True)
    offset_seconds = serializers.FloatField(source="image.offset_seconds", allow_null=True)
    frame_seconds = serializers.FloatField(source="image.frame_seconds", allow_null=True)
    x = serializers.IntegerField()
    y = serializers.IntegerField()
    w = serializers.IntegerField()
    h = serializers.IntegerField()
    label = serializers.CharField()  # type: ignore[assignment]  # a declared field, as errors
    probabilities = serializers.SerializerMethodField()
    confidence = serializers.SerializerMethodField()
    yaw = FiniteFloatField(
        allow_null=True, help_text="Head turn in degrees, positive towards the image's right."
    )
    pitch = FiniteFloatField(allow_null=True, help_text="Head tilt in degrees, positive chin up.")
    roll = FiniteFloatField(
        allow_null=True, help_text="In-plane head turn in degrees, positive clockwise."
    )
    eye_openness = FiniteFloatField(
        allow_null=True, help_text="Eye aspect ratio: about 0.3 open, under 0.12 closed."
    )
    gaze_x = FiniteFloatField(
        allow_null=True, help_text="Iris offset across the eye, -0.5 to 0.5 (0: centred)."
    )
    gaze_y = FiniteFloatField(
        allow_null=True, help_text="Iris offset between the eyelids, positive down."
    )
    sharpness = FiniteFloatField(
        allow_null=True, help_text="Variance of the Laplacian of the face at 64 px."
    )
    quality = FiniteFloatField(
        allow_null=True, help_text="Size, sharpness and pose together, 0 to 1."
    )
    attentive = serializers.BooleanField(
        allow_null=True,
        help_text="Facing the screen (|yaw| <= 30, |pitch| <= 25 degrees), eyes open; "
        "null when not measured.",
    )
    expression_counted = serializers.BooleanField(
        source="readable",
        help_text="Whether its expression counts in the shares (quality at least 0.3).",
    )
    model_version = serializers.IntegerField(source="model_version_id")
    created_at = serializers.DateTimeField()

    @extend_schema_field(
        {
            "type": "object",
            "properties": {name: {"type": "number", "format": "double"} for name in CLASSES},
            "required": list(CLASSES),
        }
    )
    def get_probabilities(self, face: Face) -> dict[str, float]:
        return face.probabilities

    @extend_schema_field(OpenApiTypes.DOUBLE)
    def get_confidence(self, face: Face) -> float:
        return max(face.probabilities.values())


# Results -------------------------------------------------------------------------------------


class EstimateSerializer(serializers.Serializer):
    """A headline's value with its 95% interval, over units (a viewer is one unit). The
    interval covers the sampling of viewers and, for corrected shares, the uncertainty of the
    model's measured errors; it never leaves what is possible. `standard_error` is what the
    interval amounts to (null below two units, where the interval is everything possible);
    `sampling_error` and `classifier_error` are its two parts."""

    value = FiniteFloatField()
    ci_low = FiniteFloatField(source="interval.low")
    ci_high = FiniteFloatField(source="interval.high")
    standard_error = FiniteFloatField(allow_null=True)
    sampling_error = FiniteFloatField(allow_null=True)
    classifier_error = FiniteFloatField()
    units = serializers.IntegerField()
    faces = serializers.IntegerField()


class DifferenceSerializer(EstimateSerializer):
    p_value = FiniteFloatField()


class HeadlineSerializer(serializers.Serializer):
    key = serializers.CharField()
    label = serializers.CharField()  # type: ignore[assignment]  # a declared field, as errors
    higher_is_better = serializers.BooleanField(allow_null=True)


class StandingSerializer(serializers.Serializer):
    ad = serializers.IntegerField(source="ad_id")
    name = serializers.CharField()
    rank = serializers.IntegerField(allow_null=True)
    rankable = serializers.BooleanField()
    estimate = EstimateSerializer()
    unit_name = serializers.CharField(source="units.unit_name")
    viewers = serializers.IntegerField(source="units.viewer_count")
    behind_best = DifferenceSerializer(allow_null=True)
    clearly_behind = serializers.BooleanField()
    sentence = serializers.CharField()


class PairSerializer(serializers.Serializer):
    first = serializers.IntegerField()
    second = serializers.IntegerField()
    difference = DifferenceSerializer()
    p_adjusted = FiniteFloatField()


class VerdictSerializer(serializers.Serializer):
    summary = serializers.CharField()
    unit_note = serializers.CharField()
    standings = StandingSerializer(many=True)
    pairs = serializers.SerializerMethodField()

    @extend_schema_field(PairSerializer(many=True))
    def get_pairs(self, verdict: Any) -> Any:
        pairs = [
            {"first": a.ad_id, "second": b.ad_id, "difference": d, "p_adjusted": p}
            for a, b, d, p in verdict.pairs
        ]
        return PairSerializer(pairs, many=True).data


class ShareSerializer(serializers.Serializer):
    """An emotion's (or group's) share; null, with `measured` false and the reason, where
    the model does not measure the emotion reliably (never a measured 0)."""

    emotion = serializers.CharField()
    count = serializers.IntegerField(help_text="Faces the model gave this label.")
    measured = serializers.BooleanField()
    not_measured_reason = serializers.CharField(source="reason", allow_blank=True)
    share = serializers.SerializerMethodField()
    ci_low = serializers.SerializerMethodField()
    ci_high = serializers.SerializerMethodField()

    def _shown(self, share: Any, value: float) -> float | None:
        return value if share.measured and share.estimate.faces else None

    @extend_schema_field({"type": "number", "format": "double", "nullable": True})
    def get_share(self, share: Any) -> float | None:
        return self._shown(share, share.share)

    @extend_schema_field({"type": "number", "format": "double", "nullable": True})
    def get_ci_low(self, share: Any) -> float | None:
        return self._shown(share, share.interval.low)

    @extend_schema_field({"type": "number", "format": "double", "nullable": True})
    def get_ci_high(self, share: Any) -> float | None:
        return self._shown(share, share.interval.high)


class ReadingSerializer(serializers.Serializer):
    """How an ad's shares are read: corrected for its model version's errors measured on
    real photos, or as classified (and why); the emotions that version does not measure."""

    model_version = serializers.CharField(source="model_name")
    corrected = serializers.BooleanField()
    note = serializers.CharField(allow_blank=True)
    not_measured = serializers.DictField(source="unmeasured", child=serializers.CharField())


class MixSerializer(serializers.Serializer):
    ad = serializers.IntegerField(source="ad_id")
    name = serializers.CharField()
    photos = serializers.IntegerField()
    faces = serializers.IntegerField()
    mean_confidence = FiniteFloatField(allow_null=True)
    dominant = serializers.CharField(
        allow_null=True,
        help_text="The headline group the faces showed most: positive, negative or neither.",
    )
    reading = ReadingSerializer()
    positive = ShareSerializer()
    negative = ShareSerializer()
    valence = EstimateSerializer()
    positive_as_classified = EstimateSerializer()
    negative_as_classified = EstimateSerializer()
    emotions = ShareSerializer(source="shares", many=True)


class TimelineBinSerializer(serializers.Serializer):
    second_from = serializers.FloatField()
    second_to = serializers.FloatField()
    estimate = EstimateSerializer()


class TimelineAdSerializer(serializers.Serializer):
    ad = serializers.IntegerField()
    bins = TimelineBinSerializer(many=True)


class TimelineSerializer(serializers.Serializer):
    bin_seconds = serializers.IntegerField()
    ads = TimelineAdSerializer(many=True)


class AttentionShareSerializer(serializers.Serializer):
    """A share in [0, 1] with its 95% interval over `units` units (viewers when known)."""

    value = FiniteFloatField()
    ci_low = FiniteFloatField(source="low")
    ci_high = FiniteFloatField(source="high")
    units = serializers.IntegerField()


class AttentionBinSerializer(serializers.Serializer):
    """One bin's attention: frames with a face (present), frames with a face facing the
    screen with eyes open (attentive), and the viewers still looking (the drop-off)."""

    second_from = serializers.FloatField()
    second_to = serializers.FloatField()
    units = serializers.IntegerField(help_text="Viewers with a frame in the bin.")
    frames = serializers.IntegerField()
    present = AttentionShareSerializer()
    attentive = AttentionShareSerializer()
    still_looking = AttentionShareSerializer(allow_null=True)


class AttentionAdSerializer(serializers.Serializer):
    ad = serializers.IntegerField()
    bins = AttentionBinSerializer(many=True)


class AttentionSerializer(serializers.Serializer):
    bin_seconds = serializers.IntegerField()
    ads = AttentionAdSerializer(many=True)


class KeyMomentSerializer(serializers.Serializer):
    ad = serializers.IntegerField(source="ad_id")
    name = serializers.CharField(source="ad_name")
    headline = serializers.CharField(source="headline.key")
    second_from = serializers.FloatField()
    second_to = serializers.FloatField()
    change = DifferenceSerializer()
    p_adjusted = FiniteFloatField()
    sentence = serializers.CharField()


class SegmentAdSerializer(serializers.Serializer):
    ad = serializers.IntegerField()
    estimate = EstimateSerializer()
    viewers = serializers.IntegerField()
    enough_units = serializers.BooleanField(
        help_text="False: too few units to compare (the verdict's small-sample rule)."
    )


class SegmentRowSerializer(serializers.Serializer):
    value = serializers.CharField()
    ads = SegmentAdSerializer(many=True)


class NormSerializer(serializers.Serializer):
    ad = serializers.IntegerField(source="ad_id")
    value = FiniteFloatField()
    campaign_average = EstimateSerializer(allow_null=True)
    percentile = FiniteFloatField(
        allow_null=True,
        help_text="Share of the team's analysed ads this ad beats, ties (itself included) "
        "counted half; null for an ad with too few units to rank.",
    )
    norm_ads = serializers.IntegerField()


class ModelVersionSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    version = serializers.CharField()
    is_active = serializers.BooleanField()
    classes = serializers.ListField(child=serializers.CharField())
    metrics = serializers.DictField(child=serializers.JSONField())
    created_at = serializers.DateTimeField()


class ShownVersionSerializer(serializers.Serializer):
    ad = serializers.IntegerField(source="ad_id")
    name = serializers.CharField(source="ad_name")
    model_version = serializers.IntegerField(source="shown.pk")
    model_version_name = serializers.CharField(source="shown")
    is_active = serializers.BooleanField()


class MovedSerializer(serializers.Serializer):
    name = serializers.CharField()
    positive_before = FiniteFloatField()
    positive_after = FiniteFloatField()


class ConfidenceSerializer(serializers.Serializer):
    kept_faces = serializers.IntegerField()
    all_faces = serializers.IntegerField()
    kept_share = FiniteFloatField()
    moved = serializers.SerializerMethodField()

    @extend_schema_field(MovedSerializer(many=True))
    def get_moved(self, effect: Any) -> Any:
        rows = [
            {"name": name, "positive_before": before, "positive_after": after}
            for name, (before, after) in effect.moved.items()
        ]
        return MovedSerializer(rows, many=True).data


class FiltersSerializer(serializers.Serializer):
    date_from = serializers.DateField(allow_null=True)
    date_to = serializers.DateField(allow_null=True)
    min_confidence = serializers.FloatField(help_text="As a fraction (0-1).")
    model_version = serializers.IntegerField(source="model_version.pk", allow_null=True)
    segment = serializers.SerializerMethodField()
    shares = serializers.SerializerMethodField()
    with_low_quality = serializers.BooleanField(
        help_text="Whether the viewers marked low quality count (left out by default)."
    )

    @extend_schema_field({"type": "string", "enum": ["corrected", "classified"]})
    def get_shares(self, filters: Any) -> str:
        return "classified" if filters.as_classified else "corrected"

    @extend_schema_field({"type": "string", "nullable": True})
    def get_segment(self, filters: Any) -> str | None:
        return "=".join(filters.segment) if filters.segment else None


class ResultsSerializer(serializers.Serializer):
    """The campaign dashboard's figures (analytics.results.campaign_results)."""

    campaign = serializers.IntegerField(source="campaign.pk")
    filters = FiltersSerializer()
    headline = HeadlineSerializer()
    total_faces = serializers.IntegerField()
    unfinished_uploads = serializers.IntegerField()
    low_quality_viewers = serializers.IntegerField(
        help_text="Viewers marked low quality (capture sessions under the study's quality "
        "threshold) among the campaign's uploads: left out of every figure unless "
        "with_low_quality=true."
    )
    verdict = VerdictSerializer()
    mix = MixSerializer(source="summaries", many=True)
    timeline = serializers.SerializerMethodField()
    attention = serializers.SerializerMethodField()
    key_moments = KeyMomentSerializer(source="moments", many=True)
    breakdown = serializers.CharField(source="attribute", allow_blank=True)
    segments = serializers.SerializerMethodField()
    norms = NormSerializer(many=True)
    model_versions = ShownVersionSerializer(source="versions", many=True)
    confidence = ConfidenceSerializer(allow_null=True)

    @extend_schema_field(TimelineSerializer())
    def get_timeline(self, found: Any) -> Any:
        headline = found.headline
        ads = [
            {
                "ad": ad_id,
                "bins": [
                    {
                        "second_from": b.second_from,
                        "second_to": b.second_to,
                        "estimate": b.estimate(headline, found.reading(ad_id).correction),
                    }
                    for b in bins
                ],
            }
            for ad_id, bins in found.timeline.bins.items()
        ]
        return TimelineSerializer({"bin_seconds": found.timeline.width, "ads": ads}).data

    @extend_schema_field(AttentionSerializer())
    def get_attention(self, found: Any) -> Any:
        ads = [{"ad": ad_id, "bins": bins} for ad_id, bins in found.attention.items()]
        return AttentionSerializer({"bin_seconds": found.timeline.width, "ads": ads}).data

    @extend_schema_field(SegmentRowSerializer(many=True))
    def get_segments(self, found: Any) -> Any:
        rows = [
            {
                "value": row.value,
                "ads": [
                    {
                        "ad": ad_id,
                        "estimate": cell.estimate,
                        "viewers": cell.units.viewer_count,
                        "enough_units": cell.enough,
                    }
                    for ad_id, cell in row.per_ad.items()
                ],
            }
            for row in found.segment_rows
        ]
        return SegmentRowSerializer(rows, many=True).data
