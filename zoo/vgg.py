"""VGG: configurations A to E of the paper as data, one builder, and BatchNorm variants.

Every stage is a run of stride-1 convolutions with ReLU ("same" padding: pad 1 for 3x3, 0 for
1x1) followed by a 2x2/2 max-pool; stage widths are 64-128-256-512-512. ``CFGS`` lists the kernel
size of each conv per stage; configuration C is B with a 1x1 conv closing stages 3-5.
The head is fc 4096 - dropout 0.5 - fc 4096 - dropout 0.5 - fc classes.

Names follow keras.applications: ``block{s}_conv{i}``, ``block{s}_pool``, ``flatten``, ``fc1``,
``fc2``, ``predictions``; plus ``block1_lrn`` (A-LRN), ``block{s}_conv{i}_bn`` /
``block{s}_conv{i}_relu`` (BN variants, conv bias kept as in torchvision) and ``fc1_drop``,
``fc2_drop``. Convolutions use He-normal kernels, dense layers Keras' default.

BatchNorm (not in the 2014 paper; torchvision's ``vgg*_bn``): conv -> BN -> ReLU, momentum 0.9,
epsilon 1e-5 (torchvision's 0.1 / 1e-5). Its gamma and beta are trainable parameters; the moving
mean and variance are the non-trainable ones.

Reference: Simonyan, Zisserman, Very Deep Convolutional Networks for Large-Scale Image
Recognition (2014).
"""

from __future__ import annotations

import functools

import keras
from keras import layers

from .alexnet import LRN_ARGS
from .base import Args, zoo_model
from .layers import LRN
from .registry import Card

__all__ = ["CFGS", "STAGE_WIDTHS", "VARIANTS"]

PAPER = "Simonyan, Zisserman, Very Deep Convolutional Networks for Large-Scale Image Recognition"

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


_ERR = "ILSVRC-2012 val, single net, single-scale test, training scale S=256 (paper table 3)"
_DEPTH = {"A": 11, "B": 13, "C": 16, "D": 16, "E": 19}

#: name, configuration, batch_norm, lrn, card figures (reference values: SPEC.md, and torchvision's
#: published num_params for vgg13, vgg13_bn and vgg19_bn; MACs of the BN / LRN variants are the
#: plain configuration's, as BN and LRN are neither conv nor dense).
VARIANTS: tuple[tuple[str, str, bool, bool, dict], ...] = (
    ("vgg11", "A", False, False, dict(params=132_863_336, macs=7_609_090_048, top1_err=29.6, top5_err=10.4)),
    ("vgg11_lrn", "A", False, True, dict(params=132_863_336, macs=7_609_090_048, top1_err=29.7, top5_err=10.5)),
    ("vgg13", "B", False, False, dict(params=133_047_848, top1_err=28.7, top5_err=9.9)),
    ("vgg16_c", "C", False, False, dict(top1_err=28.1, top5_err=9.4)),
    ("vgg16", "D", False, False, dict(params=138_357_544, macs=15_470_264_320, top1_err=27.0, top5_err=8.8)),
    ("vgg19", "E", False, False, dict(params=143_667_240, macs=19_632_062_464, top1_err=27.3, top5_err=9.0)),
    ("vgg11_bn", "A", True, False, dict(params=132_868_840, non_trainable=5_504, macs=7_609_090_048)),
    ("vgg13_bn", "B", True, False, dict(params=133_053_736, non_trainable=5_888)),
    ("vgg16_bn", "D", True, False, dict(params=138_365_992, non_trainable=8_448, macs=15_470_264_320)),
    ("vgg19_bn", "E", True, False, dict(params=143_678_248, non_trainable=11_008, macs=19_632_062_464)),
)


def _card(name: str, cfg: str, batch_norm: bool, lrn: bool, figures: dict) -> Card:
    convs = sum(len(stage) for stage in CFGS[cfg])
    variant = f"configuration {cfg}" + ("-LRN" if lrn else "") + (", BatchNorm after every conv" if batch_norm else "")
    extra = " with a 1x1 conv closing stages 3-5" if cfg == "C" else ""
    what = ("with local response normalisation after the first conv" if lrn else
            "with BatchNorm after every conv (torchvision)" if batch_norm else "as published")
    figures = {"non_trainable": 0, **figures}
    if "top1_err" in figures:
        figures["err_dataset"] = _ERR
    return Card(
        name=name, family="vgg", variant=variant, paper=PAPER, year=2014, input_shape=(224, 224, 3),
        min_size=32,  # five 2x2/2 pools: 32 -> 1
        classes=1000, ref_depth=_DEPTH[cfg],
        description=f"VGG-{_DEPTH[cfg]} (configuration {cfg}{extra}) {what}: {convs} stride-1 convs "
                    f"in five stages of 64-128-256-512-512 filters with 2x2 max-pools, then fc 4096-4096.",
        tags=("imagenet", "dropout") + (("batchnorm",) if batch_norm else ()) + (("lrn",) if lrn else ()),
        **figures,
    )


for _name, _cfg, _bn, _lrn, _figures in VARIANTS:
    globals()[_name] = zoo_model(_card(_name, _cfg, _bn, _lrn, _figures))(
        functools.partial(_vgg, cfg=_cfg, batch_norm=_bn, lrn=_lrn))
    __all__.append(_name)
del _name, _cfg, _bn, _lrn, _figures
