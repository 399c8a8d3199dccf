"""Head pose, eyes and quality per face, measured by the pipeline on faces of known pose."""

import cv2
import numpy as np
import pytest
from PIL import Image

from benchmarks.attention import rotate_in_plane, turn_card
from inference.api import analyze_images
from ml.attentive import QUALITY_MIN
from tests.shared_data import shared_file


@pytest.fixture(scope="module")
def frontal_faces() -> list[np.ndarray]:
    """Three London-set faces, photographed frontal with eyes open."""
    folder = shared_file("london-faces/neutral")
    paths = sorted(folder.glob("*.jpg"))[:3]
    return [np.asarray(Image.open(path).convert("RGB")) for path in paths]


def _only_face(pixels, tiny_model_dir, **options):
    (result,) = analyze_images([pixels], classifier=tiny_model_dir, **options)
    assert len(result.faces) == 1
    return result.faces[0]


def test_frontal_faces_read_as_attentive_and_readable(frontal_faces, tiny_model_dir):
    for photo in frontal_faces:
        measured = _only_face(photo, tiny_model_dir).attention
        assert measured is not None
        assert abs(measured.yaw) < 10 and abs(measured.pitch) < 15 and abs(measured.roll) < 6
        assert measured.attentive
        assert measured.quality >= QUALITY_MIN
        assert abs(measured.gaze_x) < 0.2


def test_a_photo_turned_in_its_plane_reads_the_turn_as_roll(frontal_faces, tiny_model_dir):
    photo = frontal_faces[0]
    before = _only_face(photo, tiny_model_dir).attention
    after = _only_face(rotate_in_plane(photo, 30.0), tiny_model_dir).attention
    assert before is not None and after is not None
    assert after.roll - before.roll == pytest.approx(30.0, abs=4.0)


def test_a_card_turned_right_reads_as_yaw_to_the_right(frontal_faces, tiny_model_dir):
    photo = frontal_faces[0]
    before = _only_face(photo, tiny_model_dir).attention
    right = _only_face(turn_card(photo, 40.0), tiny_model_dir).attention
    left = _only_face(turn_card(photo, -40.0), tiny_model_dir).attention
    assert before is not None and right is not None and left is not None
    assert right.yaw > before.yaw > left.yaw


def test_a_blurred_face_has_a_lower_quality(frontal_faces, tiny_model_dir):
    photo = frontal_faces[0]
    sharp = _only_face(photo, tiny_model_dir).attention
    blurred = _only_face(cv2.GaussianBlur(photo, (0, 0), 8), tiny_model_dir).attention
    assert sharp is not None and blurred is not None
    assert blurred.sharpness < sharp.sharpness / 4
    assert blurred.quality < sharp.quality


def test_the_mesh_can_be_left_out(frontal_faces, tiny_model_dir):
    assert _only_face(frontal_faces[0], tiny_model_dir, attention=False).attention is None


def test_pipelined_photos_get_the_same_attention(frontal_faces, tiny_model_dir):
    alone = [_only_face(photo, tiny_model_dir).attention for photo in frontal_faces]
    pipelined = analyze_images(frontal_faces, classifier=tiny_model_dir, decode_threads=2)
    assert [result.faces[0].attention for result in pipelined] == alone
