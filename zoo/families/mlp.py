"""The perceptron and the smallest network that solves XOR.

A single perceptron ``w1*x1 + w2*x2 > beta`` computes AND but no line separates XOR; one hidden
layer of two ReLU units does, with the hand weights of the lecture.
Reference: Rosenblatt, The Perceptron (1958); Minsky and Papert, Perceptrons (1969);
Goodfellow, Bengio, Courville, Deep Learning (2016), section 6.1.
"""

from __future__ import annotations

import numpy as np
import keras
from keras import layers

from ..base import Args, BuildArgs, Unpack, args
from ..layers import ThresholdModel, step

__all__ = ["perceptron", "mlp_xor", "train_perceptron", "AND_WEIGHTS", "XOR_WEIGHTS", "BINARY_INPUTS"]

#: w1, w2 and the threshold beta of a perceptron computing AND.
AND_WEIGHTS = (0.5, 0.5, 0.8)
#: W1, b1, w2 (and output bias 0) of a 2-2-1 ReLU network computing XOR exactly.
XOR_WEIGHTS = (np.array([[1.0, 1.0], [1.0, 1.0]]), np.array([0.0, -1.0]), np.array([[1.0], [-2.0]]), np.array([0.0]))

#: The four binary inputs, in the order (0,0), (0,1), (1,0), (1,1).
BINARY_INPUTS = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype="float32")


def perceptron(*, hand_weights: bool = False, **kwargs: Unpack[BuildArgs]) -> keras.Model:
    """One threshold unit, ``step(w1*x1 + w2*x2 - beta)``; ``hand_weights=True`` sets AND's weights.

    Its step output has no gradient: train it with :func:`train_perceptron` (``fit`` says so), or
    pass ``classifier_activation="sigmoid"`` for a gradient-trainable unit (logistic regression).
    Reference: Rosenblatt, The Perceptron (1958); figures: ``zoo.card("perceptron")``.
    """
    a = args("perceptron", kwargs, classifier_activation=step)
    inputs, x = a.inputs()
    out = layers.Dense(a.classes, activation=a.classifier_activation, name="unit")(x)
    model = a.finish(inputs, out, cls=ThresholdModel if a.classifier_activation is step else keras.Model)
    if hand_weights:
        if a.classes != 1 or a.input_shape != (2,):
            raise ValueError(f"perceptron: hand_weights need input_shape (2,) and classes 1, got {a.input_shape}, {a.classes}")
        w1, w2, beta = AND_WEIGHTS
        model.get_layer("unit").set_weights([np.array([[w1], [w2]]), np.array([-beta])])
    return model


def train_perceptron(model: keras.Model, x, y, epochs: int = 20, lr: float = 1.0) -> list[int]:
    """Train a perceptron with Rosenblatt's rule, one sample at a time:
    ``w += lr * (y - y_hat) * x``, ``b += lr * (y - y_hat)``, until an epoch makes no mistake.

    ``x``: (n, inputs) array; ``y``: (n,) or (n, 1) array of 0/1 targets. Returns the number of
    mistakes in each epoch; it ends in 0 when the data are linearly separable (AND, OR) and never
    does for XOR. The model's ``unit`` layer holds the learnt weights.
    """
    x = np.asarray(x, dtype="float64")
    y = np.asarray(y, dtype="float64").reshape(len(x), -1)
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"train_perceptron: epochs must be an integer >= 1, got {epochs!r}")
    if x.ndim != 2 or y.shape[1] != 1 or not np.isin(y, (0.0, 1.0)).all():
        raise ValueError(f"train_perceptron: x must be (n, inputs) and y (n,) of 0/1 targets, got x {x.shape}, "
                         f"y {np.asarray(y).shape}")
    unit = model.get_layer("unit")
    w, b = (np.asarray(v, dtype="float64") for v in unit.get_weights())
    mistakes: list[int] = []
    for _ in range(epochs):
        wrong = 0
        for xi, yi in zip(x, y):
            error = yi[0] - float(xi @ w[:, 0] + b[0] > 0)
            if error:
                w[:, 0] += lr * error * xi
                b[0] += lr * error
                wrong += 1
        mistakes.append(wrong)
        if wrong == 0:
            break
    unit.set_weights([w.astype("float32"), b.astype("float32")])
    return mistakes


def mlp_xor(*, hand_weights: bool = False, **kwargs: Unpack[BuildArgs]) -> keras.Model:
    """Two inputs, two ReLU hidden units, one linear output; ``hand_weights=True`` sets the lecture's
    weights, which compute XOR exactly. Reference: Goodfellow et al., Deep Learning (2016), 6.1;
    figures: ``zoo.card("mlp_xor")``."""
    a = args("mlp_xor", kwargs, classifier_activation=None)
    return _mlp_xor(a, hand_weights)


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
