"""ResNets (paper v1) and their plain counterparts: the ImageNet nets (18, 34, 50, 101, 152) and
the CIFAR-10 nets of section 4.2 (depth 6n+2, option-A shortcuts).

Architectures are data: ``IMAGENET_BLOCKS`` maps a depth to (block kind, blocks per stage), and
the CIFAR nets are three stages of n basic blocks. One residual block function serves both;
``shortcut=None`` gives the plain net (same layers, no identity path, no projection).

Reference: He, Zhang, Ren, Sun, Deep Residual Learning for Image Recognition (2015).
"""

from __future__ import annotations

from functools import partial

import keras
from keras import layers

from .base import COMMON_DEFAULTS, Args, validate, zoo_model
from .layers import ShortcutA, conv_bn
from .registry import _REGISTRY, Card

__all__ = ["IMAGENET_BLOCKS", "CIFAR_WIDTHS", "residual_block", "cifar_resnet"]

PAPER = "He, Zhang, Ren, Sun, Deep Residual Learning for Image Recognition"

# depth -> (block kind, blocks in stages conv2_x .. conv5_x)  (paper, table 1)
IMAGENET_BLOCKS: dict[int, tuple[str, tuple[int, int, int, int]]] = {
    18: ("basic", (2, 2, 2, 2)),
    34: ("basic", (3, 4, 6, 3)),
    50: ("bottleneck", (3, 4, 6, 3)),
    101: ("bottleneck", (3, 4, 23, 3)),
    152: ("bottleneck", (3, 8, 36, 3)),
}
IMAGENET_WIDTHS = (64, 128, 256, 512)
EXPANSION = {"basic": 1, "bottleneck": 4}
CIFAR_WIDTHS = (16, 32, 64)
SHORTCUTS = ("projection", "A", None)


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
        y = conv_bn(y, filters, kernel, strides=s, name=f"{name}_{i}", activation=None if last else "relu")
    if shortcut is not None:
        reshape = strides != 1 or x.shape[-1] != out_filters
        if reshape and shortcut == "projection":
            x = conv_bn(x, out_filters, 1, strides=strides, name=f"{name}_0", activation=None)
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
    if stride_on not in ("1x1", "3x3"):
        raise ValueError(f"{a.card.name}: stride_on must be '1x1' (paper v1) or '3x3' (v1.5), got {stride_on!r}")
    kind, blocks = IMAGENET_BLOCKS[depth]
    inputs, x = a.inputs()
    x = conv_bn(x, a.ch(64), 7, strides=2, name="conv1")
    x = layers.MaxPooling2D(3, strides=2, padding="same", name="pool1_pool")(x)
    for i, (n, width) in enumerate(zip(blocks, IMAGENET_WIDTHS)):
        x = _stage(x, a, kind, n, width, stage=i + 2, first_stride=1 if i == 0 else 2,
                   shortcut=None if plain else "projection", stride_on=stride_on)
    return _top(a, inputs, x)


# name, depth, plain, trainable params, non-trainable (BN moving mean/var), MACs, top-1 (10-crop)
_IMAGENET_CARDS = (
    ("resnet18", 18, False, 11_689_512, 9_600, 1_814_073_344, 27.88),
    ("resnet34", 34, False, 21_797_672, 17_024, 3_663_761_408, 25.03),
    ("resnet50", 50, False, 25_557_032, 53_120, 3_857_973_248, None),
    ("resnet101", 101, False, 44_549_160, 105_344, None, None),
    ("resnet152", 152, False, 60_192_808, 151_424, None, None),
    ("plain18", 18, True, 11_515_688, 7_808, None, 27.94),
    ("plain34", 34, True, 21_623_848, 15_232, None, 28.54),
)

for _name, _depth, _plain, _params, _nt, _macs, _top1 in _IMAGENET_CARDS:
    _kind, _blocks = IMAGENET_BLOCKS[_depth]
    _what = "plain net (the ResNet without shortcuts)" if _plain else "ResNet"
    _card = Card(
        name=_name, family="resnet", variant=f"{_depth}-layer {_what}, {_kind} blocks {list(_blocks)}, v1",
        paper=PAPER, year=2015, input_shape=(224, 224, 3), min_size=1, params=_params, non_trainable=_nt,
        macs=_macs, ref_depth=_depth, top1_err=_top1, err_dataset="ImageNet val (10-crop)" if _top1 else None,
        description=(f"{_depth}-layer {_what} for ImageNet: conv 7x7/2 64 - max-pool 3x3/2 - {_kind} blocks "
                     f"{list(_blocks)} at widths 64-128-256-512"
                     + (" (x4 out)" if _kind == "bottleneck" else "")
                     + ("" if _plain else ", projection shortcuts where the shape changes")
                     + " - global avg-pool - fc. BN after every conv, ReLU after the add."
                     + (" stride_on='3x3' gives v1.5 (stride on the 3x3)." if _kind == "bottleneck" else "")),
    )
    _extra = {"stride_on": "1x1"} if _kind == "bottleneck" else {}
    zoo_model(_card, **_extra)(partial(_imagenet, depth=_depth, plain=_plain))


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
    x = conv_bn(x, a.ch(CIFAR_WIDTHS[0]), 3, name="conv1")
    for i, width in enumerate(CIFAR_WIDTHS):
        x = _stage(x, a, "basic", n, width, stage=i + 2, first_stride=1 if i == 0 else 2,
                   shortcut=None if plain else "A")
    return _top(a, inputs, x)


def _cifar_card(depth: int, plain: bool, params=None, non_trainable=None, macs=None, err=None) -> Card:
    n = _cifar_blocks(depth)
    kind = "plain net" if plain else "ResNet"
    return Card(
        name=f"{'plain' if plain else 'resnet'}{depth}", family="resnet_cifar",
        variant=f"CIFAR {kind}, n={n} (depth 6n+2){'' if plain else ', option-A shortcuts'}",
        paper=PAPER, year=2015, input_shape=(32, 32, 3), min_size=1, classes=10, params=params,
        non_trainable=non_trainable, macs=macs, ref_depth=depth, top1_err=err,
        err_dataset="CIFAR-10 test" if err is not None else None,
        description=(f"{depth}-layer CIFAR-10 {kind}: conv 3x3 16, three stages of {n} basic blocks at 16-32-64 "
                     "filters (maps 32-16-8)"
                     + ("" if plain else ", parameter-free option-A shortcuts")
                     + ", global avg-pool, fc. BN after every conv."),
    )


# depth -> trainable, non-trainable, MACs (shared by the ResNet and its plain net), ResNet error (%)
_CIFAR_FACTS = {
    8: (75_290, 480, None, None),
    14: (172_506, 928, None, None),
    20: (269_722, 1_376, 40_551_040, 8.75),
    32: (464_154, 2_272, None, 7.51),
    44: (658_586, 3_168, None, 7.17),
    56: (853_018, 4_064, 125_485_696, 6.97),
    110: (1_727_962, 8_096, None, 6.43),
    1202: (19_421_274, 89_632, None, 7.93),
}
_CIFAR_PLAIN = (8, 14, 20, 32, 44, 56, 110)

for _depth, (_params, _nt, _macs, _err) in _CIFAR_FACTS.items():
    for _plain in (False, True):
        if _plain and _depth not in _CIFAR_PLAIN:
            continue
        zoo_model(_cifar_card(_depth, _plain, _params, _nt, _macs, None if _plain else _err))(
            partial(_cifar, depth=_depth, plain=_plain))


def cifar_resnet(depth: int, plain: bool = False, **kwargs) -> keras.Model:
    """A CIFAR ResNet (or plain net) of any depth ``6n + 2``, with the common builder arguments.

    Registered depths go through the registry; others get an unregistered card (no reference
    figures). Reference: He et al., Deep Residual Learning for Image Recognition (2015), sec. 4.2.
    """
    _cifar_blocks(depth)
    card = _cifar_card(depth, bool(plain))
    if card.name in _REGISTRY:
        return _REGISTRY[card.name][1](**kwargs)
    defaults = {**COMMON_DEFAULTS, "classes": card.classes}
    unknown = sorted(set(kwargs) - set(defaults))
    if unknown:
        raise TypeError(f"cifar_resnet() got unexpected argument(s) {', '.join(unknown)}; "
                        f"accepted: depth, plain, {', '.join(defaults)}")
    return _cifar(validate(card, {**defaults, **kwargs}), depth, bool(plain))


del _name, _depth, _plain, _params, _nt, _macs, _top1, _kind, _blocks, _what, _card, _extra, _err
