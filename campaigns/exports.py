"""CSV exports of a campaign or an ad: one row per face, or one row per ad with CI bounds.

Rows are generated lazily from `values_list(...).iterator(chunk_size=...)` (a server-side
cursor on PostgreSQL), so a million-face export holds one chunk in memory, never the result.
Text cells are neutralised against spreadsheet formula injection.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from typing import Any

from django.db.models import QuerySet
from django.http import StreamingHttpResponse

from campaigns.models import PROB_FIELDS, Ad, Campaign, Face
from campaigns.selectors.dashboards import DashboardFilters, ad_summaries, ad_summary, face_queryset
from ml import CLASSES

EXPORT_CHUNK_SIZE = 2000

# A cell starting with one of these is run as a formula by Excel, LibreOffice and Sheets.
_FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")

UTF8_BOM = "\ufeff"

FACE_COLUMNS: tuple[str, ...] = (
    "campaign",
    "ad",
    "batch_id",
    "batch",
    "image",
    "face_index",
    "x",
    "y",
    "w",
    "h",
    "label",
    *PROB_FIELDS,
    "confidence",
    "model_version",
    "processed_at",
)


def ad_columns() -> tuple[str, ...]:
    columns = ["campaign", "ad", "photos", "faces", "mean_confidence"]
    for name in CLASSES:
        columns += [f"n_{name}", f"share_{name}", f"share_{name}_ci_low", f"share_{name}_ci_high"]
    return tuple(columns)


def cell_safe(value: Any) -> Any:
    """Prefix a text cell that a spreadsheet would evaluate with a quote, so it stays text."""
    if isinstance(value, str) and value.startswith(_FORMULA_TRIGGERS):
        return "'" + value
    return value


class _Echo:
    """A file-like object whose write returns the line, so csv.writer can feed a generator."""

    def write(self, value: str) -> str:
        return value


def csv_lines(header: Iterable[str], rows: Iterable[Iterable[Any]], *, bom: bool) -> Iterator[str]:
    """The CSV text, one line at a time."""
    writer = csv.writer(_Echo())
    if bom:
        yield UTF8_BOM
    yield writer.writerow(header)
    for row in rows:
        yield writer.writerow([cell_safe(value) for value in row])


def streaming_csv_response(
    *, filename: str, header: Iterable[str], rows: Iterable[Iterable[Any]], bom: bool
) -> StreamingHttpResponse:
    """A download that streams `rows` as they are produced."""
    response = StreamingHttpResponse(
        csv_lines(header, rows, bom=bom), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


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
            "x",
            "y",
            "w",
            "h",
            "label",
            *PROB_FIELDS,
            "model_version__name",
            "model_version__version",
            "image__processed_at",
        )
        .iterator(chunk_size=EXPORT_CHUNK_SIZE)
    )
    current_image, index = None, 0
    for row in rows:
        campaign, ad, batch_id, batch, image_id, image, x, y, w, h, label, *rest = row
        probabilities, (model_name, model_version, processed_at) = (
            rest[: len(PROB_FIELDS)],
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
            index,
            x,
            y,
            w,
            h,
            label,
            *(f"{p:.6f}" for p in probabilities),
            f"{max(probabilities):.6f}",
            f"{model_name} {model_version}",
            processed_at.isoformat() if processed_at else "",
        )


def face_rows_for_campaign(
    *, campaign: Campaign, filters: DashboardFilters
) -> Iterator[tuple[Any, ...]]:
    return _faces(face_queryset(filters=filters, ad__campaign=campaign))


def face_rows_for_ad(*, ad: Ad, filters: DashboardFilters) -> Iterator[tuple[Any, ...]]:
    return _faces(face_queryset(filters=filters, ad=ad))


def ad_rows(
    *, campaign: Campaign, filters: DashboardFilters, ad: Ad | None = None
) -> Iterator[tuple[Any, ...]]:
    """One row per ad: counts, shares and Wilson 95% bounds per emotion."""
    summaries = (
        [ad_summary(ad=ad, filters=filters)]
        if ad is not None
        else ad_summaries(campaign=campaign, filters=filters)
    )
    for summary in summaries:
        row: list[Any] = [
            campaign.name,
            summary.name,
            summary.photos,
            summary.faces,
            f"{summary.mean_confidence:.6f}" if summary.mean_confidence is not None else "",
        ]
        for share in summary.shares:
            row += [
                share.count,
                f"{share.share:.6f}",
                f"{share.interval.low:.6f}",
                f"{share.interval.high:.6f}",
            ]
        yield tuple(row)


# What a CSV may hold: one row per face, or one row per ad.
EXPORT_LEVELS = ("faces", "ads")


def export_table(
    *, level: str, campaign: Campaign, filters: DashboardFilters, ad: Ad | None = None
) -> tuple[tuple[str, ...], Iterator[tuple[Any, ...]]]:
    """Header and lazily generated rows of a campaign's (or one ad's) export at `level`."""
    if level == "ads":
        return ad_columns(), ad_rows(campaign=campaign, filters=filters, ad=ad)
    if level == "faces":
        rows = (
            face_rows_for_ad(ad=ad, filters=filters)
            if ad is not None
            else face_rows_for_campaign(campaign=campaign, filters=filters)
        )
        return FACE_COLUMNS, rows
    raise ValueError(f"unknown export level {level!r}; use one of {', '.join(EXPORT_LEVELS)}")
