"""Dashboard, ad, photo and export views: parse filters, call `campaigns.dashboards`, render.

Every object is fetched through a team-scoped selector, so another team's campaign, ad, photo
or export is a 404.
"""

from __future__ import annotations

import datetime as dt

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.files.storage import default_storage
from django.core.paginator import Paginator
from django.db.models import Prefetch
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.text import slugify
from django.views.decorators.http import require_GET

from campaigns import dashboards, exports, selectors
from campaigns.dashboards import DashboardFilters
from campaigns.models import Campaign, Face
from campaigns.stats import MIN_EXPECTED_COUNT
from inference.models import ModelVersion
from ml import CLASSES

PHOTOS_PER_PAGE = 24

# One colour per emotion, the same on every chart.
EMOTION_COLOURS = {
    "angry": "#d62728",
    "disgust": "#8c564b",
    "fear": "#9467bd",
    "happy": "#2ca02c",
    "neutral": "#7f7f7f",
    "sad": "#1f77b4",
    "surprise": "#ff7f0e",
}


class DashboardFilterForm(forms.Form):
    date_from = forms.DateField(
        required=False, label="Uploaded from", widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(
        required=False, label="Uploaded to", widget=forms.DateInput(attrs={"type": "date"})
    )
    min_confidence = forms.FloatField(
        required=False,
        min_value=0.0,
        max_value=1.0,
        label="Minimum confidence",
        help_text="Only faces whose top probability is at least this (0 to 1).",
        widget=forms.NumberInput(attrs={"step": "0.05"}),
    )
    model_version = forms.ModelChoiceField(
        queryset=ModelVersion.objects.all(),
        required=False,
        empty_label="Active model",
        label="Model version",
    )

    def clean(self) -> dict:
        data = super().clean()
        if data.get("date_from") and data.get("date_to") and data["date_to"] < data["date_from"]:
            raise forms.ValidationError("The end date is before the start date.")
        return data

    def filters(self) -> DashboardFilters:
        """The filters to apply; invalid input falls back to the defaults (errors are shown)."""
        data = self.cleaned_data if self.is_valid() else {}
        return DashboardFilters(
            model_version=data.get("model_version") or dashboards.default_model_version(),
            date_from=data.get("date_from"),
            date_to=data.get("date_to"),
            min_confidence=data.get("min_confidence") or 0.0,
        )


def _filters(request: HttpRequest) -> tuple[DashboardFilterForm, DashboardFilters]:
    form = DashboardFilterForm(request.GET)
    return form, form.filters()


def _bar_chart(summaries: list[dashboards.AdSummary]) -> dict:
    """Plotly traces for 100% stacked bars, one per emotion, with Wilson 95% error bars."""
    with_faces = [s for s in summaries if s.faces]
    traces = []
    for index, name in enumerate(CLASSES):
        shares = [s.shares[index] for s in with_faces]
        traces.append(
            {
                "type": "bar",
                "name": name,
                "x": [s.name for s in with_faces],
                "y": [round(100 * sh.share, 2) for sh in shares],
                "customdata": [
                    [sh.count, round(100 * sh.interval.low, 1), round(100 * sh.interval.high, 1)]
                    for sh in shares
                ],
                "hovertemplate": (
                    "%{x}<br>" + name + ": %{y:.1f}% (%{customdata[0]} faces)"
                    "<br>95% CI %{customdata[1]}–%{customdata[2]}%<extra></extra>"
                ),
                "marker": {"color": EMOTION_COLOURS[name]},
                "error_y": {
                    "type": "data",
                    "symmetric": False,
                    "array": [round(100 * (sh.interval.high - sh.share), 2) for sh in shares],
                    "arrayminus": [round(100 * (sh.share - sh.interval.low), 2) for sh in shares],
                    "thickness": 1,
                    "width": 3,
                    "color": "#333",
                },
            }
        )
    return {"traces": traces, "faces": [s.faces for s in with_faces]}


def _timeline_chart(timeline: list[tuple[dt.date, dict[str, int]]]) -> dict:
    days = [day.isoformat() for day, _ in timeline]
    return {
        "traces": [
            {
                "type": "scatter",
                "mode": "lines",
                "stackgroup": "mix",
                "groupnorm": "percent",
                "name": name,
                "x": days,
                "y": [counts[name] for _, counts in timeline],
                "line": {"color": EMOTION_COLOURS[name]},
            }
            for name in CLASSES
        ],
        "days": len(days),
    }


@login_required
@require_GET
def campaign_dashboard(request: HttpRequest, campaign_id: int) -> HttpResponse:
    campaign = selectors.campaign_get(user=request.user, campaign_id=campaign_id)
    form, filters = _filters(request)
    breakdown = dashboards.campaign_breakdown(campaign=campaign, filters=filters)
    summaries = breakdown.summaries
    with_faces = [s for s in summaries if s.faces]
    by_id = {s.ad_id: s for s in with_faces}
    first, second = _chosen_pair(request, with_faces, by_id)
    comparison = dashboards.ad_comparison(first, second) if first and second else None
    return render(
        request,
        "campaigns/campaign_dashboard.html",
        {
            "campaign": campaign,
            "form": form,
            "filters": filters,
            "summaries": summaries,
            "with_faces": with_faces,
            "total_faces": sum(s.faces for s in summaries),
            "unfinished_uploads": dashboards.unfinished_upload_count(campaign=campaign),
            "first": first,
            "second": second,
            "comparison": comparison,
            "min_expected_count": MIN_EXPECTED_COUNT,
            "bar_chart": _bar_chart(summaries),
            "timeline_chart": _timeline_chart(breakdown.timeline),
            "positive_emotions": dashboards.POSITIVE_EMOTIONS,
            "negative_emotions": dashboards.NEGATIVE_EMOTIONS,
            "query": request.GET.urlencode(),
        },
    )


def _chosen_pair(
    request: HttpRequest,
    with_faces: list[dashboards.AdSummary],
    by_id: dict[int, dashboards.AdSummary],
) -> tuple[dashboards.AdSummary | None, dashboards.AdSummary | None]:
    """The two ads to test: ?a=&b= when both have faces, else the two with the most faces."""
    try:
        chosen = by_id.get(int(request.GET.get("a", ""))), by_id.get(int(request.GET.get("b", "")))
    except ValueError:
        chosen = (None, None)
    if chosen[0] and chosen[1] and chosen[0] is not chosen[1]:
        return chosen
    ranked = sorted(with_faces, key=lambda s: -s.faces)
    if len(ranked) < 2:
        return None, None
    return ranked[0], ranked[1]


@login_required
@require_GET
def ad_detail(request: HttpRequest, ad_id: int) -> HttpResponse:
    ad = selectors.ad_get(user=request.user, ad_id=ad_id)
    form, filters = _filters(request)
    faces = Face.objects.order_by("id")
    if filters.model_version is not None:
        faces = faces.filter(model_version=filters.model_version)
    photos = dashboards.photo_page(ad=ad).prefetch_related(
        Prefetch("faces", queryset=faces, to_attr="shown_faces")
    )
    page = Paginator(photos, PHOTOS_PER_PAGE).get_page(request.GET.get("page"))
    batches = list(dashboards.batch_list(ad=ad))
    return render(
        request,
        "campaigns/ad_detail.html",
        {
            "ad": ad,
            "campaign": ad.campaign,
            "form": form,
            "filters": filters,
            "summary": dashboards.ad_summary(ad=ad, filters=filters),
            "batches": batches,
            "processing": any(not b.is_finished for b in batches),
            "page": page,
            "colours": EMOTION_COLOURS,
        },
    )


@login_required
@require_GET
def photo_detail(request: HttpRequest, image_id: int) -> HttpResponse:
    image = dashboards.image_get(user=request.user, image_id=image_id)
    form, filters = _filters(request)
    faces = list(dashboards.photo_faces(image=image, filters=filters))
    rows = [
        {
            "face": face,
            "index": index,
            "probabilities": [
                (name, getattr(face, f"prob_{name}"), EMOTION_COLOURS[name]) for name in CLASSES
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
            "colours": EMOTION_COLOURS,
        },
    )


@login_required
@require_GET
def photo_file(request: HttpRequest, image_id: int) -> FileResponse:
    """The stored photo, read through default_storage; private to the owning team."""
    image = dashboards.image_get(user=request.user, image_id=image_id)
    if not image.file or not default_storage.exists(image.file.name):
        raise Http404("This photo is no longer stored.")
    response = FileResponse(default_storage.open(image.file.name, "rb"))
    response["Cache-Control"] = "private, max-age=3600"
    return response


def _export(
    request: HttpRequest, *, campaign: Campaign, ad=None, stem: str
) -> StreamingHttpResponse:
    _, filters = _filters(request)
    level = request.GET.get("level", "faces")
    bom = request.GET.get("bom") in ("1", "true", "on")
    stamp = timezone.now().strftime("%Y%m%d")
    if level == "ads":
        header, rows = (
            exports.ad_columns(),
            exports.ad_rows(campaign=campaign, filters=filters, ad=ad),
        )
    elif level == "faces":
        header = exports.FACE_COLUMNS
        rows = (
            exports.face_rows_for_ad(ad=ad, filters=filters)
            if ad is not None
            else exports.face_rows_for_campaign(campaign=campaign, filters=filters)
        )
    else:
        raise Http404("Unknown export level; use level=faces or level=ads.")
    return exports.streaming_csv_response(
        filename=f"{slugify(stem) or 'export'}-{level}-{stamp}.csv",
        header=header,
        rows=rows,
        bom=bom,
    )


@login_required
@require_GET
def campaign_export(request: HttpRequest, campaign_id: int) -> StreamingHttpResponse:
    campaign = selectors.campaign_get(user=request.user, campaign_id=campaign_id)
    return _export(request, campaign=campaign, stem=campaign.name)


@login_required
@require_GET
def ad_export(request: HttpRequest, ad_id: int) -> StreamingHttpResponse:
    ad = selectors.ad_get(user=request.user, ad_id=ad_id)
    return _export(request, campaign=ad.campaign, ad=ad, stem=f"{ad.campaign.name}-{ad.name}")
