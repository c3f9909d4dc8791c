"""LeNet-5: the 1998 network as published, and the modern variant most courses teach.

Reference: LeCun, Bottou, Bengio, Haffner, Gradient-Based Learning Applied to Document
Recognition (1998).
"""

from __future__ import annotations

import numpy as np
import keras
from keras import layers, ops

from .base import Args, zoo_model
from .layers import PACKAGE, _prod
from .registry import Card

PAPER = "LeCun et al., Gradient-Based Learning Applied to Document Recognition"

# C3's connection table (paper, table I): output map -> the S2 maps it reads.
C3_TABLE: tuple[tuple[int, ...], ...] = (
    (0, 1, 2), (1, 2, 3), (2, 3, 4), (3, 4, 5), (4, 5, 0), (5, 0, 1),
    (0, 1, 2, 3), (1, 2, 3, 4), (2, 3, 4, 5), (3, 4, 5, 0), (4, 5, 0, 1), (5, 0, 1, 2),
    (0, 1, 3, 4), (1, 2, 4, 5), (0, 2, 3, 5),
    (0, 1, 2, 3, 4, 5),
)


@keras.saving.register_keras_serializable(package=PACKAGE)
def scaled_tanh(x):
    """LeNet's squashing function ``1.7159 * tanh(2a/3)``."""
    return 1.7159 * ops.tanh(x * (2.0 / 3.0))


@keras.saving.register_keras_serializable(package=PACKAGE)
class TrainableSubsampling(layers.Layer):
    """LeNet's S-layers: 2x2 sum-pooling, times a trainable coefficient, plus a trainable bias,
    one pair per feature map (2 parameters per map)."""

    def __init__(self, pool_size: int = 2, **kwargs):
        super().__init__(**kwargs)
        self.pool_size = int(pool_size)
        self._pool = layers.AveragePooling2D(self.pool_size, name="pool")

    def build(self, input_shape):
        c = input_shape[-1]
        self.coefficient = self.add_weight(name="coefficient", shape=(c,), initializer="ones")
        self.bias = self.add_weight(name="bias", shape=(c,), initializer="zeros")

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
        return {**super().get_config(), "pool_size": self.pool_size}


@keras.saving.register_keras_serializable(package=PACKAGE)
class PartialConv2D(layers.Layer):
    """A convolution in which output map ``j`` reads only the input maps ``table[j]`` (LeNet C3).

    Only the connected kernels are parameters: ``sum(len(t) for t in table) * kh * kw`` weights
    plus one bias per output map (C3: 60 * 25 + 16 = 1,516). The full kernel is assembled with a
    constant 0/1 matrix, so one ordinary convolution does the work.
    """

    weighted_layer = True

    def __init__(self, table, kernel_size: int = 5, activation=None, **kwargs):
        super().__init__(**kwargs)
        self.table = tuple(tuple(int(i) for i in t) for t in table)
        self.kernel_size = int(kernel_size)
        self.activation = keras.activations.get(activation)

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
        self.kernel = self.add_weight(name="kernel", shape=(k * k, len(pairs)), initializer="glorot_uniform")
        self.bias = self.add_weight(name="bias", shape=(cout,), initializer="zeros")

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
                "activation": keras.activations.serialize(self.activation)}


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


_LENET_FACTS = dict(family="lenet", paper=PAPER, year=1998, min_size=32, classes=10, ref_depth=5,
                    err_dataset="MNIST")


@zoo_model(Card(name="lenet5", variant="modern (full C3, parameter-free pooling, dense output)",
                input_shape=(32, 32, 1), params=61_706, macs=416_520, top1_err=0.95,
                description="LeNet-5 as taught today: conv 6@5x5 - pool - conv 16@5x5 - pool - "
                            "fc 120 - fc 84 - fc classes, tanh, parameter-free pooling.",
                **{**_LENET_FACTS, "min_size": 16}),
           activation="tanh", pool="avg")
def _lenet5(a: Args, activation: str, pool: str) -> keras.Model:
    if pool not in ("avg", "max"):
        raise ValueError(f"lenet5: pool must be 'avg' or 'max', got {pool!r}")
    Pool = layers.AveragePooling2D if pool == "avg" else layers.MaxPooling2D
    inputs, x = a.inputs()
    x = layers.Conv2D(a.ch(6), 5, activation=activation, name="c1")(x)
    x = Pool(2, name="s2")(x)
    x = layers.Conv2D(a.ch(16), 5, activation=activation, name="c3")(x)
    x = Pool(2, name="s4")(x)
    if not a.include_top:
        return a.finish(inputs, a.pool(x))
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(a.ch(120), activation=activation, name="c5")(x)
    x = layers.Dense(a.ch(84), activation=activation, name="f6")(x)
    return a.finish(inputs, a.classifier(x))


@zoo_model(Card(name="lenet5_1998", variant="1998 paper (partial C3, trainable subsampling, RBF output)",
                input_shape=(32, 32, 1), params=60_000, non_trainable=840, top1_err=0.95,
                description="LeNet-5 as published: C3's partial connection table, trainable "
                            "subsampling, 1.7159*tanh(2a/3), Euclidean RBF output with fixed codes.",
                **_LENET_FACTS))
def _lenet5_1998(a: Args) -> keras.Model:
    if a.width != 1.0:
        raise ValueError(f"lenet5_1998: width must be 1.0 (its C3 connection table is fixed), got {a.width!r}")
    inputs, x = a.inputs()
    x = layers.Conv2D(6, 5, activation=scaled_tanh, name="c1")(x)
    x = TrainableSubsampling(name="s2")(x)
    x = layers.Activation(scaled_tanh, name="s2_act")(x)
    x = PartialConv2D(C3_TABLE, 5, activation=scaled_tanh, name="c3")(x)
    x = TrainableSubsampling(name="s4")(x)
    x = layers.Activation(scaled_tanh, name="s4_act")(x)
    x = layers.Conv2D(120, 5, activation=scaled_tanh, name="c5")(x)
    if not a.include_top:
        return a.finish(inputs, a.pool(x))
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(84, activation=scaled_tanh, name="f6")(x)
    x = RBFOutput(a.classes, name="rbf")(x)
    if a.classifier_activation is not None:
        x = layers.Activation(a.classifier_activation, name="predictions")(x)
    return a.finish(inputs, x)
