"""The pipeline: feeder threads and one batching classifier thread give the plain path's results,
each on its own photo and face, however many calls run at once."""

from __future__ import annotations

import io
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from PIL import Image

from inference.api import StageTimings, analyze_images
from inference.classifier import EmotionClassifier
from inference.pipeline import FaceBatcher, detector_thread_copy, pipeline_stats
from inference.scenes import compose_scene
from ml.detection import DetectedFace, TiledDetector, get_detector, raw_detector


def jpeg(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def photos(fer_faces) -> list[bytes]:
    """14 distinct photos with one to three faces each (one face per class at least)."""
    rng = np.random.default_rng(3)
    faces = [face for face, _ in fer_faces]
    result = []
    for index in range(14):
        count = 1 + index % 3
        chosen = [faces[(index * 2 + k) % len(faces)] for k in range(count)]
        scene, _ = compose_scene(chosen, [150] * count, height=480, width=760, rng=rng)
        result.append(jpeg(scene))
    return result


@pytest.fixture(scope="module")
def classifier(tiny_model_dir) -> EmotionClassifier:
    return EmotionClassifier.load(tiny_model_dir, batch_size=64)


def assert_same_results(got, expected) -> None:
    """Same photos in the same order, the same boxes, probabilities within float rounding."""
    assert [r.source for r in got] == [r.source for r in expected]
    assert [r.error for r in got] == [r.error for r in expected]
    for photo, reference in zip(got, expected, strict=True):
        assert [f.box for f in photo.faces] == [f.box for f in reference.faces]
        for face, ref in zip(photo.faces, reference.faces, strict=True):
            assert face.label == ref.label
            np.testing.assert_allclose(
                list(face.probabilities.values()), list(ref.probabilities.values()), atol=1e-5
            )


def test_the_pipeline_gives_the_results_of_the_plain_path(photos, classifier):
    # given: the photos analysed one after another in the calling thread
    plain = analyze_images(photos, classifier=classifier)
    assert sum(len(r.faces) for r in plain) >= len(photos)
    # when: the same photos go through two feeder threads and the batching classifier thread
    timings = StageTimings()
    piped = analyze_images(photos, classifier=classifier, decode_threads=2, timings=timings)
    # then
    assert_same_results(piped, plain)
    assert timings.images == len(photos)
    assert timings.faces == sum(len(r.faces) for r in plain)
    assert min(timings.decode, timings.detect, timings.classify) > 0


def test_concurrent_calls_keep_every_result_on_its_own_photo_and_face(photos, classifier):
    # given: each photo's reference result, and 8 calls over different runs of the photos
    reference = {photo: analyze_images([photo], classifier=classifier)[0] for photo in photos}
    calls = [photos[start:] + photos[:start] for start in range(0, 16, 2)]
    analyze_images(photos[:1], classifier=classifier, decode_threads=3, batch_size=16)
    before = pipeline_stats()
    assert before is not None
    # when: they run at once in 8 threads, so the classifier's batches mix their faces
    with ThreadPoolExecutor(len(calls)) as pool:
        outcomes = list(
            pool.map(
                lambda sources: analyze_images(
                    sources, classifier=classifier, decode_threads=3, batch_size=16
                ),
                calls,
            )
        )
    # then: every photo of every call has exactly its own faces and probabilities
    for sources, results in zip(calls, outcomes, strict=True):
        expected = [reference[photo] for photo in sources]
        for result, ref in zip(results, expected, strict=True):
            result.source = ref.source  # names are positions in each call
        assert_same_results(results, expected)
    # and the batches were filled across calls: fewer CNN runs than photos
    after = pipeline_stats()
    assert after is not None
    faces = sum(len(r.faces) for results in outcomes for r in results)
    runs = after.batches - before.batches
    assert after.faces - before.faces == faces
    assert runs < sum(len(sources) for sources in calls) / 4


def test_a_corrupt_photo_fails_alone_in_the_pipeline(photos, classifier, tmp_path):
    # given: good photos around bytes that are no image and a truncated JPEG
    sources = [photos[0], b"not an image at all", photos[1], photos[2][: len(photos[2]) // 3]]
    sources.append(photos[3])
    # when
    results = analyze_images(sources, classifier=classifier, decode_threads=2)
    # then: the two bad ones say why, the others have their faces as when analysed alone
    assert results[1].error and not results[1].faces
    assert results[3].error and not results[3].faces
    for index in (0, 2, 4):
        (alone,) = analyze_images([sources[index]], classifier=classifier)
        alone.source = results[index].source
        assert_same_results([results[index]], [alone])


class _GatedDetector:
    """One face per photo, found only once the test opens the gate."""

    name = "gated"

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.gate = threading.Event()

    def detect(self, rgb: np.ndarray) -> list[DetectedFace]:
        self.entered.set()
        self.gate.wait(30)
        return [DetectedFace(box=(10, 10, 60, 60), score=0.9)]


def test_a_call_that_runs_past_its_timeout_raises_and_the_pipeline_goes_on(photos, classifier):
    # given: a detector that holds every photo until it is let go
    detector = _GatedDetector()
    # when / then: the call gives up after its timeout with a clear error
    with pytest.raises(TimeoutError, match="did not analyse 3 photos"):
        analyze_images(
            photos[:3], detector=detector, classifier=classifier, decode_threads=2, timeout=0.5
        )
    # and once the detector answers again, the next call is analysed in full
    detector.gate.set()
    results = analyze_images(photos[:4], detector=detector, classifier=classifier, decode_threads=2)
    assert [len(r.faces) for r in results] == [1, 1, 1, 1]


def test_a_call_in_flight_finishes_when_another_model_replaces_the_pipeline(
    photos, classifier, tiny_model_dir
):
    # given: a call on the first classifier, held in its feeders
    detector = _GatedDetector()
    other = EmotionClassifier.load(tiny_model_dir, batch_size=64)
    with ThreadPoolExecutor(1) as pool:
        first = pool.submit(
            analyze_images, photos[:3], detector=detector, classifier=classifier, decode_threads=2
        )
        assert detector.entered.wait(30)
        # when: a call for another classifier starts the process's new pipeline meanwhile
        second = analyze_images([photos[3]], classifier=other, decode_threads=2)
        detector.gate.set()
        # then: both get their faces, the first from the pipeline it started on
        assert [len(r.faces) for r in first.result(timeout=60)] == [1, 1, 1]
    assert second[0].faces


def _fixed_classifier(tiny_model_dir, predict) -> EmotionClassifier:
    reference = EmotionClassifier.load(tiny_model_dir)
    return EmotionClassifier(
        predict_batch=predict, metadata=reference.metadata, model_dir=tiny_model_dir, backend="x"
    )


def test_a_failing_batch_fails_its_callers_and_the_classifier_thread_lives_on(tiny_model_dir):
    # given: a model whose forward pass fails on a batch holding an all-white face
    def predict(batch: np.ndarray) -> np.ndarray:
        if (batch == 255).all(axis=(1, 2, 3)).any():
            raise RuntimeError("the device ran out of memory")
        return np.full((len(batch), 7), 1 / 7, np.float32)

    batcher = FaceBatcher(_fixed_classifier(tiny_model_dir, predict), batch_size=8, max_wait_s=0.01)
    white = np.full((2, 48, 48, 1), 255, np.uint8)
    gray = np.full((3, 48, 48, 1), 128, np.uint8)
    # when / then: the failing request gets the model's error
    with pytest.raises(RuntimeError, match="out of memory"):
        batcher.submit(white).result(timeout=10)
    # and the next request is classified as usual
    assert batcher.submit(gray).result(timeout=10).probabilities.shape == (3, 7)
    batcher.close()
    batcher.join(10)


def test_the_batcher_fills_batches_while_callers_feed_and_runs_the_tail_at_once(
    tiny_model_dir, classifier
):
    # given: a batcher that would wait up to a minute to fill a batch of 8 faces
    batcher = FaceBatcher(classifier, batch_size=8, max_wait_s=60)
    rng = np.random.default_rng(1)
    requests = [rng.integers(0, 256, size=(3, 48, 48, 1), dtype=np.uint8) for _ in range(5)]
    # when: one caller feeds five photos of 3 faces, then has nothing more to give
    with batcher.feeding():
        futures = [batcher.submit(faces) for faces in requests[:2]]
        # then: 6 faces wait for more while the caller still feeds
        assert not futures[0].done()
        futures += [batcher.submit(faces) for faces in requests[2:]]
        # 9 faces wait: full batches go at once (whole photos, so 6 faces each)
        futures[0].result(timeout=10)
    # and the rest goes as soon as the caller is done, without waiting out the minute
    results = [future.result(timeout=10) for future in futures]
    assert batcher.stats.batches == 3
    assert batcher.stats.faces == 15
    for faces, result in zip(requests, results, strict=True):
        np.testing.assert_allclose(
            result.probabilities, classifier.predict_preprocessed(faces), atol=1e-6
        )
    batcher.close()
    batcher.join(10)


@pytest.mark.parametrize("name", ["blazeface", "haar", "blazeface+haar"])
def test_a_feeder_threads_own_detector_finds_the_same_faces(name, photos):
    # given: the process's detector and a feeder thread's copy of it
    original = get_detector(name)
    copy = detector_thread_copy(original)
    pixels = np.asarray(Image.open(io.BytesIO(photos[5])).convert("RGB"))
    # then: a separate detector finding the same boxes
    assert copy is not original
    assert copy.detect(pixels) == original.detect(pixels)


def test_a_feeder_threads_copy_keeps_a_tiled_detectors_own_settings(photos):
    # given: a tiled detector without the padded whole-frame pass and the edge tiles
    original = TiledDetector(
        "unpadded", raw_detector("blazeface-short"), pad_fraction=0.0, edge_shift=0.0
    )
    # when
    copy = detector_thread_copy(original)
    # then: the copy is set up as the original, and finds what it finds
    assert isinstance(copy, TiledDetector) and copy is not original
    assert (copy.pad_fraction, copy.edge_shift, copy.edge_min_score) == (0.0, 0.0, 0.65)
    for photo in photos[:3]:
        pixels = np.asarray(Image.open(io.BytesIO(photo)).convert("RGB"))
        assert copy.detect(pixels) == original.detect(pixels)
