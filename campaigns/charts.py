"""Plotly traces for the dashboard's charts, built from the selectors' summaries."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from campaigns.selectors.dashboards import POSITIVE_EMOTIONS, AdSummary
from campaigns.selectors.decisions import Headline
from campaigns.timelines import Timelines
from ml import CLASSES

# One colour per emotion, the same on every chart and photo.
EMOTION_COLOURS = {
    "angry": "#d62728",
    "disgust": "#8c564b",
    "fear": "#9467bd",
    "happy": "#2ca02c",
    "neutral": "#7f7f7f",
    "sad": "#1f77b4",
    "surprise": "#ff7f0e",
}


def emotion_mix_bars(summaries: list[AdSummary]) -> dict[str, Any]:
    """Traces for 100% stacked bars, one per emotion, with Wilson 95% error bars."""
    with_faces = [s for s in summaries if s.faces]
    traces = []
    for index, name in enumerate(CLASSES):
        shares = [s.shares[index] for s in with_faces]
        traces.append(
            {
                "type": "bar",
                "name": name,
                "x": [s.name for s in with_faces],
                "y": [round(100 * sh.share, 2) for sh in shares],
                "customdata": [
                    [sh.count, round(100 * sh.interval.low, 1), round(100 * sh.interval.high, 1)]
                    for sh in shares
                ],
                "hovertemplate": (
                    "%{x}<br>" + name + ": %{y:.1f}% (%{customdata[0]} faces)"
                    "<br>95% CI %{customdata[1]}–%{customdata[2]}%<extra></extra>"
                ),
                "marker": {"color": EMOTION_COLOURS[name]},
                "error_y": {
                    "type": "data",
                    "symmetric": False,
                    "array": [round(100 * (sh.interval.high - sh.share), 2) for sh in shares],
                    "arrayminus": [round(100 * (sh.share - sh.interval.low), 2) for sh in shares],
                    "thickness": 1,
                    "width": 3,
                    "color": "#333",
                },
            }
        )
    return {"traces": traces, "faces": [s.faces for s in with_faces]}


# One colour per ad on the charts that overlay ads (cycled when there are more).
AD_COLOURS = ("#2f5bea", "#e8590c", "#2b8a3e", "#862e9c", "#c92a2a", "#0b7285", "#5c940d")


def _rgba(colour: str, alpha: float) -> str:
    red, green, blue = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({red},{green},{blue},{alpha})"


def _band_edge(
    xs: list[float | None], ys: list[float | None], *, group: str, **style: str
) -> dict[str, Any]:
    """One edge of an interval band: an invisible line, off the legend and the hover."""
    return {
        "type": "scatter",
        "mode": "lines",
        "x": xs,
        "y": ys,
        "line": {"width": 0},
        "hoverinfo": "skip",
        "showlegend": False,
        "legendgroup": group,
        "connectgaps": False,
        **style,
    }


def headline_timeline(
    timeline: Timelines, *, ads: Sequence[tuple[int, str]], headline: Headline
) -> dict[str, Any]:
    """Per ad, the headline over the ad's seconds with its 95% band; ads overlaid. A gap
    (seconds no viewer's face was seen in) is left as a gap, never interpolated."""
    traces: list[dict[str, Any]] = []
    scale = 100.0
    for index, (ad_id, name) in enumerate(ads):
        bins = timeline.bins.get(ad_id, [])
        if not bins:
            continue
        colour = AD_COLOURS[index % len(AD_COLOURS)]
        xs: list[float | None] = []
        values: list[float | None] = []
        lows: list[float | None] = []
        highs: list[float | None] = []
        units: list[int | None] = []
        previous_end = None
        for bin_ in bins:
            if previous_end is not None and bin_.second_from != previous_end:
                xs.append(None)
                values.append(None)
                lows.append(None)
                highs.append(None)
                units.append(None)
            estimate = bin_.estimate(headline)
            interval = estimate.interval
            xs.append((bin_.second_from + bin_.second_to) / 2)
            values.append(round(scale * estimate.value, 2))
            lows.append(round(scale * max(interval.low, -1.0), 2))
            highs.append(round(scale * min(interval.high, 1.0), 2))
            units.append(estimate.units)
            previous_end = bin_.second_to
        # The band: its upper edge, then its lower edge filled up to it.
        traces.append(_band_edge(xs, highs, group=name))
        traces.append(
            _band_edge(xs, lows, group=name, fill="tonexty", fillcolor=_rgba(colour, 0.15))
        )
        traces.append(
            {
                "type": "scatter",
                "mode": "lines+markers",
                "name": name,
                "legendgroup": name,
                "x": xs,
                "y": values,
                "customdata": [[u, lo, hi] for u, lo, hi in zip(units, lows, highs, strict=True)],
                "hovertemplate": (
                    f"{name}<br>second %{{x:.1f}}: %{{y:.1f}} ({headline.label})"
                    "<br>95% CI %{customdata[1]}–%{customdata[2]}<br>%{customdata[0]} units"
                    "<extra></extra>"
                ),
                "line": {"color": colour},
                "connectgaps": False,
            }
        )
    return {"traces": traces, "width": timeline.width, "label": headline.label}


def ad_upload_days(
    ad_days: dict[int, list[tuple[dt.date, dict[str, int]]]],
    *,
    ads: Sequence[tuple[int, str]],
) -> dict[str, Any]:
    """Per ad, its positive share on each day it had uploads: points joined only across
    consecutive days (no line is drawn across days without uploads)."""
    traces = []
    days_seen: set[dt.date] = set()
    for index, (ad_id, name) in enumerate(ads):
        series = ad_days.get(ad_id, [])
        if not series:
            continue
        xs: list[str | None] = []
        ys: list[float | None] = []
        previous: dt.date | None = None
        for day, counts in series:
            total = sum(counts.values())
            if not total:
                continue
            if previous is not None and (day - previous).days > 1:
                xs.append(None)
                ys.append(None)
            xs.append(day.isoformat())
            positive = sum(counts.get(name, 0) for name in POSITIVE_EMOTIONS)
            ys.append(round(100 * positive / total, 2))
            days_seen.add(day)
            previous = day
        traces.append(
            {
                "type": "scatter",
                "mode": "lines+markers",
                "name": name,
                "x": xs,
                "y": ys,
                "connectgaps": False,
                "line": {"color": AD_COLOURS[index % len(AD_COLOURS)]},
            }
        )
    return {"traces": traces, "days": len(days_seen)}
