"""CSV exports of a campaign or an ad: one row per face, per ad, per bin of the ad's timeline,
or per viewer, with 95% bounds on every share.

Rows are generated lazily from `values_list(...).iterator(chunk_size=...)` (a server-side
cursor on PostgreSQL), so a million-face export holds one chunk in memory, never the result.

Files open as they should in Excel by default: UTF-8 with a BOM (without one Excel reads
"Café" as "CafÃ©"), times as `YYYY-MM-DD HH:MM:SS` in the site's time zone (Excel parses
those as dates, not ISO 8601 with its "T" and offset). Text cells, the header's included, are
neutralised against spreadsheet formula injection.
"""

from __future__ import annotations

import csv
import datetime as dt
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from django.db.models import Count, F, QuerySet
from django.db.models.functions import Floor
from django.http import StreamingHttpResponse
from django.utils import timezone
from django.utils.text import slugify

from analytics.attention import AttentionBin, Share, attention_bins
from analytics.headlines import GROUP_HEADLINES, HEADLINES
from analytics.selectors.dashboards import (
    DashboardFilters,
    Reading,
    ad_readings,
    attention_frame_counts,
    every_face_queryset,
    face_queryset,
)
from analytics.selectors.decisions import NO_READING, ad_summaries, ad_summary
from analytics.stats import Estimate, UnitCounts
from campaigns.models import (
    ATTENTION_FIELDS,
    PROB_FIELDS,
    Ad,
    Campaign,
    Face,
    Viewer,
    ViewerAttribute,
)
from ml import CLASSES
from ml.attentive import QUALITY_MIN, attentive

EXPORT_CHUNK_SIZE = 2000

# A cell starting with one of these is run as a formula by Excel, LibreOffice and Sheets.
_FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")

UTF8_BOM = "\ufeff"

# A figure and its 95% bounds: `positive`, `positive_ci_low`, `positive_ci_high`.
BOUND_ENDS = ("", "_ci_low", "_ci_high")

FACE_COLUMNS: tuple[str, ...] = (
    "campaign",
    "ad",
    "batch_id",
    "batch",
    "image",
    "viewer",
    "offset_seconds",
    "source_video",
    "frame_seconds",
    "face_index",
    "x",
    "y",
    "w",
    "h",
    "label",
    *PROB_FIELDS,
    "confidence",
    *ATTENTION_FIELDS,
    "attentive",
    "expression_counted",
    "model_version",
    "processed_at",
)


# The per-ad summary's headline: which group the ad's faces showed most (positive, negative
# or neither), then the positive and negative shares and the valence with their 95% bounds,
# corrected for the model's measured errors unless `shares` says "as classified".
HEADLINE_COLUMNS: tuple[str, ...] = (
    "dominant",
    *(f"{key}{end}" for key in ("positive", "negative", "valence") for end in BOUND_ENDS),
)
# The same positive and negative shares as the model labelled the faces (never corrected).
CLASSIFIED_COLUMNS: tuple[str, ...] = tuple(
    f"{key}_as_classified{end}" for key in ("positive", "negative") for end in BOUND_ENDS
)
# What the figures of a row are and what their intervals cover.
READING_COLUMNS: tuple[str, ...] = ("model_version", "shares", "interval_covers", "not_measured")


def _emotion_columns() -> list[str]:
    return [f"share_{name}{end}" for name in CLASSES for end in BOUND_ENDS]


def ad_columns() -> tuple[str, ...]:
    return (
        "campaign",
        "ad",
        "photos",
        "faces",
        "unit",
        "units",
        "mean_confidence",
        *HEADLINE_COLUMNS,
        *CLASSIFIED_COLUMNS,
        *READING_COLUMNS,
        *(f"n_{name}" for name in CLASSES),
        *_emotion_columns(),
    )


def _estimate_cells(estimate: Estimate | None) -> list[str]:
    """A figure and its 95% bounds; blank when there is nothing to estimate (a share of no
    face is not 0) or the model does not measure it (`None`)."""
    if estimate is None or not estimate.faces:
        return ["", "", ""]
    interval = estimate.interval
    return [f"{estimate.value:.6f}", f"{interval.low:.6f}", f"{interval.high:.6f}"]


def _reading_cells(reading: Reading) -> list[str]:
    if reading.corrected:
        shares = "corrected for the model's errors measured on real photos"
        covers = "the sampling of viewers and the uncertainty of the model's measured errors"
    else:
        shares = reading.note or "as classified"
        covers = "the sampling of viewers only (shares as classified)"
    unmeasured = "; ".join(f"{name}: {why}" for name, why in reading.unmeasured.items())
    return [reading.model_name, shares, covers, unmeasured]


def _headline_cells(units: UnitCounts | None, reading: Reading) -> list[str]:
    """The dominant group, the headline shares with their bounds, read with `reading`, then
    the positive and negative shares as classified."""
    if units is None or not units.faces:
        return [""] * (len(HEADLINE_COLUMNS) + len(CLASSIFIED_COLUMNS))
    groups = [reading.estimate(units, headline) for headline in GROUP_HEADLINES]
    largest = max(range(len(groups)), key=lambda i: groups[i].value)
    cells = [("positive", "negative", "neither")[largest]]
    for key in ("positive", "negative", "valence"):
        cells += _estimate_cells(reading.estimate(units, HEADLINES[key]))
    classified = NO_READING
    for key in ("positive", "negative"):
        cells += _estimate_cells(classified.estimate(units, HEADLINES[key]))
    return cells


def _emotion_cells(units: UnitCounts | None, reading: Reading) -> list[str]:
    cells: list[str] = []
    for name in CLASSES:
        measured = reading.measures(name) and units is not None
        cells += _estimate_cells(reading.estimate(units, HEADLINES[name]) if measured else None)
    return cells


def cell_safe(value: Any) -> Any:
    """Prefix a text cell that a spreadsheet would evaluate with a quote, so it stays text;
    a number written as text ("-0.25", a negative valence) is a number, not a formula."""
    if isinstance(value, str) and value.startswith(_FORMULA_TRIGGERS) and not figure_text(value):
        return "'" + value
    return value


def figure_text(text: str) -> bool:
    """Whether a cell is a plain decimal number (what this module writes for figures)."""
    return re.fullmatch(r"[+-]?(\d+(\.\d*)?|\.\d+)", text) is not None


# CSV dialects: "excel" (comma, decimal point: what English Excel and every tool read) and
# "eu" (semicolon, decimal comma: what German, French and most European Excels read).
CSV_DIALECTS = ("excel", "eu")

# Columns of words or of text someone wrote (names, manifest attributes): never numbers.
TEXT_COLUMNS = frozenset(
    {
        "campaign",
        "ad",
        "batch",
        "image",
        "viewer",
        "source_video",
        "label",
        "model_version",
        "processed_at",
        "unit",
        "dominant",
        "shares",
        "interval_covers",
        "not_measured",
    }
)


def figure_columns(header: Iterable[str]) -> list[bool]:
    """Which of the columns hold figures: those this module names (a viewer attribute's
    column, named by the manifest, holds text whatever it looks like)."""
    known = set(FACE_COLUMNS) | set(ad_columns()) | set(timeline_columns())
    known |= set(_VIEWER_FIGURES)
    return [name in known and name not in TEXT_COLUMNS for name in header]


def _decimal_comma(value: Any) -> Any:
    """A figure written with a decimal comma ("0,25"), for the eu dialect."""
    if isinstance(value, float):
        return repr(value).replace(".", ",")
    if isinstance(value, str) and figure_text(value):
        return value.replace(".", ",")
    return value


class _Echo:
    """A file-like object whose write returns the line, so csv.writer can feed a generator."""

    def write(self, value: str) -> str:
        return value


def csv_lines(
    header: Iterable[str],
    rows: Iterable[Iterable[Any]],
    *,
    bom: bool = True,
    dialect: str = "excel",
) -> Iterator[str]:
    """The CSV text, one line at a time; with a UTF-8 BOM first unless `bom` is False. The
    "eu" dialect separates cells with ";" and writes figures with a decimal comma."""
    header = list(header)
    eu = dialect == "eu"
    writer = csv.writer(_Echo(), delimiter=";" if eu else ",")
    figures = figure_columns(header)
    if bom:
        yield UTF8_BOM
    # Header cells too: the viewers export's columns are the manifest's own names.
    yield writer.writerow([cell_safe(name) for name in header])
    for row in rows:
        cells = [cell_safe(value) for value in row]
        if eu:
            cells = [
                _decimal_comma(c) if figure else c
                for c, figure in zip(cells, figures, strict=False)
            ]
        yield writer.writerow(cells)


def streaming_csv_response(
    *,
    filename: str,
    header: Iterable[str],
    rows: Iterable[Iterable[Any]],
    bom: bool = True,
    dialect: str = "excel",
) -> StreamingHttpResponse:
    """A download that streams `rows` as they are produced (with a BOM unless `bom` is
    False)."""
    response = StreamingHttpResponse(
        csv_lines(header, rows, bom=bom, dialect=dialect), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


# Query-string values that turn the BOM off (`?bom=0`); anything else, or none, keeps it.
_BOM_OFF = frozenset({"0", "false", "off", "no"})


def bom_requested(value: str | None) -> bool:
    """Whether a download asked for with `?bom=<value>` starts with a BOM: yes unless it
    says 0 / false / off / no (the default is the file Excel reads right)."""
    return value is None or value.strip().lower() not in _BOM_OFF


def export_filename(
    *,
    stem: str,
    level: str,
    bom: bool = True,
    filters: DashboardFilters | None = None,
    bin_seconds: float | None = None,
    now: dt.datetime | None = None,
    dialect: str = "excel",
    extension: str = "csv",
) -> str:
    """The download's file name: one name per content. Besides the campaign or ad (`stem`)
    and the level it names every filter that changes the rows, the bin width of a timeline,
    a file without BOM, and the time of the export (to the second, site time zone):
    `spring-launch-ads-fer-cnn-1-5-conf50-20250301-141502.csv`."""
    parts = [slugify(stem)[:60].strip("-") or "export", slugify(level) or "export"]
    if level == "timeline" and bin_seconds is not None:
        parts.append(f"{bin_seconds:g}s".replace(".", "_"))
    if filters is not None:
        if filters.model_version is not None:
            version = filters.model_version
            parts.append(slugify(f"{version.name}-{version.version}"))
        if filters.date_from is not None:
            parts.append(f"from-{filters.date_from:%Y%m%d}")
        if filters.date_to is not None:
            parts.append(f"to-{filters.date_to:%Y%m%d}")
        if filters.min_confidence > 0:
            parts.append(f"conf{100 * filters.min_confidence:g}".replace(".", "_"))
        if filters.segment is not None:
            parts.append(slugify("-".join(filters.segment))[:40].strip("-") or "segment")
    if not bom:
        parts.append("nobom")
    if dialect == "eu":
        parts.append("eu")
    parts.append(timezone.localtime(now or timezone.now()).strftime("%Y%m%d-%H%M%S"))
    return "-".join(part for part in parts if part) + f".{extension}"


def excel_datetime(value: dt.datetime | None) -> str:
    """A time as Excel parses it into a date: `YYYY-MM-DD HH:MM:SS` in the site's time zone."""
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M:%S") if value else ""


def _faces(faces: QuerySet[Face]) -> Iterator[tuple[Any, ...]]:
    rows = (
        faces.order_by("image_id", "id")
        .values_list(
            "image__batch__ad__campaign__name",
            "image__batch__ad__name",
            "image__batch_id",
            "image__batch__source_name",
            "image_id",
            "image__original_name",
            "image__viewer__external_id",
            "image__offset_seconds",
            "image__video__original_name",
            "image__frame_seconds",
            "x",
            "y",
            "w",
            "h",
            "label",
            *PROB_FIELDS,
            *ATTENTION_FIELDS,
            "model_version__name",
            "model_version__version",
            "image__processed_at",
        )
        .iterator(chunk_size=EXPORT_CHUNK_SIZE)
    )
    current_image, index = None, 0
    for row in rows:
        campaign, ad, batch_id, batch, image_id, image, viewer, offset, video, frame = row[:10]
        x, y, w, h, label, *rest = row[10:]
        probabilities, measured, (model_name, model_version, processed_at) = (
            rest[: len(PROB_FIELDS)],
            rest[len(PROB_FIELDS) : len(PROB_FIELDS) + len(ATTENTION_FIELDS)],
            rest[-3:],
        )
        # Faces come ordered by image, so the index within the photo is a running counter.
        index = index + 1 if image_id == current_image else 0
        current_image = image_id
        yield (
            campaign,
            ad,
            batch_id,
            batch,
            image,
            viewer or "",
            _seconds(offset),
            video or "",
            _seconds(frame),
            index,
            x,
            y,
            w,
            h,
            label,
            *(f"{p:.6f}" for p in probabilities),
            f"{max(probabilities):.6f}",
            *_attention_cells(measured),
            f"{model_name} {model_version}",
            excel_datetime(processed_at),
        )


def _attention_cells(measured: Sequence[float | None]) -> list[str]:
    """A face's pose, eyes, gaze and quality; whether it is attentive and its expression
    counted (1 or 0; empty cells for a face analysed before they were measured)."""
    if measured[0] is None:
        return [""] * (len(ATTENTION_FIELDS) + 2)
    values = dict(zip(ATTENTION_FIELDS, measured, strict=True))
    looking = attentive(values["yaw"], values["pitch"], values["eye_openness"])
    quality = values["quality"]
    return [
        *(f"{value:.4f}" for value in measured if value is not None),
        str(int(looking)),
        str(int(quality is None or quality >= QUALITY_MIN)),
    ]


def _seconds(value: float | None) -> str:
    return "" if value is None else f"{value:.3f}"


def face_rows_for_campaign(
    *, campaign: Campaign, filters: DashboardFilters
) -> Iterator[tuple[Any, ...]]:
    return _faces(every_face_queryset(filters=filters, ad__campaign=campaign))


def face_rows_for_ad(*, ad: Ad, filters: DashboardFilters) -> Iterator[tuple[Any, ...]]:
    return _faces(every_face_queryset(filters=filters, ad=ad))


def ad_rows(
    *, campaign: Campaign, filters: DashboardFilters, ad: Ad | None = None
) -> Iterator[tuple[Any, ...]]:
    """One row per ad: counts, the headline (dominant group, positive and negative shares,
    valence) and each emotion's share, with 95% bounds over units (viewers when known), read
    as the dashboard reads them; the positive and negative shares as classified beside."""
    summaries = (
        [ad_summary(ad=ad, filters=filters)]
        if ad is not None
        else ad_summaries(campaign=campaign, filters=filters)
    )
    for summary in summaries:
        units = summary.units if summary.faces else None
        yield (
            campaign.name,
            summary.name,
            summary.photos,
            summary.faces,
            units.unit_name if units is not None else "",
            units.units if units is not None else 0,
            f"{summary.mean_confidence:.6f}" if summary.mean_confidence is not None else "",
            *_headline_cells(units, summary.reading),
            *_reading_cells(summary.reading),
            *(summary.counts[name] for name in CLASSES),
            *_emotion_cells(units, summary.reading),
        )


ATTENTION_COLUMNS: tuple[str, ...] = (
    "frames",
    *(f"{key}{end}" for key in ("present", "attentive", "still_looking") for end in BOUND_ENDS),
)


def timeline_columns() -> tuple[str, ...]:
    return (
        "ad",
        "second_from",
        "second_to",
        "viewers",
        "faces",
        "units",
        *HEADLINE_COLUMNS,
        *CLASSIFIED_COLUMNS,
        *READING_COLUMNS,
        *_emotion_columns(),
        *ATTENTION_COLUMNS,
    )


def _share_cells(share: Share | None) -> list[str]:
    if share is None:
        return ["", "", ""]
    return [f"{share.value:.6f}", f"{share.low:.6f}", f"{share.high:.6f}"]


def _bin_attention_cells(found: AttentionBin | None) -> list[str]:
    """A bin's frames, present, attentive and still-looking shares with their bounds."""
    if found is None:
        return [""] * len(ATTENTION_COLUMNS)
    return [
        str(found.frames),
        *_share_cells(found.present),
        *_share_cells(found.attentive),
        *_share_cells(found.still_looking),
    ]


def _expression_bins(
    *, filters: DashboardFilters, bin_seconds: float, scope: dict[str, object]
) -> dict[tuple[int, int], UnitCounts]:
    """(ad id, bin index) -> the bin's faces per viewer and label."""
    rows = (
        face_queryset(filters=filters, **scope)
        .filter(image__offset_seconds__isnull=False)
        .annotate(bin=Floor(F("image__offset_seconds") / bin_seconds))
        .values("image__batch__ad_id", "bin", "image__viewer_id", "label")
        .annotate(n=Count("id"))
    )
    bins: dict[tuple[int, int], UnitCounts] = {}
    for row in rows:
        group = bins.setdefault((row["image__batch__ad_id"], int(row["bin"])), UnitCounts(CLASSES))
        # a face of no known viewer is a unit of its own
        group.add(row["image__viewer_id"], row["label"], row["n"])
    return bins


def timeline_rows(
    *, campaign: Campaign, filters: DashboardFilters, bin_seconds: float, ad: Ad | None = None
) -> Iterator[tuple[Any, ...]]:
    """One row per ad and bin of `bin_seconds` of the ad's timeline (frames with an offset):
    viewers and faces in the bin, the headline and each emotion's share with 95% intervals
    over viewers (a face without a known viewer counts as one viewer of its own), read as
    the dashboard reads the ad; then the bin's attention (`analytics.attention`), also for
    bins whose frames show no face."""
    if bin_seconds <= 0:
        raise ValueError(f"bins must be longer than 0 s, got {bin_seconds}")
    scope: dict[str, object] = {"ad": ad} if ad is not None else {"ad__campaign": campaign}
    bins = _expression_bins(filters=filters, bin_seconds=bin_seconds, scope=scope)
    attention = {
        (ad_id, int(round(found.second_from / bin_seconds))): found
        for ad_id, ad_bins in attention_bins(
            attention_frame_counts(filters=filters, width=bin_seconds, **scope),
            width=bin_seconds,
        ).items()
        for found in ad_bins
    }
    ad_ids = {ad_id for ad_id, _ in bins} | {ad_id for ad_id, _ in attention}
    names = dict(Ad.objects.filter(pk__in=ad_ids).values_list("pk", "name"))
    readings = ad_readings(filters=filters, ad_ids=ad_ids)
    for ad_id, index in sorted(set(bins) | set(attention), key=lambda k: (names[k[0]], k)):
        group = bins.get((ad_id, index)) or UnitCounts(CLASSES)
        reading = readings[ad_id]
        yield (
            names[ad_id],
            f"{index * bin_seconds:g}",
            f"{(index + 1) * bin_seconds:g}",
            group.viewer_count,
            group.faces,
            group.units,
            *_headline_cells(group, reading),
            *_reading_cells(reading),
            *_emotion_cells(group, reading),
            *_bin_attention_cells(attention.get((ad_id, index))),
        )


def viewer_columns(*, campaign: Campaign) -> tuple[str, ...]:
    return (
        "ad",
        "viewer",
        *viewer_attribute_names(campaign=campaign),
        "faces",
        "dominant",
        "positive",
        "negative",
        "valence",
        "positive_as_classified",
        "negative_as_classified",
        *READING_COLUMNS,
        *[f"share_{name}_as_classified" for name in CLASSES],
    )


def viewer_rows(
    *, campaign: Campaign, filters: DashboardFilters, ad: Ad | None = None
) -> Iterator[tuple[Any, ...]]:
    """One row per ad and known viewer: their attributes, faces, their headline read as the
    dashboard reads the ad (no interval: one viewer is one unit), and their labels' mix as
    classified."""
    names = viewer_attribute_names(campaign=campaign)
    scope: dict[str, object] = {"ad": ad} if ad is not None else {"ad__campaign": campaign}
    rows = (
        face_queryset(filters=filters, **scope)
        .filter(image__viewer__isnull=False)
        .values("image__batch__ad_id", "image__batch__ad__name", "image__viewer_id", "label")
        .annotate(n=Count("id"))
    )
    mixes: dict[tuple[str, int, int], dict[str, int]] = defaultdict(dict)
    for row in rows:
        key = (row["image__batch__ad__name"], row["image__batch__ad_id"], row["image__viewer_id"])
        mixes[key][row["label"]] = row["n"]
    viewers = {
        viewer.pk: viewer
        for viewer in Viewer.objects.filter(campaign=campaign).prefetch_related("attributes")
    }
    readings = ad_readings(filters=filters, ad_ids={ad_id for _, ad_id, _ in mixes})
    for (ad_name, ad_id, viewer_id), counts in sorted(
        mixes.items(), key=lambda item: (item[0][0], viewers[item[0][2]].external_id)
    ):
        viewer = viewers[viewer_id]
        attributes = viewer.attribute_dict
        faces = sum(counts.values())
        reading = readings[ad_id]
        one = UnitCounts(CLASSES)
        for label, n in counts.items():
            one.add(viewer_id, label, n)
        groups = [reading.estimate(one, headline).value for headline in GROUP_HEADLINES]
        yield (
            ad_name,
            viewer.external_id,
            *[attributes.get(name, "") for name in names],
            faces,
            ("positive", "negative", "neither")[groups.index(max(groups))],
            *(f"{reading.estimate(one, HEADLINES[k]).value:.6f}" for k in _VIEWER_HEADLINES),
            *(f"{NO_READING.estimate(one, HEADLINES[k]).value:.6f}" for k in _CLASSIFIED),
            *_reading_cells(reading),
            *[f"{counts.get(name, 0) / faces:.6f}" for name in CLASSES],
        )


_VIEWER_HEADLINES = ("positive", "negative", "valence")
_CLASSIFIED = ("positive", "negative")
_VIEWER_FIGURES = (
    "faces",
    *_VIEWER_HEADLINES,
    *(f"{key}_as_classified" for key in _CLASSIFIED),
    *(f"share_{name}_as_classified" for name in CLASSES),
)


def viewer_attribute_names(*, campaign: Campaign) -> list[str]:
    """Every attribute name of the campaign's viewers, sorted: the viewers export's columns."""
    return sorted(
        set(
            ViewerAttribute.objects.filter(viewer__campaign=campaign).values_list("name", flat=True)
        )
    )


# What a CSV may hold: one row per face, per ad, per bin of the ad's timeline, or per viewer.
EXPORT_LEVELS = ("faces", "ads", "timeline", "viewers")
DEFAULT_BIN_SECONDS = 1.0


def export_table(
    *,
    level: str,
    campaign: Campaign,
    filters: DashboardFilters,
    ad: Ad | None = None,
    bin_seconds: float = DEFAULT_BIN_SECONDS,
) -> tuple[tuple[str, ...], Iterator[tuple[Any, ...]]]:
    """Header and lazily generated rows of a campaign's (or one ad's) export at `level`."""
    if level == "ads":
        return ad_columns(), ad_rows(campaign=campaign, filters=filters, ad=ad)
    if level == "timeline":
        rows = timeline_rows(campaign=campaign, filters=filters, bin_seconds=bin_seconds, ad=ad)
        return timeline_columns(), rows
    if level == "viewers":
        return viewer_columns(campaign=campaign), viewer_rows(
            campaign=campaign, filters=filters, ad=ad
        )
    if level == "faces":
        rows = (
            face_rows_for_ad(ad=ad, filters=filters)
            if ad is not None
            else face_rows_for_campaign(campaign=campaign, filters=filters)
        )
        return FACE_COLUMNS, rows
    raise ValueError(f"unknown export level {level!r}; use one of {', '.join(EXPORT_LEVELS)}")


def export_response(
    *,
    level: str,
    campaign: Campaign,
    filters: DashboardFilters,
    stem: str,
    bom: bool,
    ad: Ad | None = None,
    bin_seconds: float = DEFAULT_BIN_SECONDS,
    dialect: str = "excel",
) -> StreamingHttpResponse:
    """The export at `level` streamed as a CSV download named for what it holds: what the
    dashboard's links and the API's export endpoints answer."""
    header, rows = export_table(
        level=level, campaign=campaign, filters=filters, ad=ad, bin_seconds=bin_seconds
    )
    return streaming_csv_response(
        filename=export_filename(
            stem=stem,
            level=level,
            bom=bom,
            filters=filters,
            bin_seconds=bin_seconds if level == "timeline" else None,
            dialect=dialect,
        ),
        header=header,
        rows=rows,
        bom=bom,
        dialect=dialect,
    )
