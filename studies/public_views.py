"""The viewer's pages: the public link of a study (no login), its creative, and the JSON
endpoints its script calls. A session is named by the token it got at consent, sent as the
X-Capture-Token header (never a cookie: so no CSRF token is needed, and no other page can
write with it); a session reaches only its own frames and reads nothing back."""

from __future__ import annotations

import json
import math
import mimetypes
from collections.abc import Callable
from functools import wraps
from pathlib import PurePosixPath
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from campaigns.archives import VIDEO_EXTENSIONS
from campaigns.services.retention import retention_description
from studies.models import CaptureSession, SessionStatus, Study
from studies.selectors import study_public_get
from studies.services import frames as frame_services
from studies.services import sessions

TOKEN_HEADER = "X-Capture-Token"  # noqa: S105  the header's name, not a secret


def _error(message: str, status: int) -> JsonResponse:
    return JsonResponse({"error": message}, status=status)


def _json_body(request: HttpRequest) -> dict[str, Any]:
    try:
        body = json.loads(request.body or b"{}")
    except (ValueError, UnicodeDecodeError):
        return {}
    return body if isinstance(body, dict) else {}


def _query(body: dict[str, Any]) -> dict[str, str]:
    """The page's URL parameters as the script sent them (strings only)."""
    raw = body.get("query")
    if not isinstance(raw, dict):
        return {}
    return {str(k)[:100]: v for k, v in raw.items() if isinstance(v, str)}


SessionView = Callable[..., HttpResponse]


def with_session(view: SessionView) -> Callable[..., HttpResponse]:
    """A JSON endpoint of one session: its token opens it, a refusal is a clear JSON error."""

    @csrf_exempt
    @require_POST
    @never_cache
    @wraps(view)
    def wrapped(request: HttpRequest, slug: str, **kwargs: Any) -> HttpResponse:
        study = study_public_get(slug=slug)
        session = sessions.session_get(study=study, token=request.headers.get(TOKEN_HEADER, ""))
        if session is None:
            return _error("This session is not known (it may have been deleted).", 403)
        try:
            return view(request, session, **kwargs)
        except sessions.CaptureRefused as exc:
            return _error(str(exc), exc.status)

    return wrapped


def _ad_payload(study: Study, ad_id: int) -> dict[str, Any]:
    study_ad = study.study_ads.select_related("ad").get(ad_id=ad_id)
    ad = study_ad.ad
    is_video = PurePosixPath(ad.creative.name).suffix.lower() in VIDEO_EXTENSIONS
    return {
        "id": ad.pk,
        "kind": "video" if is_video else "image",
        "url": reverse("studies:capture_creative", args=[study.slug, ad.pk]),
        "seconds": ad.duration_seconds if is_video else study.image_seconds,
    }


@require_GET
def capture_page(request: HttpRequest, slug: str) -> HttpResponse:
    """The viewer's page: consent first; the script does the rest. Nothing is stored here."""
    study = study_public_get(slug=slug)
    team = study.campaign.team.name
    return render(
        request,
        "studies/capture.html",
        {
            "study": study,
            "team": team,
            "closed": sessions.study_accepting(study),
            "consent": study.consent_text.replace("{team}", team),
            "retention": retention_description(),
        },
    )


@require_GET
def capture_creative(request: HttpRequest, slug: str, ad_id: int) -> FileResponse:
    """The ad's creative, served from this site (no third-party request)."""
    study = study_public_get(slug=slug)
    study_ad = study.study_ads.select_related("ad").filter(ad_id=ad_id).first()
    if study_ad is None or not study_ad.ad.creative:
        raise Http404("No such ad in this study.")
    name = study_ad.ad.creative.name
    try:
        handle = default_storage.open(name, "rb")
    except (OSError, BotoCoreError, ClientError) as exc:
        raise Http404("The ad cannot be read.") from exc
    content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
    response = FileResponse(handle, content_type=content_type)
    response["Cache-Control"] = "private, max-age=3600"
    return response


@csrf_exempt
@require_POST
@never_cache
def capture_start(request: HttpRequest, slug: str) -> JsonResponse:
    """The viewer agreed: a session, its token, and the ads to show in order."""
    study = study_public_get(slug=slug)
    try:
        session, token = sessions.session_start(study=study, query=_query(_json_body(request)))
    except sessions.CaptureRefused as exc:
        return _error(str(exc), exc.status)
    return JsonResponse(
        {
            "token": token,
            "fps": study.capture_fps,
            "ads": [_ad_payload(study, ad_id) for ad_id in session.ad_ids],
        }
    )


@csrf_exempt
@require_POST
@never_cache
def capture_decline(request: HttpRequest, slug: str) -> JsonResponse:
    study = study_public_get(slug=slug)
    outcome = sessions.session_decline(study=study, query=_query(_json_body(request)))
    return JsonResponse({"status": outcome.status, "redirect": outcome.redirect_url})


@with_session
def capture_check(request: HttpRequest, session: CaptureSession) -> JsonResponse:
    images = [f.read() for f in request.FILES.getlist("frame")]
    check = frame_services.camera_check(session=session, images=images)
    return JsonResponse({"ok": check.ok, "problem": check.problem, "message": check.message})


@with_session
def capture_ad_start(request: HttpRequest, session: CaptureSession, ad_id: int) -> JsonResponse:
    sessions.session_ad_start(session=session, ad_id=ad_id)
    return JsonResponse({"ok": True})


def _float(value: object) -> float | None:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


@with_session
def capture_frames(request: HttpRequest, session: CaptureSession, ad_id: int) -> JsonResponse:
    """A chunk of frames: files `f<index>`, and `meta`, a JSON list of {i, t, l} (index,
    playback seconds, mean luma)."""
    try:
        meta = json.loads(request.POST.get("meta", "[]"))
    except ValueError:
        return _error("meta must be a JSON list", 400)
    if not isinstance(meta, list):
        return _error("meta must be a JSON list", 400)
    captured = []
    for item in meta[: len(request.FILES) + 1]:
        if not isinstance(item, dict) or not isinstance(item.get("i"), int):
            return _error("each meta item needs an integer i", 400)
        upload = request.FILES.get(f"f{item['i']}")
        seconds = _float(item.get("t"))
        if upload is None or seconds is None:
            return _error(f"frame {item['i']} needs its file f{item['i']} and a time t", 400)
        captured.append(
            frame_services.CapturedFrame(
                index=item["i"], seconds=seconds, data=upload.read(), luma=_float(item.get("l"))
            )
        )
    added = frame_services.frames_add(session=session, ad_id=ad_id, frames=captured)
    return JsonResponse(
        {"stored": added.stored, "duplicates": added.duplicates, "refused": added.refused}
    )


@with_session
def capture_ad_end(request: HttpRequest, session: CaptureSession, ad_id: int) -> JsonResponse:
    played = _float(_json_body(request).get("played_seconds")) or 0.0
    sessions.session_ad_end(session=session, ad_id=ad_id, played_seconds=played)
    return JsonResponse({"ok": True})


@with_session
def capture_finish(request: HttpRequest, session: CaptureSession) -> JsonResponse:
    body = _json_body(request)
    outcome = sessions.session_finish(
        session=session,
        outcome=str(body.get("outcome", SessionStatus.COMPLETED)),
        reason=str(body.get("reason", ""))[:200],
    )
    return JsonResponse({"status": outcome.status, "redirect": outcome.redirect_url})


@with_session
def capture_withdraw(request: HttpRequest, session: CaptureSession) -> JsonResponse:
    outcome = sessions.session_withdraw(session=session)
    return JsonResponse({"status": outcome.status, "redirect": outcome.redirect_url})
