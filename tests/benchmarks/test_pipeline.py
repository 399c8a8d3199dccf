"""The bench's scoring against a scenes manifest: recall and accuracy over the true faces."""

import pytest

from benchmarks.pipeline import score_against_truth


def test_a_missed_face_counts_as_wrong_and_a_match_needs_both_centres():
    # given: three pasted faces in one photo
    truth = {
        "scene.jpg": [
            {"box": [0, 0, 100, 100], "label": "happy"},
            {"box": [200, 0, 100, 100], "label": "sad"},
            {"box": [400, 0, 100, 100], "label": "fear"},
        ]
    }
    predictions = {
        "scene.jpg": [
            ([10, 5, 90, 90], "happy"),  # the first face, labelled right
            ([210, 10, 80, 80], "angry"),  # the second face, labelled wrong
            ([330, 0, 150, 40], "fear"),  # holds the third face's centre, but not vice versa
        ]
    }
    # when
    recall, accuracy = score_against_truth(predictions, truth)
    # then
    assert recall == pytest.approx(2 / 3)
    assert accuracy == pytest.approx(1 / 3)
