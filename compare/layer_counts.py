"""Per-layer counting rules of :mod:`compare.profile`: what one Keras layer costs per sample.

:func:`count` gives a layer's MACs (conv, dense and custom layers' ``macs()``) and its other
arithmetic ``all_ops`` (bias and activation 1 per element, BatchNorm 2, other norms 5, pooling its
window per output, add/multiply inputs - 1, concat 1, LRN and custom layers their ``all_ops()``,
reshape/dropout/padding 0), flagging unknown types; :func:`rf_next` carries the receptive field
and jump (stride in input pixels) through a layer; :func:`elems` and :func:`itemsize` size its
outputs. The graph walk that applies them is in :mod:`compare.profile`.
"""

from __future__ import annotations

import math
import re
from typing import Any

import keras

__all__ = ["count", "rf_next", "elems", "itemsize"]

L = keras.layers


def _types(*names: str) -> tuple[type, ...]:
    return tuple(getattr(L, n) for n in names if hasattr(L, n))


_CONV = _types("Conv1D", "Conv2D", "Conv3D")
_TRANSPOSED = _types("Conv1DTranspose", "Conv2DTranspose", "Conv3DTranspose")
_DEPTHWISE = _types("DepthwiseConv1D", "DepthwiseConv2D")
_SEPARABLE = _types("SeparableConv1D", "SeparableConv2D")
_POOL = _types("MaxPooling1D", "MaxPooling2D", "MaxPooling3D", "AveragePooling1D", "AveragePooling2D",
               "AveragePooling3D")
_GLOBAL = _types("GlobalAveragePooling1D", "GlobalAveragePooling2D", "GlobalAveragePooling3D",
                 "GlobalMaxPooling1D", "GlobalMaxPooling2D", "GlobalMaxPooling3D")
_ELEMENTWISE = _types("Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum")
_ACTIVATION = _types("Activation", "ReLU", "LeakyReLU", "ELU", "PReLU")
_NORM_OTHER = _types("LayerNormalization", "GroupNormalization", "UnitNormalization", "RMSNormalization")
_PAD = _types("ZeroPadding1D", "ZeroPadding2D", "ZeroPadding3D", "Cropping1D", "Cropping2D", "Cropping3D")
_UPSAMPLE = _types("UpSampling1D", "UpSampling2D", "UpSampling3D")
_FREE = _types("InputLayer", "Flatten", "Reshape", "Permute", "RepeatVector", "Dropout", "SpatialDropout1D",
               "SpatialDropout2D", "SpatialDropout3D", "GaussianDropout", "GaussianNoise", "AlphaDropout",
               "ActivityRegularization", "Identity", "Masking", "Embedding") + _PAD + _UPSAMPLE
# Layers whose only work is elementwise: ops per output element.
_PER_ELEMENT = ((_types("BatchNormalization"), 2), (_NORM_OTHER, 5), (_types("Softmax"), 3), (_ACTIVATION, 1),
                (_types("Rescaling", "Normalization"), 2), (_types("Concatenate"), 1), (_FREE, 0))


# -- shapes ----------------------------------------------------------------------------------------
def elems(shape) -> int:
    """Elements per sample (batch axis dropped); unknown dimensions count 0."""
    dims = tuple(shape)[1:]
    return 0 if any(d is None for d in dims) else math.prod(int(d) for d in dims)


def itemsize(dtype) -> int:
    name = str(getattr(dtype, "name", dtype))
    if name.startswith("bool"):
        return 1
    bits = re.findall(r"\d+", name)
    return int(bits[-1]) // 8 if bits else 4


def _spatial(shape, data_format: str | None) -> tuple:
    """The spatial dims of a shape with batch axis, for ``data_format``."""
    shape = tuple(shape)
    return shape[2:] if data_format == "channels_first" else shape[1:-1]


def _fmt(layer) -> str:
    return getattr(layer, "data_format", None) or keras.config.image_data_format()


def _one(shapes: list) -> Any:
    return shapes[0] if len(shapes) == 1 else shapes


# -- counting rules --------------------------------------------------------------------------------
def _activation_ops(layer, out_elems: int) -> int:
    act = getattr(layer, "activation", None)
    fused = act is not None and getattr(act, "__name__", "linear") != "linear"
    return out_elems * (int(bool(getattr(layer, "use_bias", False))) + int(fused))


def _einsum_macs(layer, in_shape) -> int:
    eq = layer.equation.replace(" ", "")
    if "..." in eq:
        raise ValueError("ellipsis")
    lhs, _ = eq.split("->")
    a, b = lhs.split(",")
    sizes: dict[str, int] = {}
    for letters, shape in ((a, in_shape), (b, layer.kernel.shape)):
        for ch, d in zip(letters, shape):
            sizes[ch] = sizes.get(ch) or (1 if d is None else int(d))
    sizes[a[0]] = 1  # the batch axis
    return math.prod(sizes.values())


def _count_builtin(layer, ins: list, outs: list) -> tuple[int, int, bool]:
    """(macs, all_ops, known) per sample for Keras' own layer types."""
    out_elems = sum(elems(s) for s in outs)
    in_elems = sum(elems(s) for s in ins)
    if isinstance(layer, _CONV + _DEPTHWISE):
        macs = math.prod(layer.kernel.shape) * math.prod(_spatial(outs[0], _fmt(layer)))
        return macs, _activation_ops(layer, out_elems), True
    if isinstance(layer, _SEPARABLE):
        k = math.prod(layer.depthwise_kernel.shape) + math.prod(layer.pointwise_kernel.shape)
        return k * math.prod(_spatial(outs[0], _fmt(layer))), _activation_ops(layer, out_elems), True
    if isinstance(layer, _TRANSPOSED):  # every input position scatters a k x Cout patch
        macs = math.prod(layer.kernel.shape) * math.prod(_spatial(ins[0], _fmt(layer)))
        return macs, _activation_ops(layer, out_elems), True
    if isinstance(layer, L.Dense):
        return math.prod(layer.kernel.shape) * math.prod(outs[0][1:-1]), _activation_ops(layer, out_elems), True
    if isinstance(layer, L.EinsumDense):
        return _einsum_macs(layer, ins[0]), _activation_ops(layer, out_elems), True
    if isinstance(layer, _POOL):
        return 0, out_elems * math.prod(layer.pool_size), True
    if isinstance(layer, _GLOBAL):
        return 0, in_elems, True
    if isinstance(layer, _ELEMENTWISE):
        return 0, (len(ins) - 1 + isinstance(layer, L.Average)) * out_elems, True
    for kinds, per_element in _PER_ELEMENT:
        if isinstance(layer, kinds):
            return 0, per_element * out_elems, True
    return 0, 0, False


def count(layer, ins: list, outs: list) -> tuple[int, int, bool]:
    """(macs, all_ops, known): Keras' rules, overridden by a layer's own ``macs()``/``all_ops()``."""
    try:
        macs, ops, known = _count_builtin(layer, ins, outs)
    except Exception:  # an unbuilt or unusual layer: counted 0 and flagged, never a crash
        macs, ops, known = 0, 0, False
    for attr in ("macs", "all_ops"):
        fn = getattr(layer, attr, None)
        if callable(fn):
            try:
                value = int(fn(_one(ins), _one(outs)))
            except Exception:
                return 0, 0, False
            macs, ops, known = (value, ops, True) if attr == "macs" else (macs, value, True)
    return macs, ops, known


# -- receptive field ---------------------------------------------------------------------------------
def _tuple(value, n: int, default: int = 1) -> tuple:
    if value is None:
        return (default,) * n
    return tuple(value) if isinstance(value, (tuple, list)) else (value,) * n


def rf_next(layer, states: list, ins: list, outs: list):
    """Receptive field state of a layer's output: a tuple of (rf, jump) per spatial axis, or None."""
    n = len(outs[0]) - 2 if outs else 0
    if n < 1 or not states or any(s is None or len(s) != n for s in states):
        return None  # not a map, or it mixes in something that sees the whole input
    fmt = _fmt(layer)
    merged = tuple((max(s[i][0] for s in states), max(s[i][1] for s in states)) for i in range(n))
    if isinstance(layer, _UPSAMPLE):
        return tuple((rf, j / f) for (rf, j), f in zip(merged, _tuple(layer.size, n)))
    k = getattr(layer, "kernel_size", None) or getattr(layer, "pool_size", None)
    s = getattr(layer, "strides", None)
    if isinstance(layer, _PAD) or (k is None and s is None):
        same = _spatial(ins[0], fmt) == _spatial(outs[0], fmt) or isinstance(layer, _PAD)
        return merged if same else None
    ks = _tuple(k, n)
    ss = _tuple(s if s is not None else k, n)
    ds = _tuple(getattr(layer, "dilation_rate", 1), n)
    if isinstance(layer, _TRANSPOSED):
        return tuple((rf + (-(-((kk - 1) * dd + 1) // st) - 1) * j, j / st)
                     for (rf, j), kk, st, dd in zip(merged, ks, ss, ds))
    return tuple((rf + (kk - 1) * dd * j, j * st) for (rf, j), kk, st, dd in zip(merged, ks, ss, ds))
