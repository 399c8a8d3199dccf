"""The marketer's pages of studies: list, create, edit, open / pause / close, live counts."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from campaigns.requests import AuthenticatedHttpRequest
from campaigns.selectors import scoping
from studies import selectors
from studies.forms import StudyForm
from studies.models import CaptureSession
from studies.services import studies


@login_required
def study_list(request: AuthenticatedHttpRequest, campaign_id: int) -> HttpResponse:
    campaign = scoping.campaign_get(user=request.user, campaign_id=campaign_id)
    rows = [
        (study, selectors.study_counts(study=study))
        for study in selectors.study_list(user=request.user).filter(campaign=campaign)
    ]
    return render(request, "studies/study_list.html", {"campaign": campaign, "studies": rows})


@login_required
def study_create(request: AuthenticatedHttpRequest, campaign_id: int) -> HttpResponse:
    campaign = scoping.campaign_get(user=request.user, campaign_id=campaign_id)
    form = StudyForm(request.POST or None, campaign=campaign)
    if request.method == "POST" and form.is_valid():
        fields = {k: v for k, v in form.cleaned_data.items() if k != "ads"}
        try:
            study = studies.study_create(
                campaign=campaign, ads=list(form.cleaned_data["ads"]), **fields
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            return redirect("studies:study_detail", study_id=study.pk)
    return render(request, "studies/study_form.html", {"campaign": campaign, "form": form})


@login_required
def study_edit(request: AuthenticatedHttpRequest, study_id: int) -> HttpResponse:
    study = selectors.study_get(user=request.user, study_id=study_id)
    form = StudyForm(request.POST or None, instance=study, campaign=study.campaign)
    if request.method == "POST" and form.is_valid():
        fields = {k: v for k, v in form.cleaned_data.items() if k != "ads"}
        try:
            studies.study_update(study=study, ads=list(form.cleaned_data["ads"]), **fields)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            return redirect("studies:study_detail", study_id=study.pk)
    return render(
        request,
        "studies/study_form.html",
        {"campaign": study.campaign, "form": form, "study": study},
    )


@login_required
def study_detail(request: AuthenticatedHttpRequest, study_id: int) -> HttpResponse:
    study = selectors.study_get(user=request.user, study_id=study_id)
    link = request.build_absolute_uri(reverse("studies:capture_page", args=[study.slug]))
    example = f"{link}?{study.participant_param}=RESPONDENT_ID" + "".join(
        f"&{name}=..." for name in study.kept_param_names
    )
    return render(
        request,
        "studies/study_detail.html",
        {
            "study": study,
            "link": link,
            "example": example,
            "counts": selectors.study_counts(study=study),
            "study_ads": study.study_ads.select_related("ad"),
            "sessions": CaptureSession.objects.filter(study=study)[:50],
        },
    )


@login_required
def study_counts(request: AuthenticatedHttpRequest, study_id: int) -> JsonResponse:
    study = selectors.study_get(user=request.user, study_id=study_id)
    return JsonResponse({"status": study.status, **selectors.study_counts(study=study)})


@login_required
@require_POST
def study_status(request: AuthenticatedHttpRequest, study_id: int) -> HttpResponse:
    study = selectors.study_get(user=request.user, study_id=study_id)
    try:
        studies.study_status_set(study=study, status=request.POST.get("status", ""))
    except ValidationError as exc:
        messages.error(request, "; ".join(exc.messages))
    else:
        messages.info(request, f"The study is {study.get_status_display().lower()}.")
    return redirect("studies:study_detail", study_id=study.pk)
