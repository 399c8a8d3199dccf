"""Face detectors: real photos, several faces per scene, merged overlapping boxes."""

import numpy as np
import pytest

from inference.decoding import decode_image
from inference.detection import DEFAULT_DETECTOR, DETECTOR_NAMES, get_detector, weighted_nms
from inference.scenes import compose_scene


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


def test_unknown_detector_name_is_refused():
    with pytest.raises(ValueError, match="unknown face detector"):
        get_detector("yolo")
