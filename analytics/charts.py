"""Plotly traces for the dashboard's charts, built from the selectors' summaries."""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from analytics.attention import AttentionBin
from analytics.headlines import HEADLINES, Headline
from analytics.selectors.dashboards import AdSummary, EmotionShare, Reading
from analytics.selectors.decisions import NO_READING
from analytics.stats import UnitCounts
from analytics.timelines import Timelines
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


def plotly_text(name: str) -> str:
    """User text (an ad's name) as Plotly draws it literally: Plotly reads tags in trace
    names, ticks and hover labels (`<a href>`, `<span style>`) and `%{...}` in hover
    templates, and turns entities back into characters, so both are written as entities."""
    return html.escape(name, quote=False).replace("%", "&#37;")


NOT_MEASURED_COLOUR = "#d0d4da"


def _hover(share: EmotionShare | None) -> list[Any]:
    """A bar's hover figures: faces labelled so, and the share's 95% bounds (%)."""
    if share is None:
        return [None, None, None]
    interval = share.interval
    return [share.count, round(100 * interval.low, 1), round(100 * interval.high, 1)]


def emotion_mix_bars(summaries: list[AdSummary]) -> dict[str, Any]:
    """Traces for 100% stacked bars, one per emotion the model measures reliably, with 95%
    error bars; the emotions an ad's model does not measure reliably are one grey part
    ("not measured reliably"), never drawn as a measured share."""
    with_faces = [s for s in summaries if s.faces]
    traces: list[dict[str, Any]] = []
    shares = [s.shares for s in with_faces]
    for index, name in enumerate(CLASSES):
        column = [ad[index] if ad[index].measured else None for ad in shares]
        if all(sh is None for sh in column):
            continue
        traces.append(
            {
                "type": "bar",
                "name": name,
                "x": [plotly_text(s.name) for s in with_faces],
                "y": [round(100 * sh.share, 2) if sh else None for sh in column],
                "customdata": [_hover(sh) for sh in column],
                "hovertemplate": (
                    "%{x}<br>" + name + ": %{y:.1f}% (%{customdata[0]} faces labelled so)"
                    "<br>95% CI %{customdata[1]}–%{customdata[2]}%<extra></extra>"
                ),
                "marker": {"color": EMOTION_COLOURS[name]},
                "error_y": {
                    "type": "data",
                    "symmetric": False,
                    "array": [
                        round(100 * (sh.interval.high - sh.share), 2) if sh else None
                        for sh in column
                    ],
                    "arrayminus": [
                        round(100 * (sh.share - sh.interval.low), 2) if sh else None
                        for sh in column
                    ],
                    "thickness": 1,
                    "width": 3,
                    "color": "#333",
                },
            }
        )
    unmeasured = [[sh for sh in ad if not sh.measured] for ad in shares]
    if any(unmeasured):
        traces.append(
            {
                "type": "bar",
                "name": "not measured reliably",
                "x": [plotly_text(s.name) for s in with_faces],
                "y": [round(100 * sum(sh.share for sh in ad), 2) for ad in unmeasured],
                "customdata": [
                    ["; ".join(f"{sh.emotion} ({sh.reason})" for sh in ad) or "nothing"]
                    for ad in unmeasured
                ],
                "hovertemplate": (
                    "%{x}<br>not measured reliably by this model: %{customdata[0]}<extra></extra>"
                ),
                "marker": {"color": NOT_MEASURED_COLOUR},
            }
        )
    return {
        "traces": traces,
        "faces": [s.faces for s in with_faces],
        "corrected": any(s.reading.corrected for s in with_faces),
    }


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


@dataclass(frozen=True)
class _Series:
    """One ad's points over the seconds: x, value and 95% bounds (None: a gap), units."""

    xs: list[float | None]
    values: list[float | None]
    lows: list[float | None]
    highs: list[float | None]
    units: list[int | None]


def _band_traces(series: _Series, *, name: str, colour: str, what: str) -> list[dict[str, Any]]:
    """The band (its upper edge, then its lower edge filled up to it) and the line."""
    xs = series.xs
    return [
        _band_edge(xs, series.highs, group=name),
        _band_edge(xs, series.lows, group=name, fill="tonexty", fillcolor=_rgba(colour, 0.15)),
        {
            "type": "scatter",
            "mode": "lines+markers",
            "name": name,
            "legendgroup": name,
            "x": xs,
            "y": series.values,
            "customdata": [
                [u, lo, hi]
                for u, lo, hi in zip(series.units, series.lows, series.highs, strict=True)
            ],
            "hovertemplate": (
                f"{name}<br>second %{{x:.1f}}: %{{y:.1f}} {what}"
                "<br>95% CI %{customdata[1]}–%{customdata[2]}<br>%{customdata[0]} units"
                "<extra></extra>"
            ),
            "line": {"color": colour},
            "connectgaps": False,
        },
    ]


def headline_timeline(
    timeline: Timelines,
    *,
    ads: Sequence[tuple[int, str]],
    headline: Headline,
    readings: Mapping[int, Reading],
) -> dict[str, Any]:
    """Per ad, the headline over the ad's seconds with its 95% band; ads overlaid. A gap
    (seconds no viewer's face was seen in) is left as a gap, never interpolated."""
    traces: list[dict[str, Any]] = []
    scale = 100.0
    for index, (ad_id, ad_name) in enumerate(ads):
        bins = timeline.bins.get(ad_id, [])
        if not bins:
            continue
        name = plotly_text(ad_name)
        colour = AD_COLOURS[index % len(AD_COLOURS)]
        correction = (readings.get(ad_id) or NO_READING).correction
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
            estimate = bin_.estimate(headline, correction)
            interval = estimate.interval
            xs.append((bin_.second_from + bin_.second_to) / 2)
            values.append(round(scale * estimate.value, 2))
            lows.append(round(scale * interval.low, 2))
            highs.append(round(scale * interval.high, 2))
            units.append(estimate.units)
            previous_end = bin_.second_to
        traces += _band_traces(
            _Series(xs, values, lows, highs, units),
            name=name,
            colour=colour,
            what=f"({headline.label})",
        )
    return {"traces": traces, "width": timeline.width, "label": headline.label}


def attention_timeline(
    attention: Mapping[int, Sequence[AttentionBin]], *, ads: Sequence[tuple[int, str]], width: int
) -> dict[str, Any]:
    """Per ad, the attentive share over the ad's seconds with its 95% band, in the chart
    format of `headline_timeline` (the dashboard draws either)."""
    traces: list[dict[str, Any]] = []
    for index, (ad_id, ad_name) in enumerate(ads):
        bins = attention.get(ad_id, [])
        if not bins:
            continue
        name = plotly_text(ad_name)
        colour = AD_COLOURS[index % len(AD_COLOURS)]
        xs: list[float | None] = [(b.second_from + b.second_to) / 2 for b in bins]
        values: list[float | None] = [round(100 * b.attentive.value, 2) for b in bins]
        lows: list[float | None] = [round(100 * b.attentive.low, 2) for b in bins]
        highs: list[float | None] = [round(100 * b.attentive.high, 2) for b in bins]
        traces += _band_traces(
            _Series(xs, values, lows, highs, [b.units for b in bins]),
            name=name,
            colour=colour,
            what="% attentive",
        )
    return {"traces": traces, "width": width, "label": HEADLINES["attention"].label}


def ad_upload_days(
    ad_days: dict[int, list[tuple[dt.date, dict[str, int]]]],
    *,
    ads: Sequence[tuple[int, str]],
    readings: Mapping[int, Reading],
) -> dict[str, Any]:
    """Per ad, its positive share (read as the page reads it) on each day it had uploads,
    with its 95% interval taking each face as a unit (the days are counted per face): points
    joined only across consecutive days (no line is drawn across days without uploads)."""
    traces = []
    days_seen: set[dt.date] = set()
    positive = HEADLINES["positive"]
    for index, (ad_id, ad_name) in enumerate(ads):
        series = ad_days.get(ad_id, [])
        if not series:
            continue
        name = plotly_text(ad_name)
        reading = readings.get(ad_id) or NO_READING
        xs: list[str | None] = []
        ys: list[float | None] = []
        bounds: list[list[float] | None] = []  # (low, high) in percent
        previous: dt.date | None = None
        for day, counts in series:
            if not sum(counts.values()):
                continue
            if previous is not None and (day - previous).days > 1:
                xs.append(None)
                ys.append(None)
                bounds.append(None)
            faces = UnitCounts(CLASSES)
            for label, count in counts.items():
                faces.add(None, label, count)
            estimate = reading.estimate(faces, positive)
            xs.append(day.isoformat())
            ys.append(round(100 * estimate.value, 2))
            bounds.append(
                [round(100 * estimate.interval.low, 1), round(100 * estimate.interval.high, 1)]
            )
            days_seen.add(day)
            previous = day
        traces.append(
            {
                "type": "scatter",
                "mode": "lines+markers",
                "name": name,
                "x": xs,
                "y": ys,
                "customdata": bounds,
                "hovertemplate": (
                    f"{name}<br>%{{x}}: %{{y:.1f}}% positive"
                    "<br>95% CI %{customdata[0]}–%{customdata[1]}% (faces as units)"
                    "<extra></extra>"
                ),
                "connectgaps": False,
                "line": {"color": AD_COLOURS[index % len(AD_COLOURS)]},
            }
        )
    return {"traces": traces, "days": len(days_seen)}
