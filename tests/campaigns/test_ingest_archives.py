"""Safe ZIP reading: every hostile or odd member is reported with its reason, never followed."""

from __future__ import annotations

import io
import re
import stat
import zipfile

import pytest

from campaigns.archives import (
    ArchiveError,
    ArchiveLimits,
    archive_members,
    content_skip_reason,
    member_name,
    open_archive,
    photo_candidates,
    sniff_image_format,
)
from tests.ingest_support import plain_photo, zip_build

LIMITS = ArchiveLimits()


def _open(data: bytes) -> zipfile.ZipFile:
    return open_archive(io.BytesIO(data))


def _reasons(data: bytes, limits: ArchiveLimits = LIMITS) -> dict[str, str | None]:
    with _open(data) as archive:
        return {
            member.name: reason
            for member, _, reason in photo_candidates(
                archive, archive_members(archive, limits=limits)
            )
        }


def test_photos_in_folders_are_candidates_with_their_bytes():
    # given a ZIP with two photos, one in a folder
    photo = plain_photo(1)
    data = zip_build({"a.png": photo, "day 1/b.PNG": plain_photo(2)})
    # when its members are read
    with _open(data) as archive:
        read = list(photo_candidates(archive, archive_members(archive, limits=LIMITS)))
    # then both are photo candidates and their bytes come back intact
    assert [(m.name, reason) for m, _, reason in read] == [("a.png", None), ("day 1/b.PNG", None)]
    assert read[0][1] == photo


@pytest.mark.parametrize(
    "name",
    ["../evil.jpg", "a/../../evil.jpg", "/etc/evil.jpg", "C:/evil.jpg", "..\\evil.jpg"],
)
def test_path_traversal_is_skipped_with_a_reason(name):
    # given a member whose path would leave the extraction folder
    data = zip_build({name: plain_photo(1)})
    # when read
    reasons = _reasons(data)
    # then it is reported as unsafe, never as a photo
    (reason,) = reasons.values()
    assert str(reason).startswith("unsafe path")


def test_symlink_member_is_skipped():
    # given a member stored with a Unix symlink mode
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        info = zipfile.ZipInfo("link.jpg")
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(info, "/etc/passwd")
    # when read, then it is skipped as a link
    assert _reasons(buffer.getvalue()) == {"link.jpg": "symbolic link: links are not followed"}


def test_macos_litter_hidden_files_and_folders_are_ignored_entirely():
    # given the files macOS and Windows add, hidden files and a folder entry
    data = zip_build(
        {
            "__MACOSX/._a.png": b"\x00\x05\x16\x07",
            ".DS_Store": b"junk",
            "photos/.hidden.png": plain_photo(3),
            "photos/Thumbs.db": b"junk",
            "photos/": b"",
            "photos/a.png": plain_photo(1),
        }
    )
    # when read, then only the photo is reported
    assert _reasons(data) == {"photos/a.png": None}


def test_nested_archives_and_other_files_are_skipped_with_reasons():
    # given a nested ZIP, a text file, a file without extension that is not an image,
    # and a photo without an extension
    data = zip_build(
        {
            "inner.zip": zip_build({"x.png": plain_photo(1)}),
            "disguised.jpg.bin": b"hello",
            "notes.txt": b"hello",
            "README": b"just text",
            "camera-export": plain_photo(4),
        }
    )
    # when read
    reasons = _reasons(data)
    # then each has its reason and the real photo is kept
    assert str(reasons["inner.zip"]).startswith("nested archive")
    assert reasons["notes.txt"] == "not a photo or a video (.txt file)"
    assert reasons["disguised.jpg.bin"] == "not a photo or a video (.bin file)"
    assert reasons["README"] == "not a photo (unknown file type)"
    assert reasons["camera-export"] is None


def test_a_zip_renamed_to_jpg_is_caught_by_its_content():
    assert str(content_skip_reason("x.jpg", zip_build({"a": b"b"}))).startswith("nested archive")


def test_compression_bomb_member_is_skipped():
    # given a 20 MB member of zeros that compresses about 1000:1
    data = zip_build({"bomb.png": b"\x00" * (20 * 1024**2), "ok.png": plain_photo(1)})
    # when read
    reasons = _reasons(data)
    # then the bomb is skipped for its ratio and the photo stays
    assert str(reasons["bomb.png"]).startswith("compression ratio")
    assert reasons["ok.png"] is None


def test_member_over_the_per_photo_limit_is_skipped():
    data = zip_build({"big.png": plain_photo(1, size=(400, 400))}, compression=zipfile.ZIP_STORED)
    reasons = _reasons(data, ArchiveLimits(max_entry_bytes=1000))
    assert str(reasons["big.png"]).startswith("too large")


def test_too_many_members_rejects_the_whole_archive():
    data = zip_build({f"{i}.png": plain_photo(i) for i in range(5)})
    with _open(data) as archive, pytest.raises(ArchiveError, match="5 members; the limit is 4"):
        archive_members(archive, limits=ArchiveLimits(max_entries=4))


def test_too_much_expanded_data_rejects_the_whole_archive():
    data = zip_build({f"{i}.png": plain_photo(i) for i in range(3)})
    with _open(data) as archive, pytest.raises(ArchiveError, match="expands to"):
        archive_members(archive, limits=ArchiveLimits(max_total_bytes=100))


def test_encrypted_archive_is_rejected():
    # given a ZIP whose member has the encryption flag (as zip -e writes it)
    data = bytearray(zip_build({"a.png": plain_photo(1)}, compression=zipfile.ZIP_STORED))
    for signature, flag_offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        at = data.find(signature)
        data[at + flag_offset] |= 0x1
    # when its members are listed, then the archive is refused with a clear message
    with _open(bytes(data)) as archive, pytest.raises(ArchiveError, match="password-protected"):
        archive_members(archive, limits=LIMITS)


@pytest.mark.parametrize(
    "data",
    [b"", b"this is not a zip", zip_build({"a.png": plain_photo(1)})[:-30]],
    ids=["empty", "text", "truncated"],
)
def test_corrupt_archive_is_rejected(data):
    with pytest.raises(ArchiveError) as raised:
        _open(data)
    # in words for the uploader, not zipfile's
    assert str(raised.value).startswith(("not a readable ZIP archive", "the ZIP archive is"))
    assert not _INTERNALS.search(str(raised.value)), raised.value


# What a member's reason never shows: zipfile's, zlib's or Python's own words.
_INTERNALS = re.compile(
    r"Error|CRC|Bad |b'|'[^']*\.png'|-3 while|invalid (block|stored)|zip file|Truncated"
)


def test_corrupt_member_is_skipped_and_the_rest_is_read():
    # given a ZIP where one stored member's bytes were damaged after writing (CRC mismatch)
    good, damaged = plain_photo(1), plain_photo(2)
    data = bytearray(
        zip_build({"good.png": good, "damaged.png": damaged}, compression=zipfile.ZIP_STORED)
    )
    at = data.find(damaged) + 100
    data[at] ^= 0xFF
    # when read
    reasons = _reasons(bytes(data))
    # then the damaged member is skipped as corrupt, the good one is a candidate
    assert reasons["good.png"] is None
    assert str(reasons["damaged.png"]).startswith("corrupt archive member")
    # and the reason is a sentence, not zipfile's "Bad CRC-32 for file 'damaged.png'"
    assert not _INTERNALS.search(str(reasons["damaged.png"])), reasons["damaged.png"]


def test_utf8_names_without_the_flag_and_cp437_names_are_decoded():
    # given names written as raw bytes: UTF-8 without the UTF-8 flag, and legacy cp437
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("placeholder-utf8.png", plain_photo(1))
        zf.writestr("placeholder-437.png", plain_photo(2))
    data = buffer.getvalue()
    utf8, cp437 = "visage-été.png".encode(), "café-Ä.png".encode("cp437")
    for placeholder, encoded in ((b"placeholder-utf8.png", utf8), (b"placeholder-437.png", cp437)):
        data = data.replace(placeholder, encoded.ljust(len(placeholder), b"_")[: len(placeholder)])
    # when read
    with _open(data) as archive:
        names = [member_name(info) for info in archive.infolist()]
    # then both read as the uploader wrote them
    assert names[0].startswith("visage-été")
    assert names[1].startswith("café-Ä")


def test_repeated_member_names_each_get_a_distinct_name():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("a.png", plain_photo(1))
        with pytest.warns(UserWarning, match="Duplicate"):
            zf.writestr("a.png", plain_photo(2))
    assert list(_reasons(buffer.getvalue())) == ["a.png", "a.png (member 2)"]


@pytest.mark.parametrize(
    ("data", "fmt"),
    [
        (b"\xff\xd8\xff\xe0rest", "jpg"),
        (b"\x89PNG\r\n\x1a\nrest", "png"),
        (b"GIF89arest", "gif"),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "webp"),
        (b"II*\x00rest", "tif"),
        (b"\x00\x00\x00\x1cftypheic\x00\x00\x00\x00", "heic"),
        (b"\x00\x00\x00\x18ftypmif1\x00\x00\x00\x00", "heic"),
        (b"\x00\x00\x00\x18ftypisom\x00\x00\x00\x00", None),
        (b"hello", None),
    ],
)
def test_image_formats_are_sniffed_from_content(data, fmt):
    assert sniff_image_format(data) == fmt
