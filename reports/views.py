"""The report, the XLSX downloads and share links: the team's views (logged in, team-scoped)
and a client's (a share link's token, one campaign, read-only).

A shared view checks its link on every request: an unknown token, or another campaign's id
beside it, is a 404; a revoked or expired link a 410 that says so. It renders the
dashboard's own template and figures (`analytics.views.dashboard_context`), with
the team's links (ads, uploads, exports, re-analysis) left out.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from analytics import exports, results
from analytics.forms import DashboardFilterForm
from analytics.selectors import dashboards, decisions
from analytics.views import (
    bin_seconds_requested,
    creative_frame_response,
    dashboard_context,
    photo_response,
    timeline_context,
)
from campaigns.models import Ad, Campaign, ReactionImage
from campaigns.requests import AuthenticatedHttpRequest
from campaigns.selectors import scoping
from reports import pdf, services
from reports.forms import ShareLinkForm
from reports.models import ShareLink
from reports.selectors import ShareLinkGone, share_link_get, share_link_list
from reports.workbooks import SHEET_TITLES, export_workbook

# Photos of faces a share link shows per ad, when its creator allowed photos.
SHARED_PHOTOS_PER_AD = 12
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _form(request: HttpRequest, campaign: Campaign) -> DashboardFilterForm:
    return DashboardFilterForm(request.GET, segments=decisions.attribute_values(campaign=campaign))


def _chosen(form: DashboardFilterForm) -> dict[str, Any]:
    return form.cleaned_data if form.is_valid() else {}


def _dashboard_request(
    request: HttpRequest, campaign: Campaign
) -> tuple[DashboardFilterForm, dict[str, Any]]:
    """The dashboard's filter form and what it asks `campaign_results` for (filters,
    headline, breakdown): the same reading for the page, its share and its report."""
    form = _form(request, campaign)
    chosen = _chosen(form)
    return form, {
        "filters": form.filters(),
        "headline": chosen.get("headline"),
        "breakdown": chosen.get("breakdown") or "",
    }


def _download(body: bytes, *, content_type: str, filename: str) -> HttpResponse:
    response = HttpResponse(body, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _report_response(request: HttpRequest, campaign: Campaign) -> HttpResponse:
    """The campaign's PDF report under the request's dashboard filters."""
    form, asked = _dashboard_request(request, campaign)
    report = pdf.campaign_report_read(campaign=campaign, **asked)
    filename = exports.export_filename(
        stem=campaign.name, level="report", filters=form.filters(), extension="pdf"
    )
    return _download(
        pdf.campaign_report_pdf(report), content_type="application/pdf", filename=filename
    )


@login_required
@require_GET
def campaign_report(request: AuthenticatedHttpRequest, campaign_id: int) -> HttpResponse:
    campaign = scoping.campaign_get(user=request.user, campaign_id=campaign_id)
    return _report_response(request, campaign)


def _workbook_response(
    request: HttpRequest, *, campaign: Campaign, ad: Ad | None, stem: str
) -> HttpResponse:
    form = _form(request, campaign)
    ad_ids = [ad.pk] if ad is not None else list(campaign.ads.values_list("pk", flat=True))
    filters = dashboards.with_ad_versions(form.filters(), ad_ids=ad_ids)
    level = request.GET.get("level", "")
    if level and level not in SHEET_TITLES:
        raise Http404(f"Unknown export level; use level={' or '.join(SHEET_TITLES)}.")
    body = export_workbook(
        campaign=campaign,
        filters=filters,
        ad=ad,
        levels=[level] if level else list(SHEET_TITLES),
        bin_seconds=bin_seconds_requested(request),
    )
    filename = exports.export_filename(
        stem=stem, level=level or "all", filters=filters, extension="xlsx"
    )
    return _download(body, content_type=XLSX_TYPE, filename=filename)


@login_required
@require_GET
def campaign_workbook(request: AuthenticatedHttpRequest, campaign_id: int) -> HttpResponse:
    """The campaign's exports as one XLSX workbook (or one level's sheet with ?level=)."""
    campaign = scoping.campaign_get(user=request.user, campaign_id=campaign_id)
    return _workbook_response(request, campaign=campaign, ad=None, stem=campaign.name)


@login_required
@require_GET
def ad_workbook(request: AuthenticatedHttpRequest, ad_id: int) -> HttpResponse:
    ad = scoping.ad_get(user=request.user, ad_id=ad_id)
    return _workbook_response(
        request, campaign=ad.campaign, ad=ad, stem=f"{ad.campaign.name}-{ad.name}"
    )


@login_required
@require_http_methods(["GET", "POST"])
def share_links(request: AuthenticatedHttpRequest, campaign_id: int) -> HttpResponse:
    """The campaign's share links with their last use; POST makes one and shows its URL,
    this once (only the token's hash is kept)."""
    campaign = scoping.campaign_get(user=request.user, campaign_id=campaign_id)
    form = ShareLinkForm(request.POST or None)
    new_url = ""
    if request.method == "POST" and form.is_valid():
        try:
            _, token = services.share_link_create(
                campaign=campaign,
                user=request.user,
                days=form.cleaned_data["days"],
                label=form.cleaned_data["label"],
                allow_report=form.cleaned_data["allow_report"],
                show_photos=form.cleaned_data["show_photos"],
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            new_url = request.build_absolute_uri(
                reverse("reports:shared_dashboard", args=[campaign.pk, token])
            )
            form = ShareLinkForm()
    return render(
        request,
        "reports/share_links.html",
        {
            "campaign": campaign,
            "form": form,
            "links": share_link_list(campaign=campaign),
            "new_url": new_url,
        },
    )


@login_required
@require_POST
def share_link_revoke(request: AuthenticatedHttpRequest, link_id: int) -> HttpResponse:
    teams_campaigns = scoping.scoped_to_user(Campaign.objects.all(), user=request.user)
    link = get_object_or_404(ShareLink, pk=link_id, campaign__in=teams_campaigns)
    services.share_link_revoke(link=link)
    return redirect("reports:share_links", campaign_id=link.campaign_id)


# A client's views, through a share link ----------------------------------------------------

SharedView = Callable[..., HttpResponseBase]


def shared(view: SharedView) -> Callable[..., HttpResponseBase]:
    """A view of a share link: GET only, the link checked on this request (404 unknown or
    another campaign's, 410 revoked or expired), its use stamped; the answer is never cached
    and never sends the link's URL on as a referrer."""

    @functools.wraps(view)
    @require_GET
    def checked(
        request: HttpRequest, campaign_id: int, token: str, **kwargs: Any
    ) -> HttpResponseBase:
        try:
            link = share_link_get(campaign_id=campaign_id, token=token)
        except ShareLinkGone as gone:
            response: HttpResponseBase = render(
                request, "reports/share_gone.html", {"link": gone.link}, status=410
            )
        else:
            services.share_link_used(link=link)
            response = view(request, link, token, **kwargs)
        response["Referrer-Policy"] = "no-referrer"
        response["X-Robots-Tag"] = "noindex, nofollow"
        response["Cache-Control"] = "private, no-store"
        return response

    return checked


@shared
def shared_dashboard(request: HttpRequest, link: ShareLink, token: str) -> HttpResponse:
    """The campaign's dashboard, read-only: the same figures as the team's page."""
    campaign = link.campaign
    form, asked = _dashboard_request(request, campaign)
    found = results.campaign_results(campaign=campaign, **asked)
    context = dashboard_context(
        campaign=campaign, form=form, found=found, query=request.GET.urlencode()
    )
    context |= {"shared": link, "shared_token": token, "shared_photos": _photos(link)}
    return render(request, "campaigns/campaign_dashboard.html", context)


def _photos(link: ShareLink) -> list[tuple[str, list[ReactionImage]]]:
    """A few stored photos of each ad, when the link's creator allowed photos of faces."""
    if not link.show_photos:
        return []
    found = []
    for ad in Ad.objects.filter(campaign=link.campaign).order_by("name", "pk"):
        photos = list(
            ReactionImage.objects.filter(batch__ad=ad)
            .exclude(file="")
            .order_by("-batch__created_at", "id")[:SHARED_PHOTOS_PER_AD]
        )
        if photos:
            found.append((ad.name, photos))
    return found


@shared
def shared_timeline(request: HttpRequest, link: ShareLink, token: str) -> HttpResponse:
    campaign = link.campaign
    form = _form(request, campaign)
    found = results.campaign_timeline(
        campaign=campaign, filters=form.filters(), headline=_chosen(form).get("headline")
    )
    context = timeline_context(campaign=campaign, found=found)
    context |= {"shared": link, "shared_token": token}
    return render(request, "campaigns/dashboard_timeline.html", context)


@shared
def shared_report(request: HttpRequest, link: ShareLink, token: str) -> HttpResponse:
    if not link.allow_report:
        raise Http404("This link does not include the report.")
    return _report_response(request, link.campaign)


@shared
def shared_frame(request: HttpRequest, link: ShareLink, token: str, ad_id: int) -> HttpResponse:
    ad = get_object_or_404(Ad, pk=ad_id, campaign=link.campaign)
    return creative_frame_response(ad, request.GET.get("t", "0"))


@shared
def shared_photo(
    request: HttpRequest, link: ShareLink, token: str, image_id: int
) -> HttpResponseBase:
    if not link.show_photos:
        raise Http404("This link shows no photos.")
    image = get_object_or_404(ReactionImage, pk=image_id, batch__ad__campaign=link.campaign)
    return photo_response(image)
