"""Thin views: parse the request, call a selector or a service, render."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views import defaults
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from campaigns.forms import AdForm, CampaignForm
from campaigns.health import health_details_allowed, health_report
from campaigns.requests import AuthenticatedHttpRequest, wants_json
from campaigns.selectors import dashboards, scoping
from campaigns.services import teams


def _error(request: HttpRequest, status: int, message: str) -> JsonResponse | None:
    return JsonResponse({"errors": [message]}, status=status) if wants_json(request) else None


# Error pages: JSON for clients that asked for it, else Django's own pages (no internals).
def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    return _error(request, 400, "Bad request.") or defaults.bad_request(request, exception)


def permission_denied(request: HttpRequest, exception: Exception) -> HttpResponse:
    return _error(request, 403, "Permission denied.") or defaults.permission_denied(
        request, exception
    )


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    return _error(request, 404, "Not found.") or defaults.page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    return _error(request, 500, "Server error; it has been logged.") or defaults.server_error(
        request
    )


@require_GET
@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    """200 when database, broker and an active model are all fine, else 503. Only staff and
    holders of HEALTHZ_TOKEN see which check failed and why; load balancers need no more."""
    ok, checks = health_report()
    body: dict[str, object] = {"ok": ok}
    if health_details_allowed(request):
        body.update(checks)
    return JsonResponse(body, status=200 if ok else 503)


@login_required
def campaign_list(request: AuthenticatedHttpRequest) -> HttpResponse:
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
def campaign_detail(request: AuthenticatedHttpRequest, campaign_id: int) -> HttpResponse:
    campaign = scoping.campaign_get(user=request.user, campaign_id=campaign_id)
    return render(
        request,
        "campaigns/campaign_detail.html",
        {"campaign": campaign, "ads": scoping.ad_list(campaign=campaign)},
    )


@login_required
def campaign_create(request: AuthenticatedHttpRequest) -> HttpResponse:
    user_teams = scoping.team_list(user=request.user)
    form = CampaignForm(request.POST or None, teams=user_teams)
    if request.method == "POST" and form.is_valid():
        try:
            campaign = teams.campaign_create(created_by=request.user, **form.cleaned_data)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            return redirect("campaigns:campaign_detail", campaign_id=campaign.pk)
    return render(
        request, "campaigns/campaign_form.html", {"form": form, "no_team": not user_teams}
    )


@login_required
def ad_create(request: AuthenticatedHttpRequest, campaign_id: int) -> HttpResponse:
    campaign = scoping.campaign_get(user=request.user, campaign_id=campaign_id)
    form = AdForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            teams.ad_create(campaign=campaign, **form.cleaned_data)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            return redirect("campaigns:campaign_detail", campaign_id=campaign.pk)
    return render(request, "campaigns/ad_form.html", {"form": form, "campaign": campaign})
