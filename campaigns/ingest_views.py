"""Upload pages: send photos for an ad, then follow the batch until it is done."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from campaigns.forms import BatchUploadForm, ReprocessForm
from campaigns.requests import AuthenticatedHttpRequest
from campaigns.selectors.batches import batch_problem_images, batch_progress
from campaigns.selectors.scoping import ad_get, batch_get
from campaigns.services import reprocess
from campaigns.services.batches import batch_create, batch_create_from_photos
from campaigns.services.retention import retention_description


def _wants_json(request: HttpRequest) -> bool:
    return "application/json" in request.headers.get("Accept", "")


@login_required
def batch_upload(request: AuthenticatedHttpRequest, ad_id: int) -> HttpResponse:
    """The upload form; a POST stores the file (streamed to disk by Django) and starts a batch."""
    ad = ad_get(user=request.user, ad_id=ad_id)
    limit_mib = settings.UPLOAD_MAX_BYTES // 1024**2
    if request.method == "POST":
        # Refuse before Django spools the body to a temporary file.
        length = int(request.META.get("CONTENT_LENGTH") or 0)
        if length > settings.UPLOAD_MAX_BYTES:
            message = f"The upload is larger than the {limit_mib:,} MiB limit."
            if _wants_json(request):
                return JsonResponse({"errors": [message]}, status=413)
            return HttpResponse(message, status=413, content_type="text/plain")
        form = BatchUploadForm(request.POST, request.FILES)
        if form.is_valid():
            try:
                if form.cleaned_data["archive"]:
                    upload = form.cleaned_data["archive"]
                    batch = batch_create(
                        ad=ad, upload=upload, source_name=upload.name, user=request.user
                    )
                else:
                    batch = batch_create_from_photos(
                        ad=ad, photos=form.cleaned_data["photos"], user=request.user
                    )
            except ValidationError as exc:
                form.add_error(None, exc)
            else:
                url = batch_url(batch.pk)
                if _wants_json(request):
                    return JsonResponse({"batch": batch.pk, "url": url}, status=201)
                return redirect(url)
        if _wants_json(request):
            errors = [str(e) for errs in form.errors.values() for e in errs]
            return JsonResponse({"errors": errors}, status=400)
    else:
        form = BatchUploadForm()
    return render(
        request,
        "campaigns/batch_upload.html",
        {
            "ad": ad,
            "form": form,
            "limit_bytes": settings.UPLOAD_MAX_BYTES,
            "limit_mib": limit_mib,
        },
    )


def batch_url(batch_id: int) -> str:
    from django.urls import reverse

    return reverse("campaigns:batch_detail", args=[batch_id])


@login_required
def batch_detail(request: AuthenticatedHttpRequest, batch_id: int) -> HttpResponse:
    batch = batch_get(user=request.user, batch_id=batch_id)
    return render(
        request,
        "campaigns/batch_detail.html",
        {
            "batch": batch,
            "progress": batch_progress(batch=batch),
            "problems": batch_problem_images(batch=batch)[:500],
            "retention": retention_description(),
            "reprocess_form": ReprocessForm(initial={"model_version": batch.model_version_id}),
        },
    )


@require_GET
@never_cache
@login_required
def batch_status(request: AuthenticatedHttpRequest, batch_id: int) -> JsonResponse:
    """What the batch page polls: stage, counts, finished flag."""
    batch = batch_get(user=request.user, batch_id=batch_id)
    return JsonResponse(batch_progress(batch=batch))


@require_POST
@login_required
def batch_reprocess(request: AuthenticatedHttpRequest, batch_id: int) -> HttpResponse:
    batch = batch_get(user=request.user, batch_id=batch_id)
    form = ReprocessForm(request.POST)
    if form.is_valid():
        try:
            reprocess.batch_reprocess(batch=batch, model_version=form.cleaned_data["model_version"])
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
    else:
        messages.error(request, "Choose a model version.")
    return redirect("campaigns:batch_detail", batch_id=batch.pk)
