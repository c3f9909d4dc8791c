"""Dense head -> convolutions: make a Flatten->Dense network fully convolutional.

An FC layer reading an HxWxC map is a convolution with HxW kernels; every later FC layer is a
1x1 convolution (D filters of 1x1xC compute a C -> D dense layer at every position). The rewritten
network gives the same outputs at the original input size and, at a larger input, a map of class
scores (one score vector per window position) -- the "sliding window for free" of OverFeat.
Reference: Sermanet et al., OverFeat (2013); Long, Shelhamer, Darrell, Fully Convolutional
Networks for Semantic Segmentation (2015); CS231n "Converting FC layers to CONV layers".
"""

from __future__ import annotations

import keras
from keras import layers


def _chain(model: keras.Model) -> list:
    """The model's layers if they form a single chain input -> ... -> output, else ValueError."""
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise ValueError(f"to_fully_convolutional: {model.name!r} must have one input and one output")
    chain = []
    for layer in model.layers[1:]:
        nodes = layer._inbound_nodes
        if len(nodes) != 1 or len(nodes[0].parent_nodes) != 1:
            raise ValueError(f"to_fully_convolutional: {model.name!r} is not a plain chain of layers "
                             f"(layer {layer.name!r} has several inputs); only Flatten->Dense heads on a chain are rewritten")
        chain.append(layer)
    return chain


def to_fully_convolutional(model: keras.Model, input_shape: tuple | None = None) -> keras.Model:
    """Rewrite ``model``'s Flatten -> Dense ... head as convolutions, carrying the weights over.

    ``input_shape`` defaults to ``(None, None, C)``: the result takes any input at least as large
    as the original and returns a ``(rows, cols, classes)`` map of scores (``(1, 1, classes)`` at
    the original size). Raises ValueError for a model without a Flatten -> Dense head.
    """
    chain = _chain(model)
    kinds = [type(layer).__name__ for layer in chain]
    if "Flatten" not in kinds:
        raise ValueError(f"to_fully_convolutional: {model.name!r} has no Flatten -> Dense head "
                         f"(layers end with {', '.join(kinds[-3:])}); networks with global pooling are already convolutional")
    flat = kinds.index("Flatten")
    head = chain[flat + 1:]
    if not any(isinstance(layer, layers.Dense) for layer in head):
        raise ValueError(f"to_fully_convolutional: {model.name!r}: Flatten is not followed by a Dense layer")
    for layer in head:
        if not isinstance(layer, (layers.Dense, layers.Dropout, layers.Activation)):
            raise ValueError(f"to_fully_convolutional: cannot rewrite head layer {layer.name!r} "
                             f"({type(layer).__name__}); the head may hold only Dense, Dropout and Activation")
    fh, fw, fc = chain[flat].input.shape[1:]
    channels = model.inputs[0].shape[-1]
    inputs = keras.Input(shape=input_shape or (None, None, channels), name="input")
    x = inputs
    for layer in chain[:flat]:
        clone = type(layer).from_config(layer.get_config())
        x = clone(x)
        clone.set_weights(layer.get_weights())
    kernel_hw = (fh, fw)
    fan_in = fc
    for layer in head:
        if isinstance(layer, layers.Dense):
            kernel, *bias = layer.get_weights()
            units = kernel.shape[1]
            conv = layers.Conv2D(units, kernel_hw, activation=layer.activation, use_bias=layer.use_bias,
                                 name=f"{layer.name}_conv")
            x = conv(x)
            # Flatten is row-major over (rows, cols, channels), so the reshape is exact.
            conv.set_weights([kernel.reshape(*kernel_hw, fan_in, units), *bias])
            kernel_hw, fan_in = (1, 1), units
        else:
            clone = type(layer).from_config(layer.get_config())
            x = clone(x)
    return keras.Model(inputs, x, name=f"{model.name}_fcn")
