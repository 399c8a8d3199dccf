"""Serving cuts faces as training does: an aligned model gets each face turned upright."""

from __future__ import annotations

import shutil

import cv2
import numpy as np
import pytest

from inference.api import analyze_images
from inference.classifier import EmotionClassifier
from inference.decoding import decode_image
from ml.artifact import read_metadata, write_metadata
from ml.detection import DEFAULT_DETECTOR, get_detector
from ml.preprocessing import PreprocessSpec, crop_face, cut_face


@pytest.fixture
def aligned_model_dir(tiny_model_dir, tmp_path):
    folder = tmp_path / "aligned"
    shutil.copytree(tiny_model_dir, folder)
    meta = read_metadata(folder)
    meta.preprocessing = PreprocessSpec(align=True)
    write_metadata(folder, meta)
    return folder


def test_an_aligned_model_is_served_the_face_turned_upright(
    aligned_model_dir, tiny_model_dir, sample_photos, tmp_path
):
    # given: a real photo turned 20 degrees, saved as an upload would be
    photo = decode_image(sample_photos / "images_1.jpg").pixels
    height, width = photo.shape[:2]
    matrix = cv2.getRotationMatrix2D((width / 2, height / 2), -20, 1.0)
    turned = cv2.warpAffine(photo, matrix, (width, height), borderMode=cv2.BORDER_REPLICATE)
    path = tmp_path / "turned.png"
    cv2.imwrite(str(path), cv2.cvtColor(turned, cv2.COLOR_RGB2BGR))
    aligned = EmotionClassifier.load(aligned_model_dir)
    plain = EmotionClassifier.load(tiny_model_dir)
    face = max(get_detector(DEFAULT_DETECTOR).detect(turned), key=lambda f: f.box[2])
    # when
    served = analyze_images([path], classifier=aligned)[0].faces
    served_plain = analyze_images([path], classifier=plain)[0].faces
    # then: the aligned model got the crop turned by the face's eyes, the old one the plain crop
    assert len(served) == 1 and (served[0].x, served[0].y, served[0].w, served[0].h) == face.box
    expected = aligned.predict_faces([cut_face(turned, face.box, aligned.spec, face.eyes)])[0]
    got = np.array(list(served[0].probabilities.values()))
    np.testing.assert_allclose(got, expected, atol=1e-5)
    expected_plain = plain.predict_faces([crop_face(turned, face.box, 0.0)])[0]
    np.testing.assert_allclose(
        np.array(list(served_plain[0].probabilities.values())), expected_plain, atol=1e-5
    )
    assert not np.allclose(got, aligned.predict_faces([crop_face(turned, face.box, 0.0)])[0])
