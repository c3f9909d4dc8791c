"""ResNets (paper v1) and their plain counterparts: the ImageNet nets (18, 34, 50, 101, 152) and
the CIFAR-10 nets of section 4.2 (depth 6n+2, option-A shortcuts); and ResNet v1.5 (50, 101, 152:
the bottleneck's stride on its 3x3 instead of its first 1x1, torchvision's ResNets).

Architectures are data: ``IMAGENET_BLOCKS`` maps a depth to (block kind, blocks per stage), and
the CIFAR nets are three stages of n basic blocks. One residual block function serves both;
``shortcut=None`` gives the plain net (same layers, no identity path, no projection).

Geometry is the published one: every strided convolution and the max pool pad symmetrically
(7x7/2: 3 on each side, 3x3/2: 1 on each side; ``ZeroPadding2D`` + "valid", layer names as in
``keras.applications``' ResNet50: ``conv1_pad``, ``pool1_pad``, ``conv3_block1_1_pad``), as the
papers' Caffe models, torchvision and the CIFAR reference implementations do. A 3x3/2 window is
then centred on input pixel 2i, the pixel the 1x1/2 projection and the option-A shortcut read.

References: He, Zhang, Ren, Sun, Deep Residual Learning for Image Recognition (2015); Goyal et
al., Accurate, Large Minibatch SGD: Training ImageNet in 1 Hour (2017), for v1.5.
"""

from __future__ import annotations

import keras
from keras import layers

from ..base import Args, BuildArgs, Unpack, args
from ..cards import CARDS, IMAGENET_BLOCKS, cifar_card
from ..layers import ShortcutA, conv_bn

__all__ = ["IMAGENET_BLOCKS", "CIFAR_WIDTHS", "residual_block", "cifar_resnet",
           "resnet18", "resnet34", "resnet50", "resnet101", "resnet152", "plain18", "plain34",
           "resnet50_v15", "resnet101_v15", "resnet152_v15",
           "resnet8", "resnet14", "resnet20", "resnet32", "resnet44", "resnet56", "resnet110", "resnet1202",
           "plain8", "plain14", "plain20", "plain32", "plain44", "plain56", "plain110"]
IMAGENET_WIDTHS = (64, 128, 256, 512)
EXPANSION = {"basic": 1, "bottleneck": 4}
CIFAR_WIDTHS = (16, 32, 64)
SHORTCUTS = ("projection", "A", None)


def _padding(kernel: int, strides: int) -> str | int:
    """The published padding of a convolution: none for 1x1 ("valid"; with stride 2 Keras' "same"
    pads nothing either), ``kernel // 2`` on each side for a strided kxk (``conv_bn`` adds a
    ``ZeroPadding2D``), Keras' "same" for a stride-1 kxk (odd k: symmetric already)."""
    if kernel == 1:
        return "valid"
    return "same" if strides == 1 else kernel // 2


def residual_block(x, convs, out_filters: int, strides: int, name: str, shortcut: str | None):
    """``convs`` = [(filters, kernel, stride), ...], each conv-BN, ReLU between them; then the
    shortcut is added and ReLU applied (``{name}_add``, ``{name}_out``).

    ``shortcut``: "projection" (1x1 conv + BN where the shape changes, identity elsewhere),
    "A" (identity, subsampled and zero-padded where the shape changes, no parameters), or
    None (plain block: no shortcut at all).
    """
    if shortcut not in SHORTCUTS:
        raise ValueError(f"{name}: unknown shortcut {shortcut!r}; accepted: 'projection', 'A', None")
    y = x
    for i, (filters, kernel, s) in enumerate(convs, start=1):
        last = i == len(convs)
        y = conv_bn(y, filters, kernel, strides=s, name=f"{name}_{i}", activation=None if last else "relu",
                    padding=_padding(kernel, s))
    if shortcut is not None:
        reshape = strides != 1 or x.shape[-1] != out_filters
        if reshape and shortcut == "projection":
            x = conv_bn(x, out_filters, 1, strides=strides, name=f"{name}_0", activation=None, padding="valid")
        elif reshape:
            x = ShortcutA(out_filters, strides, name=f"{name}_0_shortcut")(x)
        y = layers.Add(name=f"{name}_add")([x, y])
    return layers.Activation("relu", name=f"{name}_out")(y)


def _stage(x, a: Args, kind: str, blocks: int, width: int, stage: int, first_stride: int,
           shortcut: str | None, stride_on: str = "1x1"):
    """One stage ``conv{stage}_x``: ``blocks`` blocks, the first with stride ``first_stride``."""
    for b in range(1, blocks + 1):
        s = first_stride if b == 1 else 1
        if kind == "basic":
            out = a.ch(width)
            convs = [(out, 3, s), (out, 3, 1)]
        else:
            out = a.ch(width * EXPANSION[kind])
            s1, s3 = (s, 1) if stride_on == "1x1" else (1, s)
            convs = [(a.ch(width), 1, s1), (a.ch(width), 3, s3), (out, 1, 1)]
        x = residual_block(x, convs, out, s, f"conv{stage}_block{b}", shortcut)
    return x


def _top(a: Args, inputs, x) -> keras.Model:
    if not a.include_top:
        return a.finish(inputs, a.pool(x))
    x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
    return a.finish(inputs, a.classifier(x))


# -- ImageNet -----------------------------------------------------------------------------------

def _imagenet(a: Args, depth: int, plain: bool, stride_on: str = "1x1") -> keras.Model:
    """``stride_on``: where a bottleneck block that subsamples puts its stride, "1x1" (the first
    1x1, paper v1) or "3x3" (v1.5); basic blocks always stride their first 3x3."""
    if stride_on not in ("1x1", "3x3"):
        raise ValueError(f"{a.card.name}: stride_on must be '1x1' (paper v1) or '3x3' (v1.5), got {stride_on!r}")
    kind, blocks = IMAGENET_BLOCKS[depth]
    inputs, x = a.inputs()
    x = conv_bn(x, a.ch(64), 7, strides=2, name="conv1", padding=_padding(7, 2))
    # Pad 1 on each side, then pool "valid". Zero padding equals the -inf padding of Caffe and
    # PyTorch here: the input is post-ReLU (>= 0) and every window holds a real pixel, so
    # max(real values, 0) = max(real values).
    x = layers.ZeroPadding2D(1, name="pool1_pad")(x)
    x = layers.MaxPooling2D(3, strides=2, padding="valid", name="pool1_pool")(x)
    for i, (n, width) in enumerate(zip(blocks, IMAGENET_WIDTHS)):
        x = _stage(x, a, kind, n, width, stage=i + 2, first_stride=1 if i == 0 else 2,
                   shortcut=None if plain else "projection", stride_on=stride_on)
    return _top(a, inputs, x)


def resnet18(**kwargs: Unpack[BuildArgs]) -> keras.Model:
    """ResNet-18 (basic blocks [2, 2, 2, 2]). Reference: He et al. (2015), table 1."""
    return _imagenet(args("resnet18", kwargs), 18, plain=False)


def resnet34(**kwargs: Unpack[BuildArgs]) -> keras.Model:
    """ResNet-34 (basic blocks [3, 4, 6, 3]). Reference: He et al. (2015), table 1."""
    return _imagenet(args("resnet34", kwargs), 34, plain=False)


def resnet50(**kwargs: Unpack[BuildArgs]) -> keras.Model:
    """ResNet-50 (bottleneck blocks [3, 4, 6, 3], stride on the first 1x1); v1.5: ``resnet50_v15``.
    Reference: He et al. (2015), table 1."""
    return _imagenet(args("resnet50", kwargs), 50, plain=False)


def resnet101(**kwargs: Unpack[BuildArgs]) -> keras.Model:
    """ResNet-101 (bottleneck blocks [3, 4, 23, 3], stride on the first 1x1); v1.5: ``resnet101_v15``.
    Reference: He et al. (2015), table 1."""
    return _imagenet(args("resnet101", kwargs), 101, plain=False)


def resnet152(**kwargs: Unpack[BuildArgs]) -> keras.Model:
    """ResNet-152 (bottleneck blocks [3, 8, 36, 3], stride on the first 1x1); v1.5: ``resnet152_v15``.
    Reference: He et al. (2015), table 1."""
    return _imagenet(args("resnet152", kwargs), 152, plain=False)


def resnet50_v15(**kwargs: Unpack[BuildArgs]) -> keras.Model:
    """ResNet-50 v1.5, torchvision's ResNet-50: as ``resnet50`` but a block that subsamples strides
    its 3x3 instead of its first 1x1. Reference: Goyal et al. (2017); He et al. (2015), table 1."""
    return _imagenet(args("resnet50_v15", kwargs), 50, plain=False, stride_on="3x3")


def resnet101_v15(**kwargs: Unpack[BuildArgs]) -> keras.Model:
    """ResNet-101 v1.5, torchvision's ResNet-101: the stride on the 3x3 of a subsampling block.
    Reference: Goyal et al. (2017); He et al. (2015), table 1."""
    return _imagenet(args("resnet101_v15", kwargs), 101, plain=False, stride_on="3x3")


def resnet152_v15(**kwargs: Unpack[BuildArgs]) -> keras.Model:
    """ResNet-152 v1.5, torchvision's ResNet-152: the stride on the 3x3 of a subsampling block.
    Reference: Goyal et al. (2017); He et al. (2015), table 1."""
    return _imagenet(args("resnet152_v15", kwargs), 152, plain=False, stride_on="3x3")


def plain18(**kwargs: Unpack[BuildArgs]) -> keras.Model:
    """The 18-layer plain net: ResNet-18 without shortcuts. Reference: He et al. (2015), table 2."""
    return _imagenet(args("plain18", kwargs), 18, plain=True)


def plain34(**kwargs: Unpack[BuildArgs]) -> keras.Model:
    """The 34-layer plain net: ResNet-34 without shortcuts. Reference: He et al. (2015), table 2."""
    return _imagenet(args("plain34", kwargs), 34, plain=True)


# -- CIFAR-10 -----------------------------------------------------------------------------------

def _cifar_blocks(depth) -> int:
    """Blocks per stage ``n`` for a CIFAR depth ``6n + 2``."""
    if isinstance(depth, bool) or not isinstance(depth, int) or depth < 8 or (depth - 2) % 6:
        raise ValueError(f"CIFAR ResNet depth {depth!r} is not 6n+2 with n >= 1 "
                         "(accepted: 8, 14, 20, 26, 32, ..., 56, 110, 1202, ...)")
    return (depth - 2) // 6


def _cifar(a: Args, depth: int, plain: bool) -> keras.Model:
    n = _cifar_blocks(depth)
    inputs, x = a.inputs()
    x = conv_bn(x, a.ch(CIFAR_WIDTHS[0]), 3, name="conv1", padding=_padding(3, 1))
    for i, width in enumerate(CIFAR_WIDTHS):
        x = _stage(x, a, "basic", n, width, stage=i + 2, first_stride=1 if i == 0 else 2,
                   shortcut=None if plain else "A")
    return _top(a, inputs, x)


def _cifar_registered(name: str, kwargs: dict) -> keras.Model:
    c = CARDS[name]
    return _cifar(args(name, kwargs), c.depth, plain=name.startswith("plain"))


def resnet8(**kwargs: Unpack[BuildArgs]) -> keras.Model:
    """CIFAR-10 ResNet-8 (n=1, option-A shortcuts). Reference: He et al. (2015), section 4.2."""
    return _cifar_registered("resnet8", kwargs)


def resnet14(**kwargs: Unpack[BuildArgs]) -> keras.Model:
    """CIFAR-10 ResNet-14 (n=2, option-A shortcuts). Reference: He et al. (2015), section 4.2."""
    return _cifar_registered("resnet14", kwargs)


def resnet20(**kwargs: Unpack[BuildArgs]) -> keras.Model:
    """CIFAR-10 ResNet-20 (n=3, option-A shortcuts). Reference: He et al. (2015), section 4.2."""
    return _cifar_registered("resnet20", kwargs)


def resnet32(**kwargs: Unpack[BuildArgs]) -> keras.Model:
    """CIFAR-10 ResNet-32 (n=5, option-A shortcuts). Reference: He et al. (2015), section 4.2."""
    return _cifar_registered("resnet32", kwargs)


def resnet44(**kwargs: Unpack[BuildArgs]) -> keras.Model:
    """CIFAR-10 ResNet-44 (n=7, option-A shortcuts). Reference: He et al. (2015), section 4.2."""
    return _cifar_registered("resnet44", kwargs)


def resnet56(**kwargs: Unpack[BuildArgs]) -> keras.Model:
    """CIFAR-10 ResNet-56 (n=9, option-A shortcuts). Reference: He et al. (2015), section 4.2."""
    return _cifar_registered("resnet56", kwargs)


def resnet110(**kwargs: Unpack[BuildArgs]) -> keras.Model:
    """CIFAR-10 ResNet-110 (n=18, option-A shortcuts). Reference: He et al. (2015), section 4.2."""
    return _cifar_registered("resnet110", kwargs)


def resnet1202(**kwargs: Unpack[BuildArgs]) -> keras.Model:
    """CIFAR-10 ResNet-1202 (n=200, option-A shortcuts). Reference: He et al. (2015), section 4.2."""
    return _cifar_registered("resnet1202", kwargs)


def plain8(**kwargs: Unpack[BuildArgs]) -> keras.Model:
    """CIFAR-10 plain-8: ResNet-8 without shortcuts. Reference: He et al. (2015), section 4.2."""
    return _cifar_registered("plain8", kwargs)


def plain14(**kwargs: Unpack[BuildArgs]) -> keras.Model:
    """CIFAR-10 plain-14: ResNet-14 without shortcuts. Reference: He et al. (2015), section 4.2."""
    return _cifar_registered("plain14", kwargs)


def plain20(**kwargs: Unpack[BuildArgs]) -> keras.Model:
    """CIFAR-10 plain-20: ResNet-20 without shortcuts. Reference: He et al. (2015), section 4.2."""
    return _cifar_registered("plain20", kwargs)


def plain32(**kwargs: Unpack[BuildArgs]) -> keras.Model:
    """CIFAR-10 plain-32: ResNet-32 without shortcuts. Reference: He et al. (2015), section 4.2."""
    return _cifar_registered("plain32", kwargs)


def plain44(**kwargs: Unpack[BuildArgs]) -> keras.Model:
    """CIFAR-10 plain-44: ResNet-44 without shortcuts. Reference: He et al. (2015), section 4.2."""
    return _cifar_registered("plain44", kwargs)


def plain56(**kwargs: Unpack[BuildArgs]) -> keras.Model:
    """CIFAR-10 plain-56: ResNet-56 without shortcuts. Reference: He et al. (2015), section 4.2."""
    return _cifar_registered("plain56", kwargs)


def plain110(**kwargs: Unpack[BuildArgs]) -> keras.Model:
    """CIFAR-10 plain-110: ResNet-110 without shortcuts. Reference: He et al. (2015), section 4.2."""
    return _cifar_registered("plain110", kwargs)


def cifar_resnet(depth: int, plain: bool = False, **kwargs: Unpack[BuildArgs]) -> keras.Model:
    """A CIFAR ResNet (or plain net) of any depth ``6n + 2``, with the common builder arguments.

    Registered depths give the registered model; others get a card without figures.
    Reference: He et al., Deep Residual Learning for Image Recognition (2015), section 4.2.
    """
    _cifar_blocks(depth)
    card = cifar_card(depth, bool(plain))
    if card.name in CARDS:
        return _cifar_registered(card.name, kwargs)
    return _cifar(args(card, kwargs), depth, bool(plain))
