"""Every custom layer and function of the zoo, written with ``keras.ops`` only (any Keras 3 backend).

All of them live in this one module and are registered with Keras' serialization (package ``zoo``)
when it is imported, which ``import zoo`` arranges as soon as Keras is imported too: a saved zoo
model then loads with ``keras.saving.load_model`` and ``safe_mode`` on (no Lambda layers).

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


# -- LeNet-5 (1998) ------------------------------------------------------------------------------

@keras.saving.register_keras_serializable(package=PACKAGE)
def scaled_tanh(x):
    """LeNet's squashing function ``1.7159 * tanh(2a/3)``."""
    return 1.7159 * ops.tanh(x * (2.0 / 3.0))


@keras.saving.register_keras_serializable(package=PACKAGE)
class TrainableSubsampling(layers.Layer):
    """LeNet's S-layers: 2x2 sum-pooling, times a trainable coefficient, plus a trainable bias,
    one pair per feature map (2 parameters per map)."""

    def __init__(self, pool_size: int = 2, coefficient_initializer="ones", bias_initializer="zeros", **kwargs):
        super().__init__(**kwargs)
        self.pool_size = int(pool_size)
        self.coefficient_initializer = keras.initializers.get(coefficient_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self._pool = layers.AveragePooling2D(self.pool_size, name="pool")

    def build(self, input_shape):
        c = input_shape[-1]
        self.coefficient = self.add_weight(name="coefficient", shape=(c,), initializer=self.coefficient_initializer)
        self.bias = self.add_weight(name="bias", shape=(c,), initializer=self.bias_initializer)

    def call(self, x):
        # sum of the 2x2 window = average * 4
        return self._pool(x) * (self.pool_size ** 2) * self.coefficient + self.bias

    def compute_output_shape(self, input_shape):
        b, h, w, c = input_shape
        p = self.pool_size
        return (b, None if h is None else h // p, None if w is None else w // p, c)

    def macs(self, input_shape, output_shape) -> int:
        return _prod(output_shape[1:])  # one multiply by the coefficient per output

    def all_ops(self, input_shape, output_shape) -> int:
        return _prod(output_shape[1:]) * (self.pool_size ** 2 + 1)  # window sum + bias

    def get_config(self):
        return {**super().get_config(), "pool_size": self.pool_size,
                "coefficient_initializer": keras.initializers.serialize(self.coefficient_initializer),
                "bias_initializer": keras.initializers.serialize(self.bias_initializer)}


@keras.saving.register_keras_serializable(package=PACKAGE)
class PartialConv2D(layers.Layer):
    """A convolution in which output map ``j`` reads only the input maps ``table[j]`` (LeNet C3).

    Only the connected kernels are parameters: ``sum(len(t) for t in table) * kh * kw`` weights
    plus one bias per output map (C3: 60 * 25 + 16 = 1,516). The full kernel is assembled with a
    constant 0/1 matrix, so one ordinary convolution does the work.
    """

    weighted_layer = True

    def __init__(self, table, kernel_size: int = 5, activation=None, fan_in_limit: float | None = None, **kwargs):
        super().__init__(**kwargs)
        self.table = tuple(tuple(int(i) for i in t) for t in table)
        self.kernel_size = int(kernel_size)
        self.activation = keras.activations.get(activation)
        # None: Glorot uniform kernel, zero bias; a number c: every weight and bias of output map j
        # uniform in +-c / F_j, F_j its fan-in (kernel_size^2 x the maps it reads): LeCun et al. 1998's
        # appendix A with c = 2.4
        self.fan_in_limit = None if fan_in_limit is None else float(fan_in_limit)

    def build(self, input_shape):
        cin, cout = int(input_shape[-1]), len(self.table)
        pairs = [(i, j) for j, t in enumerate(self.table) for i in t]
        if max(i for i, _ in pairs) >= cin:
            raise ValueError(f"{self.name}: the connection table reads map {max(i for i, _ in pairs)}, "
                             f"but the input has {cin} maps")
        scatter = np.zeros((len(pairs), cin * cout), dtype="float32")
        for p, (i, j) in enumerate(pairs):
            scatter[p, i * cout + j] = 1.0
        self._scatter = scatter
        self._cin, self._cout = cin, cout
        k = self.kernel_size
        self.kernel = self.add_weight(name="kernel", shape=(k * k, len(pairs)),
                                      initializer=self._fan_in_uniform([len(self.table[j]) for _, j in pairs])
                                      or "glorot_uniform")
        self.bias = self.add_weight(name="bias", shape=(cout,),
                                    initializer=self._fan_in_uniform([len(t) for t in self.table]) or "zeros")

    def _fan_in_uniform(self, reads: list[int]):
        """With ``fan_in_limit``: an initializer drawing uniform in +-limit / (kernel_size^2 x reads[c])
        for column c (a fresh unseeded Keras initializer each time: one gives the same draws on every
        call); None without."""
        if self.fan_in_limit is None:
            return None
        unit = keras.initializers.RandomUniform(-1.0, 1.0)
        scale = self.fan_in_limit / (self.kernel_size ** 2 * np.array(reads, dtype="float32"))
        return lambda shape, dtype=None: unit(shape, dtype) * scale

    def call(self, x):
        k = self.kernel_size
        full = ops.matmul(self.kernel, ops.convert_to_tensor(self._scatter, dtype=self.kernel.dtype))
        full = ops.reshape(full, (k, k, self._cin, self._cout))
        return self.activation(ops.conv(x, full, strides=1, padding="valid") + self.bias)

    def compute_output_shape(self, input_shape):
        b, h, w, _ = input_shape
        k = self.kernel_size
        return (b, None if h is None else h - k + 1, None if w is None else w - k + 1, len(self.table))

    def macs(self, input_shape, output_shape) -> int:
        connections = sum(len(t) for t in self.table)
        return self.kernel_size ** 2 * connections * _prod(output_shape[1:3])

    def get_config(self):
        return {**super().get_config(), "table": [list(t) for t in self.table], "kernel_size": self.kernel_size,
                "activation": keras.activations.serialize(self.activation), "fan_in_limit": self.fan_in_limit}


@keras.saving.register_keras_serializable(package=PACKAGE)
class RBFOutput(layers.Layer):
    """LeNet's output layer: one Euclidean RBF unit per class, ``y_i = sum_j (x_j - w_ij)^2``, with
    fixed (non-trainable) +1/-1 parameter vectors. The paper draws them from 7x12 bitmaps of
    stylised characters; here they are a seeded random +1/-1 code of the same size (84).
    Returns the negated distances, so the largest value is the predicted class."""

    weighted_layer = True

    def __init__(self, units: int, seed: int = 1998, **kwargs):
        super().__init__(**kwargs)
        self.units, self.seed = int(units), int(seed)

    def build(self, input_shape):
        d = int(input_shape[-1])
        codes = np.random.default_rng(self.seed).choice([-1.0, 1.0], size=(d, self.units)).astype("float32")
        self.centres = self.add_weight(name="centres", shape=(d, self.units), trainable=False,
                                       initializer=keras.initializers.Constant(codes))

    def call(self, x):
        # |x - w|^2 = |x|^2 - 2 x.w + |w|^2
        x2 = ops.sum(ops.square(x), axis=-1, keepdims=True)
        w2 = ops.sum(ops.square(self.centres), axis=0, keepdims=True)
        return -(x2 - 2.0 * ops.matmul(x, self.centres) + w2)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.units)

    def macs(self, input_shape, output_shape) -> int:
        return int(input_shape[-1]) * self.units

    def get_config(self):
        return {**super().get_config(), "units": self.units, "seed": self.seed}


# -- the perceptron ----------------------------------------------------------------------------------

@keras.saving.register_keras_serializable(package=PACKAGE)
def step(x):
    """Heaviside step: 1 where x > 0, else 0 (the perceptron's threshold unit)."""
    return ops.cast(ops.greater(x, 0.0), x.dtype)


# -- AlphaGo -----------------------------------------------------------------------------------------

@keras.saving.register_keras_serializable(package=PACKAGE)
class PositionBias(layers.Layer):
    """Adds a separate trainable bias to every spatial position of a one-channel map."""

    def build(self, input_shape):
        self.bias = self.add_weight(name="bias", shape=tuple(input_shape[1:]), initializer="zeros")

    def call(self, x):
        return x + self.bias

    def compute_output_shape(self, input_shape):
        return input_shape

    def all_ops(self, input_shape, output_shape) -> int:
        return int(self.bias.shape[0] * self.bias.shape[1] * self.bias.shape[2])


def conv_bn(x, filters: int, kernel: int, strides: int = 1, name: str = "conv", activation: str | None = "relu",
            padding: str | int = "same"):
    """Conv (no bias) - BatchNorm (momentum 0.9, epsilon 1e-5) - optional activation, named
    ``{name}_conv/_bn/_relu``.

    ``padding``: "same" or "valid" as in Keras, or an int ``p``: ``p`` zeros on every side
    (``ZeroPadding2D`` named ``{name}_pad``) and then a "valid" convolution, the padding of Caffe,
    PyTorch and the papers. Keras' "same" with a stride puts the odd pixel of the total padding
    after (bottom/right): 3x3/2 on a 56x56 map pads 0 before and 1 after, 7x7/2 on 224x224 pads 2
    and 3, which moves every output window one pixel against the published models.
    """
    if not isinstance(padding, str):
        x = layers.ZeroPadding2D(int(padding), name=f"{name}_pad")(x)
        padding = "valid"
    x = layers.Conv2D(filters, kernel, strides=strides, padding=padding, use_bias=False,
                      kernel_initializer="he_uniform", name=f"{name}_conv")(x)
    # momentum 0.9 = PyTorch's 0.1 (the reference implementations'); Keras' default 0.99 leaves the
    # moving statistics far behind in short CPU-scale runs, so evaluation lags training badly
    x = layers.BatchNormalization(momentum=0.9, epsilon=1e-5, name=f"{name}_bn")(x)
    if activation:
        x = layers.Activation(activation, name=f"{name}_{activation}")(x)
    return x


@keras.saving.register_keras_serializable(package=PACKAGE)
class ThresholdModel(keras.Model):
    """A functional model whose output is a step (the perceptron): ``fit`` is refused with the reason.

    The step has zero gradient almost everywhere, so gradient descent cannot move the weights; the
    perceptron learning rule (``zoo.train_perceptron``) can.
    """

    def fit(self, *args, **kwargs):
        raise TypeError(f"{self.name}: a step output has zero gradient, so gradient training (fit) cannot "
                        "change its weights; train it with zoo.train_perceptron(model, x, y), the perceptron "
                        "learning rule, or build it with classifier_activation='sigmoid' to fit it as "
                        "logistic regression")
