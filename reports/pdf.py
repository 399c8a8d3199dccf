"""A campaign's report as a PDF: a first page in words (verdict, key moments, segment
differences, audience, model, filters), then the dashboard's charts and tables, the
creative's frames at the key moments and the "how to read" panel.

Every figure comes from `analytics.results` (what the dashboard and the API show),
with its 95% interval and its unit (viewers, or faces where no viewer is known); an emotion
the model does not measure reliably is said so, never printed as 0%. Drawn with reportlab
and matplotlib, both pure wheels: nothing is fetched and no system library is needed. Text
is set in DejaVu Sans from matplotlib's own data, so names in any European script print.
"""

from __future__ import annotations

import datetime as dt
import html
import io
from dataclasses import dataclass
from pathlib import Path

import matplotlib
import numpy as np
from django.utils import timezone
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    Flowable,
    Image,
    KeepTogether,
    ListFlowable,
    ListItem,
    PageBreak,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from analytics import comparisons, results
from analytics.selectors import decisions
from analytics.selectors.dashboards import AdSummary, DashboardFilters, EmotionShare
from analytics.stats import Estimate
from analytics.templatetags.figures import points
from campaigns.creatives import CreativeFrameMissing, ad_creative_is_video, creative_frame_jpeg
from campaigns.models import Ad, Campaign
from campaigns.storage import STORE_ERRORS
from reports import charts

FONT = "DejaVuSans"
FONT_BOLD = "DejaVuSans-Bold"
_FONTS = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
if FONT not in pdfmetrics.getRegisteredFontNames():
    pdfmetrics.registerFont(TTFont(FONT, str(_FONTS / "DejaVuSans.ttf")))
    pdfmetrics.registerFont(TTFont(FONT_BOLD, str(_FONTS / "DejaVuSans-Bold.ttf")))

CONTENT_WIDTH = A4[0] - 36 * mm
FRAME_WIDTH = 60 * mm


def _styles() -> dict[str, ParagraphStyle]:
    base = getSampleStyleSheet()
    body = ParagraphStyle("body", parent=base["BodyText"], fontName=FONT, fontSize=9.5, leading=13)
    return {
        "title": ParagraphStyle("title", parent=base["Title"], fontName=FONT_BOLD, fontSize=18),
        "h2": ParagraphStyle(
            "h2", parent=base["Heading2"], fontName=FONT_BOLD, fontSize=13, spaceBefore=8
        ),
        "body": body,
        "muted": ParagraphStyle("muted", parent=body, textColor=colors.HexColor("#555b66")),
        "lead": ParagraphStyle("lead", parent=body, fontName=FONT_BOLD, fontSize=11, leading=15),
        "cell": ParagraphStyle("cell", parent=body, fontSize=8, leading=10),
    }


def text(value: object) -> str:
    """User text (names, attribute values) as reportlab's paragraph markup prints it."""
    return html.escape(str(value), quote=False)


def figure_words(estimate: Estimate, unit_name: str = "viewers") -> str:
    """A figure with its 95% interval and what it rests on: '26% (95% CI 18 to 35; 22
    viewers)'; `unit_name` is viewers, or faces where no viewer is known."""
    unit = "%" if estimate.is_share else " points"
    interval = estimate.interval
    rests_on = f"{estimate.units:,} {unit_name}"
    return (
        f"{points(estimate.value)}{unit} (95% CI {points(interval.low)} to "
        f"{points(interval.high)}; {rests_on})"
    )


def _unit_words(summary: AdSummary) -> str:
    units = summary.units
    if units is None or not summary.faces:
        return "no faces"
    return f"{units.units} {units.unit_name}"


@dataclass
class ReportFrame:
    """The creative's frame at a key moment (None when it cannot be shown, `note` says why)."""

    moment: comparisons.KeyMoment
    jpeg: bytes | None
    note: str = ""


def _moment_frames(moments: list[comparisons.KeyMoment], ads: dict[int, Ad]) -> list[ReportFrame]:
    """Each key moment with its creative's frame, read as the dashboard reads it."""
    found = []
    for moment in moments:
        ad = ads.get(moment.ad_id)
        if ad is None or not ad.creative or not ad_creative_is_video(ad):
            found.append(ReportFrame(moment, None))
            continue
        try:
            jpeg = creative_frame_jpeg(ad=ad, seconds=moment.second_from, max_side=480)
        except CreativeFrameMissing as exc:
            found.append(ReportFrame(moment, None, str(exc)))
        except STORE_ERRORS:
            found.append(ReportFrame(moment, None, "The creative's file store cannot be reached."))
        else:
            found.append(ReportFrame(moment, jpeg))
    return found


def filters_in_force(found: results.CampaignResults) -> list[str]:
    """The filters the figures were read under, in words."""
    filters: DashboardFilters = found.filters
    lines = [f"Ads ranked by {found.headline.label}."]
    if filters.model_version is not None:
        version = filters.model_version
        lines.append(f"Model version: {version.name} {version.version} for every ad.")
    else:
        lines.append("Model version: each ad shows the newest version that analysed it.")
    if filters.date_from or filters.date_to:
        start = filters.date_from.isoformat() if filters.date_from else "the first upload"
        end = filters.date_to.isoformat() if filters.date_to else "the last upload"
        lines.append(f"Uploads from {start} to {end}.")
    else:
        lines.append("All uploads.")
    if filters.min_confidence > 0:
        lines.append(f"Only faces whose top emotion has at least {filters.min_confidence:.0%}.")
    if filters.segment is not None:
        lines.append(f"Only viewers with {filters.segment[0]}: {filters.segment[1]}.")
    lines.append(
        "Shares as classified (the model's labels, not corrected)."
        if filters.as_classified
        else "Shares corrected for the model's errors measured on real photos."
    )
    if found.attribute:
        lines.append(f"Segments: broken down by {found.attribute}.")
    return lines + _low_quality_lines(found)


def _low_quality_lines(found: results.CampaignResults) -> list[str]:
    """The viewers marked low quality (capture sessions under a study's threshold), left out
    unless the filters put them back."""
    n = found.low_quality_viewers
    if not n:
        return []
    viewers = f"{n} viewer{'s' if n != 1 else ''}"
    if found.filters.with_low_quality:
        return [f"{viewers} marked low quality counted, as asked."]
    return [f"{viewers} left out: low-quality capture session{'s' if n != 1 else ''}."]


def _model_words(found: results.CampaignResults) -> str:
    shown = found.shown_versions
    if not shown:
        return "no model has analysed these ads yet"
    return ", ".join(f"{v.name} {v.version}" for v in shown)


def _audience_words(found: results.CampaignResults) -> str:
    with_faces = [s for s in found.summaries if s.faces and s.units is not None]
    viewer_ids = [s.units.viewer_ids for s in with_faces if s.units is not None]
    viewers = len(np.unique(np.concatenate(viewer_ids))) if viewer_ids else 0
    singles = sum(s.units.single_faces for s in with_faces if s.units is not None)
    words = f"{len(with_faces)} ad{'s' if len(with_faces) != 1 else ''} with faces"
    words += f", {viewers:,} viewer{'s' if viewers != 1 else ''}"
    if singles:
        words += f" and {singles:,} faces of no known viewer (each one unit)"
    return f"{words}; {found.total_faces:,} faces analysed in all."


def segment_differences(found: results.CampaignResults) -> list[str]:
    """Per ad, its highest and lowest segment among those with enough units to compare,
    each figure with its interval."""
    if not found.segment_rows:
        return []
    lines = []
    for ad_id, name in found.ads:
        cells = [
            (row.value, row.per_ad[ad_id])
            for row in found.segment_rows
            if ad_id in row.per_ad and row.per_ad[ad_id].enough
        ]
        if len(cells) < 2:
            continue
        cells.sort(key=lambda item: item[1].estimate.value)
        (low_value, low), (high_value, high) = cells[0], cells[-1]
        lines.append(
            f"<b>{text(name)}</b>: {text(found.headline.label)} highest among "
            f"{text(found.attribute)} = {text(high_value)}, "
            f"{figure_words(high.estimate, high.units.unit_name)}; "
            f"lowest among {text(low_value)}, {figure_words(low.estimate, low.units.unit_name)}."
        )
    return lines


def _table(rows: list[list[object]], widths: list[float] | None = None) -> Table:
    table = Table(rows, colWidths=widths, repeatRows=1, hAlign="LEFT")
    table.setStyle(
        TableStyle(
            [
                ("FONTNAME", (0, 0), (-1, -1), FONT),
                ("FONTNAME", (0, 0), (-1, 0), FONT_BOLD),
                ("FONTSIZE", (0, 0), (-1, -1), 8),
                ("LINEBELOW", (0, 0), (-1, 0), 0.6, colors.HexColor("#1d2330")),
                ("LINEBELOW", (0, 1), (-1, -1), 0.25, colors.HexColor("#e3e6eb")),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ]
        )
    )
    return table


def _chart(png: bytes, width: float = CONTENT_WIDTH) -> Image:
    image = Image(io.BytesIO(png))
    image.drawHeight = image.drawHeight * width / image.drawWidth
    image.drawWidth = width
    return image


def _share_cell(share: EmotionShare) -> str:
    if not share.measured:
        return "not measured"
    return f"{share.percent:.0f}% ({share.low_percent:.0f}–{share.high_percent:.0f})"


@dataclass
class CampaignReport:
    """What the report is made of: the dashboard's results and timeline, and the frames."""

    found: results.CampaignResults
    frames: list[ReportFrame]
    generated_at: dt.datetime


def campaign_report_read(
    *,
    campaign: Campaign,
    filters: DashboardFilters,
    headline: str | None = None,
    breakdown: str = "",
    with_frames: bool = True,
    now: dt.datetime | None = None,
) -> CampaignReport:
    """The report's figures: `campaign_results` under the dashboard's filters, broken down by
    `breakdown` (or, without one, the campaign's first viewer attribute, so the report can
    say which segments differ)."""
    if not breakdown:
        breakdown = next(iter(decisions.attribute_values(campaign=campaign)), "")
    found = results.campaign_results(
        campaign=campaign, filters=filters, headline=headline, breakdown=breakdown
    )
    ads = {ad.pk: ad for ad in Ad.objects.filter(campaign=campaign)}
    frames = _moment_frames(found.moments, ads) if with_frames else []
    return CampaignReport(found=found, frames=frames, generated_at=now or timezone.now())


def campaign_report_pdf(report: CampaignReport) -> bytes:
    """The report as PDF bytes."""
    found = report.found
    styles = _styles()
    model = _model_words(found)
    story: list[Flowable] = []
    story += _first_page(report, styles, model)
    story.append(PageBreak())
    story += _ranking(found, styles)
    story += _timeline(report, styles)
    story += _mix(found, styles)
    story += _segments(found, styles)
    story += _norms(found, styles)
    story += _how_to_read(found, styles)

    def footer(canvas: Canvas, document: SimpleDocTemplate) -> None:
        canvas.saveState()
        canvas.setFont(FONT, 7.5)
        canvas.setFillColor(colors.HexColor("#555b66"))
        canvas.drawString(
            18 * mm,
            10 * mm,
            f"{found.campaign.name} · figures by {model} · page {canvas.getPageNumber()}",
        )
        canvas.restoreState()

    buffer = io.BytesIO()
    document = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=18 * mm,
        rightMargin=18 * mm,
        topMargin=16 * mm,
        bottomMargin=18 * mm,
        title=f"{found.campaign.name}: campaign report",
        author="FER analytics",
        subject=f"Figures by {model}",
    )
    document.build(story, onFirstPage=footer, onLaterPages=footer)
    return buffer.getvalue()


def _first_page(
    report: CampaignReport, styles: dict[str, ParagraphStyle], model: str
) -> list[Flowable]:
    found = report.found
    generated = timezone.localtime(report.generated_at).strftime("%Y-%m-%d %H:%M")
    story: list[Flowable] = [
        Paragraph(f"{text(found.campaign.name)}: how viewers reacted", styles["title"]),
        Paragraph(
            f"Campaign report generated {generated} ({timezone.get_current_timezone_name()}). "
            f"Figures by <b>{text(model)}</b>.",
            styles["muted"],
        ),
        Paragraph("Filters in force: " + text(" ".join(filters_in_force(found))), styles["muted"]),
        Spacer(1, 4 * mm),
        Paragraph("Audience: " + text(_audience_words(found)), styles["body"]),
        Paragraph("Verdict", styles["h2"]),
    ]
    if not found.total_faces:
        story.append(Paragraph("No faces to report yet under these filters.", styles["lead"]))
        return story
    story += [
        Paragraph(text(found.verdict.summary), styles["lead"]),
        Paragraph(text(found.verdict.unit_note), styles["muted"]),
        Paragraph("Key moments", styles["h2"]),
    ]
    if found.moments:
        story.append(
            ListFlowable(
                [
                    ListItem(
                        Paragraph(f"<b>{text(m.ad_name)}</b>, {text(m.sentence)}.", styles["body"])
                    )
                    for m in found.moments
                ],
                bulletType="bullet",
            )
        )
    else:
        story.append(
            Paragraph(
                "No change of the positive or negative share between neighbouring seconds is "
                "beyond noise"
                + ("." if found.has_timeline else " (no face has a second of the ad)."),
                styles["body"],
            )
        )
    story.append(Paragraph("Segments", styles["h2"]))
    differences = segment_differences(found)
    if differences:
        story.append(
            ListFlowable(
                [ListItem(Paragraph(line, styles["body"])) for line in differences],
                bulletType="bullet",
            )
        )
    else:
        story.append(
            Paragraph(
                "No segment has enough viewers to compare."
                if found.attribute
                else "No viewer attributes: upload a manifest with columns such as market "
                "or age_band to compare segments.",
                styles["body"],
            )
        )
    unmeasured = found.how_to_read.get("unmeasured") or {}
    if isinstance(unmeasured, dict) and unmeasured:
        story.append(Paragraph("Not measured", styles["h2"]))
        story.append(
            Paragraph(
                f"{text(model)} does not measure these reliably on real faces, so the report "
                "shows no share for them (unknown, not none): "
                + "; ".join(f"<b>{text(k)}</b> ({text(v)})" for k, v in unmeasured.items())
                + ".",
                styles["body"],
            )
        )
    return story


def _ranking(found: results.CampaignResults, styles: dict[str, ParagraphStyle]) -> list[Flowable]:
    headline = found.headline
    rows: list[list[object]] = [["Rank", "Ad", headline.label.capitalize(), "Against the best"]]
    for standing in found.verdict.standings:
        if not standing.units.faces:
            continue
        rows.append(
            [
                str(standing.rank or "—"),
                Paragraph(text(standing.name), styles["cell"]),
                Paragraph(
                    figure_words(standing.estimate, standing.units.unit_name), styles["cell"]
                ),
                Paragraph(
                    "the best" if standing.rank == 1 else text(standing.sentence), styles["cell"]
                ),
            ]
        )
    return [
        Paragraph(f"Which ad is better on {text(headline.label)}?", styles["h2"]),
        _table(rows, [12 * mm, 36 * mm, 64 * mm, CONTENT_WIDTH - 112 * mm]),
        Paragraph(
            "Units are viewers (faces where no viewer is known). Differences are tested for "
            "every pair of ranked ads, corrected for the number of pairs (Holm); an ad with "
            "fewer than 10 viewers (30 faces) is shown but not ranked.",
            styles["muted"],
        ),
    ]


def _timeline(report: CampaignReport, styles: dict[str, ParagraphStyle]) -> list[Flowable]:
    found = report.found
    timeline = found.timeline
    story: list[Flowable] = [
        Paragraph(f"{text(found.headline.label.capitalize())} over the ad's seconds", styles["h2"])
    ]
    if not timeline.exist:
        story.append(
            Paragraph("No face under these filters has a second of the ad.", styles["muted"])
        )
        return story
    story.append(
        _chart(
            charts.timeline_png(
                timeline, ads=found.ads, headline=found.headline, readings=found.readings
            )
        )
    )
    story.append(
        Paragraph(
            f"Bins of {timeline.width} s; the band is the 95% interval. Seconds where no viewer "
            "was seen are left empty.",
            styles["muted"],
        )
    )
    if report.frames:
        story.append(Paragraph("The creative at the key moments", styles["h2"]))
        for frame in report.frames:
            words = Paragraph(
                f"<b>{text(frame.moment.ad_name)}</b>, {text(frame.moment.sentence)}."
                + (f" <i>{text(frame.note)}</i>" if frame.note else ""),
                styles["body"],
            )
            if frame.jpeg is None:
                story.append(words)
                continue
            picture = _chart(frame.jpeg, FRAME_WIDTH)
            story.append(
                KeepTogether(_table_plain([[picture, words]], [FRAME_WIDTH + 4 * mm, None]))
            )
    return story


def _table_plain(rows: list[list[object]], widths: list[float | None]) -> Table:
    table = Table(rows, colWidths=widths, hAlign="LEFT")
    table.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP")]))
    return table


def _mix(found: results.CampaignResults, styles: dict[str, ParagraphStyle]) -> list[Flowable]:
    with_faces = [s for s in found.summaries if s.faces]
    if not with_faces:
        return []
    emotions = [share.emotion for share in with_faces[0].shares]
    rows: list[list[object]] = [["Ad", "Units", *emotions]]
    for summary in with_faces:
        rows.append(
            [
                Paragraph(text(summary.name), styles["cell"]),
                _unit_words(summary),
                *(Paragraph(_share_cell(share), styles["cell"]) for share in summary.shares),
            ]
        )
    first = 30 * mm
    units = 20 * mm
    rest = (CONTENT_WIDTH - first - units) / len(emotions)
    return [
        KeepTogether(
            [
                Paragraph("Emotion mix per ad", styles["h2"]),
                _chart(charts.emotion_mix_png(with_faces)),
            ]
        ),
        _table(rows, [first, units, *([rest] * len(emotions))]),
        Paragraph(
            "Each emotion's share of the viewers' faces with its 95% interval, "
            + (
                "as classified."
                if found.filters.as_classified
                else "its group's corrected share split as the model splits that group's labels."
            )
            + " Emotions the model does not measure reliably are one grey part on the chart and "
            "'not measured' in the table, never a share (the first page says why).",
            styles["muted"],
        ),
    ]


def _segments(found: results.CampaignResults, styles: dict[str, ParagraphStyle]) -> list[Flowable]:
    if not found.segment_rows:
        return []
    headline = found.headline
    names = [name for _, name in found.ads]
    rows: list[list[object]] = [[found.attribute, *names]]
    for row in found.segment_rows:
        cells: list[object] = [Paragraph(text(row.value), styles["cell"])]
        for ad_id, _ in found.ads:
            cell = row.per_ad.get(ad_id)
            if cell is None or not cell.units.faces:
                cells.append("—")
                continue
            words = figure_words(cell.estimate, cell.units.unit_name)
            if not cell.enough:
                words += ", too few to compare"
            cells.append(Paragraph(words, styles["cell"]))
        rows.append(cells)
    first = 28 * mm
    rest = (CONTENT_WIDTH - first) / max(len(names), 1)
    return [
        KeepTogether(
            [
                Paragraph(
                    f"For whom: {text(headline.label)} per {text(found.attribute)}", styles["h2"]
                ),
                _chart(charts.segments_png(found.segment_rows, ads=found.ads, headline=headline)),
            ]
        ),
        _table(rows, [first, *([rest] * len(names))]),
        Paragraph(
            "Hollow points and cells marked 'too few to compare' rest on fewer than 10 viewers "
            "(30 faces).",
            styles["muted"],
        ),
    ]


def _norms(found: results.CampaignResults, styles: dict[str, ParagraphStyle]) -> list[Flowable]:
    if not found.norms:
        return []
    headline = found.headline
    names = dict(found.ads)
    standings = {
        s.ad_id: (s.estimate.interval.low, s.estimate.interval.high)
        for s in found.verdict.standings
    }
    rows: list[list[object]] = [
        ["Ad", headline.label.capitalize(), "Campaign average", "Team percentile"]
    ]
    by_ad = {s.ad_id: s for s in found.verdict.standings}
    unit_name = "viewers" if any(s.units.viewer_count for s in by_ad.values()) else "faces"
    for norm in found.norms:
        average = norm.campaign_average
        rows.append(
            [
                Paragraph(text(names.get(norm.ad_id, "?")), styles["cell"]),
                Paragraph(
                    figure_words(by_ad[norm.ad_id].estimate, by_ad[norm.ad_id].units.unit_name),
                    styles["cell"],
                ),
                Paragraph(figure_words(average, unit_name) if average else "—", styles["cell"]),
                f"{points(norm.percentile)}th"
                if norm.percentile is not None
                else "too few to rank",
            ]
        )
    norm_ads = found.norms[0].norm_ads
    return [
        KeepTogether(
            [
                Paragraph("Against the norm", styles["h2"]),
                _chart(
                    charts.norms_png(
                        found.norms, ads=found.ads, standings=standings, headline=headline
                    )
                ),
            ]
        ),
        _table(rows, [40 * mm, 50 * mm, 50 * mm, CONTENT_WIDTH - 140 * mm]),
        Paragraph(
            f"The team's norm rests on {norm_ads} analysed ad{'s' if norm_ads != 1 else ''} with "
            "enough viewers to rank, under the same filters: the percentile is the share of them "
            "this ad beats, ties counted half."
            + (" With so few ads, read it as a rough guide." if norm_ads < 10 else ""),
            styles["muted"],
        ),
    ]


def _how_to_read(
    found: results.CampaignResults, styles: dict[str, ParagraphStyle]
) -> list[Flowable]:
    info = found.how_to_read
    story: list[Flowable] = [Paragraph("How to read these numbers", styles["h2"])]
    version = info.get("model_version")
    accuracy = info.get("fer2013_accuracy")
    real = info.get("real_accuracy")
    sentence = f"Each face's expression is read by a model, {text(version or 'the active model')}"
    if isinstance(accuracy, float):
        sentence += f", right on about {points(accuracy)}% of a standard benchmark of face crops"
    if isinstance(real, float):
        sentence += (
            f" and on about {points(real)}% of {info.get('real_photos')} real labelled photos"
        )
    story.append(Paragraph(sentence + ".", styles["body"]))
    misreadings = info.get("misreadings")
    if isinstance(misreadings, dict) and misreadings:
        corrected = (
            "These shares are as classified: the share of faces given each label, not corrected."
            if info.get("as_classified")
            else "So the shares shown are corrected: they estimate what viewers' faces showed, "
            "allowing for how often the model misreads each kind of face."
        )
        story.append(
            Paragraph(
                f"On {info.get('measured_photos')} labelled real photos the model read "
                f"{points(misreadings.get('other_as_negative'))}% of neutral or surprised faces "
                f"as negative, {points(misreadings.get('positive_as_negative'))}% of happy faces "
                f"as negative and {points(misreadings.get('negative_as_negative'))}% of negative "
                f"faces as negative. {corrected}",
                styles["body"],
            )
        )
    story.append(
        Paragraph(
            "Every figure comes with a 95% interval: the range the true value most likely lies "
            "in. It covers which viewers happened to be filmed (each viewer counts once, however "
            "many faces show them)"
            + ("" if found.filters.as_classified else " and how well the model's errors are known")
            + ". Two ads whose difference has an interval that includes 0 are not clearly "
            "different.",
            styles["body"],
        )
    )
    story.append(
        Paragraph(
            "An expression is not a feeling, an opinion or an intention to buy: people smile to "
            "be polite and frown to concentrate. Read the figures as what viewers' faces showed, "
            "and never use them to judge an individual.",
            styles["body"],
        )
    )
    return story
