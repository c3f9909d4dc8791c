"""GoogLeNet (Inception v1), as in the paper: no BatchNorm, LRN after the first two stages,
nine inception modules, global average pooling, dropout 0.4, one fully connected classifier,
and optional auxiliary classifiers on inception 4a and 4d.

Reference: Szegedy et al., Going Deeper with Convolutions (2014).
"""

from __future__ import annotations

import keras
from keras import layers

from ..base import Args, BuildArgs, Unpack, args
from ..layers import LRN

__all__ = ["googlenet", "inception", "aux_head", "INCEPTION", "STAGES", "AUX_HEADS"]

# Inception columns (paper, table 1): #1x1, #3x3 reduce, #3x3, #5x5 reduce, #5x5, pool proj.
INCEPTION: dict[str, tuple[int, int, int, int, int, int]] = {
    "3a": (64, 96, 128, 16, 32, 32),
    "3b": (128, 128, 192, 32, 96, 64),
    "4a": (192, 96, 208, 16, 48, 64),
    "4b": (160, 112, 224, 24, 64, 64),
    "4c": (128, 128, 256, 24, 64, 64),
    "4d": (112, 144, 288, 32, 64, 64),
    "4e": (256, 160, 320, 32, 128, 128),
    "5a": (256, 160, 320, 32, 128, 128),
    "5b": (384, 192, 384, 48, 128, 128),
}
# Inception stages; a 3x3/2 max-pool ("pool3", "pool4") separates consecutive stages.
STAGES: tuple[tuple[str, ...], ...] = (("3a", "3b"), ("4a", "4b", "4c", "4d", "4e"), ("5a", "5b"))
# Auxiliary classifiers: (output name, module whose output they read).
AUX_HEADS: tuple[tuple[str, str], ...] = (("aux1", "4a"), ("aux2", "4d"))

# LRN as in the reference Caffe model (bvlc_googlenet): local_size 5, alpha 1e-4 averaged over
# the window (Caffe divides alpha by n), k = 1, beta 0.75.
_LRN = dict(n=5, k=1.0, alpha=1e-4 / 5, beta=0.75)


def _conv(x, filters: int, kernel: int, name: str, strides: int = 1):
    return layers.Conv2D(filters, kernel, strides=strides, padding="same", activation="relu", name=name)(x)


def _maxpool(x, name: str, strides: int = 2):
    return layers.MaxPooling2D(3, strides=strides, padding="same", name=name)(x)


def inception(x, a: Args, module: str):
    """One inception module: 1x1 | 1x1-3x3 | 1x1-5x5 | 3x3/1 max-pool-1x1, concatenated."""
    c1, r3, c3, r5, c5, pp = INCEPTION[module]
    p = f"inception_{module}"
    b1 = _conv(x, a.ch(c1), 1, f"{p}_1x1")
    b3 = _conv(_conv(x, a.ch(r3), 1, f"{p}_3x3_reduce"), a.ch(c3), 3, f"{p}_3x3")
    b5 = _conv(_conv(x, a.ch(r5), 1, f"{p}_5x5_reduce"), a.ch(c5), 5, f"{p}_5x5")
    bp = _conv(_maxpool(x, f"{p}_pool", strides=1), a.ch(pp), 1, f"{p}_pool_proj")
    return layers.Concatenate(axis=-1, name=f"{p}_output")([b1, b3, b5, bp])


def aux_head(x, a: Args, name: str):
    """Auxiliary classifier: avg-pool 5x5/3 - conv 1x1 128 - fc 1024 - dropout 0.7 - fc classes."""
    x = layers.AveragePooling2D(5, strides=3, name=f"{name}_pool")(x)
    x = _conv(x, a.ch(128), 1, f"{name}_conv")
    x = layers.Flatten(name=f"{name}_flatten")(x)
    x = layers.Dense(a.ch(1024), activation="relu", name=f"{name}_fc")(x)
    x = layers.Dropout(0.7, name=f"{name}_dropout")(x)
    return a.classifier(x, name=name)


def googlenet(*, aux_logits: bool = False, **kwargs: Unpack[BuildArgs]) -> keras.Model:
    """GoogLeNet (Inception v1) as in the paper; ``aux_logits=True`` adds the two auxiliary
    classifiers (outputs ``predictions, aux1, aux2``; see ``zoo.card("googlenet").training``).
    Reference: Szegedy et al. (2014), table 1 and figure 3; figures: ``zoo.card("googlenet")``."""
    return _googlenet(args("googlenet", kwargs), aux_logits)


def _googlenet(a: Args, aux_logits: bool) -> keras.Model:
    if aux_logits and not a.include_top:
        raise ValueError("googlenet: aux_logits=True needs include_top=True (the auxiliary heads are classifiers)")
    aux_min = a.card.training.min_size
    if aux_logits and any(d is not None and d < aux_min for d in a.input_shape[:2]):
        raise ValueError(f"googlenet: input_shape {a.input_shape} is below the minimum "
                         f"{aux_min}x{aux_min} for aux_logits=True (the auxiliary heads' 5x5/3 "
                         f"average pool needs a 5x5 map at inception 4a)")
    inputs, x = a.inputs()
    # pad 3 on every side as the reference Caffe model (bvlc_googlenet) and torchvision do; Keras'
    # "same" would pad 2 before and 3 after on 224x224 and move every window one pixel. The same
    # output size at any input: floor((N + 6 - 7) / 2) + 1 = ceil(N / 2). The stride-2 max-pools keep
    # "same": on an even map it pads only after, as Caffe's ceil-mode pooling does (every stage at 224:
    # 112 -> 56 -> 28 -> 14 -> 7); on an odd one it gives one more row and column than Caffe would.
    x = layers.ZeroPadding2D(3, name="conv1_pad")(x)
    x = layers.Conv2D(a.ch(64), 7, strides=2, padding="valid", activation="relu", name="conv1_7x7")(x)
    x = _maxpool(x, "pool1")
    x = LRN(**_LRN, name="norm1")(x)
    x = _conv(x, a.ch(64), 1, "conv2_3x3_reduce")
    x = _conv(x, a.ch(192), 3, "conv2_3x3")
    x = LRN(**_LRN, name="norm2")(x)
    x = _maxpool(x, "pool2")
    aux_inputs = {}
    for i, stage in enumerate(STAGES):
        if i:
            x = _maxpool(x, f"pool{i + 2}")
        for module in stage:
            x = inception(x, a, module)
            aux_inputs[module] = x
    if not a.include_top:
        return a.finish(inputs, a.pool(x))
    x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
    x = layers.Dropout(0.4, name="dropout")(x)
    outputs = a.classifier(x)
    if aux_logits:
        outputs = [outputs] + [aux_head(aux_inputs[module], a, name) for name, module in AUX_HEADS]
    return a.finish(inputs, outputs)
