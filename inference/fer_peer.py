"""The `fer` PyPI package (the peer), timed on the bench's images in its own virtualenv.

Run by `inference.bench` as `PEER_PYTHON inference/fer_peer.py` with a JSON request on stdin
({"mode": "photos" | "faces", "images": [paths]}); prints one JSON object: per-image faces
and labels plus timings. Imports nothing from this project: the peer's environment has only
`fer` and its own dependencies.
"""

import json
import logging
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
logging.disable(logging.WARNING)


def main() -> None:
    request = json.load(sys.stdin)
    import cv2
    from fer.fer import FER

    detector = FER(mtcnn=False)  # Haar mode, the package's defaults
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
        if request["mode"] == "faces":
            rectangles = [(0, 0, image.shape[1], image.shape[0])]
        else:
            rectangles = None
        started = time.perf_counter()
        found = detector.detect_emotions(image, face_rectangles=rectangles)
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
