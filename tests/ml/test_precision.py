"""Serving a model in bfloat16: same weights, float32 probabilities, nearly the same answers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ml.ensemble import build_ensemble
from ml.networks import build_model, get_config
from ml.precision import cpu_has_bfloat16, resolve_precision, with_precision


def test_native_bfloat16_is_read_from_the_cpu_flags(tmp_path: Path):
    amx = tmp_path / "amx"
    amx.write_text("processor\t: 0\nflags\t\t: fpu sse2 avx512f amx_bf16 amx_tile\n")
    plain = tmp_path / "plain"
    plain.write_text("processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f\n")

    assert cpu_has_bfloat16(amx)
    assert not cpu_has_bfloat16(plain)
    assert not cpu_has_bfloat16(tmp_path / "missing")


def test_explicit_precisions_are_kept_and_unknown_ones_refused():
    assert resolve_precision("float32") == "float32"
    assert resolve_precision("bfloat16") == "bfloat16"
    assert resolve_precision("auto") in ("float32", "bfloat16")
    with pytest.raises(ValueError, match="unknown precision 'float16'"):
        resolve_precision("float16")


def test_a_bfloat16_ensemble_computes_in_bfloat16_and_answers_in_float32():
    import keras

    keras.utils.set_random_seed(4)
    nets = [build_model(get_config("tiny"), (48, 48, 1)) for _ in range(2)]
    model = build_ensemble(nets, (48, 48, 1), flip=True)
    faces = np.random.default_rng(2).integers(0, 256, (32, 48, 48, 1)).astype(np.float32)

    served = with_precision(model, "bfloat16")

    assert with_precision(model, "float32") is model
    member = served.get_layer("member_1")
    assert member.get_layer("s1_conv1").compute_dtype == "bfloat16"
    assert member.get_layer("emotion").compute_dtype == "float32"  # the softmax head
    for mine, theirs in zip(served.get_weights(), model.get_weights(), strict=True):
        np.testing.assert_array_equal(mine, theirs)
    expected = np.asarray(model(faces, training=False))
    probabilities = np.asarray(served(faces, training=False))
    assert probabilities.dtype == np.float32
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
    # bfloat16 keeps 8 significant bits: close to float32, not equal to it
    np.testing.assert_allclose(probabilities, expected, atol=0.02)
