"""The `fer` PyPI package (the peer), timed on the bench's images in its own virtualenv.

Run by `inference.peer.run_peer` (for `python -m benchmarks.pipeline` and
`python -m inference.cli.evaluate_photos --peer-python`) as
`PEER_PYTHON -P inference/cli/fer_peer.py` with a JSON request on stdin
({"mode": "photos" | "faces", "images": [paths]}); prints one JSON object: per-image faces
and labels plus timings. Imports nothing from this project: the peer's environment has only
`fer` and its own dependencies.
"""

import json
import logging
import os
import sys
import time
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
logging.disable(logging.WARNING)


def classify_crops(detector: Any, paths: list[str]) -> dict[str, Any]:
    """Images that already are face crops, through fer's classifier with fer's preprocessing.

    Not `detect_emotions(face_rectangles=...)`: that pads every box by 10 px of black on
    each side, which costs a 48x48 crop about 15 points of accuracy.
    """
    import cv2
    import numpy as np

    labels = detector._get_labels()
    size = tuple(detector._FER__emotion_target_size)
    started = time.perf_counter()
    faces = [cv2.imread(path, cv2.IMREAD_GRAYSCALE) for path in paths]
    decode_s = time.perf_counter() - started
    results: list[dict[str, Any]] = [
        {"source": path, "error": "cv2.imread could not read it", "faces": []}
        for path, face in zip(paths, faces, strict=True)
        if face is None
    ]
    readable = [(path, face) for path, face in zip(paths, faces, strict=True) if face is not None]
    if readable:  # warm-up, as the photo mode does: graph building is not classifying
        warm = cv2.resize(readable[0][1], size).astype("float32")[None]
        detector._classify_emotions(np.repeat(warm, 64, axis=0))
    started = time.perf_counter()
    batch = np.array([cv2.resize(face, size) for _, face in readable], dtype="float32")
    batch = (batch / 255.0 - 0.5) * 2.0
    predictions = (
        np.concatenate(
            [
                np.asarray(detector._classify_emotions(batch[i : i + 64]))
                for i in range(0, len(batch), 64)
            ]
        )
        if len(batch)
        else np.zeros((0, len(labels)))
    )
    analyse_s = time.perf_counter() - started
    for (path, face), row in zip(readable, predictions, strict=True):
        box = [0, 0, int(face.shape[1]), int(face.shape[0])]
        label = labels[int(np.argmax(row))]
        results.append({"source": path, "error": None, "faces": [{"box": box, "label": label}]})
    return {"results": results, "decode_s": decode_s, "analyse_s": analyse_s}


def main() -> None:
    request = json.load(sys.stdin)
    import cv2
    from fer.fer import FER  # type: ignore[import-not-found]  # only in the peer's venv

    detector = FER(mtcnn=False)  # Haar mode, the package's defaults
    if request["mode"] == "faces":
        json.dump(classify_crops(detector, request["images"]), sys.stdout)
        return
    warm = cv2.imread(request["images"][0]) if request["images"] else None
    if warm is not None:
        detector.detect_emotions(warm)
    results, decode_s, analyse_s = [], 0.0, 0.0
    for path in request["images"]:
        started = time.perf_counter()
        image = cv2.imread(path)
        decode_s += time.perf_counter() - started
        if image is None:
            results.append({"source": path, "error": "cv2.imread could not read it", "faces": []})
            continue
        started = time.perf_counter()
        found = detector.detect_emotions(image)
        analyse_s += time.perf_counter() - started
        faces = [
            {
                "box": [int(v) for v in face["box"]],
                "label": max(face["emotions"], key=face["emotions"].get),
            }
            for face in found
        ]
        results.append({"source": path, "error": None, "faces": faces})
    json.dump({"results": results, "decode_s": decode_s, "analyse_s": analyse_s}, sys.stdout)


if __name__ == "__main__":
    main()
