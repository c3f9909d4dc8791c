"""GoogLeNet and ResNet families: exact params, MACs, shapes and depth against the papers and torchvision (docs/reference.md).

Models are built once per module (fixture). resnet101, resnet1202 and some plain nets are
checked against closed-form parameter counts instead of being built (resnet1202 alone takes
~35 s to build), the closed forms being checked in turn against the published figures.
"""

from __future__ import annotations

import math

import keras
import numpy as np
import pytest
import torch
import torch.nn.functional as F

import zoo
from zoo import cifar_resnet

# Reference figures typed from the papers and torchvision (docs/reference.md), never read back from the cards.
PAPER_PARAMS = {
    "googlenet": 6_998_552,
    "resnet18": 11_689_512, "resnet34": 21_797_672, "resnet50": 25_557_032,
    "resnet20": 269_722, "resnet32": 464_154, "resnet44": 658_586, "resnet56": 853_018,
    "resnet50_v15": 25_557_032,
}
PAPER_MACS = {
    "resnet18": 1_814_073_344, "resnet34": 3_663_761_408, "resnet50": 3_857_973_248,
    "resnet20": 40_551_040, "resnet56": 125_485_696, "resnet50_v15": 4_089_184_256,
}
# torchvision's ResNet-50/101/152 are v1.5: IMAGENET1K_V1 metadata num_params, _ops (GMACs, 3 decimals),
# acc@1, acc@5 (torchvision.models.ResNet{50,101,152}_Weights)
TORCHVISION_V15 = {
    "resnet50_v15": (25_557_032, 4.089, 76.130, 92.862),
    "resnet101_v15": (44_549_160, 7.801, 77.374, 93.546),
    "resnet152_v15": (60_192_808, 11.514, 78.312, 94.046),
}
V15 = list(TORCHVISION_V15)
PAPER_DEPTH = {"googlenet": 22, "resnet50": 50, "resnet20": 20}
PAPER_CIFAR_ERR = {20: 8.75, 32: 7.51, 44: 7.17, 56: 6.97, 110: 6.43, 1202: 7.93}
# He et al. 2015, 10-crop: table 2 (plain nets; ResNet-18 with option-A shortcuts), table 3 (option B, as built)
PAPER_IMAGENET_ERR = {"plain18": (27.94, None), "plain34": (28.54, 10.02), "resnet18": (27.88, None),
                      "resnet34": (24.52, 7.46), "resnet50": (22.85, 6.71), "resnet101": (21.75, 6.05),
                      "resnet152": (21.43, 5.71)}

IMAGENET = ["resnet18", "resnet34", "resnet50", "resnet101", "resnet152", "plain18", "plain34"]
CIFAR_RES = [8, 14, 20, 32, 44, 56, 110, 1202]
CIFAR_PLAIN = [8, 14, 20, 32, 44, 56, 110]
CIFAR = [f"resnet{d}" for d in CIFAR_RES] + [f"plain{d}" for d in CIFAR_PLAIN]
# Built here (the rest, resnet101 and resnet1202 among them, are checked by closed forms below).
BUILT = ["googlenet", "resnet18", "resnet34", "resnet50", "resnet152", "plain18", "plain34", "resnet50_v15",
         "resnet20", "resnet32", "resnet44", "resnet56", "resnet110", "plain20", "plain56"]


card = zoo.card


def counts(model) -> tuple[int, int]:
    size = lambda ws: sum(math.prod(w.shape) for w in ws)  # noqa: E731
    return size(model.trainable_weights), size(model.non_trainable_weights)


def macs(model) -> int:
    """Conv and dense multiply-accumulates from the layers' output shapes (the convention in docs/reference.md)."""
    total = 0
    for layer in model.layers:
        if isinstance(layer, keras.layers.Conv2D):
            kh, kw = layer.kernel_size
            _, h, w, cout = layer.output.shape
            total += kh * kw * (layer.input.shape[-1] // layer.groups) * cout * h * w
        elif isinstance(layer, keras.layers.Dense):
            total += layer.input.shape[-1] * layer.units
    return total


def bn_moving(model) -> int:
    return sum(2 * l.input.shape[-1] for l in model.layers if isinstance(l, keras.layers.BatchNormalization))


class Models(dict):
    def __missing__(self, name):
        self[name] = zoo.build(name)
        return self[name]


@pytest.fixture(scope="module")
def built():
    return Models()


# -- registry and cards ---------------------------------------------------------------------------

def test_registered_names_and_families():
    names = set(zoo.list_models())
    assert {"googlenet", *IMAGENET, *V15, *CIFAR} <= names
    assert card("googlenet").family == "googlenet"
    assert {card(n).family for n in IMAGENET + V15} == {"resnet"}
    assert {card(n).family for n in CIFAR} == {"resnet_cifar"}


def test_cards_carry_spec_figures():
    for name, p in PAPER_PARAMS.items():
        assert card(name).params == p, name
    for name, m in PAPER_MACS.items():
        assert card(name).macs == m, name
    for name, d in PAPER_DEPTH.items():
        assert card(name).depth == d
    for d, err in PAPER_CIFAR_ERR.items():
        assert card(f"resnet{d}").top1_err == err and card(f"resnet{d}").err_dataset == "CIFAR-10 test"
    for name, (top1, top5) in PAPER_IMAGENET_ERR.items():
        assert (card(name).top1_err, card(name).top5_err, card(name).err_dataset) == (top1, top5, "ImageNet val, 10-crop")
    assert "option-A shortcuts" in card("resnet18").sources["top1_err"]
    assert card("googlenet").top5_err == 6.67
    for name in IMAGENET:
        assert card(name).depth == int("".join(filter(str.isdigit, name)))
    for d in CIFAR_RES:
        assert card(f"resnet{d}").depth == d and card(f"resnet{d}").classes == 10
        assert card(f"resnet{d}").input_shape == (32, 32, 3)
    assert all(card(n).min_size == 1 for n in ["googlenet", *IMAGENET, *V15, *CIFAR])


def test_v15_cards_carry_torchvision_figures():
    dataset = "ImageNet val, torchvision IMAGENET1K_V1 weights, resize 256 / centre crop 224, single crop"
    expected = {"resnet50_v15": (50, 53_120, 4_089_184_256, 23.87, 7.138),
                "resnet101_v15": (101, 105_344, 7_801_405_440, 22.626, 6.454),
                "resnet152_v15": (152, 151_424, 11_513_626_624, 21.688, 5.954)}
    for name, (params, gmacs, acc1, acc5) in TORCHVISION_V15.items():
        c = card(name)
        depth, non_trainable, exact_macs, top1, top5 = expected[name]
        assert (c.params, c.non_trainable, c.macs, c.depth) == (params, non_trainable, exact_macs, depth)
        assert round(c.macs / 1e9, 3) == gmacs  # torchvision's _ops, to its rounding
        assert (c.top1_err, c.top5_err) == (top1, top5)
        assert c.top1_err == pytest.approx(100 - acc1) and c.top5_err == pytest.approx(100 - acc5)
        assert c.err_dataset == dataset and c.year == 2017 and c.paper.startswith("Goyal")
        # same weights as v1 (a stride moves, no weight does): the v1 closed form counts them
        assert _imagenet_counts(name.removesuffix("_v15")) == (params, non_trainable)
        # v1.5's first 1x1 of conv3_1, conv4_1, conv5_1 reads the map before subsampling: 4x its v1 MACs,
        # 256*128*(56^2 - 28^2) = 512*256*(28^2 - 14^2) = 1024*512*(14^2 - 7^2) = 77,070,336 more each
        assert 256 * 128 * (56**2 - 28**2) == 512 * 256 * (28**2 - 14**2) == 1024 * 512 * (14**2 - 7**2) == 77_070_336
        assert c.macs - card(name.removesuffix("_v15")).macs == 3 * 77_070_336


# -- params (trainable and non-trainable), shapes, MACs -------------------------------------------

@pytest.mark.parametrize("name", BUILT)
def test_built_counts_match_card(built, name):
    m, c = built[name], card(name)
    trainable, non_trainable = counts(m)
    assert (trainable, non_trainable) == (c.params, c.non_trainable)
    assert non_trainable == bn_moving(m)  # moving mean + variance of every BN
    assert m.output_shape == (None, c.classes)
    if name in PAPER_PARAMS:
        assert trainable == PAPER_PARAMS[name]
    if c.macs is not None:
        assert macs(m) == c.macs


def test_spec_macs(built):
    for name, expected in PAPER_MACS.items():
        assert macs(built[name]) == expected, name
    # the inception sum of table 1, derived layer by layer in tests/test_paper_tables.py
    assert macs(built["googlenet"]) == card("googlenet").macs == 1_582_671_872


def test_plain_nets_equal_resnets_without_shortcuts(built):
    for d in (18, 34):
        r, p = built[f"resnet{d}"], built[f"plain{d}"]
        proj = [l for l in r.layers if l.name.endswith(("_0_conv", "_0_bn"))]
        assert len(proj) == 6  # stages 3-5 project once each
        size = lambda ws: sum(math.prod(w.shape) for w in ws)  # noqa: E731
        assert counts(r)[0] - counts(p)[0] == sum(size(l.trainable_weights) for l in proj)
        assert counts(r)[1] - counts(p)[1] == sum(size(l.non_trainable_weights) for l in proj)
        assert not [l for l in p.layers if l.name.endswith(("_add", "_0_conv"))]
    # CIFAR option A adds no parameters, so plain and residual nets count the same
    for d in (20, 56):
        assert counts(built[f"plain{d}"]) == counts(built[f"resnet{d}"])


def _counts(stem: tuple[int, int], stages, kind: str, plain: bool, classes: int) -> tuple[int, int]:
    """Closed form (trainable, BN moving statistics) of a ResNet: ``stem`` = (input channels *
    kernel area, filters), ``stages`` = [(width, blocks, first stride)], v1 blocks, BN everywhere."""
    conv, bn = stem[0] * stem[1], [stem[1]]
    cin = stem[1]
    for width, blocks, stride in stages:
        out = width * (4 if kind == "bottleneck" else 1)
        for b in range(blocks):
            if kind == "basic":
                conv += 9 * cin * width + 9 * width * width
                bn += [width, width]
            else:
                conv += cin * width + 9 * width * width + width * out
                bn += [width, width, out]
            if not plain and b == 0 and (stride > 1 or cin != out):
                conv += cin * out  # projection (ImageNet); CIFAR option A has none
                bn += [out]
            cin = out
    return conv + 2 * sum(bn) + cin * classes + classes, 2 * sum(bn)


def _cifar_counts(n: int) -> tuple[int, int]:
    return _counts((27, 16), [(16, n, 1), (32, n, 1), (64, n, 1)], "basic", True, 10)


def _imagenet_counts(name: str) -> tuple[int, int]:
    depth = int("".join(filter(str.isdigit, name)))
    kind, blocks = zoo.cards.IMAGENET_BLOCKS[depth]
    stages = [(w, n, 1 if i == 0 else 2) for i, (w, n) in enumerate(zip((64, 128, 256, 512), blocks))]
    return _counts((147, 64), stages, kind, name.startswith("plain"), 1000)


def test_closed_forms_match_spec_and_cards():
    for d, p in [(20, 269_722), (32, 464_154), (44, 658_586), (56, 853_018)]:
        assert _cifar_counts((d - 2) // 6)[0] == p
    for name in CIFAR:  # includes resnet1202, which is not built here
        d = int("".join(filter(str.isdigit, name)))
        assert _cifar_counts((d - 2) // 6) == (card(name).params, card(name).non_trainable), name
    for name in ["resnet18", "resnet34", "resnet50"]:
        assert _imagenet_counts(name)[0] == PAPER_PARAMS[name]
    for name in IMAGENET:
        assert _imagenet_counts(name) == (card(name).params, card(name).non_trainable), name


# -- depth ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("name,expected", [("googlenet", 22), ("resnet50", 50), ("resnet20", 20),
                                           ("plain20", 20), ("resnet18", 18), ("plain34", 34),
                                           ("resnet110", 110)])
def test_depth(built, name, expected):
    assert zoo.depth(built[name]) == expected == card(name).depth


# -- GoogLeNet ------------------------------------------------------------------------------------

def test_googlenet_geometry_and_names(built):
    m = built["googlenet"]
    sizes = {n: m.get_layer(n).output.shape[1:] for n in ["conv1_7x7", "pool1", "pool2", "pool3", "pool4"]}
    assert [s[0] for s in sizes.values()] == [112, 56, 28, 14, 7]
    assert m.get_layer("inception_5b_output").output.shape == (None, 7, 7, 1024)
    assert m.get_layer("inception_3a_output").output.shape == (None, 28, 28, 256)
    for suffix in ["1x1", "3x3_reduce", "3x3", "5x5_reduce", "5x5", "pool", "pool_proj", "output"]:
        m.get_layer(f"inception_3a_{suffix}")
    assert m.get_layer("inception_3a_5x5").kernel_size == (5, 5)
    assert m.get_layer("dropout").rate == 0.4
    assert not [l for l in m.layers if isinstance(l, keras.layers.BatchNormalization)]
    assert sum(isinstance(l, zoo.layers.LRN) for l in m.layers) == 2


def test_googlenet_aux_logits(built):
    m = zoo.build("googlenet", aux_logits=True)
    assert m.output_names == ["predictions", "aux1", "aux2"]
    assert [tuple(o.shape) for o in m.outputs] == [(None, 1000)] * 3
    assert zoo.depth(m) == 22
    assert m.get_layer("aux1_pool").output.shape == (None, 4, 4, 512)
    assert m.get_layer("aux2_pool").output.shape == (None, 4, 4, 528)
    assert m.get_layer("aux1_dropout").rate == 0.7
    aux = (512 * 128 + 128) + (528 * 128 + 128) + 2 * (2048 * 1024 + 1024 + 1024 * 1000 + 1000)
    assert counts(m) == (6_998_552 + aux, 0)
    with pytest.raises(ValueError, match="include_top"):
        zoo.build("googlenet", aux_logits=True, include_top=False)


def test_googlenet_aux_below_minimum():
    with pytest.raises(ValueError, match=r"googlenet.*\(64, 64, 3\).*65x65"):
        zoo.build("googlenet", aux_logits=True, input_shape=(64, 64, 3))


# -- ResNet structure -----------------------------------------------------------------------------

def test_resnet_names_and_v1_strides(built):
    m = built["resnet50"]
    for n in ["conv1_conv", "conv1_bn", "conv1_relu", "pool1_pool", "conv2_block1_1_conv",
              "conv2_block1_0_conv", "conv2_block1_add", "conv2_block1_out", "avg_pool", "predictions"]:
        m.get_layer(n)
    assert m.get_layer("conv3_block1_1_conv").strides == (2, 2)  # v1: stride on the first 1x1
    assert m.get_layer("conv3_block1_2_conv").strides == (1, 1)
    assert m.get_layer("conv5_block3_out").output.shape == (None, 7, 7, 2048)
    assert not any(l.use_bias for l in m.layers if isinstance(l, keras.layers.Conv2D))
    r18 = built["resnet18"]
    assert r18.get_layer("conv3_block1_1_conv").strides == (2, 2)  # basic: first 3x3
    assert r18.get_layer("conv3_block1_1_conv").kernel_size == (3, 3)


@pytest.mark.parametrize("name", V15)
def test_resnet_v1_5_stride_on_3x3(name):
    m = zoo.build(name, width=1 / 16)
    v1 = zoo.build(name.removesuffix("_v15"), width=1 / 16)
    for stage in (3, 4, 5):
        assert m.get_layer(f"conv{stage}_block1_1_conv").strides == (1, 1)
        assert m.get_layer(f"conv{stage}_block1_2_conv").strides == (2, 2)
        assert m.get_layer(f"conv{stage}_block1_2_pad").padding == ((1, 1), (1, 1))
        assert v1.get_layer(f"conv{stage}_block1_1_conv").strides == (2, 2)
        assert v1.get_layer(f"conv{stage}_block1_2_conv").strides == (1, 1)
    assert m.get_layer("conv2_block1_2_conv").strides == (1, 1)  # conv2_x does not subsample
    assert [w.name for w in m.weights] == [w.name for w in v1.weights]  # same weights, same names
    assert m.get_layer("conv5_block3_out").output.shape == (None, 7, 7, 128)
    assert zoo.depth(m) == card(name).depth


def test_stride_on_is_no_longer_a_builder_argument():
    with pytest.raises(TypeError, match="stride_on"):
        zoo.build("resnet50", stride_on="3x3")


def test_width_scales_convs_not_classifier():
    m = zoo.build("resnet20", width=0.5)
    assert m.get_layer("conv1_conv").filters == 8
    assert m.get_layer("conv4_block3_2_conv").filters == 32
    assert m.get_layer("predictions").units == 10


# -- input sizes ----------------------------------------------------------------------------------

def test_resnet20_accepts_28x28x1():
    m = zoo.build("resnet20", input_shape=(28, 28, 1))
    assert m.output_shape == (None, 10)
    assert m.get_layer("conv4_block3_out").output.shape == (None, 7, 7, 64)
    assert counts(m)[0] == 269_722 - 2 * 9 * 16  # conv1 reads 1 channel instead of 3


@pytest.mark.parametrize("name", ["googlenet", "resnet18", "resnet20", "plain20"])
def test_min_size_builds_and_below_raises(name):
    s = card(name).min_size
    channels = card(name).input_shape[-1]
    assert zoo.build(name, input_shape=(s, s, channels), width=1 / 16).output_shape == (None, card(name).classes)
    with pytest.raises(ValueError, match=name):
        zoo.build(name, input_shape=(s - 1, s - 1, channels))


# -- cifar_resnet ---------------------------------------------------------------------------------

def test_cifar_resnet_any_depth():
    m = cifar_resnet(26, width=0.25)
    assert m.name == "resnet26" and zoo.depth(m) == 26 and m.output_shape == (None, 10)
    assert cifar_resnet(8, plain=True).name == "plain8"
    for bad in (9, 2, 0, 20.0):
        with pytest.raises(ValueError, match=rf"{bad}.*6n\+2"):
            cifar_resnet(bad)


# -- published geometry: symmetric padding (torch.nn.functional is the peer) --------------------------

def _outputs(model, names, x):
    """The outputs of the named layers of ``model`` on the batch ``x`` (numpy, NHWC)."""
    probe = keras.Model(model.input, [model.get_layer(n).output for n in names])
    ys = probe(x)
    return [np.asarray(y) for y in (ys if isinstance(ys, (list, tuple)) else [ys])]


def _torch_conv(x, layer, padding: int):
    """``layer``'s convolution of the NHWC batch ``x`` by torch: ``padding`` zeros on every side."""
    kernel = np.array(layer.kernel).transpose(3, 2, 0, 1)  # (kh, kw, cin, cout) -> (cout, cin, kh, kw)
    y = F.conv2d(torch.tensor(x.transpose(0, 3, 1, 2)), torch.tensor(kernel),
                 stride=layer.strides, padding=padding)
    return y.numpy().transpose(0, 2, 3, 1)


# (model, stride-2 convolution, the layer whose output it reads, torch padding on each side)
STRIDED_CONVS = [
    ("resnet18", "conv3_block1_1_conv", "conv2_block2_out", 1),      # basic block 3x3/2
    ("resnet18", "conv3_block1_0_conv", "conv2_block2_out", 0),      # 1x1/2 projection
    ("resnet18", "conv5_block1_1_conv", "conv4_block2_out", 1),
    ("plain34", "conv4_block1_1_conv", "conv3_block4_out", 1),      # plain net, no shortcut
    ("resnet50", "conv3_block1_1_conv", "conv2_block3_out", 0),      # v1: 1x1/2 first
    ("resnet50_v15", "conv3_block1_2_conv", "conv3_block1_1_relu", 1),  # v1.5: 3x3/2
    ("resnet50_v15", "conv3_block1_0_conv", "conv2_block3_out", 0),
    ("resnet20", "conv3_block1_1_conv", "conv2_block3_out", 1),      # CIFAR 3x3/2
    ("plain20", "conv4_block1_1_conv", "conv3_block3_out", 1),
]


@pytest.mark.parametrize("name,conv,source,pad", STRIDED_CONVS)
def test_strided_convs_pad_symmetrically_like_torch(name, conv, source, pad):
    """Every stride-2 convolution equals torch's conv2d with ``pad`` zeros on *both* sides, at an
    even map size, where Keras' "same" would pad 0 before and 1 after."""
    side = 64 if card(name).classes == 1000 else 32
    m = zoo.build(name, input_shape=(side, side, 3), width=1 / 16)
    x = np.random.default_rng(0).standard_normal((2, side, side, 3)).astype("float32")
    inp, out = _outputs(m, [source, conv], x)
    assert inp.shape[1] % 2 == 0 and out.shape[1] == inp.shape[1] // 2
    np.testing.assert_allclose(out, _torch_conv(inp, m.get_layer(conv), pad), rtol=1e-4, atol=1e-4)


def test_conv1_and_pool_pad_symmetrically_like_torch():
    """conv1 7x7/2 pads 3 on each side and the 3x3/2 max pool 1 (torch pads the pool with -inf;
    zero padding is the same after ReLU)."""
    m = zoo.build("resnet18", input_shape=(64, 64, 3), width=1 / 16)
    x = np.random.default_rng(1).standard_normal((2, 64, 64, 3)).astype("float32")
    c1, relu, pool = _outputs(m, ["conv1_conv", "conv1_relu", "pool1_pool"], x)
    assert (c1.shape[1], pool.shape[1]) == (32, 16)
    np.testing.assert_allclose(c1, _torch_conv(x, m.get_layer("conv1_conv"), 3), rtol=1e-4, atol=1e-4)
    peer = F.max_pool2d(torch.tensor(relu.transpose(0, 3, 1, 2)), 3, stride=2, padding=1)
    np.testing.assert_allclose(pool, peer.numpy().transpose(0, 2, 3, 1), rtol=1e-6, atol=1e-6)
    assert [m.get_layer(n).padding for n in ("conv1_pad", "pool1_pad")] == [((3, 3), (3, 3)), ((1, 1), (1, 1))]
    assert m.get_layer("conv1_conv").padding == m.get_layer("pool1_pool").padding == "valid"


def test_googlenet_conv1_and_pools_are_the_reference_models():
    """GoogLeNet's conv1 7x7/2 pads 3 on each side (bvlc_googlenet, torchvision), and its stride-2
    max pools round up without padding (Caffe's and torchvision's ceil_mode), at an even map size."""
    m = zoo.build("googlenet", input_shape=(64, 64, 3), width=1 / 16)
    x = np.random.default_rng(2).standard_normal((2, 64, 64, 3)).astype("float32")
    c1, p1 = _outputs(m, ["conv1_7x7", "pool1"], x)
    conv = m.get_layer("conv1_7x7")
    peer = F.relu(torch.tensor(_torch_conv(x, conv, 3)) + torch.tensor(np.array(conv.bias))).numpy()
    assert c1.shape[1:3] == (32, 32)
    np.testing.assert_allclose(c1, peer, rtol=1e-4, atol=1e-4)
    pool = F.max_pool2d(torch.tensor(c1.transpose(0, 3, 1, 2)), 3, stride=2, ceil_mode=True)
    np.testing.assert_allclose(p1, pool.numpy().transpose(0, 2, 3, 1), rtol=1e-6, atol=1e-6)
    assert p1.shape[1:3] == (16, 16)


def test_conv1_sees_the_published_window_impulse():
    """Exact numbers: conv1 with all-ones 7x7 kernels on an all-ones 32x32x1 image. Output (0, 0)
    covers input rows and columns -3..3, of which 0..3 are real: 4 x 4 = 16; output (15, 15) covers
    27..33, of which 27..31 are real: 5 x 5 = 25. (Keras' "same" pads 2 before and 3 after here:
    25 and 16.) A one-pixel impulse at input (0, 0) reaches outputs (0..1, 0..1), through the
    kernel taps (3 - 2i, 3 - 2j): window i is centred on input pixel 2i ("same": taps (2 - 2i, 2 - 2j))."""
    m = zoo.build("resnet18", input_shape=(32, 32, 1), width=1 / 16)
    conv = m.get_layer("conv1_conv")
    conv.kernel.assign(np.ones(conv.kernel.shape, "float32"))
    (y,) = _outputs(m, ["conv1_conv"], np.ones((1, 32, 32, 1), "float32"))
    assert y.shape == (1, 16, 16, 4)
    assert (y[0, 0, 0, 0], y[0, 0, 15, 0], y[0, 15, 0, 0], y[0, 15, 15, 0]) == (16.0, 20.0, 20.0, 25.0)
    assert y[0, 1, 1, 0] == 36.0  # rows -1..5: 6 real
    taps = np.zeros(conv.kernel.shape, "float32")
    taps[..., 0] = np.arange(1, 50, dtype="float32").reshape(7, 7, 1)  # tap (r, c) weighs 7r + c + 1
    conv.kernel.assign(taps)
    impulse = np.zeros((1, 32, 32, 1), "float32")
    impulse[0, 0, 0, 0] = 1.0
    (y,) = _outputs(m, ["conv1_conv"], impulse)
    assert y[0, :2, :2, 0].tolist() == [[25.0, 23.0], [11.0, 9.0]]  # taps (3, 3), (3, 1), (1, 3), (1, 1)
    assert np.count_nonzero(y[0, :, :, 0]) == 4
