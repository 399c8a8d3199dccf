"""Dashboard, ad, photo and export views: parse filters, call the selectors, render.

Every object is fetched through a team-scoped selector, so another team's campaign, ad, photo
or export is a 404.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import PurePosixPath

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from campaigns import charts, exports
from campaigns.archives import VIDEO_EXTENSIONS
from campaigns.forms import DashboardFilterForm
from campaigns.models import Ad, Campaign
from campaigns.requests import AuthenticatedHttpRequest
from campaigns.selectors import batches, dashboards, decisions, scoping
from campaigns.selectors.dashboards import DashboardFilters
from campaigns.services import reprocess
from campaigns.stats import UnitCounts
from inference.decoding import photo_as_jpeg, pixels_as_jpeg
from inference.models import ModelVersion
from inference.selectors import model_version_active, model_version_report
from inference.video import VideoError, read_frames
from ml import CLASSES

PHOTOS_PER_PAGE = 24


def _filters(request: HttpRequest) -> tuple[DashboardFilterForm, DashboardFilters]:
    form = DashboardFilterForm(request.GET)
    return form, form.filters()


# A confidence filter that moves an ad's positive share by more than this is called out.
CONFIDENCE_SHIFT_WARNING = 0.05


@login_required
@require_GET
def campaign_dashboard(request: AuthenticatedHttpRequest, campaign_id: int) -> HttpResponse:
    campaign = scoping.campaign_get(user=request.user, campaign_id=campaign_id)
    segments = decisions.attribute_values(campaign=campaign)
    form = DashboardFilterForm(request.GET, segments=segments)
    ads = list(
        Ad.objects.filter(campaign=campaign).order_by("name", "pk").values_list("pk", "name")
    )
    ad_ids = [pk for pk, _ in ads]
    filters = dashboards.with_ad_versions(form.filters(), ad_ids=ad_ids)
    chosen = form.cleaned_data if form.is_valid() else {}
    headline = decisions.headline_get(chosen.get("headline"))
    faces = decisions.faces_scan(filters=filters, ad__campaign=campaign)
    breakdown = faces.breakdown(ad_names=dict(ads))
    summaries = breakdown.summaries
    units = faces.ad_units()
    verdict = decisions.verdict(ads=ads, units=units, headline=headline)
    timeline = faces.timelines()
    names = dict(ads)
    moments = decisions.key_moments(
        timeline=timeline,
        ad_names=names,
        headlines=[decisions.HEADLINES["positive"], decisions.HEADLINES["negative"]],
    )
    attribute = chosen.get("breakdown") or ""
    segment_rows = (
        decisions.segment_breakdown(
            campaign=campaign, units=units, attribute=attribute, headline=headline
        )
        if attribute
        else []
    )
    notes = _version_notes(ads=ads, filters=filters)
    return render(
        request,
        "campaigns/campaign_dashboard.html",
        {
            "campaign": campaign,
            "form": form,
            "filters": filters,
            "headline": headline,
            "summaries": summaries,
            "with_faces": [s for s in summaries if s.faces],
            "total_faces": sum(s.faces for s in summaries),
            "unfinished_uploads": batches.unfinished_upload_count(campaign=campaign),
            "verdict": verdict,
            "timeline": timeline,
            "moments": moments,
            "video_creatives": {
                ad.pk for ad in Ad.objects.filter(campaign=campaign) if ad_creative_is_video(ad)
            },
            "attribute": attribute,
            "segment_rows": segment_rows,
            "ads": ads,
            "norms": decisions.norms(
                campaign=campaign,
                standings=verdict.standings,
                headline=headline,
                campaign_values=_norm_values(faces, filters, headline),
            ),
            "versions": notes,
            "shown_versions": list({note.shown.pk: note.shown for note in notes}.values()),
            "confidence": _confidence_effect(campaign, filters, faces),
            "how_to_read": _how_to_read(filters),
            "bar_chart": charts.emotion_mix_bars(summaries),
            "timeline_chart": charts.headline_timeline(timeline, ads=ads, headline=headline),
            "days_chart": charts.ad_upload_days(breakdown.ad_days, ads=ads),
            "positive_emotions": dashboards.POSITIVE_EMOTIONS,
            "negative_emotions": dashboards.NEGATIVE_EMOTIONS,
            "query": request.GET.urlencode(),
        },
    )


def _norm_values(
    faces: decisions.FacesScan, filters: DashboardFilters, headline: decisions.Headline
) -> dict[int, float] | None:
    """The campaign's own ads' values for the team norm, from the page's scan, unless the
    page is narrowed by more than the minimum confidence (the norm is never narrowed)."""
    narrowed = (filters.date_from, filters.date_to, filters.segment, filters.model_version)
    return None if any(narrowed) else faces.norm_values(headline)


@dataclass
class _VersionNote:
    ad_id: int
    ad_name: str
    shown: ModelVersion
    active: ModelVersion | None

    @property
    def is_active(self) -> bool:
        return self.active is not None and self.shown.pk == self.active.pk


def _version_notes(*, ads: list[tuple[int, str]], filters: DashboardFilters) -> list[_VersionNote]:
    """Which model version's results each ad shows, so the page can say so (and offer to
    re-analyse with the active one)."""
    active = model_version_active()
    if filters.model_version is not None:
        return [_VersionNote(pk, name, filters.model_version, active) for pk, name in ads]
    versions = {
        v.pk: v
        for v in ModelVersion.objects.filter(pk__in=set((filters.ad_versions or {}).values()))
    }
    return [
        _VersionNote(pk, name, versions[filters.ad_versions[pk]], active)
        for pk, name in ads
        if filters.ad_versions and pk in filters.ad_versions
    ]


@dataclass
class _ConfidenceEffect:
    kept_faces: int
    all_faces: int
    # ad name -> (positive share without the filter, with it), for ads it moves noticeably
    moved: dict[str, tuple[float, float]]

    @property
    def kept_share(self) -> float:
        return self.kept_faces / self.all_faces if self.all_faces else 0.0


def _confidence_effect(
    campaign: Campaign, filters: DashboardFilters, faces: decisions.FacesScan
) -> _ConfidenceEffect | None:
    """With a minimum confidence: how many faces it keeps and whose mix it moves."""
    if filters.min_confidence <= 0:
        return None
    kept, everything = faces.ad_units(), faces.ad_units(before_confidence=True)
    positive = decisions.HEADLINES["positive"]
    moved = {}
    names = dict(Ad.objects.filter(campaign=campaign).values_list("pk", "name"))
    for ad_id, group in everything.items():
        before = decisions.estimate_of(group, positive).value
        after = decisions.estimate_of(kept.get(ad_id) or UnitCounts(CLASSES), positive).value
        if abs(after - before) > CONFIDENCE_SHIFT_WARNING:
            moved[names.get(ad_id, "?")] = (before, after)
    return _ConfidenceEffect(
        kept_faces=sum(u.faces for u in kept.values()),
        all_faces=sum(u.faces for u in everything.values()),
        moved=moved,
    )


def _how_to_read(filters: DashboardFilters) -> dict[str, object]:
    """The shown model's measured accuracy, for the panel that says what the figures are."""
    model_version = filters.model_version or model_version_active()
    if model_version is None:
        return {}
    report = model_version_report(model_version)
    real = report.get("real_photos", {})
    ours = real.get("reports", {}) if isinstance(real, dict) else {}
    first = next(iter(ours.values()), None) if isinstance(ours, dict) else None
    return {
        "model_version": model_version,
        "fer2013_accuracy": (model_version.metrics or {}).get("accuracy"),
        "real_accuracy": first.get("accuracy") if isinstance(first, dict) else None,
        "real_photos": first.get("photos") if isinstance(first, dict) else None,
        "real_macro_f1": first.get("macro_f1") if isinstance(first, dict) else None,
    }


@login_required
@require_GET
def ad_detail(request: AuthenticatedHttpRequest, ad_id: int) -> HttpResponse:
    ad = scoping.ad_get(user=request.user, ad_id=ad_id)
    form, filters = _filters(request)
    filters = dashboards.for_one_ad(filters, ad_id=ad.pk)
    photos = batches.photo_page(ad=ad, model_version=filters.model_version)
    page = Paginator(photos, PHOTOS_PER_PAGE).get_page(request.GET.get("page"))
    ad_batches = list(batches.batch_list(ad=ad))
    return render(
        request,
        "campaigns/ad_detail.html",
        {
            "ad": ad,
            "campaign": ad.campaign,
            "form": form,
            "filters": filters,
            "summary": decisions.ad_summary(ad=ad, filters=filters),
            "batches": ad_batches,
            "processing": any(not b.is_finished for b in ad_batches),
            "page": page,
            "colours": charts.EMOTION_COLOURS,
        },
    )


@login_required
@require_GET
def photo_detail(request: AuthenticatedHttpRequest, image_id: int) -> HttpResponse:
    image = scoping.image_get(user=request.user, image_id=image_id)
    _, filters = _filters(request)
    filters = dashboards.for_one_ad(filters, ad_id=image.batch.ad_id)
    faces = list(dashboards.photo_faces(image=image, filters=filters))
    rows = [
        {
            "face": face,
            "index": index,
            "probabilities": [
                (name, getattr(face, f"prob_{name}"), charts.EMOTION_COLOURS[name])
                for name in CLASSES
            ],
        }
        for index, face in enumerate(faces)
    ]
    return render(
        request,
        "campaigns/photo_detail.html",
        {
            "image": image,
            "ad": image.batch.ad,
            "campaign": image.batch.ad.campaign,
            "filters": filters,
            "faces": rows,
            "colours": charts.EMOTION_COLOURS,
        },
    )


@login_required
@require_GET
def photo_file(request: AuthenticatedHttpRequest, image_id: int) -> FileResponse:
    """The stored photo, read through default_storage; private to the owning team."""
    image = scoping.image_get(user=request.user, image_id=image_id)
    if not image.file or not default_storage.exists(image.file.name):
        raise Http404("This photo is no longer stored.")
    stored = default_storage.open(image.file.name, "rb")
    if image.file.name.endswith(".heic"):
        # Browsers do not show HEIC: send the upright photo as a JPEG of the same size.
        with stored:
            jpeg = photo_as_jpeg(stored.read())
        response = FileResponse(io.BytesIO(jpeg), content_type="image/jpeg")
    else:
        response = FileResponse(stored)
    response["Cache-Control"] = "private, max-age=3600"
    return response


def _export(
    request: HttpRequest, *, campaign: Campaign, ad: Ad | None = None, stem: str
) -> StreamingHttpResponse:
    _, filters = _filters(request)
    filters = dashboards.with_ad_versions(
        filters, ad_ids=[ad.pk] if ad is not None else campaign.ads.values_list("pk", flat=True)
    )
    level = request.GET.get("level", "faces")
    if level not in exports.EXPORT_LEVELS:
        raise Http404(f"Unknown export level; use level={' or '.join(exports.EXPORT_LEVELS)}.")
    try:
        bin_seconds = float(request.GET.get("bin_seconds") or exports.DEFAULT_BIN_SECONDS)
    except ValueError:
        bin_seconds = 0.0
    if not bin_seconds > 0:
        raise Http404("bin_seconds must be a number of seconds above 0.")
    header, rows = exports.export_table(
        level=level, campaign=campaign, filters=filters, ad=ad, bin_seconds=bin_seconds
    )
    bom = exports.bom_requested(request.GET.get("bom"))
    return exports.streaming_csv_response(
        filename=exports.export_filename(
            stem=stem,
            level=level,
            bom=bom,
            filters=filters,
            bin_seconds=bin_seconds if level == "timeline" else None,
        ),
        header=header,
        rows=rows,
        bom=bom,
    )


@login_required
@require_GET
def campaign_export(request: AuthenticatedHttpRequest, campaign_id: int) -> StreamingHttpResponse:
    campaign = scoping.campaign_get(user=request.user, campaign_id=campaign_id)
    return _export(request, campaign=campaign, stem=campaign.name)


@login_required
@require_GET
def ad_export(request: AuthenticatedHttpRequest, ad_id: int) -> StreamingHttpResponse:
    ad = scoping.ad_get(user=request.user, ad_id=ad_id)
    return _export(request, campaign=ad.campaign, ad=ad, stem=f"{ad.campaign.name}-{ad.name}")


@login_required
@require_POST
def ad_reanalyse(request: AuthenticatedHttpRequest, ad_id: int) -> HttpResponse:
    """A marketer re-analyses the ad's uploads with the active model (others' results stay)."""
    ad = scoping.ad_get(user=request.user, ad_id=ad_id)
    model_version = model_version_active()
    if model_version is None:
        messages.error(request, "No model version is active: ask an administrator to activate one.")
    else:
        try:
            queued = reprocess.ad_reprocess(ad=ad, model_version=model_version)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(
                request,
                f"{len(queued)} upload(s) of {ad.name} are being analysed again with "
                f"{model_version.name} {model_version.version}; the figures follow as they finish.",
            )
    back = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
        back = reverse("campaigns:ad_detail", args=[ad.pk])
    return redirect(back)


@login_required
@require_GET
def creative_frame(request: AuthenticatedHttpRequest, ad_id: int) -> HttpResponse:
    """The frame of the ad's video creative at ?t= seconds, as a JPEG (a key moment's picture)."""
    ad = scoping.ad_get(user=request.user, ad_id=ad_id)
    try:
        seconds = max(0.0, float(request.GET.get("t", "0")))
    except ValueError as exc:
        raise Http404("t must be a number of seconds.") from exc
    if not ad.creative or not ad_creative_is_video(ad):
        raise Http404("This ad's creative is not a video.")
    try:
        with default_storage.open(ad.creative.name, "rb") as handle:
            frames = list(read_frames(handle, [seconds], max_side=480))
    except (OSError, VideoError) as exc:
        raise Http404("The creative's video cannot be read.") from exc
    if not frames:
        raise Http404("The creative is shorter than that.")
    response = HttpResponse(pixels_as_jpeg(frames[0][1]), content_type="image/jpeg")
    response["Cache-Control"] = "private, max-age=86400"
    return response


def ad_creative_is_video(ad: Ad) -> bool:
    return PurePosixPath(ad.creative.name).suffix.lower() in VIDEO_EXTENSIONS
