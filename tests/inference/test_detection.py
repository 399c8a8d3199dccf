"""Face detectors: real photos, several faces per scene, merged overlapping boxes."""

import json

import numpy as np
import pytest
from PIL import Image

from inference.decoding import decode_image
from inference.scenes import MANIFEST_FILE, compose_scene, measure_framing
from ml.detection import (
    DEFAULT_DETECTOR,
    DETECTOR_NAMES,
    FRAMINGS,
    FaceFraming,
    FramedDetector,
    TiledDetector,
    get_detector,
    raw_detector,
    weighted_nms,
)


def centre_inside(box, other) -> bool:
    x, y, w, h = box
    ox, oy, ow, oh = other
    return ox <= x + w / 2 <= ox + ow and oy <= y + h / 2 <= oy + oh


@pytest.mark.parametrize("photo", ["images_1.jpg", "demo_7.jpg", "images_2.jpg"])
def test_default_detector_finds_the_face_on_real_photos(sample_photos, photo):
    # given
    image = decode_image(sample_photos / photo).pixels
    # when
    faces = get_detector(DEFAULT_DETECTOR).detect(image)
    # then: the photo's person is found (demo_7 also has an emoji face on its right)
    assert faces, f"no face found on {photo}"
    best = max(faces, key=lambda face: face.score)
    x, y, w, h = best.box
    assert x >= 0 and y >= 0 and x + w <= image.shape[1] and y + h <= image.shape[0]
    assert min(w, h) >= 0.15 * min(image.shape[:2])


@pytest.mark.parametrize("name", DETECTOR_NAMES)
def test_every_detector_finds_the_real_face_of_images_1(sample_photos, name):
    # given
    image = decode_image(sample_photos / "images_1.jpg").pixels
    # when
    faces = get_detector(name).detect(image)
    # then
    assert len(faces) == 1
    assert 0.0 < faces[0].score <= 1.0


def test_several_faces_of_a_scene_are_found_once_each(fer_faces):
    # given: four FER2013 faces of different sizes pasted apart on a cluttered background
    rng = np.random.default_rng(3)
    faces = [face for face, label in fer_faces if label in ("happy", "neutral", "surprise")][:4]
    scene, truth = compose_scene(faces, [220, 170, 130, 190], height=700, width=1000, rng=rng)
    # when
    found = get_detector(DEFAULT_DETECTOR).detect(scene)
    # then: each true face matched by exactly one box, and no more boxes than faces
    for true_box in truth:
        matches = [
            f for f in found if centre_inside(f.box, true_box) and centre_inside(true_box, f.box)
        ]
        assert len(matches) <= 1
    matched = sum(
        any(centre_inside(f.box, t) and centre_inside(t, f.box) for f in found) for t in truth
    )
    assert matched >= 3
    assert len(found) <= len(truth)


def test_blank_image_has_no_faces():
    # given
    blank = np.full((300, 400, 3), 128, dtype=np.uint8)
    # when / then
    for name in DETECTOR_NAMES:
        assert get_detector(name).detect(blank) == []


def test_overlapping_boxes_merge_into_their_weighted_mean():
    # given: two boxes on one face and one elsewhere
    corners = np.array([[10, 10, 110, 110], [20, 20, 120, 120], [300, 300, 350, 350]], float)
    scores = np.array([0.9, 0.3, 0.8])
    # when
    merged = weighted_nms(corners, scores, iou_threshold=0.3)
    # then
    assert len(merged) == 2
    box, score = merged[0]
    assert score == pytest.approx(0.9)
    np.testing.assert_allclose(box, [12.5, 12.5, 112.5, 112.5])
    np.testing.assert_allclose(merged[1][0], [300, 300, 350, 350])


def test_a_box_inside_a_bigger_one_is_merged_into_it():
    # given: a face part (an eye region) found inside a face box
    corners = np.array([[0, 0, 200, 200], [40, 40, 90, 90]], float)
    # when
    merged = weighted_nms(corners, np.array([0.9, 0.7]), iou_threshold=0.3)
    # then: the face box stays as it was
    assert len(merged) == 1
    np.testing.assert_allclose(merged[0][0], [0, 0, 200, 200])


def test_framing_scales_and_moves_a_box_by_its_longer_side():
    # given: a 100x80 box; the frame is 1.2 times its longer side, 10% right and 10% higher
    framing = FaceFraming(scale=1.2, dx=0.1, dy=-0.1)
    # when
    framed = framing.frame(np.array([[100, 100, 200, 180]]))
    # then: centre (150, 140) -> (160, 130), side 120
    np.testing.assert_allclose(framed, [[100, 70, 220, 190]])


def test_default_detector_frames_the_boxes_of_tiled_blazeface(fer_faces):
    # given: FER2013 faces pasted on a background, two near the photo's edges
    rng = np.random.default_rng(5)
    faces = [face for face, _ in fer_faces][:6]
    scene, _ = compose_scene(faces, [200, 160, 140, 180, 150, 170], height=800, width=1200, rng=rng)
    # when
    framed = get_detector(DEFAULT_DETECTOR).detect(scene)
    raw = TiledDetector("raw", raw_detector("blazeface-short")).detect(scene)
    # then: one frame per raw box, its measured framing applied, clipped to the photo
    assert len(framed) == len(raw) >= 3
    corners = np.array([[x, y, x + w, y + h] for x, y, w, h in (f.box for f in raw)])
    expected = FRAMINGS["blazeface-short"].frame(corners)
    expected = np.clip(expected, 0, [1200, 800, 1200, 800])
    got = np.array([[x, y, x + w, y + h] for x, y, w, h in (f.box for f in framed)])
    np.testing.assert_allclose(got, expected, atol=1.0)
    assert [f.score for f in framed] == pytest.approx([f.score for f in raw], abs=1e-4)


def test_framing_is_measured_from_scenes_of_pasted_faces(fer_faces, tmp_path):
    # given: a folder of scenes with their manifest, as `bench --make-scenes` writes
    rng = np.random.default_rng(11)
    manifest = {}
    for index in range(0, len(fer_faces), 4):
        chosen = fer_faces[index : index + 4]
        sizes = [int(rng.integers(120, 220)) for _ in chosen]
        scene, boxes = compose_scene(
            [face for face, _ in chosen], sizes, height=700, width=1100, rng=rng
        )
        name = f"scene_{index}.jpg"
        Image.fromarray(scene).save(tmp_path / name, quality=92)
        manifest[name] = [
            {"box": list(box), "label": label}
            for box, (_, label) in zip(boxes, chosen, strict=True)
        ]
    (tmp_path / MANIFEST_FILE).write_text(json.dumps(manifest))
    raw = TiledDetector("blazeface-short", raw_detector("blazeface-short"))
    known = FaceFraming(scale=1.25, dx=0.0, dy=-0.1)
    # when
    measured_raw, matched, total = measure_framing(raw, tmp_path)
    measured_framed, _, _ = measure_framing(FramedDetector(raw, known), tmp_path)
    # then: BlazeFace's own box is smaller than the FER2013 frame and sits lower in it
    assert total == len(fer_faces) and matched >= total // 2
    assert measured_raw.scale > 1.0 and measured_raw.dy < -0.02
    assert abs(measured_raw.dx) < 0.05
    # and boxes already framed by a known mapping measure as that mapping undone
    assert measured_framed.scale == pytest.approx(measured_raw.scale / known.scale, abs=0.02)
    assert measured_framed.dy == pytest.approx((measured_raw.dy - known.dy) / known.scale, abs=0.02)


def test_unknown_detector_name_is_refused():
    with pytest.raises(ValueError, match="unknown face detector"):
        get_detector("yolo")


class CountingDetector:
    """A real detector that also counts the images it is run on."""

    def __init__(self, detector):
        self.name = detector.name
        self.detector = detector
        self.calls = 0

    def detect(self, rgb):
        self.calls += 1
        return self.detector.detect(rgb)


def without_padding() -> TiledDetector:
    return TiledDetector(
        "unpadded", raw_detector("blazeface-short"), pad_fraction=0.0, edge_shift=0.0
    )


def test_a_face_half_cut_by_the_frame_edge_is_found(sample_photos):
    # given: a group-photo-wide scene whose left edge cuts a real face in half
    portrait = decode_image(sample_photos / "images_1.jpg").pixels  # face at x 20-423
    half = portrait[:, 20 + 201 :]
    scene = np.full((portrait.shape[0] + 40, 900, 3), 90, dtype=np.uint8)
    scene[20 : 20 + half.shape[0], : half.shape[1]] = half
    # when
    found = get_detector(DEFAULT_DETECTOR).detect(scene)
    # then: found by the padded pass, which the whole-frame pass alone misses
    assert len(found) == 1 and found[0].box[0] == 0
    assert found[0].box[2] >= 150 and found[0].box[3] >= 250
    assert without_padding().detect(scene) == []


def test_a_close_up_larger_than_the_frame_is_found(sample_photos):
    # given: the middle half of a face filling a photo (the frame cuts brow and chin)
    portrait = decode_image(sample_photos / "images_1.jpg").pixels
    close_up = portrait[110 + 100 : 110 + 300, 20 + 100 : 20 + 300]
    # when
    found = get_detector(DEFAULT_DETECTOR).detect(close_up)
    # then
    assert len(found) == 1 and found[0].box[2] >= 190
    assert without_padding().detect(close_up) == []


def test_tiles_run_only_on_photos_large_enough_to_hide_small_faces(sample_photos, fer_faces):
    # given: a 425x521 portrait and a 1200x800 scene of small faces
    portrait = decode_image(sample_photos / "images_1.jpg").pixels
    rng = np.random.default_rng(4)
    faces = [face for face, _ in fer_faces][:4]
    scene, _ = compose_scene(faces, [110, 120, 100, 130], height=800, width=1200, rng=rng)
    calls = {}
    for name, image in (("portrait", portrait), ("group", scene)):
        counting = CountingDetector(raw_detector("blazeface-short"))
        tiled = TiledDetector("blazeface", counting)
        # when
        found = tiled.detect(image)
        calls[name] = (counting.calls, tiled.tiles(*image.shape[1::-1]))
        assert found, name
    # then: the portrait gets the plain and the padded whole-frame pass only; the scene also
    # its tiles and, on every edge, tiles reaching over it
    assert calls["portrait"] == (2, [])
    group_calls, group_tiles = calls["group"]
    edge_tiles = TiledDetector("blazeface", raw_detector("blazeface-short")).edge_tiles(1200, 800)
    assert len(group_tiles) >= 6 and len(edge_tiles) >= 6
    assert group_calls == 2 + len(group_tiles) + len(edge_tiles)
    assert all(x < 0 or y < 0 or x + side > 1200 or y + side > 800 for x, y, side in edge_tiles)


def test_eyes_come_with_every_blazeface_box_and_lie_inside_it(fer_faces):
    # given
    rng = np.random.default_rng(8)
    faces = [face for face, _ in fer_faces][:4]
    scene, _ = compose_scene(faces, [200, 170, 150, 190], height=700, width=1100, rng=rng)
    # when
    found = get_detector(DEFAULT_DETECTOR).detect(scene)
    # then: the left eye left of the right one, both in the upper part of the face frame
    assert len(found) >= 3
    for face in found:
        x, y, w, h = face.box
        assert face.eyes is not None
        left_x, left_y, right_x, right_y = face.eyes
        assert x < left_x < right_x < x + w
        assert y < min(left_y, right_y) and max(left_y, right_y) < y + 0.75 * h


def test_merging_averages_eyes_over_the_boxes_that_have_them():
    # given: two boxes of one face, one with eyes (BlazeFace) and one without (Haar)
    rows = np.array(
        [
            [10, 10, 110, 110, 40, 50, 80, 50],
            [14, 14, 114, 114, np.nan, np.nan, np.nan, np.nan],
        ]
    )
    # when
    merged = weighted_nms(rows, np.array([0.6, 0.9]), iou_threshold=0.3)
    # then: the box is the score-weighted mean, the eyes those of the box that had them
    assert len(merged) == 1
    np.testing.assert_allclose(merged[0][0][:4], [12.4, 12.4, 112.4, 112.4])
    np.testing.assert_allclose(merged[0][0][4:], [40, 50, 80, 50])
