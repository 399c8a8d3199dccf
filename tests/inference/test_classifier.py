"""EmotionClassifier: artifact validation, batching, crops of any size and colour."""

import shutil

import numpy as np
import pytest

from inference.classifier import EmotionClassifier, get_classifier
from ml import CLASSES, SHIPPED_MODEL_DIR
from ml.artifact import ArtifactError, ArtifactMetadata, write_metadata
from ml.preprocessing import PreprocessSpec


def random_crops(count: int, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    crops = []
    for i in range(count):
        size = int(rng.integers(20, 200))
        shape = (size, size, 3) if i % 2 else (size, size)
        crops.append(rng.integers(0, 256, size=shape, dtype=np.uint8))
    return crops


def test_probabilities_come_in_class_order_and_sum_to_one(tiny_model_dir):
    # given
    classifier = EmotionClassifier.load(tiny_model_dir)
    # when
    probabilities = classifier.predict_faces(random_crops(5))
    # then
    assert classifier.classes == CLASSES
    assert probabilities.shape == (5, len(CLASSES))
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)


def test_batching_gives_the_same_probabilities_as_one_by_one(tiny_model_dir):
    # given
    classifier = EmotionClassifier.load(tiny_model_dir, batch_size=8)
    crops = random_crops(21)
    # when
    batched = classifier.predict_faces(crops)
    one_by_one = np.concatenate([classifier.predict_faces([crop]) for crop in crops])
    other_batch = classifier.predict_faces(crops, batch_size=64)
    # then
    np.testing.assert_allclose(batched, one_by_one, atol=1e-6)
    np.testing.assert_allclose(batched, other_batch, atol=1e-6)


def test_gray_and_rgb_of_the_same_face_agree(tiny_model_dir):
    # given
    classifier = EmotionClassifier.load(tiny_model_dir)
    gray = random_crops(1, seed=5)[0]
    rgb = np.repeat(gray[:, :, None], 3, axis=2)
    # when
    probabilities = classifier.predict_faces([gray, rgb])
    # then
    np.testing.assert_allclose(probabilities[0], probabilities[1], atol=1e-6)


def test_no_crops_give_an_empty_result(tiny_model_dir):
    assert EmotionClassifier.load(tiny_model_dir).predict_faces([]).shape == (0, 7)


def test_model_json_contradicting_the_model_is_refused(tiny_model_dir, tmp_path):
    # given: the metadata claims 64x64 input while the model takes 48x48
    folder = tmp_path / "bad"
    shutil.copytree(tiny_model_dir, folder)
    write_metadata(
        folder,
        ArtifactMetadata(name="bad", version="1", preprocessing=PreprocessSpec(input_size=64)),
    )
    # when / then
    with pytest.raises(ArtifactError, match="input"):
        EmotionClassifier.load(folder)


def test_missing_artifact_is_refused(tmp_path):
    with pytest.raises(ArtifactError, match="not found"):
        EmotionClassifier.load(tmp_path)


def test_tflite_backend_matches_keras(tiny_model_dir, tmp_path):
    # given: the artifact exported to TFLite as well
    import tensorflow as tf

    from ml.artifact import load_keras_model

    folder = tmp_path / "with-tflite"
    shutil.copytree(tiny_model_dir, folder)
    model, _ = load_keras_model(folder)
    (folder / "model.tflite").write_bytes(tf.lite.TFLiteConverter.from_keras_model(model).convert())
    crops = random_crops(9)
    # when
    keras_probabilities = EmotionClassifier.load(folder, backend="keras").predict_faces(crops)
    auto = EmotionClassifier.load(folder, batch_size=4)
    tflite_probabilities = auto.predict_faces(crops)
    # then
    assert auto.backend == "tflite"
    np.testing.assert_allclose(tflite_probabilities, keras_probabilities, atol=1e-5)


def test_get_classifier_loads_once_per_folder(tiny_model_dir):
    # when
    first = get_classifier(tiny_model_dir)
    second = get_classifier(str(tiny_model_dir) + "/")
    # then
    assert first is second


@pytest.mark.skipif(not SHIPPED_MODEL_DIR.is_dir(), reason=f"{SHIPPED_MODEL_DIR} is missing")
def test_shipped_model_loads_and_validates():
    classifier = EmotionClassifier.load(SHIPPED_MODEL_DIR)
    assert classifier.predict_faces(random_crops(3)).shape == (3, 7)


def test_a_bfloat16_classifier_agrees_with_float32(tiny_model_dir):
    # given
    exact = EmotionClassifier.load(tiny_model_dir, precision="float32")
    fast = EmotionClassifier.load(tiny_model_dir, precision="bfloat16")
    crops = random_crops(16, seed=3)
    # when
    expected = exact.predict_faces(crops)
    probabilities = fast.predict_faces(crops)
    # then
    assert (exact.precision, fast.precision) == ("float32", "bfloat16")
    assert probabilities.dtype == np.float32
    np.testing.assert_allclose(probabilities, expected, atol=0.02)
    with pytest.raises(ValueError, match="unknown precision"):
        EmotionClassifier.load(tiny_model_dir, precision="half")
