"""Dashboard, ad, photo and export views: parse filters, call the selectors, render.

Every object is fetched through a team-scoped selector, so another team's campaign, ad, photo
or export is a 404.
"""

from __future__ import annotations

import io

from django.contrib.auth.decorators import login_required
from django.core.files.storage import default_storage
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.text import slugify
from django.views.decorators.http import require_GET

from campaigns import charts, exports
from campaigns.forms import DashboardFilterForm
from campaigns.models import Ad, Campaign
from campaigns.requests import AuthenticatedHttpRequest
from campaigns.selectors import batches, dashboards, scoping
from campaigns.selectors.dashboards import DashboardFilters
from campaigns.stats import MIN_EXPECTED_COUNT
from inference.decoding import photo_as_jpeg
from ml import CLASSES

PHOTOS_PER_PAGE = 24


def _filters(request: HttpRequest) -> tuple[DashboardFilterForm, DashboardFilters]:
    form = DashboardFilterForm(request.GET)
    return form, form.filters()


def _int_param(request: HttpRequest, name: str) -> int | None:
    try:
        return int(request.GET.get(name, ""))
    except ValueError:
        return None


@login_required
@require_GET
def campaign_dashboard(request: AuthenticatedHttpRequest, campaign_id: int) -> HttpResponse:
    campaign = scoping.campaign_get(user=request.user, campaign_id=campaign_id)
    form, filters = _filters(request)
    breakdown = dashboards.campaign_breakdown(campaign=campaign, filters=filters)
    summaries = breakdown.summaries
    first, second = dashboards.comparison_pair(
        summaries, first_id=_int_param(request, "a"), second_id=_int_param(request, "b")
    )
    comparison = dashboards.ad_comparison(first, second) if first and second else None
    return render(
        request,
        "campaigns/campaign_dashboard.html",
        {
            "campaign": campaign,
            "form": form,
            "filters": filters,
            "summaries": summaries,
            "with_faces": [s for s in summaries if s.faces],
            "total_faces": sum(s.faces for s in summaries),
            "unfinished_uploads": batches.unfinished_upload_count(campaign=campaign),
            "first": first,
            "second": second,
            "comparison": comparison,
            "min_expected_count": MIN_EXPECTED_COUNT,
            "bar_chart": charts.emotion_mix_bars(summaries),
            "timeline_chart": charts.emotion_mix_timeline(breakdown.timeline),
            "positive_emotions": dashboards.POSITIVE_EMOTIONS,
            "negative_emotions": dashboards.NEGATIVE_EMOTIONS,
            "query": request.GET.urlencode(),
        },
    )


@login_required
@require_GET
def ad_detail(request: AuthenticatedHttpRequest, ad_id: int) -> HttpResponse:
    ad = scoping.ad_get(user=request.user, ad_id=ad_id)
    form, filters = _filters(request)
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
            "summary": dashboards.ad_summary(ad=ad, filters=filters),
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
    stamp = timezone.now().strftime("%Y%m%d")
    return exports.streaming_csv_response(
        filename=f"{slugify(stem) or 'export'}-{level}-{stamp}.csv",
        header=header,
        rows=rows,
        bom=request.GET.get("bom") in ("1", "true", "on"),
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
