"""VGG: configurations A to E of the paper as data, one builder, and BatchNorm variants.

Every stage is a run of stride-1 convolutions with ReLU ("same" padding: pad 1 for 3x3, 0 for
1x1) followed by a 2x2/2 max-pool; stage widths are 64-128-256-512-512. ``CFGS`` lists the kernel
size of each conv per stage; configuration C is B with a 1x1 conv closing stages 3-5.
The head is fc 4096 - dropout 0.5 - fc 4096 - dropout 0.5 - fc classes.

Names follow keras.applications: ``block{s}_conv{i}``, ``block{s}_pool``, ``flatten``, ``fc1``,
``fc2``, ``predictions``; plus ``block1_lrn`` (A-LRN), ``block{s}_conv{i}_bn`` /
``block{s}_conv{i}_relu`` (BN variants, conv bias kept as in torchvision) and ``fc1_drop``,
``fc2_drop``. Convolutions use He-uniform kernels, dense layers Keras' default. (The paper drew
net A's weights from N(0, 10^-2) and started the deeper nets from A's trained layers, noting that
Glorot's initialisation works without that staging; He's lets every depth train from scratch.)

BatchNorm (not in the 2014 paper; torchvision's ``vgg*_bn``): conv -> BN -> ReLU, momentum 0.9,
epsilon 1e-5 (torchvision's 0.1 / 1e-5). Its gamma and beta are trainable parameters; the moving
mean and variance are the non-trainable ones.

Reference: Simonyan, Zisserman, Very Deep Convolutional Networks for Large-Scale Image
Recognition (2014).
"""

from __future__ import annotations

import keras
from keras import layers

from ..base import Args, BuildArgs, Unpack, args
from ..layers import LRN
from .alexnet import LRN_ARGS

__all__ = ["CFGS", "STAGE_WIDTHS", "vgg11", "vgg11_lrn", "vgg13", "vgg16_c", "vgg16", "vgg19",
           "vgg11_bn", "vgg13_bn", "vgg16_bn", "vgg19_bn"]

STAGE_WIDTHS: tuple[int, ...] = (64, 128, 256, 512, 512)

#: kernel size of each convolution, per stage (the paper's table 1).
CFGS: dict[str, tuple[tuple[int, ...], ...]] = {
    "A": ((3,), (3,), (3, 3), (3, 3), (3, 3)),
    "B": ((3, 3), (3, 3), (3, 3), (3, 3), (3, 3)),
    "C": ((3, 3), (3, 3), (3, 3, 1), (3, 3, 1), (3, 3, 1)),
    "D": ((3, 3), (3, 3), (3, 3, 3), (3, 3, 3), (3, 3, 3)),
    "E": ((3, 3), (3, 3), (3, 3, 3, 3), (3, 3, 3, 3), (3, 3, 3, 3)),
}


def _vgg(a: Args, cfg: str, batch_norm: bool = False, lrn: bool = False) -> keras.Model:
    inputs, x = a.inputs()
    for s, (kernels, width) in enumerate(zip(CFGS[cfg], STAGE_WIDTHS), start=1):
        for i, k in enumerate(kernels, start=1):
            name = f"block{s}_conv{i}"
            x = layers.Conv2D(a.ch(width), k, padding="same", activation=None if batch_norm else "relu",
                              kernel_initializer="he_uniform", name=name)(x)
            if batch_norm:
                x = layers.BatchNormalization(momentum=0.9, epsilon=1e-5, name=f"{name}_bn")(x)
                x = layers.Activation("relu", name=f"{name}_relu")(x)
            if lrn and (s, i) == (1, 1):
                x = LRN(name="block1_lrn", **LRN_ARGS)(x)
        x = layers.MaxPooling2D(2, strides=2, name=f"block{s}_pool")(x)
    if not a.include_top:
        return a.finish(inputs, a.pool(x))
    x = layers.Flatten(name="flatten")(x)
    for j in (1, 2):
        x = layers.Dense(a.ch(4096), activation="relu", name=f"fc{j}")(x)
        x = layers.Dropout(0.5, name=f"fc{j}_drop")(x)
    return a.finish(inputs, a.classifier(x))


def vgg11(**kwargs: Unpack[BuildArgs]) -> keras.Model:
    """VGG-11, configuration A. Reference: Simonyan & Zisserman (2014), table 1."""
    return _vgg(args("vgg11", kwargs), "A")


def vgg11_lrn(**kwargs: Unpack[BuildArgs]) -> keras.Model:
    """VGG-11 with LRN after the first conv, configuration A-LRN. Reference: Simonyan & Zisserman (2014), table 1."""
    return _vgg(args("vgg11_lrn", kwargs), "A", lrn=True)


def vgg13(**kwargs: Unpack[BuildArgs]) -> keras.Model:
    """VGG-13, configuration B. Reference: Simonyan & Zisserman (2014), table 1."""
    return _vgg(args("vgg13", kwargs), "B")


def vgg16_c(**kwargs: Unpack[BuildArgs]) -> keras.Model:
    """VGG-16 configuration C: B with a 1x1 conv closing stages 3-5. Reference: Simonyan & Zisserman (2014), table 1."""
    return _vgg(args("vgg16_c", kwargs), "C")


def vgg16(**kwargs: Unpack[BuildArgs]) -> keras.Model:
    """VGG-16, configuration D (keras.applications' VGG16 has the same layers). Reference: Simonyan & Zisserman (2014), table 1."""
    return _vgg(args("vgg16", kwargs), "D")


def vgg19(**kwargs: Unpack[BuildArgs]) -> keras.Model:
    """VGG-19, configuration E (keras.applications' VGG19 has the same layers). Reference: Simonyan & Zisserman (2014), table 1."""
    return _vgg(args("vgg19", kwargs), "E")


def vgg11_bn(**kwargs: Unpack[BuildArgs]) -> keras.Model:
    """VGG-11 with BatchNorm after every conv (torchvision's vgg11_bn). Reference: Simonyan & Zisserman (2014), table 1."""
    return _vgg(args("vgg11_bn", kwargs), "A", batch_norm=True)


def vgg13_bn(**kwargs: Unpack[BuildArgs]) -> keras.Model:
    """VGG-13 with BatchNorm after every conv (torchvision's vgg13_bn). Reference: Simonyan & Zisserman (2014), table 1."""
    return _vgg(args("vgg13_bn", kwargs), "B", batch_norm=True)


def vgg16_bn(**kwargs: Unpack[BuildArgs]) -> keras.Model:
    """VGG-16 with BatchNorm after every conv (torchvision's vgg16_bn). Reference: Simonyan & Zisserman (2014), table 1."""
    return _vgg(args("vgg16_bn", kwargs), "D", batch_norm=True)


def vgg19_bn(**kwargs: Unpack[BuildArgs]) -> keras.Model:
    """VGG-19 with BatchNorm after every conv (torchvision's vgg19_bn). Reference: Simonyan & Zisserman (2014), table 1."""
    return _vgg(args("vgg19_bn", kwargs), "E", batch_norm=True)
