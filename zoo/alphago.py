"""AlphaGo's policy network: a fully convolutional net from 48 feature planes to a move.

conv 5x5 k=192 pad 2 + ReLU, 11 x (conv 3x3 k=192 pad 1 + ReLU), a 1x1 conv with one filter and a
separate bias for every board point, softmax over the points. No pooling, no dense layer.
Reference: Silver et al., Mastering the game of Go with deep neural networks and tree search (2016).
"""

from __future__ import annotations

import keras
from keras import layers

from .base import Args, zoo_model
from .layers import PACKAGE
from .registry import Card

FILTERS = 192
HIDDEN_3X3 = 11


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


# params: 5*5*48*192+192 + 11*(9*192*192+192) + 192 (1x1, no bias) + 361 position biases;
# MACs: 361 * (5*5*48*192 + 11*9*192*192 + 192)
@zoo_model(Card(name="alphago_policy", family="alphago", variant="SL policy network (k=192)",
                paper="Silver et al., Mastering the game of Go with deep neural networks and tree search",
                year=2016, input_shape=(19, 19, 48), min_size=1, classes=361, params=3_882_793,
                macs=1_400_726_208, ref_depth=13,
                description="13-layer fully convolutional policy net: 48 feature planes -> "
                            "a probability for each of the 19x19 points."))
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
