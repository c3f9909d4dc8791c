"""AlexNet, ZFNet and VGG: exact parameter counts, MACs, map sizes, depth and input limits (docs/reference.md).

Full-width ImageNet models are built once each (``full``), measured, and released; everything
that does not depend on width is checked on width=0.25 or small-input builds.
"""

from __future__ import annotations

import functools
import importlib
import gc
import math
import re

import keras
import numpy as np
import pytest

import zoo
# the modules (zoo.alexnet and zoo.zfnet are the builders of the same name)
alexnet_mod = importlib.import_module("zoo.families.alexnet")
vgg_mod = importlib.import_module("zoo.families.vgg")
zfnet_mod = importlib.import_module("zoo.families.zfnet")
from zoo.base import COMMON_DEFAULTS, validate
from zoo.layers import LRN

ALEXNETS = ["alexnet", "alexnet_owt"]
ZFNETS = ["zfnet", "zfnet_cs231n"]
VGGS = ["vgg11", "vgg11_lrn", "vgg13", "vgg16_c", "vgg16", "vgg19",
        "vgg11_bn", "vgg13_bn", "vgg16_bn", "vgg19_bn"]
ALL = ALEXNETS + ZFNETS + VGGS

# Published figures (docs/reference.md), typed here once more on purpose: the cards must agree with them.
PAPER_PARAMS = {"alexnet": 60_965_224, "alexnet_owt": 61_100_840, "zfnet": 62_357_608,
               "vgg11": 132_863_336, "vgg16": 138_357_544, "vgg19": 143_667_240,
               "vgg11_bn": 132_868_840, "vgg16_bn": 138_365_992}
PAPER_MACS = {"alexnet": 724_406_816, "alexnet_owt": 714_188_480, "zfnet": 1_168_032_896,
             "vgg11": 7_609_090_048, "vgg16": 15_470_264_320, "vgg19": 19_632_062_464}
# What every card holds: the published figures, torchvision's published counts (vgg13, vgg13_bn, vgg19_bn),
# the plain configuration's figures for the LRN/BN variants, None where nothing is published.
CARD_PARAMS = {**PAPER_PARAMS, "vgg11_lrn": 132_863_336, "vgg13": 133_047_848, "vgg13_bn": 133_053_736,
               "vgg19_bn": 143_678_248,
               # by hand: B + 1x1 convs 256->256, 512->512 twice = 133,047,848 + 65,792 + 2 * 262,656
               "vgg16_c": 133_638_952,
               # by hand: 14,208 + 614,656 + 1,180,160 + 4,719,616 + 4,719,104 + 75,501,568 + 16,781,312 + 4,097,000
               "zfnet_cs231n": 107_627_624}
CARD_MACS = {**PAPER_MACS, "vgg11_lrn": 7_609_090_048, "vgg11_bn": 7_609_090_048, "vgg16_bn": 15_470_264_320,
             "vgg19_bn": 19_632_062_464, "vgg13": 11_308_466_176, "vgg13_bn": 11_308_466_176,
             # by hand: B + 56*56*256*256 + 28*28*512*512 + 14*14*512*512; zfnet_cs231n: conv1-5
             # 170,755,200 + 415,334,400 + 199,360,512 + 2 * 797,442,048, fc 75,497,472 + 16,777,216 + 4,096,000
             "vgg16_c": 11_770_888_192, "zfnet_cs231n": 2_476_704_896}
CARD_NON_TRAINABLE = {"vgg11_bn": 5_504, "vgg13_bn": 5_888, "vgg16_bn": 8_448, "vgg19_bn": 11_008}
PAPER_ERR = {"vgg11": (29.6, 10.4), "vgg11_lrn": (29.7, 10.5), "vgg13": (28.7, 9.9),
            "vgg16_c": (28.1, 9.4), "vgg16": (27.0, 8.8), "vgg19": (27.3, 9.0)}
MIN_SIZES = {"alexnet": 67, "alexnet_owt": 63, "zfnet": 47, "zfnet_cs231n": 47, **{n: 32 for n in VGGS}}
REF_DEPTH = {"alexnet": 8, "alexnet_owt": 8, "zfnet": 8, "zfnet_cs231n": 8, "vgg11": 11, "vgg11_lrn": 11,
             "vgg13": 13, "vgg16_c": 16, "vgg16": 16, "vgg19": 19, "vgg11_bn": 11, "vgg13_bn": 13,
             "vgg16_bn": 16, "vgg19_bn": 19}
MAPS = {  # layer -> spatial size at the default input
    "alexnet": {"conv1": 55, "pool1": 27, "conv2": 27, "pool2": 13, "conv3": 13, "conv4": 13,
                "conv5": 13, "pool5": 6},
    "alexnet_owt": {"conv1": 55, "pool1": 27, "conv2": 27, "pool2": 13, "conv5": 13, "pool5": 6},
    "zfnet": {"conv1": 110, "pool1": 55, "conv2": 26, "pool2": 13, "conv3": 13, "conv4": 13,
              "conv5": 13, "pool5": 6},
}
FINAL_POOL = {"alexnet": "pool5", "alexnet_owt": "pool5", "zfnet": "pool5", "zfnet_cs231n": "pool5"}
BODIES = {"alexnet": alexnet_mod._alexnet, "alexnet_owt": alexnet_mod._alexnet_owt,
          "zfnet": lambda a: zfnet_mod._zfnet(a, (384, 384, 256), True),
          "zfnet_cs231n": lambda a: zfnet_mod._zfnet(a, (512, 1024, 512), True)}
# name -> (configuration, batch_norm, lrn), from the paper's table 1 and torchvision's names
VGG_CFG = {"vgg11": ("A", False, False), "vgg11_lrn": ("A", False, True), "vgg13": ("B", False, False),
           "vgg16_c": ("C", False, False), "vgg16": ("D", False, False), "vgg19": ("E", False, False),
           "vgg11_bn": ("A", True, False), "vgg13_bn": ("B", True, False), "vgg16_bn": ("D", True, False),
           "vgg19_bn": ("E", True, False)}


def final_pool(name: str) -> str:
    return FINAL_POOL.get(name, "block5_pool")


def body(name: str):
    if name in BODIES:
        return BODIES[name]
    cfg, bn, lrn = VGG_CFG[name]
    return functools.partial(vgg_mod._vgg, cfg=cfg, batch_norm=bn, lrn=lrn)


def macs(model: keras.Model) -> int:
    """Conv and dense multiply-accumulates from the layers' output shapes (docs/reference.md's convention)."""
    total = 0
    for layer in model.layers:
        if isinstance(layer, keras.layers.Conv2D):
            kh, kw = layer.kernel_size
            cin, (_, h, w, cout) = layer.input.shape[-1], layer.output.shape
            total += kh * kw * (cin // layer.groups) * cout * h * w
        elif isinstance(layer, keras.layers.Dense):
            total += layer.input.shape[-1] * layer.units
    return total


def n_weights(weights) -> int:
    return sum(math.prod(w.shape) for w in weights)


def spatial(layer) -> tuple:
    return tuple(layer.output.shape[1:3])


@functools.lru_cache(maxsize=None)
def full(name: str) -> dict:
    """Build ``name`` at full width and default input once; keep its measurements, drop the model."""
    model = zoo.build(name)
    facts = dict(
        trainable=n_weights(model.trainable_weights),
        non_trainable=n_weights(model.non_trainable_weights),
        output=tuple(model.output.shape),
        macs=macs(model),
        depth=zoo.depth(model),
        maps={n: spatial(model.get_layer(n)) for n in MAPS.get(name, {})},
    )
    del model
    gc.collect()
    return facts


@functools.lru_cache(maxsize=None)
def slim(name: str) -> dict:
    """width=0.25 at the default input: shapes, depth and layer structure, cheaply."""
    model = zoo.build(name, width=0.25)
    return dict(
        output=tuple(model.output.shape),
        depth=zoo.depth(model),
        layers=[(l.name, type(l).__name__) for l in model.layers],
        weighted=[(l.name, tuple(l.kernel.shape), tuple(l.output.shape)) for l in model.layers
                  if isinstance(l, (keras.layers.Conv2D, keras.layers.Dense))],
        pool=spatial(model.get_layer(final_pool(name))),
    )


# -- registry and cards -------------------------------------------------------------------------

def test_registered_names():
    assert zoo.list_models("alexnet*") == sorted(ALEXNETS)
    assert zoo.list_models("zfnet*") == sorted(ZFNETS)
    assert zoo.list_models("vgg*") == sorted(VGGS)


@pytest.mark.parametrize("name", ALL)
def test_card(name):
    c = zoo.card(name)
    assert c.name == name and c.classes == 1000
    assert c.family == name.split("_")[0].rstrip("0123456789")
    assert c.min_size == MIN_SIZES[name]
    assert c.depth == REF_DEPTH[name]
    assert c.input_shape == ((227, 227, 3) if name == "alexnet" else (224, 224, 3))
    assert c.paper and c.year in (2012, 2013, 2014) and c.variant and c.description
    assert c.params == CARD_PARAMS[name]
    assert c.macs == CARD_MACS[name]
    assert c.non_trainable == CARD_NON_TRAINABLE.get(name, 0)
    if name in PAPER_ERR:
        assert (c.top1_err, c.top5_err) == PAPER_ERR[name] and "ILSVRC-2012" in c.err_dataset


def test_card_errors_alexnet_zfnet():
    assert zoo.card("alexnet").top5_err == 16.4 and "5 CNNs" in zoo.card("alexnet").err_dataset
    z = zoo.card("zfnet")
    assert z.top5_err == 14.8 and "paper's own" in z.err_dataset and "11.7" in z.err_dataset
    for n in ("alexnet_owt", "zfnet_cs231n", "vgg11_bn", "vgg16_bn"):
        assert zoo.card(n).top5_err is None


def test_derived_card_figures():
    """LRN adds no parameters and BN/LRN are neither conv nor dense: the variants share A/D/E figures."""
    a, d, e = zoo.card("vgg11"), zoo.card("vgg16"), zoo.card("vgg19")
    assert zoo.card("vgg11_lrn").params == a.params and zoo.card("vgg11_lrn").macs == a.macs
    assert zoo.card("vgg11_bn").macs == a.macs
    assert zoo.card("vgg16_bn").macs == d.macs
    assert zoo.card("vgg19_bn").macs == e.macs
    # BN moving mean + variance: 2 per conv channel
    for n in ("vgg11_bn", "vgg13_bn", "vgg16_bn", "vgg19_bn"):
        cfg = VGG_CFG[n][0]
        channels = sum(w * len(k) for k, w in zip(vgg_mod.CFGS[cfg], vgg_mod.STAGE_WIDTHS))
        assert zoo.card(n).non_trainable == 2 * channels


# -- exact counts at full width -------------------------------------------------------------------

@pytest.mark.parametrize("name", ["alexnet", "alexnet_owt", "zfnet", "vgg11", "vgg16", "vgg19",
                                  "vgg11_bn", "vgg16_bn"])
def test_full_size_params_macs(name):
    f, c = full(name), zoo.card(name)
    assert f["trainable"] == c.params == PAPER_PARAMS[name]
    assert f["non_trainable"] == c.non_trainable
    assert f["macs"] == c.macs
    assert f["output"] == (None, 1000)
    assert f["depth"] == c.depth


def test_spec_mac_figures():
    for name, value in PAPER_MACS.items():
        assert full(name)["macs"] == value


# B = A + block1_conv2 (3*3*64*64 + 64) + block2_conv2 (3*3*128*128 + 128);
# C = B + 1x1 convs closing stages 3-5 (256*256 + 256, 2 x (512*512 + 512)).
VGG_B = PAPER_PARAMS["vgg11"] + 36_928 + 147_584
VGG_C = VGG_B + 65_792 + 2 * 262_656


@pytest.mark.parametrize("name,exact,rounded", [("vgg13", VGG_B, 133), ("vgg16_c", VGG_C, 134)])
def test_vgg_b_c_params(name, exact, rounded):
    """The paper gives B 133M, C 134M: the full-width conv body plus the head every VGG shares
    (7x7x512 -> 4096 -> 4096 -> 1000, checked exactly on vgg11/16/19)."""
    body_only = zoo.build(name, include_top=False, input_shape=(32, 32, 3))
    head = (7 * 7 * 512 + 1) * 4096 + (4096 + 1) * 4096 + (4096 + 1) * 1000
    total = body_only.count_params() + head
    assert total == exact and round(total / 1e6) == rounded


@pytest.mark.parametrize("name", ["vgg13_bn", "vgg19_bn"])
def test_bn_moving_stats_are_non_trainable(name):
    model = zoo.build(name, include_top=False, input_shape=(32, 32, 3))
    assert n_weights(model.non_trainable_weights) == zoo.card(name).non_trainable
    bn = [l for l in model.layers if isinstance(l, keras.layers.BatchNormalization)]
    assert len(bn) == sum(isinstance(l, keras.layers.Conv2D) for l in model.layers)
    assert all(len(l.trainable_weights) == 2 and len(l.non_trainable_weights) == 2 for l in bn)


@pytest.mark.parametrize("name", list(MAPS))
def test_map_sizes(name):
    assert full(name)["maps"] == {k: (v, v) for k, v in MAPS[name].items()}


# -- structure (width-independent), on width=0.25 ---------------------------------------------------

@pytest.mark.parametrize("name", ALL)
def test_output_and_depth(name):
    s = slim(name)
    assert s["output"] == (None, 1000)
    assert s["depth"] == zoo.card(name).depth
    assert s["pool"] == ((6, 6) if name in ALEXNETS + ZFNETS else (7, 7))


def test_zfnet_cs231n_maps_and_widths():
    w = {n: k for n, k, _ in slim("zfnet_cs231n")["weighted"]}
    assert [w[f"conv{i}"][-1] for i in (3, 4, 5)] == [128, 256, 128]  # 512, 1024, 512 at width 0.25
    maps = {n: o[1] for n, _, o in slim("zfnet_cs231n")["weighted"] if n.startswith("conv")}
    assert maps == {"conv1": 110, "conv2": 26, "conv3": 13, "conv4": 13, "conv5": 13}


def test_alexnet_towers_and_lrn():
    w = {n: k for n, k, _ in slim("alexnet")["weighted"]}
    # kernel (kh, kw, Cin / groups, Cout) at width 0.25: 24-64-96-96-64 filters
    assert w["conv1"] == (11, 11, 3, 24) and w["conv2"] == (5, 5, 12, 64) and w["conv3"] == (3, 3, 64, 96)
    assert w["conv4"] == (3, 3, 48, 96) and w["conv5"] == (3, 3, 48, 64)
    assert w["fc6"] == (6 * 6 * 64, 1024) and w["predictions"] == (1024, 1000)
    names = [n for n, _ in slim("alexnet")["layers"]]
    assert names.index("conv1") < names.index("lrn1") < names.index("pool1") < names.index("conv2")
    assert names.index("conv2") < names.index("lrn2") < names.index("pool2")
    assert not any(t == "LocalResponseNormalization" for _, t in slim("alexnet_owt")["layers"])
    # dropout on the outputs of fc6 and fc7 (Krizhevsky et al. 2012, section 4.2; Zeiler & Fergus 2013,
    # section 3); torchvision's alexnet drops their inputs instead
    head = lambda name: [n for n, t in slim(name)["layers"] if t in ("Dense", "Dropout")]  # noqa: E731
    assert head("alexnet") == head("zfnet") == ["fc6", "drop6", "fc7", "drop7", "predictions"]
    assert head("alexnet_owt") == ["drop6", "fc6", "drop7", "fc7", "predictions"]


def test_alexnet_width_keeps_groups_even():
    model = zoo.build("alexnet", width=0.3, input_shape=(67, 67, 3), classes=7)
    for l in model.layers:
        if isinstance(l, keras.layers.Conv2D):
            assert l.filters % 2 == 0
    y = model.predict(np.random.default_rng(0).random((2, 67, 67, 3), dtype="float32"), verbose=0)
    assert y.shape == (2, 7) and np.allclose(y.sum(axis=1), 1.0, atol=1e-5)


def test_zfnet_lrn_switch():
    on, off = slim("zfnet")["layers"], zoo.build("zfnet", width=0.25, lrn=False)
    assert [n for n, t in on if t == "LocalResponseNormalization"] == ["lrn1", "lrn2"]
    names = [n for n, _ in on]
    assert names.index("pool1") < names.index("lrn1") < names.index("conv2")  # paper: pool, then normalise
    assert not any(isinstance(l, LRN) for l in off.layers)
    assert off.count_params() == sum(math.prod(k) + k[-1] for _, k, _ in slim("zfnet")["weighted"])


def test_vgg_names_and_configs():
    names = [n for n, _ in slim("vgg16")["layers"]]
    assert names[:4] == ["input", "block1_conv1", "block1_conv2", "block1_pool"]
    assert names[-6:] == ["flatten", "fc1", "fc1_drop", "fc2", "fc2_drop", "predictions"]
    c = {n: k for n, k, _ in slim("vgg16_c")["weighted"]}
    assert [c[f"block{s}_conv3"][:2] for s in (3, 4, 5)] == [(1, 1)] * 3
    assert "block3_conv4" not in c and c["block2_conv2"][:2] == (3, 3)
    lrn = [n for n, _ in slim("vgg11_lrn")["layers"]]
    assert lrn[lrn.index("block1_conv1") + 1] == "block1_lrn" and lrn.count("block1_lrn") == 1
    bn = [n for n, _ in slim("vgg16_bn")["layers"]]
    assert bn[1:4] == ["block1_conv1", "block1_conv1_bn", "block1_conv1_relu"]


@pytest.mark.parametrize("bn,plain", [("vgg11_bn", "vgg11"), ("vgg16_bn", "vgg16"), ("vgg19_bn", "vgg19")])
def test_bn_variant_same_conv_dense_layers(bn, plain):
    """Same conv and dense kernels and output shapes, so the same MACs as the plain configuration."""
    assert slim(bn)["weighted"] == slim(plain)["weighted"]


def test_lrn_variant_same_conv_dense_layers():
    assert slim("vgg11_lrn")["weighted"] == slim("vgg11")["weighted"]
    assert zoo.card("vgg11_lrn").params == full("vgg11")["trainable"]
    assert zoo.card("vgg11_lrn").macs == full("vgg11")["macs"]


# -- input sizes ------------------------------------------------------------------------------------

def test_vgg16_small_input():
    model = zoo.build("vgg16", input_shape=(32, 32, 3), classes=10)
    assert tuple(model.output.shape) == (None, 10)
    assert spatial(model.get_layer("block5_pool")) == (1, 1)


def test_alexnet_small_input_runs():
    model = zoo.build("alexnet", input_shape=(67, 67, 3), width=0.25, classes=10)
    assert tuple(model.output.shape) == (None, 10)
    assert [spatial(model.get_layer(n))[0] for n in ("conv1", "pool1", "pool2", "pool5")] == [15, 7, 3, 1]
    assert model.predict(np.zeros((1, 67, 67, 3), "float32"), verbose=0).shape == (1, 10)


@pytest.mark.parametrize("name", ["alexnet", "alexnet_owt", "zfnet", "zfnet_cs231n", "vgg11", "vgg16_c", "vgg19_bn"])
def test_min_size_is_minimal(name):
    """At min_size every map is non-empty and the last pool is 1x1; one pixel less, some map is empty."""
    n = MIN_SIZES[name]
    model = zoo.build(name, input_shape=(n, n, 3), width=0.25)
    assert all(d >= 1 for l in model.layers[1:] if len(l.output.shape) == 4 for d in spatial(l))
    assert spatial(model.get_layer(final_pool(name))) == (1, 1)
    if name.startswith("zfnet"):
        chain = [spatial(model.get_layer(n))[0] for n in ("conv1", "pool1", "conv2", "pool2", "conv5", "pool5")]
        assert chain == [22, 11, 4, 2, 2, 1]
    card = zoo.card(name)
    a = validate(card, {**COMMON_DEFAULTS, "input_shape": (n - 1, n - 1, 3), "width": 0.25}, min_size=1)
    # one pixel below the minimum, the last pool has nothing left to pool: Keras refuses the layer
    with pytest.raises(ValueError, match="Computed output size would be zero or negative"):
        body(name)(a)


@pytest.mark.parametrize("name", ["alexnet", "zfnet", "vgg16"])
def test_below_minimum_raises(name):
    n = MIN_SIZES[name] - 1
    with pytest.raises(ValueError) as err:
        zoo.build(name, input_shape=(n, n, 3))
    msg = str(err.value)
    assert name in msg and str((n, n, 3)) in msg and str(MIN_SIZES[name]) in msg
    with pytest.raises(ValueError, match=re.escape(name)):
        zoo.build(name, input_shape=(224, n, 3), include_top=False)


@pytest.mark.parametrize("name,channels,grid", [("alexnet", 256, 6), ("alexnet_owt", 256, 6), ("zfnet", 256, 6),
                                                ("zfnet_cs231n", 512, 6), ("vgg16", 512, 7), ("vgg16_bn", 512, 7)])
def test_include_top_false(name, channels, grid):
    avg = zoo.build(name, include_top=False, pooling="avg", width=0.5)
    assert tuple(avg.output.shape) == (None, channels // 2)
    assert not any(isinstance(l, (keras.layers.Dropout, keras.layers.Dense)) for l in avg.layers)
    fmap = zoo.build(name, include_top=False, width=0.25)
    assert tuple(fmap.output.shape) == (None, grid, grid, channels // 4)
    free = zoo.build(name, include_top=False, input_shape=(None, None, 3), pooling="max", width=0.25)
    assert tuple(free.output.shape) == (None, channels // 4)


# -- ceil-mode pooling ----------------------------------------------------------------------------

def _ceil_pool_reference(x: np.ndarray, k: int = 3, s: int = 2) -> np.ndarray:
    n, h, w, c = x.shape
    oh, ow = -(-(h - k) // s) + 1, -(-(w - k) // s) + 1
    out = np.empty((n, oh, ow, c), x.dtype)
    for i in range(oh):
        for j in range(ow):
            out[:, i, j] = x[:, i * s:min(i * s + k, h), j * s:min(j * s + k, w)].max(axis=(1, 2))
    return out


@pytest.mark.parametrize("size,expected", [(110, 55), (26, 13), (13, 6), (14, 7), (3, 1), (4, 2), (2, 1)])
def test_ceil_max_pool_matches_caffe(size, expected):
    inp = keras.Input((size, size + 1, 4))
    model = keras.Model(inp, zfnet_mod.ceil_max_pool(inp, "pool"))
    x = np.maximum(np.random.default_rng(size).normal(size=(2, size, size + 1, 4)), 0).astype("float32")
    y = model.predict(x, verbose=0)
    ref = _ceil_pool_reference(x)
    assert y.shape[1] == expected and y.shape == ref.shape
    np.testing.assert_array_equal(y, ref)
