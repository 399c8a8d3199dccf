"""A campaign's results as its dashboard shows them and the API returns them.

One function computes them, from one scan of the tallies (`decisions.faces_scan`): the
verdict, the per-ad mix with intervals, the timeline and its key moments (on demand),
segments, norms, the model versions shown and the minimum confidence's effect. The
dashboard view only renders what it returns and the API only serialises it, so the two can
never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from analytics import comparisons
from analytics.attention import AttentionBin, attention_bins, attention_units
from analytics.headlines import HEADLINES, Headline, headline_get
from analytics.selectors import dashboards, decisions
from analytics.selectors.dashboards import AdSummary, CampaignBreakdown, DashboardFilters, Reading
from analytics.stats import UnitCounts
from analytics.timelines import Timelines
from campaigns.models import Ad, Campaign
from campaigns.selectors import batches
from inference.models import ModelVersion
from inference.selectors import model_version_active, model_version_report
from ml import CLASSES
from ml.measurement import emotions_unmeasured

# A minimum confidence that moves an ad's positive share by more than this is called out.
CONFIDENCE_SHIFT_WARNING = 0.05


@dataclass
class VersionNote:
    """Which model version's results an ad shows, against the active one."""

    ad_id: int
    ad_name: str
    shown: ModelVersion
    active: ModelVersion | None

    @property
    def is_active(self) -> bool:
        return self.active is not None and self.shown.pk == self.active.pk


@dataclass
class ConfidenceEffect:
    """What a minimum confidence keeps, and whose positive share it moves noticeably."""

    kept_faces: int
    all_faces: int
    # ad name -> (positive share without the filter, with it), for ads it moves noticeably
    moved: dict[str, tuple[float, float]]

    @property
    def kept_share(self) -> float:
        return self.kept_faces / self.all_faces if self.all_faces else 0.0


@dataclass
class CampaignResults:
    campaign: Campaign
    # (ad id, name) of every ad of the campaign, by name
    ads: list[tuple[int, str]]
    # The filters applied, each ad's shown model version resolved (`ad_versions`).
    filters: DashboardFilters
    headline: Headline
    breakdown: CampaignBreakdown
    verdict: comparisons.Verdict
    # The scan the figures come from; the timeline and key moments are read from it only
    # when asked (they read every viewer-second: the dashboard loads them after the page).
    scan: decisions.FacesScan
    # The viewer attribute broken down by ("" for none) and its rows.
    attribute: str
    segment_rows: list[comparisons.SegmentRow]
    norms: list[comparisons.Norm]
    versions: list[VersionNote]
    confidence: ConfidenceEffect | None
    # The shown model's measured accuracy (empty without a model).
    how_to_read: dict[str, object]
    unfinished_uploads: int
    # Faces kept but left out of the expression shares: quality under `ml.attentive.QUALITY_MIN`.
    unreadable_faces: int = 0
    # Viewers marked low quality in the campaign's uploads (and segment): left out of the
    # figures unless the filters put them back (`with_low_quality`).
    low_quality_viewers: int = 0

    @cached_property
    def timeline(self) -> Timelines:
        return self.scan.timelines()

    @cached_property
    def attention(self) -> dict[int, list[AttentionBin]]:
        """Each ad's attention per bin, in the timeline's bins."""
        return attention_read(
            campaign=self.campaign, filters=self.filters, width=self.timeline.width
        )

    @cached_property
    def moments(self) -> list[comparisons.KeyMoment]:
        eligible = [s.ad_id for s in self.verdict.standings if s.rankable]
        return _moments(self.timeline, self.ads, self.scan.readings(), eligible)

    @property
    def readings(self) -> dict[int, Reading]:
        return self.scan.readings()

    def reading(self, ad_id: int) -> Reading:
        return self.scan.reading(ad_id)

    @property
    def has_timeline(self) -> bool:
        """Whether any face shown has an offset (without reading the timeline)."""
        return self.scan.has_timeline()

    @property
    def summaries(self) -> list[AdSummary]:
        return self.breakdown.summaries

    @property
    def total_faces(self) -> int:
        return sum(s.faces for s in self.summaries)

    @property
    def shown_versions(self) -> list[ModelVersion]:
        return list({note.shown.pk: note.shown for note in self.versions}.values())


def campaign_results(
    *,
    campaign: Campaign,
    filters: DashboardFilters,
    headline: str | None = None,
    breakdown: str = "",
) -> CampaignResults:
    """Everything the campaign's dashboard shows under `filters` (as the dashboard's filter
    form gives them), ranked by the headline named `headline` (positive share by default)
    and broken down by the viewer attribute `breakdown` when one is named."""
    ads = list(
        Ad.objects.filter(campaign=campaign).order_by("name", "pk").values_list("pk", "name")
    )
    names = dict(ads)
    filters = dashboards.with_ad_versions(filters, ad_ids=list(names))
    chosen = headline_get(headline)
    faces = decisions.faces_scan(filters=filters, ad__campaign=campaign)
    units = faces.ad_units()
    readings = faces.readings()
    verdict = _verdict(campaign=campaign, filters=filters, ads=ads, headline=chosen, scan=faces)
    return CampaignResults(
        campaign=campaign,
        ads=ads,
        filters=filters,
        headline=chosen,
        breakdown=faces.breakdown(ad_names=names),
        verdict=verdict,
        scan=faces,
        attribute=breakdown,
        segment_rows=comparisons.segment_breakdown(
            campaign=campaign,
            units=units,
            attribute=breakdown,
            headline=chosen,
            readings=readings,
        )
        if breakdown and not chosen.attention
        else [],
        norms=[]
        if chosen.attention
        else comparisons.norms(
            campaign=campaign, standings=verdict.standings, headline=chosen, filters=filters
        ),
        versions=_version_notes(ads=ads, filters=filters),
        confidence=_confidence_effect(names, filters, faces),
        how_to_read=_how_to_read(filters),
        unfinished_uploads=batches.unfinished_upload_count(campaign=campaign),
        unreadable_faces=dashboards.unreadable_face_count(filters=filters, ad__campaign=campaign),
        low_quality_viewers=dashboards.low_quality_viewer_count(
            filters=filters, ad__campaign=campaign
        ),
    )


def _verdict(
    *,
    campaign: Campaign,
    filters: DashboardFilters,
    ads: list[tuple[int, str]],
    headline: Headline,
    scan: decisions.FacesScan,
) -> comparisons.Verdict:
    """The ads ranked by `headline`: on their faces' expressions, read as each ad's model
    reads them; or, for attention, on their frames, never corrected (not an expression)."""
    if headline.attention:
        rows = dashboards.attention_frame_counts(filters=filters, width=None, ad__campaign=campaign)
        return comparisons.verdict(
            ads=ads, units=attention_units(rows), headline=headline, readings={}
        )
    return comparisons.verdict(
        ads=ads, units=scan.ad_units(), headline=headline, readings=scan.readings()
    )


def attention_read(
    *, campaign: Campaign, filters: DashboardFilters, width: int
) -> dict[int, list[AttentionBin]]:
    """Each ad's attention per bin of `width` seconds, from its frames (`analytics.attention`)."""
    return attention_bins(
        dashboards.attention_frame_counts(filters=filters, width=width, ad__campaign=campaign),
        width=width,
    )


def _moments(
    timeline: Timelines,
    ads: list[tuple[int, str]],
    readings: dict[int, Reading],
    eligible: list[int],
) -> list[comparisons.KeyMoment]:
    """Where each ad with enough units changes beyond noise on its positive or negative
    share."""
    return comparisons.key_moments(
        timeline=timeline,
        ad_names=dict(ads),
        headlines=[HEADLINES["positive"], HEADLINES["negative"]],
        readings=readings,
        eligible=eligible,
    )


@dataclass
class CampaignTimeline:
    """The dashboard's timeline section alone: what it loads after the page."""

    ads: list[tuple[int, str]]
    headline: Headline
    timeline: Timelines
    readings: dict[int, Reading]
    # Ads with enough units to rank (the one small-sample rule): the others get no moments.
    eligible: list[int]
    # Each ad's attention per bin, in the timeline's bins.
    attention: dict[int, list[AttentionBin]]

    @cached_property
    def moments(self) -> list[comparisons.KeyMoment]:
        return _moments(self.timeline, self.ads, self.readings, self.eligible)


def campaign_timeline(
    *, campaign: Campaign, filters: DashboardFilters, headline: str | None = None
) -> CampaignTimeline:
    """The campaign's timeline and key moments under `filters`, as `campaign_results` has
    them, without the rest of the page's figures."""
    ads = list(
        Ad.objects.filter(campaign=campaign).order_by("name", "pk").values_list("pk", "name")
    )
    filters = dashboards.with_ad_versions(filters, ad_ids=[pk for pk, _ in ads])
    uploads = decisions.uploads_in_scope(filters=filters, ad__campaign=campaign)
    timeline = decisions.timelines_read(filters=filters, uploads=uploads, ad__campaign=campaign)
    return CampaignTimeline(
        ads=ads,
        headline=headline_get(headline),
        timeline=timeline,
        attention=attention_read(campaign=campaign, filters=filters, width=timeline.width),
        readings=dashboards.ad_readings(filters=filters, ad_ids=[pk for pk, _ in ads]),
        eligible=[
            ad_id
            for ad_id, count in decisions.ad_counts(filters=filters, ad__campaign=campaign).items()
            if count.enough
        ],
    )


def _version_notes(*, ads: list[tuple[int, str]], filters: DashboardFilters) -> list[VersionNote]:
    """Which model version's results each ad shows, so the page can say so (and offer to
    re-analyse with the active one)."""
    active = model_version_active()
    if filters.model_version is not None:
        return [VersionNote(pk, name, filters.model_version, active) for pk, name in ads]
    versions = {
        v.pk: v
        for v in ModelVersion.objects.filter(pk__in=set((filters.ad_versions or {}).values()))
    }
    return [
        VersionNote(pk, name, versions[filters.ad_versions[pk]], active)
        for pk, name in ads
        if filters.ad_versions and pk in filters.ad_versions
    ]


def _confidence_effect(
    names: dict[int, str], filters: DashboardFilters, faces: decisions.FacesScan
) -> ConfidenceEffect | None:
    """With a minimum confidence: how many faces it keeps and whose positive share it moves
    (each share as the page reads it, corrected at its own confidence step)."""
    if filters.min_confidence <= 0:
        return None
    kept, everything = faces.ad_units(), faces.ad_units(before_confidence=True)
    before_readings = faces.readings(before_confidence=True)
    positive = HEADLINES["positive"]
    moved = {}
    for ad_id, group in everything.items():
        before = decisions.estimate_of(group, positive, before_readings[ad_id]).value
        after = decisions.estimate_of(
            kept.get(ad_id) or UnitCounts(CLASSES), positive, faces.reading(ad_id)
        ).value
        if abs(after - before) > CONFIDENCE_SHIFT_WARNING:
            moved[names.get(ad_id, "?")] = (before, after)
    return ConfidenceEffect(
        kept_faces=sum(u.faces for u in kept.values()),
        all_faces=sum(u.faces for u in everything.values()),
        moved=moved,
    )


def _how_to_read(filters: DashboardFilters) -> dict[str, object]:
    """The shown model's measured accuracy and errors on real photos, for the panel that
    says what the figures are and how they were corrected."""
    model_version = filters.model_version or model_version_active()
    if model_version is None:
        return {}
    report = model_version_report(model_version)
    real = report.get("real_photos", {})
    ours = real.get("reports", {}) if isinstance(real, dict) else {}
    first = next(iter(ours.values()), None) if isinstance(ours, dict) else None
    measurement = model_version.measurement or {}
    return {
        "model_version": model_version,
        "fer2013_accuracy": (model_version.metrics or {}).get("accuracy"),
        "real_accuracy": first.get("accuracy") if isinstance(first, dict) else None,
        "real_photos": first.get("photos") if isinstance(first, dict) else None,
        "real_macro_f1": first.get("macro_f1") if isinstance(first, dict) else None,
        "measured_photos": measurement.get("with_face"),
        "misreadings": _misreadings(measurement),
        "unmeasured": emotions_unmeasured(measurement),
        "as_classified": filters.as_classified,
    }


def _misreadings(measurement: dict[str, object]) -> dict[str, float]:
    """On the measured real photos: the share of neutral or surprised faces read as
    negative (`other_as_negative`), of happy faces read as negative
    (`positive_as_negative`), and of negative faces read as negative (`negative_as_negative`);
    empty without a measurement."""
    confusion = measurement.get("headline_confusion")
    if not isinstance(confusion, dict):
        return {}
    groups = list(confusion.get("groups") or [])
    rows = dict(zip(groups, confusion.get("rows_true_columns_predicted") or [], strict=False))
    if not {"positive", "negative", "other"} <= set(rows) or not all(map(sum, rows.values())):
        return {}
    negative = groups.index("negative")
    return {f"{group}_as_negative": row[negative] / sum(row) for group, row in rows.items()}
