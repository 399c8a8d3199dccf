"""The analysis' pages: the campaign list with its figures, dashboards, ads, photos and
exports. Parse filters, call the selectors, render (the templates stay in
templates/campaigns/, where the site's pages are).

Every object is fetched through a team-scoped selector, so another team's campaign, ad, photo
or export is a 404.
"""

from __future__ import annotations

import io
import math
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.core.paginator import Paginator
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    QueryDict,
    StreamingHttpResponse,
)
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from analytics import charts, exports, results
from analytics.forms import DashboardFilterForm
from analytics.headlines import NEGATIVE_EMOTIONS, POSITIVE_EMOTIONS
from analytics.selectors import dashboards, decisions
from analytics.selectors.dashboards import DashboardFilters
from campaigns.creatives import CreativeFrameMissing, ad_creative_is_video, creative_frame_jpeg
from campaigns.models import Ad, Campaign, ReactionImage
from campaigns.requests import AuthenticatedHttpRequest
from campaigns.selectors import batches, scoping
from campaigns.services import reprocess
from campaigns.storage import STORE_ERRORS, STORE_UNREACHABLE
from inference.decoding import photo_as_jpeg
from inference.selectors import model_version_active
from ml import CLASSES
from ml.attentive import ATTENTIVE_MAX_PITCH, ATTENTIVE_MAX_YAW, EYES_OPEN_MIN, QUALITY_MIN

PHOTOS_PER_PAGE = 24


def _filters(
    request: HttpRequest, *, campaign: Campaign | None = None
) -> tuple[DashboardFilterForm, DashboardFilters]:
    """The page's filters; with the campaign, its viewer segments are valid choices too."""
    segments = decisions.attribute_values(campaign=campaign) if campaign is not None else None
    form = DashboardFilterForm(request.GET, segments=segments)
    return form, form.filters()


def _dashboard_form(
    request: AuthenticatedHttpRequest, campaign_id: int
) -> tuple[Campaign, DashboardFilterForm, dict[str, Any]]:
    """The campaign and the dashboard's filter form (its segments are valid choices), and
    what the form chose when valid."""
    campaign = scoping.campaign_get(user=request.user, campaign_id=campaign_id)
    form = DashboardFilterForm(request.GET, segments=decisions.attribute_values(campaign=campaign))
    return campaign, form, form.cleaned_data if form.is_valid() else {}


def _campaign_results(
    request: AuthenticatedHttpRequest, campaign_id: int
) -> tuple[Campaign, DashboardFilterForm, results.CampaignResults]:
    campaign, form, chosen = _dashboard_form(request, campaign_id)
    found = results.campaign_results(
        campaign=campaign,
        filters=form.filters(),
        headline=chosen.get("headline"),
        breakdown=chosen.get("breakdown") or "",
    )
    return campaign, form, found


def dashboard_context(
    *, campaign: Campaign, form: DashboardFilterForm, found: results.CampaignResults, query: str
) -> dict[str, Any]:
    """What the dashboard's template shows of `found`: the team's page and a share link's
    read-only copy (reports/) render the same figures from it."""
    summaries = found.summaries
    return {
        "campaign": campaign,
        "form": form,
        "filters": found.filters,
        "headline": found.headline,
        "summaries": summaries,
        "with_faces": [s for s in summaries if s.faces],
        "total_faces": found.total_faces,
        "unfinished_uploads": found.unfinished_uploads,
        "unreadable_faces": found.unreadable_faces,
        "low_quality_viewers": found.low_quality_viewers,
        "with_low_quality_query": _with_low_quality_query(query),
        "quality_min": QUALITY_MIN,
        "verdict": found.verdict,
        "has_timeline": found.has_timeline,
        "attribute": found.attribute,
        "segment_rows": found.segment_rows,
        "ads": found.ads,
        "norms": found.norms,
        "versions": found.versions,
        "shown_versions": found.shown_versions,
        "confidence": found.confidence,
        "how_to_read": found.how_to_read,
        "bar_chart": charts.emotion_mix_bars(summaries),
        "days_chart": charts.ad_upload_days(
            found.breakdown.ad_days, ads=found.ads, readings=found.readings
        ),
        "positive_emotions": POSITIVE_EMOTIONS,
        "negative_emotions": NEGATIVE_EMOTIONS,
        "query": query,
    }


def _with_low_quality_query(query: str) -> str:
    """`query` with the filter that puts the viewers marked low quality back."""
    params = QueryDict(query, mutable=True)
    params["with_low_quality"] = "on"
    return params.urlencode()


@login_required
def campaign_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    """The home page: the user's campaigns, each with its faces and dominant emotion."""
    campaigns = list(scoping.campaign_list(user=request.user))
    # Faces analysed and dominant emotion per campaign, by the active model: one GROUP BY.
    overviews = dashboards.campaign_overviews(
        user=request.user, model_version=dashboards.default_model_version()
    )
    rows = [(campaign, overviews.get(campaign.pk)) for campaign in campaigns]
    return render(
        request,
        "campaigns/campaign_list.html",
        {"campaigns": rows, "teams": scoping.team_list(user=request.user)},
    )


@login_required
@require_GET
def campaign_dashboard(request: AuthenticatedHttpRequest, campaign_id: int) -> HttpResponse:
    """The campaign's results; the timeline and key moments (which read every viewer's
    every second) follow from `campaign_dashboard_timeline` once the page is shown."""
    campaign, form, found = _campaign_results(request, campaign_id)
    return render(
        request,
        "campaigns/campaign_dashboard.html",
        dashboard_context(campaign=campaign, form=form, found=found, query=request.GET.urlencode()),
    )


def timeline_context(*, campaign: Campaign, found: results.CampaignTimeline) -> dict[str, Any]:
    """What the dashboard's timeline fragment shows of `found` (the team's page and a share
    link's)."""
    return {
        "campaign": campaign,
        "headline": found.headline,
        "timeline": found.timeline,
        "moments": found.moments,
        "video_creatives": {
            ad.pk for ad in Ad.objects.filter(campaign=campaign) if ad_creative_is_video(ad)
        },
        "timeline_chart": charts.attention_timeline(
            found.attention, ads=found.ads, width=found.timeline.width
        )
        if found.headline.attention
        else charts.headline_timeline(
            found.timeline, ads=found.ads, headline=found.headline, readings=found.readings
        ),
        "corrected": any(r.corrected for r in found.readings.values()),
        "attention": [
            (name, found.attention[pk]) for pk, name in found.ads if pk in found.attention
        ],
        "attention_rule": {"yaw": ATTENTIVE_MAX_YAW, "pitch": ATTENTIVE_MAX_PITCH},
    }


@login_required
@require_GET
def campaign_dashboard_timeline(
    request: AuthenticatedHttpRequest, campaign_id: int
) -> HttpResponse:
    """The dashboard's timeline and key moments under the page's filters (an HTML fragment
    the page loads into its #timeline and #key-moments sections)."""
    campaign, form, chosen = _dashboard_form(request, campaign_id)
    found = results.campaign_timeline(
        campaign=campaign, filters=form.filters(), headline=chosen.get("headline")
    )
    return render(
        request,
        "campaigns/dashboard_timeline.html",
        timeline_context(campaign=campaign, found=found),
    )


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
            "active_model": model_version_active(),
            "creative_is_video": bool(ad.creative) and ad_creative_is_video(ad),
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
            "eyes_open_min": EYES_OPEN_MIN,
            "quality_min": QUALITY_MIN,
        },
    )


@login_required
@require_GET
def photo_file(request: AuthenticatedHttpRequest, image_id: int) -> HttpResponseBase:
    """The stored photo, streamed from default_storage after the team check: the bucket or
    folder is never public, and no storage URL reaches the browser."""
    image = scoping.image_get(user=request.user, image_id=image_id)
    return photo_response(image)


def photo_response(image: ReactionImage) -> HttpResponseBase:
    """The stored photo of an already scoped `image` (the team's pages, and a share link that
    allows photos)."""
    if not image.file:
        raise Http404("This photo is no longer stored.")
    try:
        stored = default_storage.open(image.file.name, "rb")
    except FileNotFoundError as exc:
        raise Http404("This photo is no longer stored.") from exc
    except STORE_ERRORS:
        return _store_unreachable("photo")
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
    _, filters = _filters(request, campaign=campaign)
    filters = dashboards.with_ad_versions(
        filters, ad_ids=[ad.pk] if ad is not None else campaign.ads.values_list("pk", flat=True)
    )
    level = request.GET.get("level", "faces")
    if level not in exports.EXPORT_LEVELS:
        raise Http404(f"Unknown export level; use level={' or '.join(exports.EXPORT_LEVELS)}.")
    return exports.export_response(
        level=level,
        campaign=campaign,
        filters=filters,
        stem=stem,
        bom=exports.bom_requested(request.GET.get("bom")),
        ad=ad,
        bin_seconds=bin_seconds_requested(request),
        dialect="eu" if request.GET.get("dialect") == "eu" else "excel",
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
    return creative_frame_response(ad, request.GET.get("t", "0"))


def creative_frame_response(ad: Ad, t: str) -> HttpResponse:
    """The frame of an already scoped ad's video creative at second `t`, as a JPEG."""
    seconds = _second_of_ad(t)
    if seconds is None:
        return HttpResponseBadRequest(
            f"t must be a second of the ad, from 0 to {settings.AD_MAX_SECONDS:,}.",
            content_type="text/plain; charset=utf-8",
        )
    try:
        jpeg = creative_frame_jpeg(ad=ad, seconds=seconds)
    except CreativeFrameMissing as exc:
        raise Http404(str(exc)) from exc
    except STORE_ERRORS:
        return _store_unreachable("creative")
    response = HttpResponse(jpeg, content_type="image/jpeg")
    response["Cache-Control"] = "private, max-age=86400"
    return response


def bin_seconds_requested(request: HttpRequest) -> float:
    """The timeline export's bin width from ?bin_seconds= (1 s without one); Http404 for
    anything but a number of seconds above 0."""
    try:
        bin_seconds = float(request.GET.get("bin_seconds") or exports.DEFAULT_BIN_SECONDS)
    except ValueError:
        bin_seconds = 0.0
    if not bin_seconds > 0:
        raise Http404("bin_seconds must be a number of seconds above 0.")
    return bin_seconds


def _second_of_ad(raw: str) -> float | None:
    """?t= as a second of the ad (0 to AD_MAX_SECONDS); None for anything else (text, inf,
    1e300: a seek there overflowed)."""
    try:
        seconds = float(raw)
    except ValueError:
        return None
    return seconds if math.isfinite(seconds) and 0 <= seconds <= settings.AD_MAX_SECONDS else None


def _store_unreachable(what: str) -> HttpResponse:
    """503: the file store failed (the file itself may well be there); retry shortly."""
    response = HttpResponse(
        f"The {what} cannot be shown just now: {STORE_UNREACHABLE}. Try again in a minute.",
        status=503,
        content_type="text/plain; charset=utf-8",
    )
    response["Retry-After"] = "60"
    return response
