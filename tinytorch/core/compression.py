"""Compression: post-training int8 quantization with one scale per output channel.

Each Linear weight ``W`` (in_features x out_features) is stored as int8 ``q`` and a float32 scale
per output column, ``W[:, j] ~= q[:, j] * scale[j]`` with ``scale[j] = max|W[:, j]| / 127``
(symmetric, so zero stays exactly zero). Per-channel scales matter because output units differ
in magnitude: one scale for the whole matrix would spend the int8 range on the largest unit and
round the small ones to a handful of levels. Biases stay float32 (they are few). The result is
about 4x smaller; the forward pass dequantizes on the fly as ``(x @ q) * scale + bias``.
"""

import numpy as np

from .layers import StageModel, activate_inplace, parse_stage_config

INT8_MAX = 127


def quantize_per_channel(weight):
    """Quantize a float weight matrix (in_features, out_features) to ``(q int8, scale float32)``
    with one symmetric scale per output column. An all-zero column gets scale 1."""
    weight = np.asarray(weight, dtype=np.float32)
    max_abs = np.abs(weight).max(axis=0)
    scale = np.where(max_abs > 0, max_abs / INT8_MAX, 1.0).astype(np.float32)
    q = np.clip(np.round(weight / scale), -INT8_MAX, INT8_MAX).astype(np.int8)
    return q, scale


def dequantize(q, scale):
    """The float32 weights an int8 matrix and its per-column scales stand for."""
    return q.astype(np.float32) * scale


class QuantizedModel(StageModel):
    """A network of ``(q, scale, bias, activation)`` stages with int8 weights."""

    type_name = "QuantizedModel"
    repr_label = "int8 per-channel, "

    def __init__(self, stages):
        self.stages = [(np.ascontiguousarray(q, dtype=np.int8),
                        np.ascontiguousarray(scale, dtype=np.float32),
                        np.ascontiguousarray(bias, dtype=np.float32), activation)
                       for q, scale, bias, activation in stages]

    def forward(self, x):
        x = self.check_input(x).astype(np.float32, copy=False)
        for q, scale, bias, activation in self.stages:
            x = x @ q.astype(np.float32)
            x *= scale
            x += bias
            x = activate_inplace(x, activation)
        return x

    @property
    def num_parameters(self):
        return int(sum(q.size + bias.size for q, _, bias, _ in self.stages))

    @property
    def nbytes(self):
        return int(sum(q.nbytes + scale.nbytes + bias.nbytes for q, scale, bias, _ in self.stages))

    @property
    def weight_nbytes(self):
        """Bytes of the quantized weights and their scales (biases excluded)."""
        return int(sum(q.nbytes + scale.nbytes for q, scale, _, _ in self.stages))

    def dense_stages(self):
        return [(dequantize(q, scale), bias, activation) for q, scale, bias, activation in self.stages]

    def tensors(self):
        return {f"{index}.{name}": array
                for index, (q, scale, bias, _) in enumerate(self.stages)
                for name, array in (("weight_int8", q), ("scale", scale), ("bias", bias))}


def quantize_model(model):
    """Quantize a model's Linear weights to int8 with per-output-channel scales. Accepts any
    tinytorch model (``Sequential``, ``InferenceModel``, ...); returns a ``QuantizedModel``
    with the same ``predict``/``predict_proba`` interface and an ``nbytes`` about 4x smaller."""
    if not hasattr(model, "dense_stages"):
        raise TypeError(f"quantize_model needs a tinytorch model, got {type(model).__name__}")
    return QuantizedModel([(*quantize_per_channel(weight), bias.copy(), activation)
                           for weight, bias, activation in model.dense_stages()])


def quantized_from_config(config, tensors):
    """Rebuild a ``QuantizedModel`` from ``config()`` and ``tensors()``; raises ValueError."""
    stages = []
    for index, (n_in, n_out, activation) in enumerate(parse_stage_config(config, "QuantizedModel")):
        q, scale, bias = (tensors.get(f"{index}.{name}") for name in ("weight_int8", "scale", "bias"))
        if (q is None or scale is None or bias is None or q.dtype != np.int8
                or q.shape != (n_in, n_out) or scale.shape != (n_out,) or bias.shape != (n_out,)):
            raise ValueError(f"stage {index} needs an int8 weight of shape {(n_in, n_out)} and "
                             f"scale and bias of shape {(n_out,)}")
        stages.append((q, scale, bias, activation))
    return QuantizedModel(stages)
