"""AlexNet: the two-tower network of 2012 and torchvision's single-tower ("one weird trick") variant.

Geometry follows cuda-convnet / Caffe / torch: convolutions and pools round down, so
``O = floor((N - F + 2P) / S) + 1``; at the default inputs every AlexNet layer fits exactly
except torchvision's conv1 (224 + 4 - 11 = 217 is not a multiple of 4: 55 by flooring, as in
torchvision). Explicit ``ZeroPadding2D`` + ``valid`` convolutions give that geometry exactly;
Keras ``padding="same"`` would pad stride-4 convolutions differently.

Layer names follow Caffe's ``bvlc_alexnet``: ``conv1..conv5`` (ReLU fused), ``lrn1, lrn2``,
``pool1, pool2, pool5``, ``fc6, fc7``, ``predictions``; a pool is named after the conv it follows.

Initialisation: the paper draws weights from N(0, 0.01) with some biases set to 1; here convs use
He uniform (the variance of He normal, faster to draw) and dense layers Keras' default (Glorot uniform), which train without that tuning.

Reference: Krizhevsky, Sutskever, Hinton, ImageNet Classification with Deep Convolutional
Neural Networks (NIPS 2012); Krizhevsky, One weird trick for parallelizing convolutional
neural networks (2014).
"""

from __future__ import annotations

import keras
from keras import layers

from ..base import Args, BuildArgs, Unpack, args
from ..layers import LRN

__all__ = ["alexnet", "alexnet_owt", "dense_head", "conv_relu", "max_pool", "LRN_ARGS"]

#: LRN constants of section 3.3 (k, n, alpha, beta), also used by ZFNet and VGG A-LRN.
LRN_ARGS = dict(k=2.0, n=5, alpha=1e-4, beta=0.75)


def conv_relu(x, filters: int, kernel: int, name: str, strides: int = 1, padding: str = "same",
              groups: int = 1):
    """Conv2D with fused ReLU and He-uniform kernels (``padding="same"`` only for stride 1)."""
    return layers.Conv2D(filters, kernel, strides=strides, padding=padding, groups=groups,
                         activation="relu", kernel_initializer="he_uniform", name=name)(x)


def max_pool(x, name: str, size: int = 3, strides: int = 2):
    """Overlapping max-pool (3x3 stride 2 by default), rounding down."""
    return layers.MaxPooling2D(size, strides=strides, name=name)(x)


def dense_head(a: Args, x, units: int = 4096, first: int = 6, torchvision: bool = False):
    """AlexNet's classifier: two hidden fc layers with dropout 0.5, then the output.

    As in Krizhevsky et al. 2012, section 4.2 ("dropout in the first two fully-connected layers"),
    Zeiler & Fergus 2013, section 3, and Caffe's ``bvlc_alexnet``: the outputs of fc6 and fc7 are
    dropped (``flatten, fc6, drop6, fc7, drop7, predictions``). ``torchvision``: its order instead,
    dropout before fc6 and fc7 (``flatten, drop6, fc6, drop7, fc7, predictions``). ``first``
    numbers the hidden layers. Neither order adds parameters or MACs.
    """
    x = layers.Flatten(name="flatten")(x)
    for i in (first, first + 1):
        if torchvision:
            x = layers.Dropout(0.5, name=f"drop{i}")(x)
        x = layers.Dense(a.ch(units), activation="relu", name=f"fc{i}")(x)
        if not torchvision:
            x = layers.Dropout(0.5, name=f"drop{i}")(x)
    return a.classifier(x)


def _alexnet(a: Args) -> keras.Model:
    """Two towers as grouped convolutions: conv2, conv4 and conv5 have ``groups=2`` (each GPU saw
    only its own half of the previous layer); conv1, conv3 and the fc layers are full.
    Every conv width is rounded to a multiple of 2 so that each grouped conv splits evenly."""
    c = lambda n: a.ch(n, divisor=2)  # noqa: E731 - every AlexNet conv feeds or is a 2-group conv
    inputs, x = a.inputs()
    x = conv_relu(x, c(96), 11, "conv1", strides=4, padding="valid")   # 227 -> 55
    x = LRN(name="lrn1", **LRN_ARGS)(x)
    x = max_pool(x, "pool1")                                           # -> 27
    x = conv_relu(x, c(256), 5, "conv2", groups=2)
    x = LRN(name="lrn2", **LRN_ARGS)(x)
    x = max_pool(x, "pool2")                                           # -> 13
    x = conv_relu(x, c(384), 3, "conv3")
    x = conv_relu(x, c(384), 3, "conv4", groups=2)
    x = conv_relu(x, c(256), 3, "conv5", groups=2)
    x = max_pool(x, "pool5")                                           # -> 6
    if not a.include_top:
        return a.finish(inputs, a.pool(x))
    return a.finish(inputs, dense_head(a, x))


def _alexnet_owt(a: Args) -> keras.Model:
    """torchvision's single tower: 64-192-384-256-256, no LRN, conv1 pad 2 (224 -> 55).
    torchvision's adaptive 6x6 average pool is the identity at 224 and is left out."""
    inputs, x = a.inputs()
    x = layers.ZeroPadding2D(2, name="conv1_pad")(x)
    x = conv_relu(x, a.ch(64), 11, "conv1", strides=4, padding="valid")  # 228 -> 55 (floor)
    x = max_pool(x, "pool1")                                             # -> 27
    x = conv_relu(x, a.ch(192), 5, "conv2")
    x = max_pool(x, "pool2")                                             # -> 13
    x = conv_relu(x, a.ch(384), 3, "conv3")
    x = conv_relu(x, a.ch(256), 3, "conv4")
    x = conv_relu(x, a.ch(256), 3, "conv5")
    x = max_pool(x, "pool5")                                             # -> 6
    if not a.include_top:
        return a.finish(inputs, a.pool(x))
    return a.finish(inputs, dense_head(a, x, torchvision=True))


# min_size (on the cards): the final pool needs a 3x3 map, so conv5 >= 3 <- pool1 output >= 7 <- conv1
# output >= 15. alexnet: floor((N - 11) / 4) + 1 >= 15 <=> N >= 67 (67 -> 15 -> 7 -> 3 -> 1);
# alexnet_owt: floor((N + 4 - 11) / 4) + 1 >= 15 <=> N >= 63 (63 -> 15 -> 7 -> 3 -> 1).

def alexnet(**kwargs: Unpack[BuildArgs]) -> keras.Model:
    """AlexNet as in the 2012 paper: two towers as grouped convolutions, LRN, 227x227 input.
    Reference: Krizhevsky, Sutskever, Hinton (2012); figures: ``zoo.card("alexnet")``."""
    return _alexnet(args("alexnet", kwargs))


def alexnet_owt(**kwargs: Unpack[BuildArgs]) -> keras.Model:
    """torchvision's single-tower AlexNet (64-192-384-256-256, no LRN, 224x224 input).
    Reference: Krizhevsky, One weird trick (2014); figures: ``zoo.card("alexnet_owt")``."""
    return _alexnet_owt(args("alexnet_owt", kwargs))
