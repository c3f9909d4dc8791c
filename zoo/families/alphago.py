"""AlphaGo's policy network: a fully convolutional net from 48 feature planes to a move.

conv 5x5 k=192 pad 2 + ReLU, 11 x (conv 3x3 k=192 pad 1 + ReLU), a 1x1 conv with one filter and a
separate bias for every board point, softmax over the points. No pooling, no dense layer.
Reference: Silver et al., Mastering the game of Go with deep neural networks and tree search (2016).
"""

from __future__ import annotations

import keras
from keras import layers

from ..base import Args, BuildArgs, Unpack, args
from ..layers import PositionBias

__all__ = ["alphago_policy", "FILTERS", "HIDDEN_3X3"]

FILTERS = 192
HIDDEN_3X3 = 11


def alphago_policy(**kwargs: Unpack[BuildArgs]) -> keras.Model:
    """AlphaGo's SL policy network (k=192): 48 feature planes in, a probability per board point out;
    ``classes`` must equal the number of points. Reference: Silver et al. (2016), Methods;
    figures: ``zoo.card("alphago_policy")``."""
    return _alphago_policy(args("alphago_policy", kwargs))


def _alphago_policy(a: Args) -> keras.Model:
    h, w, _ = a.input_shape
    points = h * w
    if a.include_top and a.classes != points:
        raise ValueError(f"alphago_policy: classes must equal the number of board points "
                         f"{h}x{w}={points}, got {a.classes}")
    inputs, x = a.inputs()
    k = a.ch(FILTERS)
    x = layers.Conv2D(k, 5, padding="same", activation="relu", name="conv1")(x)
    for i in range(HIDDEN_3X3):
        x = layers.Conv2D(k, 3, padding="same", activation="relu", name=f"conv{i + 2}")(x)
    if not a.include_top:
        return a.finish(inputs, a.pool(x))
    x = layers.Conv2D(1, 1, use_bias=False, name=f"conv{HIDDEN_3X3 + 2}")(x)
    x = PositionBias(name="position_bias")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Activation(a.classifier_activation, name="predictions")(x)
    return a.finish(inputs, x)
