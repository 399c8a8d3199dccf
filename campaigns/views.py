"""Thin views: parse the request, call a selector or a service, render."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from campaigns import dashboards, selectors, services
from campaigns.forms import AdForm, CampaignForm
from campaigns.health import health_report


@require_GET
@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    """200 when database, broker and an active model are all fine, else 503 with details."""
    ok, checks = health_report()
    return JsonResponse({"ok": ok, **checks}, status=200 if ok else 503)


@login_required
def campaign_list(request: HttpRequest) -> HttpResponse:
    campaigns = list(selectors.campaign_list(user=request.user))
    # Faces analysed and dominant emotion per campaign, by the active model: one GROUP BY.
    overviews = dashboards.campaign_overviews(
        user=request.user, model_version=dashboards.default_model_version()
    )
    for campaign in campaigns:
        campaign.overview = overviews.get(campaign.pk)
    return render(
        request,
        "campaigns/campaign_list.html",
        {"campaigns": campaigns, "teams": selectors.team_list(user=request.user)},
    )


@login_required
def campaign_detail(request: HttpRequest, campaign_id: int) -> HttpResponse:
    campaign = selectors.campaign_get(user=request.user, campaign_id=campaign_id)
    return render(
        request,
        "campaigns/campaign_detail.html",
        {"campaign": campaign, "ads": selectors.ad_list(campaign=campaign)},
    )


@login_required
def campaign_create(request: HttpRequest) -> HttpResponse:
    teams = selectors.team_list(user=request.user)
    form = CampaignForm(request.POST or None, teams=teams)
    if request.method == "POST" and form.is_valid():
        try:
            campaign = services.campaign_create(created_by=request.user, **form.cleaned_data)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            return redirect("campaigns:campaign_detail", campaign_id=campaign.pk)
    return render(request, "campaigns/campaign_form.html", {"form": form, "no_team": not teams})


@login_required
def ad_create(request: HttpRequest, campaign_id: int) -> HttpResponse:
    campaign = selectors.campaign_get(user=request.user, campaign_id=campaign_id)
    form = AdForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.ad_create(campaign=campaign, **form.cleaned_data)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            return redirect("campaigns:campaign_detail", campaign_id=campaign.pk)
    return render(request, "campaigns/ad_form.html", {"form": form, "campaign": campaign})
