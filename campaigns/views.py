"""Thin views: parse the request, call a selector or a service, render."""

from __future__ import annotations

from collections.abc import Callable

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile
from django.forms.models import model_to_dict
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views import defaults
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from campaigns.forms import AdForm, CampaignEditForm, CampaignForm
from campaigns.health import health_details_allowed, health_report
from campaigns.requests import AuthenticatedHttpRequest, wants_json
from campaigns.selectors import batches, scoping
from campaigns.services import teams
from campaigns.storage import STORE_ERRORS, STORE_UNREACHABLE


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
            ad = teams.ad_create(campaign=campaign, **form.cleaned_data)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            # The ad's page is where its photos are uploaded: the next step.
            return redirect("campaigns:ad_detail", ad_id=ad.pk)
    return render(request, "campaigns/ad_form.html", {"form": form, "campaign": campaign})


@login_required
@require_http_methods(["GET", "POST"])
def campaign_edit(request: AuthenticatedHttpRequest, campaign_id: int) -> HttpResponse:
    campaign = scoping.campaign_get(user=request.user, campaign_id=campaign_id)
    initial = model_to_dict(campaign, fields=CampaignEditForm.Meta.fields)
    form = CampaignEditForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            teams.campaign_update(campaign=campaign, **form.cleaned_data)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, f"Campaign {campaign.name} saved.")
            return redirect("campaigns:campaign_detail", campaign_id=campaign.pk)
    return render(request, "campaigns/campaign_form.html", {"form": form, "campaign": campaign})


def delete_confirmed(
    request: HttpRequest,
    *,
    delete: Callable[[], object],
    what: str,
    footprint: object,
    back_url: str,
    done_url: str,
    done_message: str,
    **context: object,
) -> HttpResponse:
    """GET: what deleting `what` deletes (`footprint`), and a button; POST: delete it and go
    to `done_url`. A refusal (an upload still being analysed) goes back to `back_url` with
    its reason."""
    if request.method == "POST":
        try:
            delete()
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
            return redirect(back_url)
        messages.success(request, done_message)
        return redirect(done_url)
    return render(
        request,
        "campaigns/confirm_delete.html",
        {"what": what, "footprint": footprint, "cancel_url": back_url, **context},
    )


@login_required
@require_http_methods(["GET", "POST"])
def campaign_delete(request: AuthenticatedHttpRequest, campaign_id: int) -> HttpResponse:
    campaign = scoping.campaign_get(user=request.user, campaign_id=campaign_id)
    return delete_confirmed(
        request,
        delete=lambda: teams.campaign_delete(campaign=campaign),
        what=f"campaign {campaign.name}",
        footprint=batches.uploads_footprint(ad__campaign=campaign),
        back_url=reverse("campaigns:campaign_detail", args=[campaign.pk]),
        done_url=reverse("campaigns:campaign_list"),
        done_message=f"Campaign {campaign.name} and everything in it were deleted.",
        ads=campaign.ads.count(),
    )


@login_required
@require_http_methods(["GET", "POST"])
def ad_edit(request: AuthenticatedHttpRequest, ad_id: int) -> HttpResponse:
    ad = scoping.ad_get(user=request.user, ad_id=ad_id)
    initial = model_to_dict(ad, fields=AdForm.Meta.fields)
    form = AdForm(request.POST or None, request.FILES or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        # The file field's value: a new upload, False when "clear" was ticked, else unchanged.
        creative = data["creative"]
        try:
            teams.ad_update(
                ad=ad,
                name=data["name"],
                creative_url=data["creative_url"],
                duration_seconds=data["duration_seconds"],
                creative=creative if isinstance(creative, UploadedFile) else None,
                creative_clear=creative is False,
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, f"Ad {data['name']} saved.")
            return redirect("campaigns:ad_detail", ad_id=ad.pk)
    return render(
        request, "campaigns/ad_form.html", {"form": form, "campaign": ad.campaign, "ad": ad}
    )


@login_required
@require_GET
def ad_creative(request: AuthenticatedHttpRequest, ad_id: int) -> HttpResponseBase:
    """The ad's creative file (image or video), streamed from default_storage after the team
    check, as photos are: no storage URL reaches the browser."""
    ad = scoping.ad_get(user=request.user, ad_id=ad_id)
    if not ad.creative:
        raise Http404("This ad has no creative file.")
    try:
        stored = default_storage.open(ad.creative.name, "rb")
    except FileNotFoundError as exc:
        raise Http404("The creative is no longer stored.") from exc
    except STORE_ERRORS:
        return HttpResponse(
            f"The creative cannot be shown just now: {STORE_UNREACHABLE}.",
            status=503,
            content_type="text/plain; charset=utf-8",
        )
    response = FileResponse(stored)
    response["Cache-Control"] = "private, max-age=3600"
    return response


@login_required
@require_http_methods(["GET", "POST"])
def ad_delete(request: AuthenticatedHttpRequest, ad_id: int) -> HttpResponse:
    ad = scoping.ad_get(user=request.user, ad_id=ad_id)
    return delete_confirmed(
        request,
        delete=lambda: teams.ad_delete(ad=ad),
        what=f"ad {ad.name}",
        footprint=batches.uploads_footprint(ad=ad),
        back_url=reverse("campaigns:ad_detail", args=[ad.pk]),
        done_url=reverse("campaigns:campaign_detail", args=[ad.campaign_id]),
        done_message=f"Ad {ad.name} and its uploads were deleted.",
    )
