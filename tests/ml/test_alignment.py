"""Alignment: a tilted face comes out of the shared preprocessing with its eyes level."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from inference.decoding import decode_image
from ml.artifact import read_metadata
from ml.datasets import FaceLocator, align_face_crops
from ml.detection import DEFAULT_DETECTOR, eyes_in_face_crop, get_detector, largest_face
from ml.preprocessing import (
    PreprocessSpec,
    crop_face,
    cut_face,
    eye_line_degrees,
    preprocess_faces,
)
from tests.shared_data import shared_file

ALIGNED = PreprocessSpec(align=True)


def drawn_face(size: int = 200) -> tuple[np.ndarray, tuple[float, float, float, float]]:
    """A gray oval with two dark eyes and a mouth, and where its eyes are."""
    face = np.full((size, size), 200, dtype=np.uint8)
    cv2.ellipse(face, (size // 2, size // 2), (size // 3, int(size / 2.4)), 0, 0, 360, 150, -1)
    left, right = (int(size * 0.38), int(size * 0.42)), (int(size * 0.62), int(size * 0.42))
    for eye in (left, right):
        cv2.circle(face, eye, size // 25, 20, -1)
    cv2.ellipse(face, (size // 2, int(size * 0.68)), (size // 8, size // 20), 0, 0, 360, 60, -1)
    return face, (float(left[0]), float(left[1]), float(right[0]), float(right[1]))


def rotated(image: np.ndarray, degrees: float) -> tuple[np.ndarray, np.ndarray]:
    """The image turned `degrees` clockwise on screen about its centre, and the warp used."""
    height, width = image.shape[:2]
    matrix = cv2.getRotationMatrix2D((width / 2, height / 2), -degrees, 1.0)
    turned = cv2.warpAffine(image, matrix, (width, height), borderMode=cv2.BORDER_REPLICATE)
    return turned, matrix


def dark_blob_centres(crop: np.ndarray) -> tuple[tuple[float, float], tuple[float, float]]:
    """Centres of the two darkest blobs in the upper half: the drawn eyes."""
    upper = crop[: crop.shape[0] // 2]
    count, _, stats, centres = cv2.connectedComponentsWithStats((upper < 60).astype(np.uint8))
    blobs = sorted(range(1, count), key=lambda i: -stats[i, cv2.CC_STAT_AREA])[:2]
    first, second = sorted((tuple(centres[i]) for i in blobs), key=lambda c: c[0])
    return first, second


@pytest.mark.parametrize("tilt", [-25.0, -10.0, 15.0, 30.0])
def test_a_tilted_face_is_cut_with_its_eyes_level(tilt):
    # given: a drawn face turned by `tilt` degrees, and its eyes turned with it
    face, eyes = drawn_face()
    turned, matrix = rotated(face, tilt)
    points = cv2.transform(np.array([[eyes[:2], eyes[2:]]], np.float64), matrix)[0]
    turned_eyes = (*points[0], *points[1])
    assert abs(eye_line_degrees(turned_eyes)) == pytest.approx(abs(tilt), abs=0.5)
    # when
    crop = cut_face(turned, (20, 20, 160, 160), ALIGNED, turned_eyes)
    # then: the eyes found in the crop lie on a level line again
    left, right = dark_blob_centres(crop)
    assert abs(np.degrees(np.arctan2(right[1] - left[1], right[0] - left[0]))) < 2.0
    assert crop.shape == (160, 160)


def test_without_alignment_the_crop_is_the_plain_crop_as_before():
    # given: a model spec from before alignment (model.json has no "align")
    spec = PreprocessSpec.from_dict({"input_size": 48, "channels": 1, "crop_margin": 0.1})
    face, eyes = drawn_face()
    turned, _ = rotated(face, 20.0)
    # when
    crop = cut_face(turned, (30, 40, 120, 110), spec, eyes)
    # then
    assert spec.align is False
    np.testing.assert_array_equal(crop, crop_face(turned, (30, 40, 120, 110), 0.1))


def test_shipped_artifact_from_before_alignment_loads_unaligned():
    # given: the shipped model.json, with and without an "align" key
    from ml import SHIPPED_MODEL_DIR

    data = json.loads((SHIPPED_MODEL_DIR / "model.json").read_text())
    data["preprocessing"].pop("align", None)
    # when
    spec = PreprocessSpec.from_dict(data["preprocessing"])
    # then
    assert spec.align is False
    assert read_metadata(SHIPPED_MODEL_DIR).preprocessing.input_size == 48


def test_a_face_cut_at_the_photo_edge_keeps_a_square_frame():
    # given: a frame reaching 40 px past the photo's left edge
    photo = np.random.default_rng(0).integers(0, 256, (120, 200), dtype=np.uint8)
    # when
    crop = cut_face(photo, (-40, 10, 100, 100), ALIGNED, None)
    # then: the whole 100 px frame, the missing part filled from the edge
    assert crop.shape == (100, 100)
    np.testing.assert_array_equal(crop[:, 40:], photo[10:110, 0:60])


def test_a_large_face_is_warped_at_most_four_times_the_input_size():
    face, eyes = drawn_face(size=900)
    crop = cut_face(face, (0, 0, 900, 900), ALIGNED, eyes)
    assert crop.shape == (4 * ALIGNED.input_size, 4 * ALIGNED.input_size)


def test_a_real_photo_turned_by_20_degrees_comes_out_upright(sample_photo_rgb):
    # given: a real face photo turned 20 degrees, through serving's detector
    turned, _ = rotated(sample_photo_rgb, 20.0)
    face = largest_face(turned, DEFAULT_DETECTOR)
    assert face is not None and face.eyes is not None
    assert eye_line_degrees(face.eyes) == pytest.approx(20.0, abs=6.0)
    # when
    crop = cut_face(turned, face.box, ALIGNED, face.eyes)
    # then: BlazeFace finds the eyes of the aligned crop level
    eyes = eyes_in_face_crop(crop)
    assert eyes is not None
    assert abs(eye_line_degrees(eyes)) < 6.0


def test_training_crops_are_aligned_by_their_own_eyes(sample_photo_rgb):
    # given: a FER2013-style 48x48 crop of a real face, turned 15 degrees
    face = get_detector(DEFAULT_DETECTOR).detect(sample_photo_rgb)[0]
    upright = preprocess_faces([crop_face(sample_photo_rgb, face.box, 0.0)], ALIGNED)
    turned = np.stack([rotated(image, 15.0)[0][..., None] for image in upright])
    before = eyes_in_face_crop(turned[0, :, :, 0])
    # when
    aligned = align_face_crops(
        turned,
        ALIGNED,
        FaceLocator(eyes_in_crop=eyes_in_face_crop, face_in_photo=lambda rgb: None),
    )
    # then
    after = eyes_in_face_crop(aligned[0, :, :, 0])
    assert before is not None and after is not None
    assert abs(eye_line_degrees(before)) > 10.0
    assert abs(eye_line_degrees(after)) < abs(eye_line_degrees(before)) - 8.0


@pytest.fixture(scope="module")
def sample_photo_rgb() -> np.ndarray:
    return decode_image(shared_file("sample-photos/images_1.jpg")).pixels
