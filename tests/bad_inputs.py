"""The corpus of bad inputs found by the adversarial probe of issue 33, written by generators
(no binary file is committed): each case is built here, small, and the tests run it through
the real services.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterator
from dataclasses import dataclass, field

# The files every manifest case names; the tests put a photo in the archive under each.
MANIFEST_PHOTOS = ("a.jpg", "b.jpg", "c.jpg")


@dataclass(frozen=True)
class ManifestCase:
    """A manifest as some tool writes it, what must come of it, and which rows are noted.

    `viewers`: file -> the viewer its row gives (the rows that must be imported);
    `noted_rows`: the line numbers a note must name (rows left out or changed).
    """

    name: str
    data: bytes
    viewers: dict[str, str]
    noted_rows: frozenset[int] = field(default_factory=frozenset)


def _csv(lines: list[str], *, delimiter: str = ",", newline: str = "\r\n") -> str:
    return newline.join(delimiter.join(cells) for cells in (line.split(",") for line in lines))


_PLAIN = ["file,viewer,offset_seconds,market", "a.jpg,v1,1,DE", "b.jpg,v2,2,FR", "c.jpg,v3,3,IT"]
_ALL = {"a.jpg": "v1", "b.jpg": "v2", "c.jpg": "v3"}


def manifest_cases() -> Iterator[ManifestCase]:
    """Every manifest shape the probe broke the upload with, and the small ones it misread."""
    tab_text = _csv(_PLAIN, delimiter="\t") + "\r\n"
    # Excel's "Unicode Text": UTF-16 LE with its BOM, tab-separated.
    yield ManifestCase(
        "utf16-le-bom-tabs", codecs.BOM_UTF16_LE + tab_text.encode("utf-16-le"), _ALL
    )
    yield ManifestCase(
        "utf16-be-bom-tabs", codecs.BOM_UTF16_BE + tab_text.encode("utf-16-be"), _ALL
    )
    yield ManifestCase("utf8-two-boms", ("\ufeff\ufeff" + _csv(_PLAIN)).encode(), _ALL)
    yield ManifestCase(
        "semicolons-no-bom", _csv(_PLAIN, delimiter=";", newline="\n").encode(), _ALL
    )
    # A NUL and other control characters in cells: removed, the row kept and noted.
    yield ManifestCase(
        "nul-in-cells",
        b"file,viewer,offset_seconds,market\r\na.jpg,v\x001,1,DE\r\nb.jpg,v2,2,F\x00R\x07\r\n"
        b"c.jpg,v3,3,IT\r\n",
        _ALL,
        frozenset({2, 3}),
    )
    yield ManifestCase(
        "nul-in-header",
        b"file,viewer,offset_seconds,mar\x00ket\r\na.jpg,v1,1,DE\r\nb.jpg,v2,2,FR\r\n"
        b"c.jpg,v3,3,IT\r\n",
        _ALL,
        frozenset({1}),
    )
    # A stray quote in a small manifest: only its own row is left out (it merged rows).
    yield ManifestCase(
        "stray-quote-small",
        b'file,viewer,offset_seconds,market\r\na.jpg,"v1,1,DE\r\nb.jpg,v2,2,FR\r\nc.jpg,v3,3,IT\r\n',
        {"b.jpg": "v2", "c.jpg": "v3"},
        frozenset({2}),
    )
    # The same in a manifest over 128 KiB: the csv module's field limit failed the upload.
    # (the filler: rows of empty cells, which a manifest may hold and which are passed over)
    filler = ",,,\r\n" * 40_000
    yield ManifestCase(
        "stray-quote-over-128-kib",
        (f'file,viewer,offset_seconds,market\r\na.jpg,"v1,1,DE\r\n{filler}'
         "b.jpg,v2,2,FR\r\nc.jpg,v3,3,IT\r\n").encode(),
        {"b.jpg": "v2", "c.jpg": "v3"},
        frozenset({2}),
    )  # fmt: skip
    # One line longer than any field may be.
    yield ManifestCase(
        "one-huge-line",
        f"file,viewer,offset_seconds,market\r\na.jpg,v1,1,{'x' * 200_000}\r\n"
        "b.jpg,v2,2,FR\r\nc.jpg,v3,3,IT\r\n".encode(),
        {"b.jpg": "v2", "c.jpg": "v3"},
        frozenset({2}),
    )
    # Finite but huge offsets: the file keeps its row and viewer, loses the offset.
    yield ManifestCase(
        "huge-offsets",
        b"file,viewer,offset_seconds\r\na.jpg,v1,3e9\r\nb.jpg,v2,1e300\r\nc.jpg,v3,3\r\n",
        _ALL,
        frozenset({2, 3}),
    )


def tiny_long_video(*, seconds: float) -> bytes:
    """An MP4 of two 2x2-pixel frames, the last at `seconds` - 1, lasting `seconds`: a few
    hundred bytes with as many frames to sample as a real recording of that length."""
    import numpy as np

    from inference.scenes import video_bytes

    frame = np.full((2, 2, 3), 128, dtype=np.uint8)
    return video_bytes(lambda t: frame, times=[0.0, seconds - 1], fps=1)
