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
