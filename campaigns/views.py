"""Thin views: parse the request, call a selector or a service, render."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from campaigns.forms import AdForm, CampaignForm
from campaigns.health import health_report
from campaigns.requests import AuthenticatedHttpRequest
from campaigns.selectors import dashboards, scoping
from campaigns.services import teams


@require_GET
@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    """200 when database, broker and an active model are all fine, else 503 with details."""
    ok, checks = health_report()
    return JsonResponse({"ok": ok, **checks}, status=200 if ok else 503)


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
