"""Upload pages: send photos for an ad, then follow the batch until it is done."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.core.exceptions import TooManyFilesSent, ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from campaigns.forms import BatchUploadForm, ReprocessForm
from campaigns.models import Ad, UploadBatch
from campaigns.requests import AuthenticatedHttpRequest, wants_json
from campaigns.selectors.batches import (
    batch_duplicate_images,
    batch_faceless_photos,
    batch_problem_images,
    batch_progress,
    batch_reprocess_refusal,
    uploads_footprint,
)
from campaigns.selectors.scoping import ad_get, batch_get
from campaigns.services import batches, reprocess
from campaigns.services.batches import batch_create, batch_create_from_files, batch_is_queued
from campaigns.services.retention import retention_description
from campaigns.views import delete_confirmed

WAITING_FOR_QUEUE = (
    "Your upload is stored, but the task queue cannot be reached right now: it will be "
    "unpacked and analysed automatically as soon as the queue is back. Nothing to do."
)


def _refused(request: HttpRequest, message: str, status: int) -> HttpResponse:
    """An upload refused before it was read, as JSON for the page's script, else as text."""
    if wants_json(request):
        return JsonResponse({"errors": [message]}, status=status)
    return HttpResponse(message, status=status, content_type="text/plain; charset=utf-8")


@login_required
def batch_upload(request: AuthenticatedHttpRequest, ad_id: int) -> HttpResponse:
    """The upload form; a POST stores the file (streamed to disk by Django) and starts a batch."""
    ad = ad_get(user=request.user, ad_id=ad_id)
    limit_mib = settings.UPLOAD_MAX_BYTES // 1024**2
    if request.method == "POST":
        # Refuse before Django spools the body to a temporary file.
        length = int(request.META.get("CONTENT_LENGTH") or 0)
        if length > settings.UPLOAD_MAX_BYTES:
            return _refused(request, f"The upload is larger than the {limit_mib:,} MiB limit.", 413)
        try:
            data, files = request.POST, request.FILES
        except TooManyFilesSent:
            return _refused(
                request,
                f"More than {settings.DATA_UPLOAD_MAX_NUMBER_FILES:,} photos in one upload; "
                "put them in a ZIP archive and upload that instead.",
                400,
            )
        form = BatchUploadForm(data, files)
        if form.is_valid():
            try:
                batch = _batch_from_form(form, ad=ad, user=request.user)
            except ValidationError as exc:
                form.add_error(None, exc)
            else:
                return _batch_started(request, batch)
        if wants_json(request):
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
            "sample_fps": f"{settings.VIDEO_SAMPLE_FPS:g}",
        },
    )


def _batch_from_form(form: BatchUploadForm, *, ad: Ad, user: User) -> UploadBatch:
    """The batch of a valid upload form: its archive, or its photos and manifest."""
    if form.cleaned_data["archive"]:
        upload = form.cleaned_data["archive"]
        return batch_create(ad=ad, upload=upload, source_name=upload.name, user=user)
    return batch_create_from_files(
        ad=ad,
        files=form.cleaned_data["photos"],
        manifest=form.cleaned_data["manifest"],
        user=user,
    )


def _batch_started(request: AuthenticatedHttpRequest, batch: UploadBatch) -> HttpResponse:
    """The answer to an upload that started a batch: its address as JSON for the page's
    script, else a redirect to it; either says so when no worker is taking uploads."""
    url = batch_url(batch.pk)
    queued = batch_is_queued(batch)
    if wants_json(request):
        body = {"batch": batch.pk, "url": url, "queued": queued}
        if not queued:
            body["message"] = WAITING_FOR_QUEUE
        return JsonResponse(body, status=201)
    if not queued:
        messages.warning(request, WAITING_FOR_QUEUE)
    return redirect(url)


def batch_url(batch_id: int) -> str:
    return reverse("campaigns:batch_detail", args=[batch_id])


@login_required
def batch_detail(request: AuthenticatedHttpRequest, batch_id: int) -> HttpResponse:
    batch = batch_get(user=request.user, batch_id=batch_id)
    progress = batch_progress(batch=batch)
    faceless = batch_faceless_photos(batch=batch) if progress["finished"] else None
    return render(
        request,
        "campaigns/batch_detail.html",
        {
            "batch": batch,
            "progress": progress,
            "problems": batch_problem_images(batch=batch)[:500],
            "duplicates": batch_duplicate_images(batch=batch).select_related("duplicate_of")[:500],
            "faceless": faceless[:500] if faceless is not None else [],
            "faceless_count": faceless.count() if faceless is not None else 0,
            "retention": retention_description(),
            "reprocess_form": ReprocessForm(initial={"model_version": batch.model_version_id})
            if progress["finished"] and batch_reprocess_refusal(batch=batch) is None
            else None,
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def batch_delete(request: AuthenticatedHttpRequest, batch_id: int) -> HttpResponse:
    batch = batch_get(user=request.user, batch_id=batch_id)
    return delete_confirmed(
        request,
        delete=lambda: batches.batch_delete(batch=batch),
        what=f"upload {batch.source_name}",
        footprint=uploads_footprint(pk=batch.pk),
        back_url=reverse("campaigns:batch_detail", args=[batch.pk]),
        done_url=reverse("campaigns:ad_detail", args=[batch.ad_id]),
        done_message=f"Upload {batch.source_name} and its results were deleted from {batch.ad}.",
        is_upload=True,
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
