"""manifest.csv as spreadsheets write it, and every kind of bad row with its note."""

from __future__ import annotations

import re

import pytest

from campaigns.manifests import MAX_NOTES, OffsetBound, default_viewer, manifest_parse
from tests.bad_inputs import MANIFEST_PHOTOS, manifest_cases


def test_a_plain_manifest_gives_each_file_its_viewer_offset_and_attributes():
    data = (
        b"file,viewer,offset_seconds,age_band,market\n"
        b"videos/r1.mp4,resp-1,0,25-34,DE\n"
        b"photos/a.jpg,resp-2,12.5,35-44,FR\n"
    )
    manifest = manifest_parse(data, member_paths={"videos/r1.mp4", "photos/a.jpg"})
    assert manifest.notes == []
    assert manifest.rows["videos/r1.mp4"].viewer == "resp-1"
    assert manifest.rows["photos/a.jpg"].offset_seconds == 12.5
    assert manifest.viewer_attributes() == {
        "resp-1": {"age_band": "25-34", "market": "DE"},
        "resp-2": {"age_band": "35-44", "market": "FR"},
    }


@pytest.mark.parametrize(
    "data",
    [
        # Excel's "CSV UTF-8": a BOM, CRLF line ends
        "\ufefffile,viewer,offset_seconds,city\r\na.jpg,v1,1.5,Köln\r\n".encode(),
        # a European spreadsheet: semicolons and a decimal comma
        "file;viewer;offset_seconds;city\na.jpg;v1;1,5;Köln\n".encode(),
        # tab-separated
        "file\tviewer\toffset_seconds\tcity\na.jpg\tv1\t1.5\tKöln\n".encode(),
        # Excel's plain "CSV" on Windows: Windows-1252
        "file,viewer,offset_seconds,city\na.jpg,v1,1.5,Köln\n".encode("cp1252"),
    ],
    ids=["utf8-bom-crlf", "semicolons", "tabs", "cp1252"],
)
def test_what_spreadsheets_write_reads_the_same(data):
    manifest = manifest_parse(data)
    row = manifest.rows["a.jpg"]
    assert (row.viewer, row.offset_seconds, row.attributes) == ("v1", 1.5, {"city": "Köln"})


def test_a_windows_1252_manifest_is_read_with_a_note():
    manifest = manifest_parse("file,viewer\nä.jpg,v\n".encode("cp1252"))
    assert "ä.jpg" in manifest.rows
    assert any("Windows-1252" in note for note in manifest.notes)


def test_bad_rows_are_left_out_with_a_note_each_and_the_rest_is_used():
    data = (
        b"File, Viewer ,offset_seconds,panel\n"
        b"a.jpg,v1,-3,p\n"  # negative offset
        b"b.jpg,v2,soon,p\n"  # not a number
        b"c.jpg,v3,,p\n"  # blank offset: 0
        b"a.jpg,v9,1,p\n"  # repeats a.jpg
        b"ghost.jpg,v4,1,p\n"  # not in the archive
        b",v5,1,p\n"  # no file
        b"\n"  # blank line: nothing
        b"./d.jpg,v6,2,p\n"  # a path written with ./
    )
    manifest = manifest_parse(data, member_paths={"a.jpg", "b.jpg", "c.jpg", "d.jpg"})
    assert set(manifest.rows) == {"a.jpg", "b.jpg", "c.jpg", "d.jpg"}
    assert manifest.rows["a.jpg"].viewer == "v1" and manifest.rows["a.jpg"].offset_seconds is None
    assert manifest.rows["b.jpg"].offset_seconds is None
    assert manifest.rows["c.jpg"].offset_seconds == 0.0
    notes = " | ".join(manifest.notes)
    assert "row 2: offset_seconds '-3'" in notes and "row 3: offset_seconds 'soon'" in notes
    assert "row 5 repeats a.jpg (row 2): ignored" in notes
    assert "row 6: ghost.jpg is not in the archive" in notes
    assert "row 7: no file named" in notes


def test_without_a_viewer_column_no_viewer_comes_from_the_manifest():
    manifest = manifest_parse(b"file,offset_seconds,market\nv.mp4,3,DE\n")
    assert manifest.rows["v.mp4"].viewer is None
    assert manifest.rows["v.mp4"].offset_seconds == 3.0
    assert manifest.viewer_attributes() == {}
    assert any("no 'viewer' column" in note for note in manifest.notes)


def test_without_a_file_column_the_manifest_is_ignored():
    manifest = manifest_parse(b"viewer,market\nv1,DE\n")
    assert manifest.rows == {}
    assert "no 'file' column" in manifest.notes[0]


def test_conflicting_attributes_of_one_viewer_keep_the_first_with_a_note():
    manifest = manifest_parse(b"file,viewer,market\na.jpg,v1,DE\nb.jpg,v1,FR\n")
    assert manifest.viewer_attributes() == {"v1": {"market": "DE"}}
    assert any("kept 'DE'" in note for note in manifest.notes)


def test_formula_like_values_are_kept_as_written():
    # (the CSV exports neutralise them; the manifest stores what the uploader wrote)
    manifest = manifest_parse(b'file,viewer,note\na.jpg,=HYPERLINK("x"),+1\n')
    row = manifest.rows["a.jpg"]
    assert row.viewer == '=HYPERLINK("x")' and row.attributes == {"note": "+1"}


def test_a_videos_default_viewer_is_its_file_name():
    assert default_viewer("panel/wave 2/resp-17.mp4") == "resp-17"


@pytest.mark.parametrize("case", list(manifest_cases()), ids=lambda case: case.name)
def test_every_manifest_of_the_bad_input_corpus_keeps_its_good_rows_and_names_the_rest(case):
    # given a manifest as a tool writes it, or broken as the probe broke it
    # when read
    manifest = manifest_parse(
        case.data,
        member_paths=set(MANIFEST_PHOTOS),
        offset_bound=OffsetBound(10_800, "the longest an ad may be"),
    )
    # then its good rows give their viewers, and each row left out or changed has its note
    assert {path: row.viewer for path, row in manifest.rows.items()} == case.viewers
    named = {int(m) for note in manifest.notes for m in re.findall(r"^row (\d+)", note)}
    assert named == set(case.noted_rows), manifest.notes
    # and nothing read from it holds a control character
    texts = [*manifest.rows, *(r.viewer or "" for r in manifest.rows.values())]
    texts += [f"{k}{v}" for r in manifest.rows.values() for k, v in r.attributes.items()]
    assert not any(ch < " " or ch == "\x7f" for text in texts for ch in text)


def test_offsets_past_the_bound_are_dropped_with_a_note_and_the_row_kept():
    # given rows at, within and past an ad of 60 s
    data = b"file,viewer,offset_seconds\na.jpg,v1,60\nb.jpg,v2,60.5\nc.jpg,v3,30000\n"
    # when read against the ad's length
    manifest = manifest_parse(data, offset_bound=OffsetBound(60, "the ad's length"))
    # then only the offsets past it are dropped, each with its note; the viewers stay
    offsets = {path: row.offset_seconds for path, row in manifest.rows.items()}
    assert offsets == {"a.jpg": 60.0, "b.jpg": None, "c.jpg": None}
    assert manifest.rows["c.jpg"].viewer == "v3"
    assert manifest.notes == [
        "row 3: offset_seconds 60.5 for b.jpg is past the ad's length (60 s); the file is "
        "analysed without an offset",
        "row 4: offset_seconds 30000 for c.jpg is past the ad's length (60 s); the file is "
        "analysed without an offset",
    ]


def test_a_column_named_twice_is_refused_with_a_note_and_the_rest_is_used():
    # given a manifest naming 'market' and 'offset_seconds' twice (it kept the last, silently)
    data = b"file,viewer,market,offset_seconds,Market,offset_seconds,panel\na.jpg,v1,DE,1,FR,2,w1\n"
    # when read
    manifest = manifest_parse(data)
    # then neither copy is used, each is named in a note, and the other columns are read
    row = manifest.rows["a.jpg"]
    assert (row.viewer, row.offset_seconds, row.attributes) == ("v1", None, {"panel": "w1"})
    assert manifest.notes == [
        "manifest.csv has more than one column named 'market' (columns 3, 5): neither is "
        "used; give each column its own name",
        "manifest.csv has more than one column named 'offset_seconds' (columns 4, 6): neither "
        "is used, so its files have no offset; give each column its own name",
    ]


def test_a_file_column_named_twice_leaves_the_manifest_unused_with_a_note():
    manifest = manifest_parse(b"file,viewer,file\na.jpg,v1,b.jpg\n")
    assert manifest.rows == {}
    assert manifest.notes == [
        "manifest.csv has more than one column named 'file' (columns 1, 3): it cannot tell "
        "which names the files, so the manifest was ignored; give each column its own name"
    ]


@pytest.mark.parametrize("data", [b"", b"\xef\xbb\xbf", b"\r\n\r\n", b"\xff\xfe"])
def test_an_empty_manifest_is_ignored_with_a_note(data):
    assert manifest_parse(data).notes == ["manifest.csv is empty: ignored"]


def test_past_the_shown_notes_every_other_noted_row_is_still_named():
    # given 40 rows naming files that are not in the archive, and one good row
    lines = [b"file,viewer"] + [f"x{i}.jpg,v{i}".encode() for i in range(40)] + [b"a.jpg,v"]
    # when read
    manifest = manifest_parse(b"\n".join(lines), member_paths={"a.jpg"})
    # then the first notes are shown whole and the last line names the rows of the others
    notes = manifest.bounded_notes()
    assert len(notes) == MAX_NOTES + 1
    assert notes[-1] == "... and 10 more notes, of rows 32-41"
    assert set(manifest.rows) == {"a.jpg"}
