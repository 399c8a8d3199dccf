"""manifest.csv as spreadsheets write it, and every kind of bad row with its note."""

from __future__ import annotations

import pytest

from campaigns.manifests import default_viewer, manifest_parse


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
