"""The numeric precision a model computes in when it serves.

Artifacts are stored and evaluated in float32. On CPUs with bfloat16 matrix units (Intel AMX,
AVX512-BF16) oneDNN runs convolutions about twice as fast in bfloat16, so a served model may
compute in bfloat16 with float32 weights and a float32 softmax: `mixed_bfloat16`, the same
policy Keras trains with. Elsewhere bfloat16 is emulated and slower, hence "auto", which
also keeps float32 wherever TensorFlow sees a GPU (not every GPU computes bfloat16).
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from ml import KerasModel

PRECISIONS = ("auto", "float32", "bfloat16")
# The CPU flags (Linux /proc/cpuinfo) under which oneDNN has native bfloat16 kernels.
BFLOAT16_CPU_FLAGS = ("amx_bf16", "avx512_bf16")


def cpu_has_bfloat16(cpuinfo: Path = Path("/proc/cpuinfo")) -> bool:
    """Whether this CPU computes bfloat16 natively (False where it cannot be told)."""
    try:
        text = cpuinfo.read_text()
    except OSError:
        return False
    for line in text.splitlines():
        if line.startswith("flags"):
            return any(flag in line.split() for flag in BFLOAT16_CPU_FLAGS)
    return False


def resolve_precision(precision: str) -> str:
    """'float32' or 'bfloat16' for a setting of PRECISIONS ('auto': bfloat16 on a CPU that
    computes it natively, when no GPU is in use)."""
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; choose one of {PRECISIONS}")
    if precision == "auto":
        import tensorflow as tf

        on_cpu = not tf.config.list_physical_devices("GPU")
        return "bfloat16" if on_cpu and cpu_has_bfloat16() else "float32"
    return precision


def _output_names(model_config: dict[str, Any]) -> set[str]:
    """Names of the layers whose outputs a serialized functional model returns."""
    outputs = model_config.get("output_layers") or []
    if outputs and isinstance(outputs[0], str):  # one output: [name, node, tensor]
        outputs = [outputs]
    return {output[0] for output in outputs}


def _with_policy(model_config: dict[str, Any], policy: str) -> dict[str, Any]:
    """A copy of a serialized functional model whose layers compute under `policy`, except
    the layers that produce its outputs (the softmax head, an ensemble's average), which stay
    float32 so probabilities keep full precision. Nested models (ensemble members) likewise."""
    config = copy.deepcopy(model_config)
    keep = _output_names(config["config"])
    for layer in config["config"]["layers"]:
        if layer["config"].get("name") in keep:
            continue
        if "layers" in layer["config"]:
            layer.update(_with_policy(layer, policy))
            continue
        dtype = layer["config"].get("dtype")
        if isinstance(dtype, dict) and dtype.get("class_name") == "DTypePolicy":
            dtype["config"]["name"] = policy
    return config


def with_precision(model: KerasModel, precision: str) -> KerasModel:
    """`model` itself for float32, else a copy that computes in bfloat16 with the same
    weights (float32 variables) and returns float32 probabilities."""
    if resolve_precision(precision) == "float32":
        return model
    import keras

    import ml.networks  # noqa: F401  (registers the custom layers an ensemble may use)

    config = _with_policy(keras.saving.serialize_keras_object(model), "mixed_bfloat16")
    clone = keras.saving.deserialize_keras_object(config)
    clone.set_weights(model.get_weights())
    return clone
