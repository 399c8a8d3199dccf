"""analyze_images: boxes in original coordinates, per-image errors, batching across photos."""

import io

import numpy as np
import pytest
from PIL import Image

from inference.api import analyze_images
from inference.classifier import EmotionClassifier
from inference.scenes import compose_scene
from ml import CLASSES
from ml.detection import DetectedFace
from ml.preprocessing import face_crop_box


def jpeg(pixels: np.ndarray, orientation: int = 1) -> bytes:
    exif = Image.Exif()
    if orientation != 1:
        exif[0x0112] = orientation
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG", quality=92, exif=exif)
    return buffer.getvalue()


def iou(a, b) -> float:
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    w = max(0, min(ax + aw, bx + bw) - max(ax, bx))
    h = max(0, min(ay + ah, by + bh) - max(ay, by))
    return w * h / (aw * ah + bw * bh - w * h)


def assert_boxes_match(found, truth, min_iou=0.35):
    """Every true face has one found box over it; BlazeFace boxes sit inside FER's loose crops."""
    assert len(found) == len(truth), f"found {found}, expected {truth}"
    for true_box in truth:
        best = max(found, key=lambda box: iou(box, true_box))
        assert iou(best, true_box) >= min_iou, f"{best} does not match {true_box}"


@pytest.fixture(scope="module")
def scene(fer_faces):
    """A 1200x800 photo with three FER2013 faces at known places."""
    faces = [face for face, label in fer_faces if label in ("happy", "surprise", "neutral")][:3]
    return compose_scene(
        faces, [260, 200, 230], height=800, width=1200, rng=np.random.default_rng(11)
    )


@pytest.mark.parametrize("orientation", [1, 3, 6, 8])
def test_boxes_are_in_upright_coordinates_of_exif_rotated_photos(
    tiny_model_dir, scene, orientation
):
    # given: the camera stored the pixels rotated and says so in EXIF
    upright, truth = scene
    turns = {1: 0, 3: 2, 6: 1, 8: 3}[orientation]
    stored = np.ascontiguousarray(np.rot90(upright, turns))
    # when
    (result,) = analyze_images([jpeg(stored, orientation)], classifier=tiny_model_dir)
    # then
    assert result.error is None
    assert (result.width, result.height) == (1200, 800)
    assert_boxes_match([face.box for face in result.faces], truth)


def test_boxes_of_a_downscaled_large_photo_map_back_to_original_pixels(tiny_model_dir, scene):
    # given: the scene at 3x size, detected on a copy shrunk to 800 px
    upright, truth = scene
    large = np.asarray(Image.fromarray(upright).resize((3600, 2400), Image.Resampling.BICUBIC))
    large_truth = [tuple(3 * v for v in box) for box in truth]
    # when
    (result,) = analyze_images([jpeg(large)], classifier=tiny_model_dir, detect_max_side=800)
    # then
    assert (result.width, result.height) == (3600, 2400)
    assert_boxes_match([face.box for face in result.faces], large_truth)


def test_real_photo_rotated_by_exif_gives_the_same_box(tiny_model_dir, sample_photos):
    # given
    upright = np.asarray(Image.open(sample_photos / "images_1.jpg").convert("RGB"))
    (reference,) = analyze_images([jpeg(upright)], classifier=tiny_model_dir)
    # when
    (rotated,) = analyze_images([jpeg(np.rot90(upright, 1).copy(), 6)], classifier=tiny_model_dir)
    # then
    assert len(reference.faces) == len(rotated.faces) == 1
    assert iou(reference.faces[0].box, rotated.faces[0].box) > 0.8


def test_faces_at_the_edges_keep_boxes_and_crops_inside_the_photo(tiny_model_dir, fer_faces):
    # given: faces pressed into two corners of the photo
    faces = [face for face, label in fer_faces if label == "happy"][:2]
    photo = np.full((600, 900, 3), 40, dtype=np.uint8)
    size = 240
    photo[:size, :size] = np.asarray(Image.fromarray(faces[0]).resize((size, size)))[:, :, None]
    photo[-size:, -size:] = np.asarray(Image.fromarray(faces[1]).resize((size, size)))[:, :, None]
    classifier = EmotionClassifier.load(tiny_model_dir)
    # when
    (result,) = analyze_images([jpeg(photo)], classifier=classifier)
    # then
    assert len(result.faces) == 2
    for face in result.faces:
        assert face.x >= 0 and face.y >= 0
        assert face.x + face.w <= 900 and face.y + face.h <= 600
        x0, y0, x1, y1 = face_crop_box(face.box, 900, 600, classifier.spec.crop_margin)
        assert 0 <= x0 < x1 <= 900 and 0 <= y0 < y1 <= 600


def test_one_bad_photo_fails_alone(tiny_model_dir, scene, tmp_path):
    # given: good photos as a path and a file object around three bad ones
    upright, truth = scene
    good = tmp_path / "good.jpg"
    good.write_bytes(jpeg(upright))
    sources = [good, b"not an image", jpeg(upright)[:2000], b"", good.open("rb")]
    # when
    results = analyze_images(sources, classifier=tiny_model_dir)
    # then
    assert [r.error is None for r in results] == [True, False, False, False, True]
    assert "not an image file this service can read" in (results[1].error or "")
    assert "incomplete" in (results[2].error or "")
    assert "empty" in (results[3].error or "")
    assert results[0].source == str(good) and results[4].source == str(good)
    for result in (results[0], results[4]):
        assert len(result.faces) == len(truth)
        for face in result.faces:
            assert face.label in CLASSES
            assert list(face.probabilities) == list(CLASSES)
            assert face.label == max(face.probabilities, key=face.probabilities.__getitem__)
            assert sum(face.probabilities.values()) == pytest.approx(1.0, abs=1e-4)
    for result in results[1:4]:
        assert result.faces == [] and result.width is None


def test_photos_analysed_together_or_apart_get_the_same_results(
    tiny_model_dir, scene, sample_photos
):
    # given
    photos = [jpeg(scene[0]), sample_photos / "images_1.jpg", sample_photos / "demo_7.jpg"]
    # when
    together = analyze_images(photos, classifier=tiny_model_dir, batch_size=2)
    apart = [analyze_images([photo], classifier=tiny_model_dir)[0] for photo in photos]
    # then
    for joint, alone in zip(together, apart, strict=True):
        assert [f.box for f in joint.faces] == [f.box for f in alone.faces]
        for a, b in zip(joint.faces, alone.faces, strict=True):
            np.testing.assert_allclose(
                list(a.probabilities.values()), list(b.probabilities.values()), atol=1e-5
            )


def test_photo_without_faces_has_an_empty_face_list(tiny_model_dir):
    # given
    blank = np.full((300, 400, 3), 200, dtype=np.uint8)
    # when
    (result,) = analyze_images([jpeg(blank)], classifier=tiny_model_dir)
    # then
    assert result.ok and result.faces == [] and (result.width, result.height) == (400, 300)


def test_small_faces_under_the_minimum_are_ignored(tiny_model_dir, scene):
    # given
    upright, _truth = scene
    # when
    (result,) = analyze_images([jpeg(upright)], classifier=tiny_model_dir, min_face_size=400)
    # then
    assert result.ok and result.faces == []


def test_predict_cli_prints_each_photo_and_fails_only_when_all_fail(
    tiny_model_dir, sample_photos, tmp_path, capsys
):
    # given
    from inference.cli.predict import main

    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"\xff\xd8\xff garbage")
    # when
    status = main([str(sample_photos / "images_1.jpg"), str(bad), "--model", str(tiny_model_dir)])
    printed = capsys.readouterr().out
    all_bad = main([str(bad), "--model", str(tiny_model_dir), "--json"])
    as_json = capsys.readouterr().out
    # then
    assert status == 0
    assert "images_1.jpg: 425x521, 1 face(s)" in printed
    assert "face 1: box x=" in printed and "broken.jpg: ERROR" in printed
    assert all_bad == 1
    import json

    (entry,) = json.loads(as_json)
    assert entry["source"].endswith("broken.jpg") and entry["error"] and entry["faces"] == []


def test_no_photos_give_no_results(tiny_model_dir):
    assert analyze_images([], classifier=tiny_model_dir) == []


class _BoxesPastTheFrame:
    """A detector whose boxes reach past the photo's edges, as real ones do at the border."""

    name = "past-the-frame"

    def detect(self, rgb: np.ndarray) -> list[DetectedFace]:
        height, width = rgb.shape[:2]
        return [
            DetectedFace(box=(-30, -20, 120, 120), score=0.9),
            DetectedFace(box=(width - 60, height - 50, 100, 100), score=0.8),
        ]


def test_boxes_reaching_past_the_frame_are_clipped_to_the_photo(tiny_model_dir):
    photo = np.full((300, 400, 3), 90, dtype=np.uint8)
    (result,) = analyze_images(
        [jpeg(photo)], detector=_BoxesPastTheFrame(), classifier=tiny_model_dir
    )
    assert [face.box for face in result.faces] == [(0, 0, 90, 100), (340, 250, 60, 50)]
