"""manifest.csv of an upload: which viewer each file shows, when in the ad, and the viewers'
segments. Plain functions over bytes, no Django.

Columns: `file` (the member's path in the ZIP), `viewer`, `offset_seconds` (a photo: the
second of the ad it was taken at; a video: the second of the ad its recording starts at;
blank is 0); every other column is a viewer attribute (age_band, market, panel, ...). It is
read as spreadsheets write it: UTF-8 with or without a BOM (else Windows-1252, what Excel
saves as plain "CSV"), comma, semicolon or tab separated, CRLF or LF, a decimal comma in
offsets. A row that cannot be used is left out with a note; it never fails the upload.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass, field
from pathlib import PurePosixPath

FILE_COLUMN, VIEWER_COLUMN, OFFSET_COLUMN = "file", "viewer", "offset_seconds"
MAX_NAME, MAX_VALUE, MAX_VIEWER = 100, 200, 200
# Notes past this many are counted, not listed: a broken manifest must not flood the page.
MAX_NOTES = 30


@dataclass(frozen=True)
class ManifestRow:
    """What the manifest says of one file: its viewer (None: unknown) and offset (seconds)."""

    viewer: str | None
    offset_seconds: float | None
    attributes: dict[str, str] = field(default_factory=dict)


@dataclass
class Manifest:
    rows: dict[str, ManifestRow] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    has_viewers: bool = False

    def note(self, text: str) -> None:
        self.notes.append(text)

    def viewer_attributes(self) -> dict[str, dict[str, str]]:
        """Each viewer's attributes, merged over their rows (the first value of each wins)."""
        merged: dict[str, dict[str, str]] = {}
        for row in self.rows.values():
            if row.viewer is not None:
                target = merged.setdefault(row.viewer, {})
                for name, value in row.attributes.items():
                    target.setdefault(name, value)
        return merged

    def bounded_notes(self) -> list[str]:
        if len(self.notes) <= MAX_NOTES:
            return list(self.notes)
        return [*self.notes[:MAX_NOTES], f"... and {len(self.notes) - MAX_NOTES} more notes"]


def member_path(value: str) -> str:
    """A path as the manifest writes it, the way archive member paths are compared."""
    path = value.strip().replace("\\", "/")
    while path.startswith("./"):
        path = path[2:]
    return path.lstrip("/")


def _decode(data: bytes, manifest: Manifest) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        manifest.note(
            "manifest.csv is not UTF-8: it was read as Windows-1252 (Excel's plain CSV); "
            "save it as 'CSV UTF-8' if any name looks wrong"
        )
        return data.decode("cp1252", errors="replace")


def _delimiter(text: str) -> str:
    header = text.splitlines()[0] if text else ""
    counts = {sep: header.count(sep) for sep in (",", ";", "\t")}
    best = max(counts, key=lambda sep: counts[sep])
    return best if counts[best] else ","


def _offset(raw: str, *, line: int, path: str, manifest: Manifest) -> float | None:
    text = raw.strip().replace(",", ".")
    if not text:
        return 0.0
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0:
        manifest.note(
            f"row {line}: offset_seconds {raw.strip()!r} for {path} is not a number of seconds "
            "of 0 or more; the file is analysed without an offset"
        )
        return None
    return value


def manifest_parse(data: bytes, *, member_paths: set[str] | None = None) -> Manifest:
    """The rows and notes of a manifest; `member_paths`, when given, are the archive's files,
    so that rows naming a file not in it are noted."""
    manifest = Manifest()
    text = _decode(data, manifest)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text))
    try:
        header = next(reader)
    except StopIteration:
        manifest.note("manifest.csv is empty: ignored")
        return manifest
    columns = [column.strip().lower() for column in header]
    if FILE_COLUMN not in columns:
        manifest.note(
            f"manifest.csv has no '{FILE_COLUMN}' column (its columns: {', '.join(columns)}): "
            "ignored"
        )
        return manifest
    manifest.has_viewers = VIEWER_COLUMN in columns
    if not manifest.has_viewers:
        manifest.note(
            f"manifest.csv has no '{VIEWER_COLUMN}' column: no viewer comes from it (a video "
            "is still its file name's viewer) and its other columns are not used"
        )
    attribute_columns = [
        (index, name[:MAX_NAME])
        for index, name in enumerate(columns)
        if name and name not in (FILE_COLUMN, VIEWER_COLUMN, OFFSET_COLUMN)
    ]
    first_row: dict[str, int] = {}
    for line, cells in enumerate(reader, start=2):
        if not any(cell.strip() for cell in cells):
            continue
        values = dict(zip(columns, cells, strict=False))
        path = member_path(values.get(FILE_COLUMN, ""))
        if not path:
            manifest.note(f"row {line}: no file named: ignored")
            continue
        if path in first_row:
            manifest.note(f"row {line} repeats {path} (row {first_row[path]}): ignored")
            continue
        first_row[path] = line
        if member_paths is not None and path not in member_paths:
            manifest.note(f"row {line}: {path} is not in the archive")
            continue
        viewer = (values.get(VIEWER_COLUMN) or "").strip()[:MAX_VIEWER] or None
        attributes = {}
        if manifest.has_viewers and viewer is not None:
            for index, name in attribute_columns:
                value = cells[index].strip()[:MAX_VALUE] if index < len(cells) else ""
                if value:
                    attributes[name] = value
        manifest.rows[path] = ManifestRow(
            viewer=viewer if manifest.has_viewers else None,
            offset_seconds=_offset(
                values.get(OFFSET_COLUMN, ""), line=line, path=path, manifest=manifest
            ),
            attributes=attributes,
        )
    _note_conflicts(manifest)
    return manifest


def _note_conflicts(manifest: Manifest) -> None:
    seen: dict[tuple[str, str], str] = {}
    for path, row in manifest.rows.items():
        for name, value in row.attributes.items():
            key = (row.viewer or "", name)
            if key in seen and seen[key] != value:
                manifest.note(
                    f"viewer {row.viewer} has {name} {seen[key]!r} and {value!r} ({path}): "
                    f"kept {seen[key]!r}"
                )
            seen.setdefault(key, value)


def default_viewer(path: str) -> str:
    """Without a manifest row, a video's viewer is its file name without the extension."""
    return PurePosixPath(path).stem[:MAX_VIEWER]
