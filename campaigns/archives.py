"""Safe reading of uploaded ZIP archives: which members are photos, reaction videos or the
upload's manifest, and why the others are not.

Pure functions over `zipfile`, no Django. Nothing is ever written to a path taken from the
archive (photos are stored by content hash), so a hostile name cannot escape; such members are
still reported, so the uploader learns what was left out. Whole-archive problems (not a ZIP,
encrypted, too many members, too much data for the upload's size) raise `ArchiveError`
before anything is stored; a member that cannot be read fails alone (`EntryError`).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import lzma
import re
import stat
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import IO, BinaryIO

# Extensions a photo may have; the content decides in the end (see `sniff_image_format`).
IMAGE_EXTENSIONS = frozenset(
    {".jpg", ".jpeg", ".jpe", ".png", ".gif", ".bmp", ".webp", ".tif", ".tiff", ".heic", ".heif"}
)
VIDEO_EXTENSIONS = frozenset({".mp4", ".mov", ".m4v", ".webm", ".avi", ".mkv"})
# The optional top-level CSV that names each file's viewer and offset (campaigns.manifests).
MANIFEST_NAME = "manifest.csv"
MAX_MANIFEST_BYTES = 10 * 1024**2
ARCHIVE_EXTENSIONS = frozenset(
    {".zip", ".rar", ".7z", ".tar", ".gz", ".tgz", ".bz2", ".xz", ".zst", ".jar", ".cbz"}
)
# Files that operating systems drop into folders; never the uploader's photos.
_SYSTEM_FILES = frozenset({"thumbs.db", "desktop.ini", "icon\r"})
_CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f]")
_ZIP_FLAG_ENCRYPTED = 0x1
_ZIP_FLAG_UTF8 = 0x800
MAX_NAME_LENGTH = 500


class ArchiveError(ValueError):
    """The archive as a whole cannot be used (corrupt, encrypted, over a limit)."""


class EntryError(ValueError):
    """One member cannot be read (corrupt data, larger than it claimed)."""


@dataclass(frozen=True)
class ArchiveLimits:
    """Bounds that keep a hostile or accidental archive from exhausting disk or memory."""

    max_entries: int = 100_000
    # Photos of the whole archive, uncompressed: at most this many bytes...
    max_total_bytes: int = 20 * 1024**3
    # ...and at most this many times the archive's own size (photos barely compress: a ZIP of
    # JPEGs expands about 1:1, of uncompressed TIFFs about 3:1).
    max_expansion: float = 20.0
    max_entry_bytes: int = 100 * 1024**2
    # A reaction video may be larger than a photo (streamed to storage, never held whole).
    max_video_bytes: int = 2 * 1024**3
    # Every member's own ratio, whatever its size: JPEG ~1:1, PNG rarely past 10:1; a solid
    # colour bitmap or a bomb reaches 1000:1.
    max_ratio: float = 100.0


@dataclass(frozen=True)
class ArchiveMember:
    """A member worth reporting: a photo candidate (`skip_reason` None) or why it is skipped.

    `path` is the member's own name, which decides what it is (its extension); `name` is the
    same made unique within the archive (a repeated path gets " (member N)"), at most
    MAX_NAME_LENGTH characters: the name its row is stored under.
    """

    name: str
    path: str
    info: zipfile.ZipInfo
    skip_reason: str | None = None
    # What a candidate is: "photo", "video" or "manifest".
    kind: str = "photo"

    @property
    def is_candidate(self) -> bool:
        return self.skip_reason is None


def open_archive(file: BinaryIO) -> zipfile.ZipFile:
    """Open a seekable binary file as a ZIP, or raise `ArchiveError` saying why not."""
    try:
        archive = zipfile.ZipFile(file)
    except zipfile.BadZipFile as exc:
        raise ArchiveError(
            "not a readable ZIP archive (another kind of file, or a damaged or incomplete ZIP)"
        ) from exc
    except (OSError, ValueError, EOFError) as exc:
        raise ArchiveError("the ZIP archive is damaged and cannot be read") from exc
    return archive


def member_name(info: zipfile.ZipInfo) -> str:
    """The member's name as the uploader's system meant it, printable and bounded.

    Without the UTF-8 flag ZIP names are cp437 by the standard, but macOS and many tools
    write UTF-8 without setting the flag: those bytes are decoded as UTF-8 when they are valid.
    """
    name = info.filename
    if not info.flag_bits & _ZIP_FLAG_UTF8:
        with contextlib.suppress(UnicodeEncodeError, UnicodeDecodeError):
            name = name.encode("cp437").decode("utf-8")
    return shortened(_CONTROL_CHARS.sub("?", name.replace("\\", "/")), MAX_NAME_LENGTH)


def shortened(name: str, limit: int) -> str:
    """`name` cut to `limit` characters in its middle, keeping its end (the extension)."""
    if len(name) <= limit:
        return name
    return name[: limit - 12] + "..." + name[-9:]


def _unique_name(path: str, index: int, seen: set[str]) -> str:
    """The name of the member at `index` (0-based): its path, or the path shortened to make
    room for " (member N)" when an earlier member had the same name."""
    name, variant = path, 0
    while name in seen:
        variant += 1
        suffix = f" (member {index + 1})" if variant == 1 else f" (member {index + 1}.{variant})"
        name = shortened(path, MAX_NAME_LENGTH - len(suffix)) + suffix
    return name


def is_ignored(name: str) -> bool:
    """macOS resource forks, hidden files and OS litter: not reported at all."""
    parts = [part for part in name.split("/") if part]
    if not parts:
        return True
    if parts[0] == "__MACOSX":
        return True
    return any(part.startswith(".") and part not in (".", "..") for part in parts) or (
        parts[-1].lower() in _SYSTEM_FILES
    )


def unsafe_path_reason(name: str) -> str | None:
    """Why a member's path would escape an extraction folder, or None when it would not."""
    if name.startswith("/") or re.match(r"^[A-Za-z]:", name):
        return "unsafe path: absolute paths are not allowed"
    if ".." in name.split("/"):
        return "unsafe path: '..' would leave the archive's folder"
    return None


def is_symlink(info: zipfile.ZipInfo) -> bool:
    """Unix ZIP tools store the file mode in the high 16 bits of external_attr."""
    return stat.S_ISLNK(info.external_attr >> 16)


def extension(name: str) -> str:
    return PurePosixPath(name).suffix.lower()


def archive_members(
    archive: zipfile.ZipFile, *, limits: ArchiveLimits, archive_bytes: int | None = None
) -> list[ArchiveMember]:
    """Every reportable member in archive order, each a photo candidate or skipped with a reason.

    Raises `ArchiveError` for an encrypted archive or one past the entry or size limits (the
    absolute one, and `limits.max_expansion` times `archive_bytes`, the archive's own size):
    those are refused whole, before any photo is stored.
    """
    infos = archive.infolist()
    if len(infos) > limits.max_entries:
        raise ArchiveError(
            f"the archive has {len(infos):,} members; the limit is {limits.max_entries:,}"
        )
    if any(info.flag_bits & _ZIP_FLAG_ENCRYPTED for info in infos):
        raise ArchiveError(
            "the archive is password-protected; upload an unencrypted ZIP of the photos"
        )
    members: list[ArchiveMember] = []
    seen: set[str] = set()
    total = 0
    for index, info in enumerate(infos):
        path = member_name(info)
        if info.is_dir() or is_ignored(path):
            continue
        # ZIPs may repeat a name; each member still gets its own row.
        name = _unique_name(path, index, seen)
        seen.add(name)
        kind = _kind(path)
        reason = _skip_reason(path, info, limits, kind)
        if reason is None:
            total += info.file_size
        members.append(
            ArchiveMember(name=name, path=path, info=info, skip_reason=reason, kind=kind)
        )
    if total > limits.max_total_bytes:
        raise ArchiveError(
            f"the archive expands to {_size(total)} of photos; "
            f"the limit is {_size(limits.max_total_bytes)}"
        )
    if archive_bytes is not None and total > limits.max_expansion * max(archive_bytes, 1):
        raise ArchiveError(
            f"the archive's photos expand to {_size(total)}, more than "
            f"{limits.max_expansion:g} times the {_size(archive_bytes)} uploaded; photos do not "
            "compress that well, so it is refused as a compression bomb"
        )
    return members


def _size(n_bytes: int) -> str:
    for unit, scale in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if n_bytes >= scale:
            return f"{n_bytes / scale:.1f} {unit}"
    return f"{n_bytes} bytes"


def _kind(path: str) -> str:
    if path.lower() == MANIFEST_NAME:
        return "manifest"
    return "video" if extension(path) in VIDEO_EXTENSIONS else "photo"


def _skip_reason(
    name: str, info: zipfile.ZipInfo, limits: ArchiveLimits, kind: str = "photo"
) -> str | None:
    reason = unsafe_path_reason(name)
    if reason:
        return reason
    if is_symlink(info):
        return "symbolic link: links are not followed"
    ext = extension(name)
    if ext in ARCHIVE_EXTENSIONS:
        return "nested archive: not unpacked, upload its photos in a ZIP of their own"
    if kind == "photo" and ext and ext not in IMAGE_EXTENSIONS:
        return f"not a photo or a video ({ext} file)"
    if info.file_size == 0:
        return "empty file"
    if kind == "manifest" and info.file_size > MAX_MANIFEST_BYTES:
        return f"manifest larger than {MAX_MANIFEST_BYTES / 1024**2:.0f} MiB: not read"
    if kind == "video":
        if info.file_size > limits.max_video_bytes:
            return (
                f"too large: {info.file_size / 1024**2:,.0f} MiB, the limit per video is "
                f"{limits.max_video_bytes / 1024**2:,.0f} MiB"
            )
    elif kind == "photo" and info.file_size > limits.max_entry_bytes:
        return (
            f"too large: {info.file_size / 1024**2:.0f} MiB, the limit per photo is "
            f"{limits.max_entry_bytes / 1024**2:.0f} MiB"
        )
    ratio = info.file_size / max(info.compress_size, 1)
    if ratio > limits.max_ratio:
        return (
            f"compression ratio {ratio:,.0f}:1 is over the limit of {limits.max_ratio:.0f}:1: "
            "refused as a possible compression bomb"
        )
    return None


def read_member(archive: zipfile.ZipFile, member: ArchiveMember) -> bytes:
    """The member's bytes (at most its declared size), or `EntryError` saying why not.

    Any failure to read one member is that member's alone: the others are still read.
    """
    buffer = io.BytesIO()
    copy_member(archive, member, buffer)
    return buffer.getvalue()


def copy_member(archive: zipfile.ZipFile, member: ArchiveMember, target: IO[bytes]) -> str:
    """Stream the member into `target` (a video need not fit in memory); its sha256 hex, or
    `EntryError` saying why it cannot be read."""
    digest = hashlib.sha256()
    try:
        with archive.open(member.info) as handle:
            while chunk := handle.read(1024**2):
                digest.update(chunk)
                target.write(chunk)
        return digest.hexdigest()
    except (zlib.error, lzma.LZMAError, EOFError) as exc:
        raise EntryError("corrupt archive member: its compressed data is damaged") from exc
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError) as exc:
        raise EntryError(
            "corrupt archive member: its data is damaged or incomplete (a checksum or header "
            "does not match)"
        ) from exc
    except NotImplementedError as exc:
        raise EntryError(
            "unsupported compression method: make the ZIP again with your system's standard "
            "compression"
        ) from exc
    except Exception as exc:  # a decompressor's own error type: still this member's alone
        raise EntryError("unreadable archive member: its data could not be unpacked") from exc


_MAGIC: tuple[tuple[bytes, int, str], ...] = (
    (b"\xff\xd8\xff", 0, "jpg"),
    (b"\x89PNG\r\n\x1a\n", 0, "png"),
    (b"GIF87a", 0, "gif"),
    (b"GIF89a", 0, "gif"),
    (b"BM", 0, "bmp"),
    (b"WEBP", 8, "webp"),
    (b"II*\x00", 0, "tif"),
    (b"MM\x00*", 0, "tif"),
)
_ARCHIVE_MAGIC = (b"PK\x03\x04", b"Rar!", b"7z\xbc\xaf", b"\x1f\x8b", b"BZh", b"\xfd7zXZ")


# ISO base media "ftyp" brands of HEIF stills (iPhones write "heic").
_HEIF_BRANDS = (b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1")


def sniff_image_format(data: bytes) -> str | None:
    """The image format that the bytes start with ("jpg", "png", ...), or None."""
    if data[4:8] == b"ftyp" and data[8:12] in _HEIF_BRANDS:
        return "heic"
    for magic, offset, fmt in _MAGIC:
        if data[offset : offset + len(magic)] == magic:
            if fmt == "webp" and not data.startswith(b"RIFF"):
                continue
            return fmt
    return None


def sniff_video_format(head: bytes) -> str | None:
    """The video container the first bytes of a file announce ("mp4", "webm", "avi"), or None."""
    if head[4:8] == b"ftyp":
        return None if head[8:12] in _HEIF_BRANDS else "mp4"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "webm"
    if head.startswith(b"RIFF") and head[8:12] == b"AVI ":
        return "avi"
    return None


def content_skip_reason(name: str, data: bytes, kind: str = "photo") -> str | None:
    """Why bytes read from a member (its first bytes, for a video) are not what to analyse."""
    if data.startswith(_ARCHIVE_MAGIC):
        return "nested archive: not unpacked, upload its photos in a ZIP of their own"
    if kind == "video":
        if sniff_video_format(data) is None:
            return "not a video (unknown file type)"
        return None
    if sniff_image_format(data) is None and extension(name) not in IMAGE_EXTENSIONS:
        return "not a photo (unknown file type)"
    return None


def photo_candidates(
    archive: zipfile.ZipFile, members: list[ArchiveMember]
) -> Iterator[tuple[ArchiveMember, bytes | None, str | None]]:
    """Each photo member with its bytes and a skip reason when it has one (skipped members
    of any kind with their reason; videos and the manifest are read by their own path)."""
    for member in members:
        if not member.is_candidate:
            yield member, None, member.skip_reason
            continue
        if member.kind != "photo":
            continue
        try:
            data = read_member(archive, member)
        except EntryError as exc:
            yield member, None, str(exc)
            continue
        yield member, data, content_skip_reason(member.path, data)
