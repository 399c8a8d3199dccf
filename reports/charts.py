"""The report's charts, drawn with matplotlib as PNG images from the dashboard's own figures
(`analytics.results`): the same values, intervals and colours as its Plotly charts.

Figures are made with `matplotlib.figure.Figure` (no pyplot: no global state shared between
requests) and the Agg canvas, so nothing needs a display or a system library.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from analytics.charts import AD_COLOURS, EMOTION_COLOURS, NOT_MEASURED_COLOUR
from analytics.comparisons import Norm, SegmentRow
from analytics.headlines import Headline
from analytics.selectors.dashboards import AdSummary, Reading
from analytics.selectors.decisions import NO_READING
from analytics.timelines import Timelines
from ml import CLASSES

DPI = 150
WIDTH_INCHES = 7.0


def chart_text(text: str) -> str:
    """User text (an ad's name) as matplotlib draws it literally: `$...$` would be read as
    mathematical notation."""
    return text.replace("\\", "\\\\").replace("$", r"\$")


def _png(figure: Figure) -> bytes:
    FigureCanvasAgg(figure)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI, bbox_inches="tight")
    return buffer.getvalue()


def _ad_colour(index: int) -> str:
    return AD_COLOURS[index % len(AD_COLOURS)]


def timeline_png(
    timeline: Timelines,
    *,
    ads: Sequence[tuple[int, str]],
    headline: Headline,
    readings: Mapping[int, Reading],
) -> bytes:
    """Each ad's headline over its seconds with the 95% band, ads overlaid; seconds no
    viewer was seen in are left as gaps (as `analytics.charts.headline_timeline`)."""
    figure = Figure(figsize=(WIDTH_INCHES, 3.2))
    axes = figure.add_subplot()
    for index, (ad_id, name) in enumerate(ads):
        bins = timeline.bins.get(ad_id, [])
        if not bins:
            continue
        correction = (readings.get(ad_id) or NO_READING).correction
        xs: list[float] = []
        values: list[float] = []
        lows: list[float] = []
        highs: list[float] = []
        previous_end = None
        for bin_ in bins:
            if previous_end is not None and bin_.second_from != previous_end:
                xs.append(np.nan)
                values.append(np.nan)
                lows.append(np.nan)
                highs.append(np.nan)
            estimate = bin_.estimate(headline, correction)
            xs.append((bin_.second_from + bin_.second_to) / 2)
            values.append(100 * estimate.value)
            lows.append(100 * estimate.interval.low)
            highs.append(100 * estimate.interval.high)
            previous_end = bin_.second_to
        colour = _ad_colour(index)
        axes.fill_between(xs, lows, highs, color=colour, alpha=0.18, linewidth=0)
        axes.plot(xs, values, color=colour, marker="o", markersize=3, label=chart_text(name))
    axes.set_xlabel("Second of the ad")
    axes.set_ylabel(f"{headline.label} ({'%' if headline.is_share else 'points'})")
    axes.set_xlim(left=0)
    axes.grid(alpha=0.3)
    axes.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncols=4, frameon=False)
    return _png(figure)


def emotion_mix_png(summaries: Sequence[AdSummary]) -> bytes:
    """100% stacked bars per ad, one part per emotion its model measures reliably with its
    95% whisker; the emotions it does not measure are one grey part, never a share."""
    with_faces = [s for s in summaries if s.faces]
    figure = Figure(figsize=(WIDTH_INCHES, 0.6 + 0.55 * max(len(with_faces), 1)))
    axes = figure.add_subplot()
    names = [chart_text(s.name) for s in with_faces]
    positions = np.arange(len(with_faces))
    left = np.zeros(len(with_faces))
    shares = [s.shares for s in with_faces]
    for index, emotion in enumerate(CLASSES):
        column = [ad[index] if ad[index].measured else None for ad in shares]
        if all(share is None for share in column):
            continue
        widths = np.array([100 * share.share if share else 0.0 for share in column])
        axes.barh(positions, widths, left=left, color=EMOTION_COLOURS[emotion], label=emotion)
        ends = left + widths
        for row, share in enumerate(column):
            if share is not None and share.share > 0:
                axes.errorbar(
                    ends[row],
                    positions[row],
                    xerr=[
                        [100 * (share.share - share.interval.low)],
                        [100 * (share.interval.high - share.share)],
                    ],
                    color="#333",
                    linewidth=0.8,
                    capsize=2,
                )
        left = ends
    unmeasured = np.array([100 * sum(s.share for s in ad if not s.measured) for ad in shares])
    if unmeasured.any():
        axes.barh(
            positions,
            unmeasured,
            left=left,
            color=NOT_MEASURED_COLOUR,
            label="not measured reliably",
        )
    axes.set_yticks(positions, names)
    axes.invert_yaxis()
    axes.set_xlim(0, 100)
    axes.set_xlabel("Share of viewers' faces (%)")
    axes.legend(loc="upper center", bbox_to_anchor=(0.5, -0.25), ncols=4, frameon=False)
    return _png(figure)


def segments_png(
    rows: Sequence[SegmentRow], *, ads: Sequence[tuple[int, str]], headline: Headline
) -> bytes:
    """Each segment's headline per ad with its 95% interval; a cell with too few units to
    compare is drawn hollow."""
    figure = Figure(figsize=(WIDTH_INCHES, 0.8 + 0.45 * max(len(rows), 1)))
    axes = figure.add_subplot()
    offsets = np.linspace(-0.25, 0.25, len(ads)) if len(ads) > 1 else np.zeros(1)
    for index, (ad_id, name) in enumerate(ads):
        colour = _ad_colour(index)
        drawn = False
        for position, row in enumerate(rows):
            cell = row.per_ad.get(ad_id)
            if cell is None or not cell.units.faces:
                continue
            estimate = cell.estimate
            value = 100 * estimate.value
            axes.errorbar(
                value,
                position + offsets[index],
                xerr=[
                    [value - 100 * estimate.interval.low],
                    [100 * estimate.interval.high - value],
                ],
                fmt="o",
                color=colour,
                markerfacecolor=colour if cell.enough else "white",
                capsize=2,
                label=None if drawn else chart_text(name),
            )
            drawn = True
    axes.set_yticks(np.arange(len(rows)), [chart_text(row.value) for row in rows])
    axes.invert_yaxis()
    axes.set_xlabel(f"{headline.label} ({'%' if headline.is_share else 'points'}), 95% interval")
    axes.grid(axis="x", alpha=0.3)
    axes.legend(loc="upper center", bbox_to_anchor=(0.5, -0.3), ncols=4, frameon=False)
    return _png(figure)


def norms_png(
    norms: Sequence[Norm],
    *,
    ads: Sequence[tuple[int, str]],
    standings: Mapping[int, tuple[float, float]],
    headline: Headline,
) -> bytes:
    """Each ad's headline with its 95% interval (`standings`: ad id -> bounds) against the
    campaign average and its band."""
    names = dict(ads)
    figure = Figure(figsize=(WIDTH_INCHES, 0.8 + 0.45 * max(len(norms), 1)))
    axes = figure.add_subplot()
    average = next((n.campaign_average for n in norms if n.campaign_average), None)
    if average is not None:
        axes.axvspan(
            100 * average.interval.low, 100 * average.interval.high, color="#999", alpha=0.2
        )
        axes.axvline(100 * average.value, color="#555", linestyle="--", label="campaign average")
    colour_of = {ad_id: _ad_colour(index) for index, (ad_id, _) in enumerate(ads)}
    for position, norm in enumerate(norms):
        low, high = standings.get(norm.ad_id, (norm.value, norm.value))
        colour = colour_of.get(norm.ad_id, AD_COLOURS[0])
        value = 100 * norm.value
        axes.errorbar(
            value,
            position,
            xerr=[[value - 100 * low], [100 * high - value]],
            fmt="o",
            color=colour,
            capsize=3,
        )
    axes.set_yticks(np.arange(len(norms)), [chart_text(names.get(n.ad_id, "?")) for n in norms])
    axes.invert_yaxis()
    axes.set_xlabel(f"{headline.label} ({'%' if headline.is_share else 'points'}), 95% interval")
    axes.grid(axis="x", alpha=0.3)
    if average is not None:
        axes.legend(loc="upper center", bbox_to_anchor=(0.5, -0.3), frameon=False)
    return _png(figure)
