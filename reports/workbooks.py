"""A campaign's (or an ad's) exports as one XLSX workbook: a sheet per level (the rows of
`analytics.exports`, the same as the CSVs), figures as numbers, times as dates, and a
"Columns" sheet saying what each column means and which model produced the figures.

Text a person wrote (names, manifest attributes) is stored as a string cell, so no
spreadsheet ever evaluates it as a formula and, unlike the CSV's guard ("'=..."), pandas and
openpyxl read it back exactly as written.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterable, Sequence
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

from analytics import exports
from analytics.selectors.dashboards import DashboardFilters, ad_readings
from campaigns.models import Ad, Campaign
from ml import CLASSES

# Excel's last row; a longer sheet is cut there and the Columns sheet says so.
MAX_ROWS = 1_048_576
DATE_FORMAT = "yyyy-mm-dd hh:mm:ss"
SHEET_TITLES = {"ads": "Ads", "timeline": "Timeline", "viewers": "Viewers", "faces": "Faces"}

_MEANINGS = {
    "campaign": "The campaign's name.",
    "ad": "The ad's name.",
    "batch_id": "The upload's id.",
    "batch": "The uploaded file's name.",
    "image": "The photo's (or video frame's) file name.",
    "viewer": "The viewer's id from the manifest (blank: no known viewer).",
    "offset_seconds": "The second of the ad the photo was taken at.",
    "source_video": "The reaction video a frame was sampled from.",
    "frame_seconds": "The frame's time within its reaction video (s).",
    "face_index": "The face's number within its photo (0 first).",
    "x": "The face box's left edge (pixels).",
    "y": "The face box's top edge (pixels).",
    "w": "The face box's width (pixels).",
    "h": "The face box's height (pixels).",
    "label": "The emotion the model gave the face.",
    "confidence": "The face's largest emotion probability (0-1).",
    "model_version": "The model version whose figures the row holds.",
    "processed_at": "When the photo was analysed (site time zone).",
    "photos": "Photos and video frames analysed.",
    "faces": "Faces found and classified.",
    "unit": "What one unit of the intervals is: viewers, or faces where no viewer is known.",
    "units": "How many units the figures rest on.",
    "mean_confidence": "The faces' mean largest probability (0-1).",
    "dominant": "The largest of the positive, negative and neither shares.",
    "positive": "Share of positive faces (happy), 0-1; corrected unless `shares` says not.",
    "negative": "Share of negative faces (angry, disgust, fear, sad), 0-1.",
    "valence": "Positive minus negative share, -1 to 1.",
    "shares": "Whether the shares are corrected for the model's measured errors, or why not.",
    "interval_covers": "What the 95% intervals cover.",
    "not_measured": "Emotions the model does not measure reliably, and why: their cells are "
    "blank (unknown), never 0.",
    "second_from": "The bin's first second of the ad.",
    "second_to": "The second of the ad the bin ends at.",
    "viewers": "Known viewers seen in the bin.",
}


def column_meaning(name: str) -> str:
    """What the column `name` holds, in a sentence."""
    for end, words in (("_ci_low", "lower"), ("_ci_high", "upper")):
        if name.endswith(end):
            return f"The {words} bound of the 95% interval of {name.removesuffix(end)}."
    if name in _MEANINGS:
        return _MEANINGS[name]
    if name.endswith("_as_classified"):
        base = name.removesuffix("_as_classified").removeprefix("share_")
        return f"{base} as the model labelled the faces (not corrected), 0-1."
    for emotion in CLASSES:
        if name == f"share_{emotion}":
            return f"Share of {emotion} faces, 0-1 (blank: not measured reliably)."
        if name == f"n_{emotion}":
            return f"Faces the model labelled {emotion}."
        if name == f"prob_{emotion}":
            return f"The model's probability that the face shows {emotion} (0-1)."
    return "A viewer attribute from the upload's manifest, as written."


def _cell(sheet: WriteOnlyWorksheet, value: Any, *, figure: bool, date: bool) -> Any:
    """A cell: a figure as a number, a time as a date, anything else as a string cell (never
    a formula, whatever it starts with). Numbers and dates go in as plain values (a
    workbook of a million faces is mostly numbers)."""
    if value is None or value == "":
        return None
    if figure and isinstance(value, int | float):
        return value
    if figure and isinstance(value, str) and exports.figure_text(value):
        return float(value)
    if date and isinstance(value, str):
        cell = WriteOnlyCell(sheet, value=dt.datetime.strptime(value, "%Y-%m-%d %H:%M:%S"))
        cell.number_format = DATE_FORMAT
        return cell
    cell = WriteOnlyCell(sheet, value=str(value))
    cell.data_type = "s"
    return cell


def _sheet_write(
    sheet: WriteOnlyWorksheet, header: Sequence[str], rows: Iterable[Sequence[Any]]
) -> bool:
    """Write the header and rows; False when the rows were cut at Excel's last row."""
    bold = Font(bold=True)
    cells = []
    for name in header:
        cell = WriteOnlyCell(sheet, value=str(name))
        cell.data_type = "s"
        cell.font = bold
        cells.append(cell)
    sheet.append(cells)
    figures = exports.figure_columns(header)
    dates = [name == "processed_at" for name in header]
    written = 1
    for row in rows:
        if written >= MAX_ROWS:
            return False
        sheet.append(
            [
                _cell(sheet, value, figure=figure, date=date)
                for value, figure, date in zip(row, figures, dates, strict=False)
            ]
        )
        written += 1
    return True


def export_workbook(
    *,
    campaign: Campaign,
    filters: DashboardFilters,
    ad: Ad | None = None,
    levels: Sequence[str] = ("ads", "timeline", "viewers", "faces"),
    bin_seconds: float = exports.DEFAULT_BIN_SECONDS,
) -> bytes:
    """The exports at `levels` as an XLSX file's bytes, with the Columns sheet last."""
    workbook = Workbook(write_only=True)
    headers: dict[str, Sequence[str]] = {}
    cut: list[str] = []
    for level in levels:
        header, rows = exports.export_table(
            level=level, campaign=campaign, filters=filters, ad=ad, bin_seconds=bin_seconds
        )
        sheet = workbook.create_sheet(SHEET_TITLES[level])
        headers[level] = header
        if not _sheet_write(sheet, header, rows):
            cut.append(SHEET_TITLES[level])
    about = workbook.create_sheet("Columns")
    ad_ids = [ad.pk] if ad is not None else list(campaign.ads.values_list("pk", flat=True))
    readings = ad_readings(filters=filters, ad_ids=ad_ids)
    models = sorted({reading.model_name for reading in readings.values()})
    notes = [
        ("Campaign", campaign.name),
        ("Ad", ad.name if ad is not None else "all ads"),
        ("Figures by", ", ".join(models) or "no model yet"),
        (
            "Shares",
            "as classified"
            if filters.as_classified
            else "corrected for the model's errors measured on real photos (where measured)",
        ),
        ("Intervals", "95%, each viewer one unit (each face where no viewer is known)"),
    ]
    if cut:
        notes.append(("Cut", f"{', '.join(cut)}: more rows than Excel holds; use the CSV."))
    _sheet_write(about, ("about", "value"), notes)
    about.append([])
    _sheet_write(
        about,
        ("sheet", "column", "meaning"),
        [
            (SHEET_TITLES[level], name, column_meaning(name))
            for level, header in headers.items()
            for name in header
        ],
    )
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
