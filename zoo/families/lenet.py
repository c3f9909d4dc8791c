"""LeNet-5: the 1998 network as published, and the modern variant most courses teach.

Reference: LeCun, Bottou, Bengio, Haffner, Gradient-Based Learning Applied to Document
Recognition (1998).
"""

from __future__ import annotations

import keras
from keras import layers

from ..base import Args, BuildArgs, Unpack, args
from ..layers import PartialConv2D, RBFOutput, TrainableSubsampling, scaled_tanh

__all__ = ["lenet5", "lenet5_1998", "C3_TABLE"]

# C3's connection table (paper, table I): output map -> the S2 maps it reads.
C3_TABLE: tuple[tuple[int, ...], ...] = (
    (0, 1, 2), (1, 2, 3), (2, 3, 4), (3, 4, 5), (4, 5, 0), (5, 0, 1),
    (0, 1, 2, 3), (1, 2, 3, 4), (2, 3, 4, 5), (3, 4, 5, 0), (4, 5, 0, 1), (5, 0, 1, 2),
    (0, 1, 3, 4), (1, 2, 4, 5), (0, 2, 3, 5),
    (0, 1, 2, 3, 4, 5),
)


def lenet5(*, activation: str = "tanh", pool: str = "avg", **kwargs: Unpack[BuildArgs]) -> keras.Model:
    """LeNet-5 as taught today: full C3, parameter-free ``pool`` ("avg" or "max"), ``activation``
    everywhere, dense output. Reference: LeCun et al. (1998); figures: ``zoo.card("lenet5")``."""
    return _lenet5(args("lenet5", kwargs), activation, pool)


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


def lenet5_1998(**kwargs: Unpack[BuildArgs]) -> keras.Model:
    """LeNet-5 as published: C3's partial connection table, trainable subsampling, scaled tanh and
    the Euclidean RBF output with fixed codes. Reference: LeCun et al. (1998), section II.B;
    figures: ``zoo.card("lenet5_1998")``."""
    return _lenet5_1998(args("lenet5_1998", kwargs))


#: Appendix A: "weights are initialized with random values uniformly distributed between -2.4/F_i
#: and 2.4/F_i, where F_i is the number of inputs (fan-in) of the unit" (biases included here).
INIT_LIMIT = 2.4


def _fan_in_uniform(fan_in: int) -> keras.initializers.Initializer:
    return keras.initializers.RandomUniform(-INIT_LIMIT / fan_in, INIT_LIMIT / fan_in)


def _lenet5_1998(a: Args) -> keras.Model:
    if a.width != 1.0:
        raise ValueError(f"lenet5_1998: width must be 1.0 (its C3 connection table is fixed), got {a.width!r}")
    cin = a.input_shape[-1]

    def init(fan_in: int) -> dict:
        return dict(kernel_initializer=_fan_in_uniform(fan_in), bias_initializer=_fan_in_uniform(fan_in))

    def sub(name: str):  # a subsampling unit's fan-in: its 2x2 window
        return TrainableSubsampling(name=name, coefficient_initializer=_fan_in_uniform(4),
                                    bias_initializer=_fan_in_uniform(4))

    inputs, x = a.inputs()
    x = layers.Conv2D(6, 5, activation=scaled_tanh, name="c1", **init(25 * cin))(x)
    x = sub("s2")(x)
    x = layers.Activation(scaled_tanh, name="s2_act")(x)
    x = PartialConv2D(C3_TABLE, 5, activation=scaled_tanh, fan_in_limit=INIT_LIMIT, name="c3")(x)
    x = sub("s4")(x)
    x = layers.Activation(scaled_tanh, name="s4_act")(x)
    x = layers.Conv2D(120, 5, activation=scaled_tanh, name="c5", **init(25 * 16))(x)
    if not a.include_top:
        return a.finish(inputs, a.pool(x))
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(84, activation=scaled_tanh, name="f6", **init(int(x.shape[-1])))(x)
    x = RBFOutput(a.classes, name="rbf")(x)
    if a.classifier_activation is not None:
        x = layers.Activation(a.classifier_activation, name="predictions")(x)
    return a.finish(inputs, x)
