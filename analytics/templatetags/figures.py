"""How the pages print figures: shares and differences as whole percentage points."""

from __future__ import annotations

import math

from django import template

register = template.Library()


@register.filter
def points(value: float | None) -> str:
    """0.264 -> '26'; a missing or unbounded figure -> '—' (never a crash on an inf)."""
    if value is None or not math.isfinite(value):
        return "—"
    return f"{100 * value:.0f}"


@register.simple_tag
def analysed(photos: int, frames: int) -> str:
    """What was analysed, photos and video frames each by its name: '12 photos and 120
    video frames', '132 video frames', '0 photos'."""
    parts = [
        f"{count:,} {word}{'' if count == 1 else 's'}"
        for count, word in ((photos, "photo"), (frames, "video frame"))
        if count
    ]
    return " and ".join(parts) or "0 photos"
