"""The perceptron and the smallest network that solves XOR.

A single perceptron ``w1*x1 + w2*x2 > beta`` computes AND but no line separates XOR; one hidden
layer of two ReLU units does, with the hand weights of the lecture.
Reference: Rosenblatt, The Perceptron (1958); Minsky and Papert, Perceptrons (1969);
Goodfellow, Bengio, Courville, Deep Learning (2016), section 6.1.
"""

from __future__ import annotations

import numpy as np
import keras
from keras import layers, ops

from .base import Args, zoo_model
from .layers import PACKAGE
from .registry import Card

#: w1, w2 and the threshold beta of a perceptron computing AND.
AND_WEIGHTS = (0.5, 0.5, 0.8)
#: W1, b1, w2 (and output bias 0) of a 2-2-1 ReLU network computing XOR exactly.
XOR_WEIGHTS = (np.array([[1.0, 1.0], [1.0, 1.0]]), np.array([0.0, -1.0]), np.array([[1.0], [-2.0]]), np.array([0.0]))

#: The four binary inputs, in the order (0,0), (0,1), (1,0), (1,1).
BINARY_INPUTS = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype="float32")


@keras.saving.register_keras_serializable(package=PACKAGE)
def step(x):
    """Heaviside step: 1 where x > 0, else 0 (the perceptron's threshold unit)."""
    return ops.cast(ops.greater(x, 0.0), x.dtype)


_FACTS = dict(input_shape=(2,), min_size=1, classes=1, err_dataset=None)


@zoo_model(Card(name="perceptron", family="mlp", variant="single threshold unit", year=1958,
                paper="Rosenblatt, The Perceptron", params=3, macs=2, ref_depth=1,
                description="One perceptron: step(w1*x1 + w2*x2 - beta); computes AND, cannot compute XOR.",
                **_FACTS),
           classifier_activation=step, hand_weights=False)
def _perceptron(a: Args, hand_weights: bool) -> keras.Model:
    inputs, x = a.inputs()
    out = layers.Dense(a.classes, activation=a.classifier_activation, name="unit")(x)
    model = a.finish(inputs, out)
    if hand_weights:
        if a.classes != 1 or a.input_shape != (2,):
            raise ValueError(f"perceptron: hand_weights need input_shape (2,) and classes 1, got {a.input_shape}, {a.classes}")
        w1, w2, beta = AND_WEIGHTS
        model.get_layer("unit").set_weights([np.array([[w1], [w2]]), np.array([-beta])])
    return model


@zoo_model(Card(name="mlp_xor", family="mlp", variant="2-2-1 ReLU network", year=1969,
                paper="Minsky and Papert, Perceptrons; Goodfellow et al., Deep Learning 6.1",
                params=9, macs=6, ref_depth=2,
                description="Two inputs, two ReLU hidden units, one linear output: solves XOR.",
                **_FACTS),
           classifier_activation=None, hand_weights=False)
def _mlp_xor(a: Args, hand_weights: bool) -> keras.Model:
    inputs, x = a.inputs()
    x = layers.Dense(a.ch(2), activation="relu", name="hidden")(x)
    out = layers.Dense(a.classes, activation=a.classifier_activation, name="output")(x)
    model = a.finish(inputs, out)
    if hand_weights:
        if a.classes != 1 or a.input_shape != (2,) or a.ch(2) != 2:
            raise ValueError("mlp_xor: hand_weights need input_shape (2,), classes 1 and width 1.0")
        w1, b1, w2, b2 = XOR_WEIGHTS
        model.get_layer("hidden").set_weights([w1, b1])
        model.get_layer("output").set_weights([w2, b2])
    return model
