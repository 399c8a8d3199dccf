"""manifest.csv of an upload: which viewer each file shows, when in the ad, and the viewers'
segments. Plain functions over bytes, no Django.

Columns: `file` (the member's path in the ZIP), `viewer`, `offset_seconds` (a photo: the
second of the ad it was taken at; a video: the second of the ad its recording starts at;
blank is 0); every other column is a viewer attribute (age_band, market, panel, ...). It is
read as spreadsheets and survey tools write it: UTF-8 with or without a BOM (even two),
UTF-16 with its BOM (Excel's "Unicode Text"), else Windows-1252 (what Excel saves as plain
"CSV"); comma, semicolon or tab separated, CRLF or LF, a decimal comma in offsets.

Each line is one row, parsed on its own: a stray quote can never merge rows or grow a field
past the csv module's limit, and a row that cannot be used (an unclosed quote, a line over
MAX_LINE characters, a bad offset, a file not in the archive) is left out with a note naming
it; the rest is used. Control characters (NUL, which PostgreSQL refuses in text, and the
like) are removed with a note. A manifest never fails the upload.
"""

from __future__ import annotations

import codecs
import csv
import math
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import PurePosixPath

FILE_COLUMN, VIEWER_COLUMN, OFFSET_COLUMN = "file", "viewer", "offset_seconds"
MAX_NAME, MAX_VALUE, MAX_VIEWER = 100, 200, 200
# Notes past this many are counted, not listed: a broken manifest must not flood the page.
MAX_NOTES = 30
# A row longer than this is left out (values are cut to MAX_VALUE anyway); it also keeps
# every field under the csv module's own limit (131,072 characters).
MAX_LINE = 64 * 1024
# Line ends as spreadsheets write them; str.splitlines would also split at form feeds and
# other separators that may stand inside a value.
_LINE_END = re.compile(r"\r\n|\r|\n")
# C0 and C1 control characters other than the tab (a delimiter), and stray BOMs.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufeff]")
_ROWS_LISTED = 200
# What a column named twice costs: neither is used (which of the two would be a guess).
_REPEATED_COLUMN = {
    FILE_COLUMN: "it cannot tell which names the files, so the manifest was ignored",
    VIEWER_COLUMN: "neither is used, so no viewer (nor attribute) comes from the manifest",
    OFFSET_COLUMN: "neither is used, so its files have no offset",
}


@dataclass(frozen=True)
class ManifestRow:
    """What the manifest says of one file: its viewer (None: unknown) and offset (seconds)."""

    viewer: str | None
    offset_seconds: float | None
    attributes: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class OffsetBound:
    """The latest second an offset may name, and what sets it (for the note)."""

    seconds: float
    source: str


@dataclass
class Manifest:
    rows: dict[str, ManifestRow] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    has_viewers: bool = False
    # Note index -> the line it names (left out or changed), listed again when notes are cut.
    noted_rows: dict[int, int] = field(default_factory=dict)

    def note(self, text: str, *, row: int | None = None) -> None:
        if row is not None:
            self.noted_rows[len(self.notes)] = row
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
        """The notes, at most MAX_NOTES of them in full; the rows of the others still named."""
        if len(self.notes) <= MAX_NOTES:
            return list(self.notes)
        rest = sorted({row for index, row in self.noted_rows.items() if index >= MAX_NOTES})
        more = f"... and {len(self.notes) - MAX_NOTES} more notes"
        if rest:
            more += f", of rows {_row_ranges(rest)}"
        return [*self.notes[:MAX_NOTES], more]


def _row_ranges(rows: list[int]) -> str:
    """Sorted row numbers as ranges ("3-7, 9"), at most _ROWS_LISTED ranges."""
    ranges: list[str] = []
    start = previous = rows[0]
    for row in [*rows[1:], None]:
        if row is not None and row == previous + 1:
            previous = row
            continue
        ranges.append(str(start) if start == previous else f"{start}-{previous}")
        if row is not None:
            start = previous = row
    if len(ranges) > _ROWS_LISTED:
        return ", ".join(ranges[:_ROWS_LISTED]) + f" and {len(ranges) - _ROWS_LISTED} more"
    return ", ".join(ranges)


def member_path(value: str) -> str:
    """A path as the manifest writes it, the way archive member paths are compared."""
    path = value.strip().replace("\\", "/")
    while path.startswith("./"):
        path = path[2:]
    return path.lstrip("/")


def _decode(data: bytes, manifest: Manifest) -> str:
    if data.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        text = data.decode("utf-32", errors="replace")
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        # Excel's "Unicode Text" and many survey tools: UTF-16 with its BOM, tab-separated.
        text = data.decode("utf-16", errors="replace")
    else:
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            manifest.note(
                "manifest.csv is not UTF-8: it was read as Windows-1252 (Excel's plain CSV); "
                "save it as 'CSV UTF-8' if any name looks wrong"
            )
            text = data.decode("cp1252", errors="replace")
    # A file saved twice with a BOM starts with two of them.
    return text.lstrip("\ufeff")


def _delimiter(header: str) -> str:
    counts = {sep: header.count(sep) for sep in (",", ";", "\t")}
    best = max(counts, key=lambda sep: counts[sep])
    return best if counts[best] else ","


def _offset(
    raw: str, *, line: int, path: str, manifest: Manifest, bound: OffsetBound | None
) -> float | None:
    text = raw.strip().replace(",", ".")
    if not text:
        return 0.0
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0:
        manifest.note(
            f"row {line}: offset_seconds {raw.strip()[:40]!r} for {path} is not a number of "
            "seconds of 0 or more; the file is analysed without an offset",
            row=line,
        )
        return None
    if bound is not None and value > bound.seconds:
        manifest.note(
            f"row {line}: offset_seconds {raw.strip()[:40]} for {path} is past {bound.source} "
            f"({bound.seconds:,g} s); the file is analysed without an offset",
            row=line,
        )
        return None
    return value


def _lines(text: str, manifest: Manifest) -> list[tuple[int, str]]:
    """(line number, text) of each non-blank line, control characters removed (noted)."""
    found = []
    for number, line in enumerate(_LINE_END.split(text), start=1):
        cleaned = _CONTROL.sub("", line)
        if cleaned != line:
            manifest.note(
                f"row {number}: control characters (such as NUL) removed from it", row=number
            )
        if cleaned.strip():
            found.append((number, cleaned))
    return found


def _cells(line: str, *, number: int, delimiter: str, manifest: Manifest) -> list[str] | None:
    """The line's cells, or None (noted) when it cannot be read as one row."""
    if len(line) > MAX_LINE:
        manifest.note(
            f"row {number} is {len(line):,} characters long, more than {MAX_LINE:,}: left out",
            row=number,
        )
        return None
    try:
        return next(csv.reader([line], delimiter=delimiter, strict=True))
    except csv.Error:
        manifest.note(
            f"row {number}: a quote is not closed, or text follows a closing quote: left out "
            "(a value with a quote, comma or line break must be quoted whole)",
            row=number,
        )
        return None


def _columns(header: list[str], manifest: Manifest) -> tuple[dict[str, int], set[str]] | None:
    """(column name -> index for the names given once, the names given more than once); None
    when the manifest is unusable.

    A name given twice is ambiguous (which of the two?): neither column is used, with a note.
    """
    names = [cell.strip().lower()[:MAX_NAME] for cell in header]
    counts = Counter(name for name in names if name)
    repeated = sorted(name for name, n in counts.items() if n > 1)
    for name in repeated:
        positions = ", ".join(str(i + 1) for i, n in enumerate(names) if n == name)
        manifest.note(
            f"manifest.csv has more than one column named '{name}' (columns {positions}): "
            + _REPEATED_COLUMN.get(name, "neither is used")
            + "; give each column its own name"
        )
    if FILE_COLUMN in repeated:
        return None
    if FILE_COLUMN not in counts:
        manifest.note(
            f"manifest.csv has no '{FILE_COLUMN}' column (its columns: "
            f"{', '.join(name for name in names if name)[:500]}): ignored"
        )
        return None
    unique = {name: index for index, name in enumerate(names) if name and counts[name] == 1}
    return unique, set(repeated)


def manifest_parse(
    data: bytes, *, member_paths: set[str] | None = None, offset_bound: OffsetBound | None = None
) -> Manifest:
    """The rows and notes of a manifest; `member_paths`, when given, are the archive's files,
    so that rows naming a file not in it are noted; an offset past `offset_bound` is dropped
    with a note (the file keeps its row)."""
    manifest = Manifest()
    lines = _lines(_decode(data, manifest), manifest)
    if not lines:
        manifest.note("manifest.csv is empty: ignored")
        return manifest
    (header_line, header_text), rows = lines[0], lines[1:]
    delimiter = _delimiter(header_text)
    header = _cells(header_text, number=header_line, delimiter=delimiter, manifest=manifest)
    found = _columns(header, manifest) if header is not None else None
    if found is None:
        return manifest
    columns, repeated = found
    manifest.has_viewers = VIEWER_COLUMN in columns
    if not manifest.has_viewers and VIEWER_COLUMN not in repeated:
        manifest.note(
            f"manifest.csv has no '{VIEWER_COLUMN}' column: no viewer comes from it (a video "
            "is still its file name's viewer) and its other columns are not used"
        )
    attribute_columns = [
        (index, name)
        for name, index in columns.items()
        if name not in (FILE_COLUMN, VIEWER_COLUMN, OFFSET_COLUMN)
    ]
    first_row: dict[str, int] = {}
    for line, text in rows:
        cells = _cells(text, number=line, delimiter=delimiter, manifest=manifest)
        if cells is None or not any(value.strip() for value in cells):
            continue
        path = member_path(_cell(cells, columns, FILE_COLUMN) or "")
        if not path:
            manifest.note(f"row {line}: no file named: ignored", row=line)
            continue
        if path in first_row:
            manifest.note(f"row {line} repeats {path} (row {first_row[path]}): ignored", row=line)
            continue
        first_row[path] = line
        if member_paths is not None and path not in member_paths:
            manifest.note(f"row {line}: {path} is not in the archive", row=line)
            continue
        manifest.rows[path] = _row_read(
            cells,
            line=line,
            path=path,
            columns=columns,
            repeated=repeated,
            attribute_columns=attribute_columns,
            manifest=manifest,
            offset_bound=offset_bound,
        )
    _note_conflicts(manifest)
    return manifest


def _cell(cells: list[str], columns: dict[str, int], name: str) -> str | None:
    index = columns.get(name)
    return cells[index] if index is not None and index < len(cells) else None


def _row_read(
    cells: list[str],
    *,
    line: int,
    path: str,
    columns: dict[str, int],
    repeated: set[str],
    attribute_columns: list[tuple[int, str]],
    manifest: Manifest,
    offset_bound: OffsetBound | None,
) -> ManifestRow:
    """The row of a file in the archive: its viewer, the viewer's attributes, its offset."""
    viewer = (_cell(cells, columns, VIEWER_COLUMN) or "").strip()[:MAX_VIEWER] or None
    attributes = {}
    if manifest.has_viewers and viewer is not None:
        for index, name in attribute_columns:
            value = cells[index].strip()[:MAX_VALUE] if index < len(cells) else ""
            if value:
                attributes[name] = value
    # A refused (repeated) offset column gives no offset, where a missing one gives 0.
    offset = None
    if OFFSET_COLUMN not in repeated:
        offset = _offset(
            _cell(cells, columns, OFFSET_COLUMN) or "",
            line=line,
            path=path,
            manifest=manifest,
            bound=offset_bound,
        )
    return ManifestRow(
        viewer=viewer if manifest.has_viewers else None,
        offset_seconds=offset,
        attributes=attributes,
    )


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
