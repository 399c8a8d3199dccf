"""The whole-pipeline evaluation on labelled real photos: scoring, the manifest and the command."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from inference.cli.evaluate_photos import main
from inference.evaluate_photos import NO_FACE, photo_report, read_manifest
from ml import CLASSES
from ml.artifact import ArtifactMetadata, read_metadata, write_metadata
from ml.card import write_model_card
from ml.metrics import classification_report

# The three shared sample photos and the expression each shows (the shared datasets README).
SAMPLE_LABELS = {"demo_7.jpg": "surprise", "images_1.jpg": "angry", "images_2.jpg": "sad"}


def write_sample_manifest(folder: Path, sample_photos: Path) -> Path:
    """A manifest in `folder` whose relative paths lead to copies of the sample photos."""
    (folder / "images").mkdir(parents=True)
    lines = ["path,label"]
    for name, label in SAMPLE_LABELS.items():
        shutil.copy(sample_photos / name, folder / "images" / name)
        lines.append(f"images/{name},{label}")
    manifest = folder / "manifest.csv"
    manifest.write_text("\n".join(lines) + "\n")
    return manifest


def test_photo_report_counts_a_photo_without_a_face_against_recall_but_not_precision():
    # given: six photos, one of them (happy) with no face found, one sad read as angry
    labels = ["happy", "happy", "happy", "sad", "sad", "angry"]
    predicted = ["happy", "happy", None, "sad", "angry", "angry"]

    # when
    report = photo_report(labels, predicted, seconds=2.0)

    # then: 4 right of 6, 5 with a face, 4 right of those 5
    assert (report["photos"], report["with_face"], report["correct"]) == (6, 5, 4)
    assert report["accuracy"] == pytest.approx(4 / 6)
    assert report["with_face_share"] == pytest.approx(5 / 6)
    assert report["accuracy_with_face"] == pytest.approx(4 / 5)
    # Wilson 95% for 4 of 6, computed by hand: centre 0.6016, half-width 0.3016
    assert report["accuracy_ci95"] == pytest.approx([0.3000, 0.9032], abs=1e-3)
    assert report["photos_per_second"] == pytest.approx(3.0)
    happy, sad, angry = (report["per_class"][name] for name in ("happy", "sad", "angry"))
    # the missed face lowers happy's recall; nothing was read as happy wrongly
    assert (happy["support"], happy["correct"], happy["predicted"]) == (3, 2, 2)
    assert happy["recall"] == pytest.approx(2 / 3)
    assert happy["precision"] == pytest.approx(1.0)
    assert (sad["recall"], sad["precision"]) == (pytest.approx(0.5), pytest.approx(1.0))
    assert (angry["recall"], angry["precision"]) == (pytest.approx(1.0), pytest.approx(0.5))
    assert report["per_class"]["fear"] == {
        "support": 0,
        "correct": 0,
        "predicted": 0,
        "recall": 0.0,
        "recall_ci95": [0.0, 1.0],
        "precision": 0.0,
        "f1": 0.0,
    }
    # F1: happy 0.8, sad 2/3, angry 2/3, the four absent classes 0; macro over all seven
    assert report["macro_f1"] == pytest.approx((0.8 + 2 / 3 + 2 / 3) / 7)
    matrix = report["confusion_matrix"]
    assert matrix["rows_true"] == list(CLASSES)
    assert matrix["columns"] == [*CLASSES, NO_FACE]
    counts = np.array(matrix["counts"])
    assert counts.shape == (7, 8)
    assert counts[CLASSES.index("happy")].tolist() == [0, 0, 0, 2, 0, 0, 0, 1]
    assert counts[CLASSES.index("sad")].tolist() == [1, 0, 0, 0, 0, 1, 0, 0]
    assert counts[CLASSES.index("angry")].tolist() == [1, 0, 0, 0, 0, 0, 0, 0]
    assert counts.sum() == 6


def test_photo_report_without_timing_has_no_speed():
    report = photo_report(["fear"], ["fear"])

    assert "photos_per_second" not in report
    assert report["accuracy"] == 1.0


def test_read_manifest_resolves_paths_against_its_folder_and_normalises_labels(tmp_path):
    manifest = tmp_path / "manifest.csv"
    manifest.write_text("path,label\nimages/a.jpg, Happy \nimages/b.jpg,sad\n")

    rows = read_manifest(manifest)

    assert rows == [(tmp_path / "images/a.jpg", "happy"), (tmp_path / "images/b.jpg", "sad")]
    assert read_manifest(manifest, limit=1) == rows[:1]


def test_read_manifest_rejects_an_unknown_label_with_file_and_line(tmp_path):
    # given: the third line (second row) has a label outside the seven expressions
    manifest = tmp_path / "manifest.csv"
    manifest.write_text("path,label\nimages/a.jpg,happy\nimages/b.jpg,contempt\n")

    # then
    with pytest.raises(ValueError, match=rf"{manifest}:3: label 'contempt'"):
        read_manifest(manifest)


@pytest.mark.slow
def test_main_writes_reports_and_probabilities_of_real_photos(
    tmp_path, tiny_model_dir, sample_photos, capsys
):
    # given: a manifest of the three real sample photos
    manifest = write_sample_manifest(tmp_path / "set", sample_photos)
    report_path, probabilities_path = tmp_path / "report.json", tmp_path / "probabilities.npz"

    # when
    code = main(
        [
            "--manifest",
            str(manifest),
            "--model",
            str(tiny_model_dir),
            "--json",
            str(report_path),
            "--probabilities",
            str(probabilities_path),
        ]
    )

    # then: one system, scored on the three photos as labelled
    assert code == 0
    written = json.loads(report_path.read_text())
    assert written["manifest"] == "manifest.csv"  # its name: tmp_path is not FER_DATA_DIR
    assert set(written) == {"manifest", "detector", "reports"}
    (name, report), *others = written["reports"].items()
    assert not others
    assert name.startswith("ours tiny-0.0.1")
    assert report["photos"] == 3
    assert {c: report["per_class"][c]["support"] for c in SAMPLE_LABELS.values()} == {
        "surprise": 1,
        "angry": 1,
        "sad": 1,
    }
    assert np.array(report["confusion_matrix"]["counts"]).sum() == 3
    assert report["photos_per_second"] > 0
    assert "3 labelled photos" in capsys.readouterr().out

    # and the probabilities agree with the report, photo by photo
    saved = np.load(probabilities_path)
    assert saved["probabilities"].shape == (3, len(CLASSES))
    assert saved["found"].shape == (3,)
    assert [Path(p).name for p in saved["paths"]] == list(SAMPLE_LABELS)
    assert saved["labels"].tolist() == [CLASSES.index(label) for label in SAMPLE_LABELS.values()]
    found = saved["found"]
    assert report["with_face"] == int(found.sum())
    assert np.allclose(saved["probabilities"][found].sum(axis=1), 1.0, atol=1e-4)
    assert np.isnan(saved["probabilities"][~found]).all()
    right = saved["probabilities"][found].argmax(axis=1) == saved["labels"][found]
    assert report["correct"] == int(right.sum())


def trained_artifact_copy(tmp_path: Path, tiny_model_dir: Path) -> tuple[Path, dict, str]:
    """A copy of the tiny artifact with the FER2013 report and card training writes: (its
    folder, the report, the card's text)."""
    artifact = tmp_path / "artifact"
    shutil.copytree(tiny_model_dir, artifact)
    rng = np.random.default_rng(0)
    test = classification_report(rng.dirichlet(np.ones(7), 70), np.arange(70) % 7, CLASSES)
    (artifact / "report.json").write_text(json.dumps({"test": test}))
    meta = read_metadata(artifact)
    trained_card = write_model_card(artifact, meta, {"test": test}, epochs_run=3).read_text()
    return artifact, test, trained_card


@pytest.mark.slow
def test_main_stores_its_reports_into_the_artifact_and_its_card(
    tmp_path, tiny_model_dir, sample_photos
):
    # given: a copy of the tiny artifact with the report and card training writes
    artifact, test, trained_card = trained_artifact_copy(tmp_path, tiny_model_dir)
    manifest = write_sample_manifest(tmp_path / "set", sample_photos)

    # when
    code = main(
        ["--manifest", str(manifest), "--model", str(tiny_model_dir), "--write-into", str(artifact)]
    )

    # then: report.json gains real_photos beside the training report; the card keeps its text
    assert code == 0
    stored = json.loads((artifact / "report.json").read_text())
    assert stored["test"] == test
    assert stored["real_photos"]["reports"]
    card = (artifact / "MODEL_CARD.md").read_text()
    assert card.startswith(trained_card)
    assert "## Real photos" in card


def test_main_refuses_to_write_one_models_figures_into_another_artifact(
    tmp_path, tiny_model_dir, sample_photos
):
    other = tmp_path / "other"
    other.mkdir()
    write_metadata(other, ArtifactMetadata(name="other", version="9"))
    manifest = write_sample_manifest(tmp_path / "set", sample_photos)

    with pytest.raises(SystemExit):
        main(
            [
                "--manifest",
                str(manifest),
                "--model",
                str(tiny_model_dir),
                "--write-into",
                str(other),
            ]
        )

    assert not (other / "report.json").exists()
