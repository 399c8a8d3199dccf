"""A session's quality: frames with a face, lighting, frames missing.

A completed session is low quality when any of these holds (the thresholds are documented in
docs/studies.md):

- of its frames analysed so far (at least QUALITY_MIN_ANALYSED), under QUALITY_MIN_FACE_SHARE
  show a face;
- over QUALITY_MAX_DARK_SHARE of its frames were too dark (mean luma under DARK_LUMA, as the
  browser measured it on the frame it sent);
- over QUALITY_MAX_MISSING_SHARE of the frames its played seconds should have given
  (seconds x the study's frame rate) never arrived.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Sum

from campaigns.models import ImageStatus, ReactionImage
from studies.models import CaptureSession, SessionAd

QUALITY_MIN_FACE_SHARE = 0.6
QUALITY_MIN_ANALYSED = 10
QUALITY_MAX_DARK_SHARE = 0.5
QUALITY_MAX_MISSING_SHARE = 0.3
# Mean luma (0-255) under which a frame is too dark to read a face reliably.
DARK_LUMA = 40


def session_quality_assess(*, session: CaptureSession) -> tuple[bool, dict[str, Any]]:
    """(low quality?, the figures it was decided from, with the reasons)."""
    ads = SessionAd.objects.filter(session=session)
    totals = ads.aggregate(received=Sum("frames_received"), dark=Sum("frames_dark"))
    received = int(totals["received"] or 0)
    dark = int(totals["dark"] or 0)
    played = sum(s or 0.0 for s in ads.values_list("played_seconds", flat=True))
    expected = int(played * session.study.capture_fps)
    frames = ReactionImage.objects.filter(batch__capture__session=session)
    analysed = frames.filter(status=ImageStatus.DONE).count()
    with_face = frames.filter(status=ImageStatus.DONE, faces__isnull=False).distinct().count()
    figures: dict[str, Any] = {
        "frames_received": received,
        "frames_expected": expected,
        "frames_analysed": analysed,
        "frames_with_face": with_face,
        "frames_dark": dark,
        "missing_share": round(max(0.0, 1 - received / expected), 3) if expected else None,
        "face_share": round(with_face / analysed, 3) if analysed else None,
        "dark_share": round(dark / received, 3) if received else None,
    }
    reasons = []
    if received == 0:
        reasons.append("no frame arrived")
    if analysed >= QUALITY_MIN_ANALYSED and with_face / analysed < QUALITY_MIN_FACE_SHARE:
        reasons.append(f"a face in {with_face} of {analysed} frames")
    if received and dark / received > QUALITY_MAX_DARK_SHARE:
        reasons.append(f"{dark} of {received} frames too dark")
    if expected and 1 - received / expected > QUALITY_MAX_MISSING_SHARE:
        reasons.append(f"{expected - received} of {expected} frames missing")
    figures["reasons"] = reasons
    return bool(reasons), figures
