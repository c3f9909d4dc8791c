"""Custom layers shared by the families, written with ``keras.ops`` only (any Keras 3 backend).

Counting protocol (read by ``compare.profile``, which zoo never imports): a layer may define
``macs(input_shape, output_shape) -> int`` (multiply-accumulates per sample; shapes include the
batch dimension) and ``all_ops(input_shape, output_shape) -> int``; a layer whose class attribute
``weighted_layer`` is True counts as a weighted (conv/dense-like) layer for depth.
"""

from __future__ import annotations

import math

import numpy as np
import keras
from keras import layers, ops

PACKAGE = "zoo"


def _prod(shape) -> int:
    return math.prod(int(d) for d in shape if d is not None)


@keras.saving.register_keras_serializable(package=PACKAGE)
class LocalResponseNormalization(layers.Layer):
    """Local response normalisation across channels (Krizhevsky et al. 2012, section 3.3).

    ``b_c = a_c / (k + alpha * sum_{c' in window(c)} a_{c'}^2) ** beta`` with a window of ``n``
    adjacent channels centred on ``c`` (the paper's formula: alpha is not divided by n).
    Channels-last. Same as ``tf.nn.local_response_normalization(depth_radius=n // 2)``.
    Reference: Krizhevsky, Sutskever, Hinton, ImageNet Classification with Deep CNNs (2012).
    """

    def __init__(self, n: int = 5, k: float = 2.0, alpha: float = 1e-4, beta: float = 0.75, **kwargs):
        super().__init__(**kwargs)
        if n < 1 or n % 2 == 0:
            raise ValueError(f"LRN window n must be a positive odd integer, got {n!r}")
        self.n, self.k, self.alpha, self.beta = int(n), float(k), float(alpha), float(beta)

    def build(self, input_shape):
        c = int(input_shape[-1])
        r = self.n // 2
        idx = np.arange(c)
        # band[i, j] = 1 when channel i lies in the window of channel j: the windowed sum of
        # squares is one small matmul (much faster on CPU than padding and slicing n times)
        self._band = (np.abs(idx[:, None] - idx[None, :]) <= r).astype("float32")

    def call(self, x):
        band = ops.convert_to_tensor(self._band, dtype=x.dtype)
        total = ops.matmul(ops.square(x), band)
        d = self.k + self.alpha * total
        if self.beta == 0.75:  # the papers' value: d^-3/4 = rsqrt(d) * sqrt(rsqrt(d)), cheaper than pow
            r = ops.rsqrt(d)
            return x * r * ops.sqrt(r)
        return x * ops.power(d, -self.beta)

    def compute_output_shape(self, input_shape):
        return input_shape

    def all_ops(self, input_shape, output_shape) -> int:
        # square, n-1 adds, scale+offset (2), power, divide per element
        return _prod(output_shape[1:]) * (self.n + 4)

    def get_config(self):
        return {**super().get_config(), "n": self.n, "k": self.k, "alpha": self.alpha, "beta": self.beta}


LRN = LocalResponseNormalization


@keras.saving.register_keras_serializable(package=PACKAGE)
class ShortcutA(layers.Layer):
    """Option A shortcut of the CIFAR ResNets (He et al. 2015, section 4.2): identity with
    stride-``s`` subsampling and zero-padded extra channels; no parameters.
    Reference: He, Zhang, Ren, Sun, Deep Residual Learning for Image Recognition (2015).
    """

    def __init__(self, filters: int, strides: int = 1, **kwargs):
        super().__init__(**kwargs)
        self.filters, self.strides = int(filters), int(strides)

    def call(self, x):
        if self.strides > 1:
            x = x[:, :: self.strides, :: self.strides, :]
        extra = self.filters - x.shape[-1]
        if extra > 0:
            lo = extra // 2
            x = ops.pad(x, [[0, 0], [0, 0], [0, 0], [lo, extra - lo]])
        return x

    def compute_output_shape(self, input_shape):
        b, h, w, _ = input_shape
        s = self.strides
        h = None if h is None else -(-h // s)
        w = None if w is None else -(-w // s)
        return (b, h, w, self.filters)

    def macs(self, input_shape, output_shape) -> int:
        return 0  # subsampling and zero padding: no multiply-accumulates

    def all_ops(self, input_shape, output_shape) -> int:
        return 0  # a copy; the add that follows is counted by the Add layer

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "strides": self.strides}


def conv_bn(x, filters: int, kernel: int, strides: int = 1, name: str = "conv", activation: str | None = "relu",
            padding: str = "same"):
    """Conv (no bias) - BatchNorm (momentum 0.9, epsilon 1e-5) - optional activation, named
    ``{name}_conv/_bn/_relu``."""
    x = layers.Conv2D(filters, kernel, strides=strides, padding=padding, use_bias=False,
                      kernel_initializer="he_uniform", name=f"{name}_conv")(x)
    # momentum 0.9 = PyTorch's 0.1 (the reference implementations'); Keras' default 0.99 leaves the
    # moving statistics far behind in short CPU-scale runs, so evaluation lags training badly
    x = layers.BatchNormalization(momentum=0.9, epsilon=1e-5, name=f"{name}_bn")(x)
    if activation:
        x = layers.Activation(activation, name=f"{name}_{activation}")(x)
    return x
