"""The one table of legal status changes of upload batches and photos, and the helpers that
make every status write of them.

A change is one conditional UPDATE: the caller narrows the rows (the batch's id, a claim's
time, ...) and `status_change` adds `status IN (the table's sources for the target)`, so two
workers racing for the same row cannot both win; the loser changes 0 rows and knows it.
New rows go through `status_rows_create`, which refuses a status a row may not start in.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final, TypeVar

from django.db.models import QuerySet

from campaigns.models import (
    BATCH_FINISHED,
    BatchStatus,
    ImageStatus,
    ReactionImage,
    UploadBatch,
)

# Rows per INSERT or IN (...) list: well under SQLite's variable limit.
IN_CHUNK: Final = 500

# Marks "a row being created" among a status's sources.
NEW: Final = None

StatusRow = TypeVar("StatusRow", UploadBatch, ReactionImage)

# model -> target status -> the statuses (or NEW) a row may enter it from.
TRANSITIONS: Final[
    dict[type[UploadBatch] | type[ReactionImage], dict[str, frozenset[str | None]]]
] = {
    UploadBatch: {
        BatchStatus.RECEIVED: frozenset({NEW}),
        # A redelivered extraction task takes over the extraction its first delivery began.
        BatchStatus.EXTRACTING: frozenset({BatchStatus.RECEIVED, BatchStatus.EXTRACTING}),
        # Every member has its row; or a finished batch is analysed again (reprocessing).
        BatchStatus.PROCESSING: frozenset({BatchStatus.EXTRACTING, *BATCH_FINISHED}),
        BatchStatus.DONE: frozenset({BatchStatus.PROCESSING}),
        BatchStatus.PARTIAL: frozenset({BatchStatus.PROCESSING}),
        BatchStatus.FAILED: frozenset(
            {BatchStatus.RECEIVED, BatchStatus.EXTRACTING, BatchStatus.PROCESSING}
        ),
    },
    ReactionImage: {
        # A photo to analyse; an analysed one queued again (reprocessing); or a claim given
        # back because the file store could not be reached (the chunk is retried).
        ImageStatus.PENDING: frozenset(
            {NEW, ImageStatus.DONE, ImageStatus.FAILED, ImageStatus.PROCESSING}
        ),
        # Not analysed on purpose (duplicate, not a photo): decided when the row is written.
        ImageStatus.SKIPPED: frozenset({NEW}),
        # A claim; from processing only when the earlier claim was abandoned (the caller
        # narrows the rows to claims older than the chunk's time limit).
        ImageStatus.PROCESSING: frozenset({ImageStatus.PENDING, ImageStatus.PROCESSING}),
        ImageStatus.DONE: frozenset({ImageStatus.PROCESSING}),
        ImageStatus.FAILED: frozenset({ImageStatus.PROCESSING}),
    },
}


class IllegalTransition(Exception):
    """A status change or a new row's status that the transition table does not allow."""


def _sources(model: type[StatusRow], to: str) -> frozenset[str | None]:
    try:
        return TRANSITIONS[model][to]
    except KeyError:
        raise IllegalTransition(
            f"{model._meta.verbose_name} rows have no transition to '{to}'"
        ) from None


def status_change(rows: QuerySet[StatusRow], *, to: str, **fields: Any) -> int:
    """Move the rows of `rows` that may enter `to` there, setting `fields` too, in one UPDATE.

    Returns how many rows changed: 0 when none was in a legal source status (another worker
    got there first, or the row is gone). Rows in other statuses are left as they are.
    """
    sources = _sources(rows.model, to) - {NEW}
    if not sources:
        raise IllegalTransition(
            f"{rows.model._meta.verbose_name} rows enter '{to}' only when created"
        )
    return rows.filter(status__in=sources).update(status=to, **fields)


def status_rows_create(rows: Sequence[StatusRow]) -> list[StatusRow]:
    """Insert new batches or photos, each in a status the table lets a row start in."""
    if not rows:
        return []
    model = type(rows[0])
    for row in rows:
        if type(row) is not model:
            raise TypeError("status_rows_create takes rows of one model at a time")
        if NEW not in _sources(model, row.status):
            raise IllegalTransition(
                f"new {model._meta.verbose_name} rows cannot start as '{row.status}'"
            )
    return model.objects.bulk_create(rows, batch_size=IN_CHUNK)
