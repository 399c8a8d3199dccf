"""Pack a training run's faces for `ml.gpu_teacher` on the lent GPU machine.

That machine cannot reach ../shared and has no TensorFlow to detect and align faces, so the
faces travel already cut, exactly as `ml.train` would see them with the same options (the
fingerprint says so), in a folder of the repository that git ignores and `carry` names:

    python -m ml.cli.teacher_faces --data ../shared/datasets/fer2013.tar.gz --align \\
        --extra-train ../shared/datasets/diffusionfer --out var/gpu/faces.npz

Training and PublicTest faces only by default: with the repository they must stay under the
64 MiB that travels, and the teacher's PrivateTest figure can be taken here afterwards
(`ml.cli.gpu_teacher predict` on a file packed with `--splits train valid test`).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np

from ml import CLASSES
from ml.datasets import Dataset, recorded_path
from ml.gpu_teacher import decode_images, encode_images

logger = logging.getLogger(__name__)

# What travels to the device machine, the repository included.
TRAVEL_LIMIT_BYTES = 64 * 1024 * 1024


def pack_faces(dataset: Dataset, out: Path, splits: tuple[str, ...] = ("train", "valid")) -> int:
    """Write the splits' faces (lossless, checked by decoding) with the dataset's classes,
    preprocessing and fingerprint; returns the file's size in bytes."""
    arrays: dict[str, np.ndarray] = {}
    for split in splits:
        data = dataset.split(split)
        blob, offsets = encode_images(data.images)
        if not np.array_equal(decode_images(blob, offsets, dataset.spec.channels), data.images):
            raise ValueError(f"{split}: the packed faces do not decode to the same pixels")
        arrays[f"{split}_webp"], arrays[f"{split}_offsets"] = blob, offsets
        arrays[f"{split}_labels"] = data.labels.astype(np.int64)
    meta = {
        "classes": list(CLASSES),
        "fingerprint": dataset.fingerprint(),
        "preprocessing": dataset.spec.to_dict(),
        "source": recorded_path(dataset.source),
        "extra_train": {
            recorded_path(name): counts for name, counts in dataset.extra_train.items()
        },
        "sizes": {split: len(dataset.split(split)) for split in splits},
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp.npz")
    arrays["meta"] = np.array(json.dumps(meta))
    np.savez(tmp, allow_pickle=False, **arrays)
    tmp.replace(out)
    return out.stat().st_size
