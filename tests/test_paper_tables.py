"""Every model card's counts recomputed from the papers' layer tables, apart from zoo's code.

tests/test_cards.py checks each card (``zoo.card(name)``) against the Keras graph zoo builds, but
many card figures are "counted on the built graph": there the graph is both the reference and the
code under test. This module is the independent reference. Each model's layer table is typed here
from its paper (or from torchvision's definition where the card says the model follows
torchvision), with the table or section beside it, and a small integer-only counter computes:

- trainable params (conv and dense weights and biases, BatchNorm's gamma and beta),
- non-trainable params (BatchNorm's moving mean and variance, LeNet-5 1998's fixed RBF codes),
- MACs per image: conv ``kh * kw * (Cin / groups) * Cout * Hout * Wout``, dense ``in * out``,
- depth: weighted layers on the longest input-to-output path (projection shortcuts never lie on it).

Nothing here imports Keras, numpy, ``zoo.families`` or ``compare``, and no configuration is read
from zoo's source: only the cards (names and figures) come from ``zoo``. The counting conventions
are those of docs/reference.md ("Counting conventions"); choices the cards or the builders'
docstrings state on purpose (biases, padding, which classifier) are followed and noted where used.
A registered model without a table here fails, so a new model cannot slip by unchecked.
"""

from __future__ import annotations

import pytest

import zoo


# -- the counter ---------------------------------------------------------------------------------------

def out_size(n: int, f: int, s: int, p: int = 0, mode: str = "floor") -> int:
    """``O = (N - F + 2P) / S + 1``: "exact" (the layer must fit), "floor" or "ceil" (Caffe-era pools)."""
    num = n - f + 2 * p
    if mode == "exact" and num % s:
        raise ValueError(f"({n} - {f} + 2*{p})/{s} + 1 is not an integer")
    return (-(-num // s) if mode == "ceil" else num // s) + 1


class Net:
    """Accumulates params, non-trainable params, MACs and depth; layers take and return (h, w, c)."""

    def __init__(self) -> None:
        self.params = self.non_trainable = self.macs = self.depth = 0

    def conv(self, x, cout, k, s=1, p=0, groups=1, bias=True, bn=False, mode="floor"):
        h, w, cin = x
        assert cin % groups == 0 and cout % groups == 0, (cin, cout, groups)
        ho, wo = out_size(h, k, s, p, mode), out_size(w, k, s, p, mode)
        weights = k * k * (cin // groups) * cout
        self.params += weights + (cout if bias else 0) + (2 * cout if bn else 0)
        self.non_trainable += 2 * cout if bn else 0
        self.macs += weights * ho * wo
        self.depth += 1
        return ho, wo, cout

    def dense(self, x, out, bias=True):
        n = x[0] * x[1] * x[2]
        self.params += n * out + (out if bias else 0)
        self.macs += n * out
        self.depth += 1
        return 1, 1, out

    def branches(self, x, *paths):
        """Run each path (a function of x) from the same depth; depth is the longest path's."""
        start, ends, outs = self.depth, [], []
        for path in paths:
            self.depth = start
            outs.append(path(x))
            ends.append(self.depth)
        self.depth = max(ends)
        return outs


def pool(x, k, s, p=0, mode="floor"):
    return out_size(x[0], k, s, p, mode), out_size(x[1], k, s, p, mode), x[2]


# -- LeNet-5, perceptron, XOR --------------------------------------------------------------------------

# LeCun et al. 1998, section II.B and table I: C3's map j reads these S2 maps (6 of 3, 9 of 4, 1 of 6).
C3_READS = [3] * 6 + [4] * 9 + [6]


def lenet5(n: Net):
    # Section II.B geometry with today's simplifications (card): full C3, parameter-free pools, dense output.
    x = n.conv((32, 32, 1), 6, 5, mode="exact")       # C1: 28x28x6
    x = pool(x, 2, 2, mode="exact")                   # S2: 14x14
    x = n.conv(x, 16, 5, mode="exact")                # C3: 10x10x16
    x = pool(x, 2, 2, mode="exact")                   # S4: 5x5
    for units in (120, 84, 10):                       # C5 (as dense on 5*5*16), F6, output
        x = n.dense(x, units)


def lenet5_1998(n: Net):
    # Section II.B: C1 6@5x5; S2 sums 2x2, times a trainable coefficient, plus a trainable bias
    # (2 params per map, one multiply per output); C3 with table I's partial connections; S4 as S2;
    # C5 120@5x5 over all 16 maps; F6 84; output: 10 Euclidean RBF units y_i = sum_j (x_j - w_ij)^2
    # with fixed (non-trainable) codes, 84 squared differences each (counted as a dense 84 x 10).
    # S2/S4 and the RBF are weighted layers outside "conv + dense": their 1,576 + 840 multiplies are
    # counted (a reading of the convention; conv and dense alone would give 325,680 MACs).
    x = n.conv((32, 32, 1), 6, 5, mode="exact")       # C1: 156 params, 28x28x6
    x = pool(x, 2, 2, mode="exact")                   # S2: 12 params, 14x14x6
    n.params += 2 * 6
    n.macs += 14 * 14 * 6
    n.params += sum(25 * r for r in C3_READS) + 16    # C3: 1,516 params, 10x10x16
    n.macs += sum(25 * r for r in C3_READS) * 10 * 10
    n.depth += 1
    x = pool((10, 10, 16), 2, 2, mode="exact")        # S4: 32 params, 5x5x16 (C3 gave 10x10x16)
    n.params += 2 * 16
    n.macs += 5 * 5 * 16
    x = n.conv(x, 120, 5, mode="exact")               # C5: 48,120 params, 1x1x120
    x = n.dense(x, 84)                                # F6: 10,164 params
    n.non_trainable += 84 * 10                        # RBF codes (section II.B: fixed, +1/-1 bitmaps)
    n.macs += 84 * 10
    n.depth += 1


def perceptron(n: Net):
    n.dense((1, 1, 2), 1)             # Rosenblatt: step(w1*x1 + w2*x2 - beta)


def mlp_xor(n: Net):
    n.dense(n.dense((1, 1, 2), 2), 1)  # Goodfellow et al. 6.1: 2 inputs, 2 ReLU hidden units, 1 output


# -- AlexNet, ZFNet ------------------------------------------------------------------------------------

def alexnet(n: Net):
    # Krizhevsky et al. 2012, section 3.5 and figure 2, 227x227 input (cuda-convnet geometry). Conv2, 4, 5
    # read only their own GPU's maps (groups=2); conv3 and the fc layers read both towers.
    x = n.conv((227, 227, 3), 96, 11, 4, mode="exact")    # 55x55x96 (2 x 48)
    x = pool(x, 3, 2, mode="exact")                        # 27, LRN (no params) before it
    x = n.conv(x, 256, 5, 1, 2, groups=2, mode="exact")   # 5x5x48 kernels
    x = pool(x, 3, 2, mode="exact")                        # 13
    x = n.conv(x, 384, 3, 1, 1, mode="exact")              # 3x3x256, across GPUs
    x = n.conv(x, 384, 3, 1, 1, groups=2, mode="exact")   # 3x3x192
    x = n.conv(x, 256, 3, 1, 1, groups=2, mode="exact")   # 3x3x192
    x = pool(x, 3, 2, mode="exact")                        # 6x6x256
    for units in (4096, 4096, 1000):
        x = n.dense(x, units)


def alexnet_owt(n: Net):
    # torchvision's AlexNet (Krizhevsky 2014, "one weird trick", table/figure of the single-GPU net):
    # conv 64@11x11/4 pad 2, pool 3/2, 192@5x5 pad 2, pool, 384, 256, 256 @3x3 pad 1, pool, 6x6 -> fc.
    x = n.conv((224, 224, 3), 64, 11, 4, 2)   # 55 (floor, as torch)
    x = pool(x, 3, 2)                          # 27
    x = n.conv(x, 192, 5, 1, 2)
    x = pool(x, 3, 2)                          # 13
    for c in (384, 256, 256):
        x = n.conv(x, c, 3, 1, 1)
    x = pool(x, 3, 2)                          # 6x6x256
    for units in (4096, 4096, 1000):
        x = n.dense(x, units)


def zfnet(widths=(384, 384, 256)):
    # Zeiler & Fergus 2013, figure 3: 224 input; 96@7x7/2 -> 110; 3x3/2 pool -> 55; 256@5x5/2 -> 26;
    # pool -> 13; 3x3 convs (384, 384, 256) -> 13; pool -> 6; fc 4096, 4096, 1000. Pools round up
    # (Caffe); conv1 pads 1 so that it gives the figure's 110 (stated in zoo.families.zfnet's docstring).
    def build(n: Net):
        x = n.conv((224, 224, 3), 96, 7, 2, 1)     # 110
        x = pool(x, 3, 2, mode="ceil")             # 55
        x = n.conv(x, 256, 5, 2, mode="exact")     # 26
        x = pool(x, 3, 2, mode="ceil")             # 13
        for c in widths:
            x = n.conv(x, c, 3, 1, 1, mode="exact")
        x = pool(x, 3, 2, mode="ceil")             # 6
        for units in (4096, 4096, 1000):
            x = n.dense(x, units)
    return build


# -- VGG -----------------------------------------------------------------------------------------------

# Simonyan & Zisserman 2014, table 1: kernel sizes of the convs in each of the five stages
# (64, 128, 256, 512, 512 filters), every stage closed by a 2x2/2 max-pool; then fc 4096, 4096, 1000.
# A-LRN is A plus an LRN (no parameters). C closes stages 3-5 with a 1x1 conv.
VGG_TABLE = {
    "A": ((3,), (3,), (3, 3), (3, 3), (3, 3)),
    "B": ((3, 3), (3, 3), (3, 3), (3, 3), (3, 3)),
    "C": ((3, 3), (3, 3), (3, 3, 1), (3, 3, 1), (3, 3, 1)),
    "D": ((3, 3), (3, 3), (3, 3, 3), (3, 3, 3), (3, 3, 3)),
    "E": ((3, 3), (3, 3), (3, 3, 3, 3), (3, 3, 3, 3), (3, 3, 3, 3)),
}


def vgg(cfg: str, bn: bool = False):
    # _bn: torchvision's vgg*_bn, BatchNorm after every conv and the conv keeps its bias.
    def build(n: Net):
        x = (224, 224, 3)
        for width, kernels in zip((64, 128, 256, 512, 512), VGG_TABLE[cfg]):
            for k in kernels:
                x = n.conv(x, width, k, 1, k // 2, bn=bn, mode="exact")   # stride 1, "same"
            x = pool(x, 2, 2, mode="exact")
        for units in (4096, 4096, 1000):
            x = n.dense(x, units)
    return build


# -- GoogLeNet -----------------------------------------------------------------------------------------

# Szegedy et al. 2014, table 1: #1x1, #3x3 reduce, #3x3, #5x5 reduce, #5x5, pool proj.
INCEPTION = {
    "3a": (64, 96, 128, 16, 32, 32), "3b": (128, 128, 192, 32, 96, 64),
    "4a": (192, 96, 208, 16, 48, 64), "4b": (160, 112, 224, 24, 64, 64), "4c": (128, 128, 256, 24, 64, 64),
    "4d": (112, 144, 288, 32, 64, 64), "4e": (256, 160, 320, 32, 128, 128),
    "5a": (256, 160, 320, 32, 128, 128), "5b": (384, 192, 384, 48, 128, 128),
}


def googlenet(n: Net):
    # Table 1 (all convs with biases, no BatchNorm; the card's default is without the auxiliary heads).
    # Convs pad k // 2; pools 3x3/2 round up (Caffe): sizes 112-56-28-14-7 as in table 1.
    def conv(y, c, k, s=1):
        return n.conv(y, c, k, s, k // 2)

    x = conv((224, 224, 3), 64, 7, 2)              # 112x112x64
    x = pool(x, 3, 2, mode="ceil")                 # 56 (then LRN)
    x = conv(conv(x, 64, 1), 192, 3)               # conv 3x3 reduce, conv 3x3: 56x56x192 (then LRN)
    for stage in (("3a", "3b"), ("4a", "4b", "4c", "4d", "4e"), ("5a", "5b")):
        x = pool(x, 3, 2, mode="ceil")             # 28, 14, 7
        for m in stage:
            c1, r3, c3, r5, c5, pp = INCEPTION[m]
            outs = n.branches(x, lambda y: conv(y, c1, 1), lambda y: conv(conv(y, r3, 1), c3, 3),
                              lambda y: conv(conv(y, r5, 1), c5, 5), lambda y: conv(y, pp, 1))
            x = (x[0], x[1], sum(o[2] for o in outs))
    assert x[:2] == (7, 7)
    n.dense((1, 1, x[2]), 1000)                    # avg-pool 7x7 -> 1x1x1024, dropout 40%, linear


# -- ResNet (ImageNet) ---------------------------------------------------------------------------------

# He et al. 2015, table 1: blocks per stage conv2_x .. conv5_x.
RESNET_TABLE = {18: ("basic", (2, 2, 2, 2)), 34: ("basic", (3, 4, 6, 3)), 50: ("bottleneck", (3, 4, 6, 3)),
                101: ("bottleneck", (3, 4, 23, 3)), 152: ("bottleneck", (3, 8, 36, 3))}


def resnet(depth: int, plain: bool = False, v15: bool = False):
    # Table 1: conv1 7x7/2 64 -> 112, max-pool 3x3/2 -> 56, stages at widths 64-128-256-512 (bottleneck
    # blocks 1x1 w, 3x3 w, 1x1 4w), the first block of conv3_x..conv5_x subsampling by 2; avg-pool, fc 1000.
    # Every conv is followed by BN and has no bias (torchvision's counts, cited by the cards).
    # Option B (section 3.3): a 1x1 projection + BN where the shape changes; plain nets have none.
    # v1.5 (torchvision, Goyal et al.): the subsampling stride sits on the 3x3, not the first 1x1.
    kind, blocks = RESNET_TABLE[depth]
    expansion = 4 if kind == "bottleneck" else 1

    def cbn(n, x, c, k, s=1):
        return n.conv(x, c, k, s, k // 2, bias=False, bn=True)

    def build(n: Net):
        x = cbn(n, (224, 224, 3), 64, 7, 2)                # 112
        x = pool(x, 3, 2, 1)                               # 56
        for stage, (width, count) in enumerate(zip((64, 128, 256, 512), blocks)):
            for b in range(count):
                s = 2 if stage > 0 and b == 0 else 1

                def body(y, s=s, width=width):
                    if kind == "basic":
                        return cbn(n, cbn(n, y, width, 3, s), width, 3)
                    y = cbn(n, y, width, 1, 1 if v15 else s)
                    y = cbn(n, y, width, 3, s if v15 else 1)
                    return cbn(n, y, width * expansion, 1)

                def shortcut(y, s=s, width=width):
                    if plain or (s == 1 and y[2] == width * expansion):
                        return y
                    return cbn(n, y, width * expansion, 1, s)

                x = n.branches(x, body, shortcut)[0]
        n.dense((1, 1, x[2]), 1000)
    return build


# -- ResNet (CIFAR-10) ---------------------------------------------------------------------------------

def cifar_resnet(depth: int):
    # He et al. 2015, section 4.2: 3x3 conv 16 on 32x32x3, then 3 stages of n = (depth - 2) / 6 basic
    # blocks (two 3x3 convs) at 16, 32, 64 filters on 32, 16, 8 maps (stride 2 in the first conv of
    # stages 2 and 3), global avg-pool, fc 10. Option A shortcuts are parameter-free and cost no MACs,
    # so the ResNet and its plain net count the same. BN after every conv (card); convs without bias, as
    # in the ImageNet nets (the paper does not say; table 6's rounded 0.27 M cannot tell the two apart).
    n_blocks = (depth - 2) // 6
    assert 6 * n_blocks + 2 == depth

    def build(n: Net):
        x = n.conv((32, 32, 3), 16, 3, 1, 1, bias=False, bn=True)
        for stage, width in enumerate((16, 32, 64)):
            for b in range(n_blocks):
                s = 2 if stage > 0 and b == 0 else 1
                x = n.conv(x, width, 3, s, 1, bias=False, bn=True)
                x = n.conv(x, width, 3, 1, 1, bias=False, bn=True)
        n.dense((1, 1, x[2]), 10)
    return build


# -- AlphaGo -------------------------------------------------------------------------------------------

def alphago_policy(n: Net):
    # Silver et al. 2016, Methods, "Neural network architecture": 19x19x48 input zero-padded to 23x23;
    # layer 1: k = 192 filters 5x5 stride 1; layers 2-12: pad 1, k filters 3x3 stride 1; layer 13: one
    # 1x1 filter "with a different bias for each position" (so the 1x1 conv itself has no bias), softmax.
    x = n.conv((19, 19, 48), 192, 5, 1, 2, mode="exact")
    for _ in range(11):
        x = n.conv(x, 192, 3, 1, 1, mode="exact")
    x = n.conv(x, 1, 1, bias=False, mode="exact")
    n.params += 19 * 19                                  # position bias


# -- the test ------------------------------------------------------------------------------------------

TABLES = {
    "lenet5": lenet5, "lenet5_1998": lenet5_1998, "perceptron": perceptron, "mlp_xor": mlp_xor,
    "alexnet": alexnet, "alexnet_owt": alexnet_owt,
    "zfnet": zfnet(), "zfnet_cs231n": zfnet((512, 1024, 512)),  # CS231n lecture 9: 512-1024-512 in layers 3-5
    "vgg11": vgg("A"), "vgg11_lrn": vgg("A"), "vgg13": vgg("B"), "vgg16_c": vgg("C"), "vgg16": vgg("D"),
    "vgg19": vgg("E"), "vgg11_bn": vgg("A", True), "vgg13_bn": vgg("B", True), "vgg16_bn": vgg("D", True),
    "vgg19_bn": vgg("E", True),
    "googlenet": googlenet, "alphago_policy": alphago_policy,
    **{f"resnet{d}": resnet(d) for d in RESNET_TABLE},
    **{f"resnet{d}_v15": resnet(d, v15=True) for d in (50, 101, 152)},
    **{f"plain{d}": resnet(d, plain=True) for d in (18, 34)},
    **{f"resnet{d}": cifar_resnet(d) for d in (8, 14, 20, 32, 44, 56, 110, 1202)},
    **{f"plain{d}": cifar_resnet(d) for d in (8, 14, 20, 32, 44, 56, 110)},
}


def count(name: str) -> Net:
    n = Net()
    TABLES[name](n)
    return n


@pytest.mark.parametrize("name", zoo.list_models())
def test_card_equals_the_paper_table(name):
    assert name in TABLES, (f"{name} has no layer table in tests/test_paper_tables.py: type its table from "
                            "the paper there, so its card is checked independently of zoo's graph")
    c, n = zoo.card(name), count(name)
    assert (n.params, n.non_trainable, n.macs) == (c.params, c.non_trainable, c.macs)
    assert n.depth == c.depth


def test_published_totals():
    """The counter against figures printed exactly in docs/reference.md and the papers (not via the cards)."""
    n = Net()  # docs/reference.md's worked example: 32x32x3, ten 5x5x3 filters, stride 1, pad 2
    assert n.conv((32, 32, 3), 10, 5, 1, 2, mode="exact") == (32, 32, 10) and n.params == 760
    assert count("lenet5_1998").params == 156 + 12 + 1_516 + 32 + 48_120 + 10_164 == 60_000  # LeCun, II.B
    assert count("resnet20").depth == 20 and count("resnet1202").depth == 1202              # He, 4.2
    assert count("googlenet").depth == 22 and count("resnet152").depth == 152
