"""The face tallies (`ViewerTally`, `SecondTally`): kept in step with the faces in the same
transaction that writes them, or rebuilt from the faces (idempotent).

Only `image_results_store` writes faces; it wraps its write in `campaigns.hooks.faces_replacing`,
where analytics' AppConfig registers `tallies_tracking`: the photos' faces leave the tallies
before the write and come back after, as one `INSERT ... ON CONFLICT DO UPDATE` per tally, so
a chunk that runs twice, or two workers on one upload, leave the tallies equal to a count of
the faces. Deleting an upload deletes its tallies with it (cascade). Faces under the quality
threshold (`ml.attentive.QUALITY_MIN`: small, blurred or turned away) are left out of the
counts; after a change of the threshold, `manage.py tallies_rebuild` recounts.

Every such write bumps its ads' `tally_generation` in the same transaction. The timeline's
rollups (`TimelineRollup`, rebuilt by `timeline_rollups_rebuild` when an upload finishes)
carry the generation they were computed from, so one that a later write made out of date is
never read as current.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
from django.db import connection, models, transaction
from django.db.models import Q

from analytics.selectors.dashboards import left_out_viewer_keys, values_array
from analytics.timelines import (
    TIMELINE_WIDTHS,
    SecondRows,
    TimelineBin,
    timeline_bins,
    timeline_pack,
)
from campaigns.models import (
    NO_VIEWER_KEY,
    PROB_FIELDS,
    Ad,
    Face,
    ReactionImage,
    SecondTally,
    TimelineRollup,
    UploadBatch,
    ViewerAttribute,
    ViewerTally,
    tally_confidence_field,
    tally_count_field,
)
from campaigns.services.batches import ad_tally_generations_bump
from campaigns.services.transitions import IN_CHUNK
from ml import CLASSES, CONFIDENCE_STEPS
from ml.attentive import QUALITY_MIN

# An attribute with more values than this (an id, a free text) gets no segment rollups: its
# segments are many and small, and a segment filter on it sums the second tallies.
SEGMENT_ROLLUP_VALUES = 20


def tally_value_fields() -> list[str]:
    """The tallies' value columns, in a fixed order."""
    fields = []
    for step in CONFIDENCE_STEPS:
        fields += [tally_count_field(label, step) for label in CLASSES]
        fields.append(tally_confidence_field(step))
    return fields


def _key_columns(tally: type[models.Model]) -> list[str]:
    keys = ["batch_id", "model_version_id", "viewer_key"]
    return [*keys, "second"] if tally is SecondTally else keys


# The SQL below is put together from strings, which is what bandit's S608 flags: what is
# interpolated is only names (tables and columns, quoted by the database's quote_name, and the
# aliases k0.., v0..), fixed SQL fragments and the integer NO_VIEWER_KEY (it is grouped by, and
# a parameter would not be the same expression in GROUP BY); every other value (labels,
# thresholds, ids, the sign) is a query parameter. tests/analytics/test_tallies.py checks
# that no label or threshold is written into the SQL.


def _counting_sql(tally: type[models.Model], where: str) -> tuple[str, list[Any]]:
    """SELECT of the faces matching `where` (over `face` and its photo `image`) counted per
    tally key, as columns k0.. (the keys) and v0.. (`tally_value_fields`), and its parameters
    (those of `where` follow). Written out rather than built with the ORM: it runs for every
    chunk, and compiling 60 filtered aggregates took longer than the query."""
    quote = connection.ops.quote_name
    greatest = "GREATEST" if connection.vendor == "postgresql" else "MAX"
    confidence = f"{greatest}({', '.join('face.' + quote(f) for f in PROB_FIELDS)})"
    keys = [
        "image.batch_id",
        "face.model_version_id",
        f"COALESCE(image.viewer_id, {int(NO_VIEWER_KEY)})",
    ]
    # A face whose quality is under the threshold is kept but its expression is not counted
    # (`ml.attentive.QUALITY_MIN`); a face analysed before quality was measured counts.
    where = f"({where}) AND (face.quality IS NULL OR face.quality >= {QUALITY_MIN!r})"
    if tally is SecondTally:
        keys.append("FLOOR(image.offset_seconds)")
        where = f"({where}) AND image.offset_seconds IS NOT NULL"
    values: list[str] = []
    params: list[Any] = []
    for step in CONFIDENCE_STEPS:
        threshold = step / 100
        for label in CLASSES:
            if step:
                values.append(
                    f"SUM(CASE WHEN face.label = %s AND {confidence} >= %s THEN 1 ELSE 0 END)"
                )
                params += [label, threshold]
            else:
                values.append("SUM(CASE WHEN face.label = %s THEN 1 ELSE 0 END)")
                params.append(label)
        if step:
            values.append(f"SUM(CASE WHEN {confidence} >= %s THEN {confidence} ELSE 0 END)")
            params.append(threshold)
        else:
            values.append(f"SUM({confidence})")
    selected = [f"{k} AS k{i}" for i, k in enumerate(keys)]
    selected += [f"{v} AS v{i}" for i, v in enumerate(values)]
    statement = (
        f"SELECT {', '.join(selected)} "  # noqa: S608  names and fragments only, see above
        f"FROM {quote(Face._meta.db_table)} AS face "
        f"JOIN {quote(ReactionImage._meta.db_table)} AS image ON image.id = face.image_id "
        f"WHERE {where} GROUP BY {', '.join(keys)}"
    )
    return statement, params


def _upsert(tally: type[models.Model], where: str, params: Sequence[Any], *, sign: int) -> None:
    """Add `sign` times the counts of the faces matching `where` to the tally, creating
    missing keys."""
    quote = connection.ops.quote_name
    table = quote(tally._meta.db_table)
    keys, values = _key_columns(tally), tally_value_fields()
    counting, counting_params = _counting_sql(tally, where)
    selected = [f"k{i}" for i in range(len(keys))] + [f"%s * v{i}" for i in range(len(values))]
    statement = (
        f"INSERT INTO {table} ({', '.join(quote(c) for c in keys + values)}) "  # noqa: S608  see above
        f"SELECT {', '.join(selected)} FROM ({counting}) AS counted "
        f"WHERE 1 = 1 ON CONFLICT ({', '.join(quote(k) for k in keys)}) DO UPDATE SET "
        + ", ".join(f"{quote(v)} = {table}.{quote(v)} + EXCLUDED.{quote(v)}" for v in values)
    )
    with connection.cursor() as cursor:
        cursor.execute(statement, [sign] * len(values) + counting_params + list(params))


def _images_where(image_ids: Sequence[int], model_version_id: int) -> tuple[str, list[Any]]:
    placeholders = ", ".join(["%s"] * len(image_ids))
    return (
        f"face.image_id IN ({placeholders}) AND face.model_version_id = %s",
        [*image_ids, model_version_id],
    )


def _empty_rows_delete(batch_ids: Iterable[int]) -> None:
    """Drop the tally rows left with no face (every count at step 0 back to 0)."""
    no_face = Q(**{tally_count_field(label, 0): 0 for label in CLASSES})
    for tally in (ViewerTally, SecondTally):
        tally.objects.filter(no_face, batch_id__in=list(batch_ids)).delete()


@contextmanager
def tallies_tracking(*, image_ids: Sequence[int], model_version_id: int) -> Iterator[None]:
    """Around a write of the faces of `image_ids` for one model version: their faces leave
    the tallies before it and come back after, in the caller's transaction."""
    if not image_ids:
        yield
        return
    with transaction.atomic():
        batch_ids = set(
            ReactionImage.objects.filter(pk__in=list(image_ids)).values_list("batch_id", flat=True)
        )
        parts = [image_ids[i : i + IN_CHUNK] for i in range(0, len(image_ids), IN_CHUNK)]
        for part in parts:
            for tally in (ViewerTally, SecondTally):
                _upsert(tally, *_images_where(part, model_version_id), sign=-1)
        yield
        for part in parts:
            for tally in (ViewerTally, SecondTally):
                _upsert(tally, *_images_where(part, model_version_id), sign=1)
        _empty_rows_delete(batch_ids)
        tally_generations_bump(batch_ids=batch_ids)


def tally_generations_bump(*, batch_ids: Iterable[int]) -> None:
    """Mark the tallies of these uploads' ads as changed (in the caller's transaction, which
    changes them): their timeline rollups are out of date until rebuilt. Last in the
    transaction, so the ads' rows stay locked for as short a time as can be."""
    ad_tally_generations_bump(
        ad_ids=UploadBatch.objects.filter(pk__in=list(batch_ids)).values_list("ad_id", flat=True)
    )


def tallies_rebuild(*, batch_ids: Sequence[int]) -> None:
    """Recount the tallies of these uploads from their faces (idempotent: the repair after
    faces were written some other way, and what the tests check the tallies against)."""
    with transaction.atomic():
        for start in range(0, len(batch_ids), IN_CHUNK):
            part = list(batch_ids[start : start + IN_CHUNK])
            placeholders = ", ".join(["%s"] * len(part))
            for tally in (ViewerTally, SecondTally):
                tally.objects.filter(batch_id__in=part).delete()
                _upsert(tally, f"image.batch_id IN ({placeholders})", part, sign=1)
            tally_generations_bump(batch_ids=part)


# Bins without faces a rollup may hold besides twice the bins with faces.
ROLLUP_SPARE_BINS = 60


def _packs_densely(bins: Sequence[TimelineBin], *, width: int) -> bool:
    """Whether the dense rows of a rollup (one per bin from the first to the last with faces)
    stay in proportion to the bins with faces. Faces far apart (a few photos hours into an
    ad) would make most rows empty, and its memory depend on the largest offset: such a
    timeline gets no rollup, and the dashboard sums its second tallies instead (the same
    figures; their rows are as many as the seconds with faces)."""
    if not bins:
        return True
    rows = (int(bins[-1].second_from) - int(bins[0].second_from)) // width + 1
    return rows <= 2 * len(bins) + ROLLUP_SPARE_BINS


def timeline_rollups_rebuild(*, ad_id: int) -> int:
    """Store the ad's timeline for every model version, confidence step and bin width as
    rollups of its second tallies (each that packs densely), for its whole audience and for
    each value of each viewer attribute with at most SEGMENT_ROLLUP_VALUES values (a segment
    filter reads those); returns how many were written.

    The ad's generation is read before the tallies: a write of faces (or of its viewers'
    attributes) committed after that read bumps it, so rollups computed from older tallies
    are never taken for current (and are not written over newer ones). Idempotent, and run
    when an upload finishes.
    """
    generation = Ad.objects.filter(pk=ad_id).values_list("tally_generation", flat=True).first()
    if generation is None:
        return 0  # the ad was deleted
    counts = [tally_count_field(label, step) for step in CONFIDENCE_STEPS for label in CLASSES]
    # Viewers marked low quality are left out (a filter that puts them back reads the
    # tallies); marking one bumps the ad's generation, so its rollups are rebuilt.
    table = values_array(
        SecondTally.objects.filter(batch__ad_id=ad_id).exclude(
            viewer_key__in=left_out_viewer_keys()
        ),
        ["model_version_id", "viewer_key", "second", *counts],
    )
    segments = _segments(table[:, 1].astype(np.int64))
    rollups = []
    for version in sorted(set(table[:, 0].astype(np.int64).tolist())):
        rows = table[table[:, 0] == version]
        viewers = rows[:, 1].astype(np.int64)
        for (name, value), members in [(("", ""), None), *segments.items()]:
            kept = rows if members is None else rows[np.isin(viewers, members)]
            for step, width, first, data in _timelines_packed(kept):
                rollups.append(
                    TimelineRollup(
                        ad_id=ad_id,
                        model_version_id=version,
                        step=step,
                        width=width,
                        segment_name=name,
                        segment_value=value,
                        generation=generation,
                        first_bin=first,
                        bins=data,
                    )
                )
    with transaction.atomic():
        # One rebuild of an ad writes at a time, and never over a newer one's rollups.
        if not list(Ad.objects.select_for_update().filter(pk=ad_id).values_list("pk")):
            return 0
        if TimelineRollup.objects.filter(ad_id=ad_id, generation__gt=generation).exists():
            return 0
        TimelineRollup.objects.filter(ad_id=ad_id).delete()
        TimelineRollup.objects.bulk_create(rollups, batch_size=500)
    return len(rollups)


def _timelines_packed(rows: np.ndarray) -> Iterator[tuple[int, int, int, bytes]]:
    """(step, width, first bin, packed bins) of second-tally rows (version, viewer, second,
    counts per step and label) at every confidence step and bin width that packs densely."""
    n_labels = len(CLASSES)
    for index, step in enumerate(CONFIDENCE_STEPS):
        at_step = SecondRows(
            viewers=rows[:, 1].astype(np.int64),
            seconds=rows[:, 2].astype(np.int64),
            counts=rows[:, 3 + index * n_labels : 3 + (index + 1) * n_labels],
        )
        for width in TIMELINE_WIDTHS:
            bins = timeline_bins(at_step, width=width, labels=CLASSES)
            if not _packs_densely(bins, width=width):
                continue  # that timeline is summed from the tallies, in their own size
            first, data = timeline_pack(bins, width=width, n_labels=n_labels)
            yield step, width, first, data


def _segments(viewer_keys: np.ndarray) -> dict[tuple[str, str], np.ndarray]:
    """(attribute, value) -> the viewers with it, among these, for every attribute with at
    most SEGMENT_ROLLUP_VALUES values (one with more, an id or a free text, is left to the
    tallies: its segments are small and many)."""
    viewer_ids = np.unique(viewer_keys[viewer_keys != NO_VIEWER_KEY]).tolist()
    members: dict[tuple[str, str], list[int]] = defaultdict(list)
    for start in range(0, len(viewer_ids), IN_CHUNK):
        for viewer, name, value in ViewerAttribute.objects.filter(
            viewer_id__in=viewer_ids[start : start + IN_CHUNK]
        ).values_list("viewer_id", "name", "value"):
            members[(name, value)].append(viewer)
    values_of: dict[str, int] = defaultdict(int)
    for name, _ in members:
        values_of[name] += 1
    return {
        key: np.array(viewers, dtype=np.int64)
        for key, viewers in sorted(members.items())
        if values_of[key[0]] <= SEGMENT_ROLLUP_VALUES
    }
