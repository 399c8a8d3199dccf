"""The head-pose geometry against known rotations, and the quality score's terms."""

import math

import numpy as np
import pytest

from ml.attention import head_pose, quality_score
from ml.attentive import QUALITY_MIN, attentive


def _face_turned(rotation: np.ndarray) -> np.ndarray:
    """Mesh points of a face looking at the camera (eye corners, forehead, chin; image
    coordinates: x right, y down, z away), turned by `rotation` about its centre."""
    points = np.zeros((468, 3))
    points[33], points[263] = (-1.0, 0.0, 0.0), (1.0, 0.0, 0.0)
    points[10], points[152] = (0.0, -1.2, 0.0), (0.0, 1.3, 0.0)
    return points @ rotation.T


def _turn(axis: str, degrees: float) -> np.ndarray:
    c, s = math.cos(math.radians(degrees)), math.sin(math.radians(degrees))
    return {
        # the image's right half goes away from the camera: the face turns to the right
        "yaw": np.array([[c, 0, -s], [0, 1, 0], [s, 0, c]]),
        # the forehead goes away, the chin comes closer: chin up
        "pitch": np.array([[1, 0, 0], [0, c, s], [0, -s, c]]),
        # clockwise in the image (its y runs down)
        "roll": np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]]),
    }[axis]


@pytest.mark.parametrize("axis", ["yaw", "pitch", "roll"])
@pytest.mark.parametrize("degrees", [-60.0, -25.0, 0.0, 10.0, 45.0])
def test_a_face_turned_about_one_axis_reads_that_angle_alone(axis, degrees):
    yaw, pitch, roll = head_pose(_face_turned(_turn(axis, degrees)))
    measured = {"yaw": yaw, "pitch": pitch, "roll": roll}
    assert measured[axis] == pytest.approx(degrees, abs=1e-6)
    for other in {"yaw", "pitch", "roll"} - {axis}:
        assert measured[other] == pytest.approx(0.0, abs=1e-6)


def test_a_face_leaning_in_the_picture_still_reads_its_turn_as_yaw():
    # given a face turned 20 degrees to the right, then leaning 30 degrees clockwise
    points = _face_turned(_turn("roll", 30.0) @ _turn("yaw", 20.0))
    # then both angles come back apart
    yaw, pitch, roll = head_pose(points)
    assert (yaw, pitch, roll) == pytest.approx((20.0, 0.0, 30.0), abs=1e-6)


def test_quality_falls_under_the_threshold_for_profiles_tiny_and_blurred_faces():
    frontal = quality_score(side=200, sharp=500, yaw=5, pitch=3)
    assert frontal >= 0.9
    assert quality_score(side=200, sharp=500, yaw=70, pitch=0) < QUALITY_MIN
    assert quality_score(side=16, sharp=500, yaw=0, pitch=0) < QUALITY_MIN
    assert quality_score(side=200, sharp=10, yaw=0, pitch=0) < QUALITY_MIN
    assert quality_score(side=200, sharp=500, yaw=40, pitch=0) >= QUALITY_MIN


def test_attentive_needs_facing_the_screen_with_eyes_open():
    assert attentive(10.0, -5.0, 0.3)
    assert not attentive(35.0, 0.0, 0.3)
    assert not attentive(0.0, -30.0, 0.3)
    assert not attentive(0.0, 0.0, 0.05)
    assert not attentive(None, None, None)
