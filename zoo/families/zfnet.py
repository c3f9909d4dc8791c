"""ZFNet: AlexNet retuned with deconvnet visualisations (smaller, denser first layers).

Changes from AlexNet: conv1 96 7x7 stride 2 (pad 1) instead of 11x11/4, conv2 5x5 stride 2,
one tower (no grouped convs), and Caffe's ceil-rounded 3x3/2 max-pools, so a 224 input gives maps
110 -> 55 -> 26 -> 13 -> 13 -> 13 -> 6. Convolutions round down (conv1: 219 / 2 -> 110).

Ceil-mode pooling, ``O = ceil((N - 3) / 2) + 1``: one zero row and column are added on the bottom
and right (``poolN_pad``), then an ordinary ``valid`` 3x3/2 max-pool runs. Padding ``s - 1 = 1``
turns the floor into a ceil for every N (``floor((N + s - 1 - k) / s) = ceil((N - k) / s)``), and as
``k >= s`` the last window starts inside the map, so it holds at least one real value. The pools follow a ReLU, so every real value is >= 0 and a zero
pad cannot exceed the window's real maximum: the result equals Caffe's ceil-mode pool (which
ignores the overhang) exactly, with built-in layers only.

Normalisation: the paper's layers 1 and 2 are "convolved, rectified, max pooled, contrast
normalized across feature maps" without giving the constants. ``lrn=True`` (default) keeps that
step as AlexNet's cross-channel LRN (k=2, n=5, alpha=1e-4, beta=0.75) *after* each of the first two
pools, in the paper's order; ``lrn=False`` drops it. LRN has no parameters, so the counts agree.

Reference: Zeiler, Fergus, Visualizing and Understanding Convolutional Networks (arXiv 2013,
ECCV 2014).
"""

from __future__ import annotations

import keras
from keras import layers

from ..base import Args, BuildArgs, Unpack, args
from ..layers import LRN
from .alexnet import LRN_ARGS, conv_relu, dense_head

__all__ = ["zfnet", "zfnet_cs231n", "ceil_max_pool"]


def ceil_max_pool(x, name: str, size: int = 3, strides: int = 2):
    """Max-pool rounding up (Caffe's default): ``ceil((N - size) / strides) + 1`` per side.

    Exact for non-negative inputs (post-ReLU maps) when ``size >= strides``; see the module
    docstring. Like Caffe, a 2x2 map gives one 3x3/2 output (``ceil(-1/2) + 1 = 1``).
    """
    if size < strides:
        raise ValueError(f"{name}: ceil_max_pool needs size >= strides, got size={size}, strides={strides}")
    pad = strides - 1
    if pad:
        x = layers.ZeroPadding2D(((0, pad), (0, pad)), name=f"{name}_pad")(x)
    return layers.MaxPooling2D(size, strides=strides, name=name)(x)


def _zfnet(a: Args, widths: tuple[int, int, int], lrn: bool) -> keras.Model:
    inputs, x = a.inputs()
    x = layers.ZeroPadding2D(1, name="conv1_pad")(x)
    x = conv_relu(x, a.ch(96), 7, "conv1", strides=2, padding="valid")   # 224 -> 110
    x = ceil_max_pool(x, "pool1")                                        # -> 55
    if lrn:
        x = LRN(name="lrn1", **LRN_ARGS)(x)
    x = conv_relu(x, a.ch(256), 5, "conv2", strides=2, padding="valid")  # -> 26
    x = ceil_max_pool(x, "pool2")                                        # -> 13
    if lrn:
        x = LRN(name="lrn2", **LRN_ARGS)(x)
    for i, w in enumerate(widths, start=3):
        x = conv_relu(x, a.ch(w), 3, f"conv{i}")                         # 13
    x = ceil_max_pool(x, "pool5")                                        # -> 6
    if not a.include_top:
        return a.finish(inputs, a.pool(x))
    return a.finish(inputs, dense_head(a, x))


# min_size (on the cards): a ceil-mode 3x3/2 pool gives ceil((M - 3) / 2) + 1 >= 1 output for M >= 2, so
# pool5 needs pool2 output >= 2 <- conv2 output >= 4 <- pool1 output >= 11 <- conv1 output >= 22
# <- floor((N + 2 - 7) / 2) + 1 >= 22 <=> N >= 47  (47 -> 22 -> 11 -> 4 -> 2 -> 2 -> 1).

def zfnet(*, lrn: bool = True, **kwargs: Unpack[BuildArgs]) -> keras.Model:
    """ZFNet as in the paper (384-384-256 in layers 3-5); ``lrn=False`` drops the normalisation after
    pools 1 and 2. Reference: Zeiler & Fergus (2013); figures: ``zoo.card("zfnet")``."""
    return _zfnet(args("zfnet", kwargs), (384, 384, 256), lrn)


def zfnet_cs231n(*, lrn: bool = True, **kwargs: Unpack[BuildArgs]) -> keras.Model:
    """ZFNet as the CS231n lecture draws it (512-1024-512 in layers 3-5).
    Reference: Zeiler & Fergus (2013); CS231n; figures: ``zoo.card("zfnet_cs231n")``."""
    return _zfnet(args("zfnet_cs231n", kwargs), (512, 1024, 512), lrn)
