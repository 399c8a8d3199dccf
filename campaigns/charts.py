"""Plotly traces for the dashboard's charts, built from the selectors' summaries."""

from __future__ import annotations

import datetime as dt
from typing import Any

from campaigns.selectors.dashboards import AdSummary
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


def emotion_mix_timeline(timeline: list[tuple[dt.date, dict[str, int]]]) -> dict[str, Any]:
    """Traces of the mix per upload day, stacked to 100%."""
    days = [day.isoformat() for day, _ in timeline]
    return {
        "traces": [
            {
                "type": "scatter",
                "mode": "lines",
                "stackgroup": "mix",
                "groupnorm": "percent",
                "name": name,
                "x": days,
                "y": [counts[name] for _, counts in timeline],
                "line": {"color": EMOTION_COLOURS[name]},
            }
            for name in CLASSES
        ],
        "days": len(days),
    }
