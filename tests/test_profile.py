"""compare.profile: per-layer counts, checked by hand arithmetic (docs/reference.md), the models' own counts and TensorFlow's profiler."""

from __future__ import annotations

import math

import keras
import pandas as pd
import pytest
from keras import layers

import compare
import zoo
from compare import arithmetic, tfprof

# Every model's total MACs against its card (and the card against the graph) is tests/test_cards.py;
# here the per-row counts are checked by formula and by hand.


def test_lenet5_and_resnet20_macs_and_flops_by_hand():
    """MACs = output elements x kernel volume; FLOPs = 2 x MACs (docs/reference.md), worked out by hand."""
    df = compare.profile(zoo.build("lenet5"))  # 32x32x1, 10 classes
    r = _rows(df)
    # c1: 28x28x6 outputs x 5x5x1; c3: 10x10x16 x 5x5x6; c5: 400 -> 120; f6: 120 -> 84; output 84 -> 10
    assert {n: (r[n].macs, r[n].flops) for n in ("c1", "c3", "c5", "f6", "predictions")} == {
        "c1": (117_600, 235_200), "c3": (240_000, 480_000), "c5": (48_000, 96_000), "f6": (10_080, 20_160),
        "predictions": (840, 1_680)}
    assert (r["s2"].macs, r["s2"].flops, r["s4"].macs, r["s4"].flops) == (0, 0, 0, 0)  # pooling: not MACs
    total = compare.profile.totals(df)
    assert (total["macs"], total["flops"]) == (416_520, 833_040)
    # ResNet-20 at 32x32x3: conv1 3x3x3->16 at 32x32; 3x3 convs 16->16 at 32x32 (6), 16->32 stride 2 at
    # 16x16 then 32->32 (5), 32->64 at 8x8 then 64->64 (5); dense 64 -> 10; option-A shortcuts: 0
    df = compare.profile(zoo.build("resnet20"))
    stage = {p: int(df.loc[df["name"].str.startswith(p), "macs"].sum()) for p in ("conv1", "conv2", "conv3", "conv4")}
    assert stage == {"conv1": 9 * 3 * 16 * 1024, "conv2": 6 * 9 * 16 * 16 * 1024,
                     "conv3": 9 * 16 * 32 * 256 + 5 * 9 * 32 * 32 * 256,
                     "conv4": 9 * 32 * 64 * 64 + 5 * 9 * 64 * 64 * 64}
    assert stage == {"conv1": 442_368, "conv2": 14_155_776, "conv3": 12_976_128, "conv4": 12_976_128}
    assert _rows(df)["predictions"].macs == 640
    total = compare.profile.totals(df)
    assert (total["macs"], total["flops"]) == (40_551_040, 81_102_080)


# Weighted layers (conv + dense) of each model: its depth, plus the 1x1 projection convolutions of
# the ImageNet ResNets (4: one per stage); the CIFAR nets' option-A shortcuts have no weights.
WEIGHTED_LAYERS = {"lenet5_1998": 5, "plain8": 8, "plain14": 14, "plain32": 32, "plain44": 44, "plain110": 110,
                   "resnet8": 8, "resnet14": 14, "resnet32": 32, "resnet44": 44, "resnet110": 110,
                   "plain18": 18, "plain34": 34, "resnet101": 101 + 4, "resnet152": 152 + 4, "vgg13": 13,
                   "vgg13_bn": 13, "vgg16_c": 16, "zfnet_cs231n": 8}
# LeNet-5 (1998)'s own layers, by hand: subsampling 1 multiply per output, C3's 60 connected 5x5
# kernels at 10x10, the RBF output's 84 x 10 distances
LENET_1998_CUSTOM_MACS = {"s2": 14 * 14 * 6, "c3": 60 * 25 * 100, "s4": 5 * 5 * 16, "rbf": 84 * 10}


def _conv_dense_macs_by_formula(layer) -> int:
    """kh x kw x (Cin / groups) x Cout x output positions; Dense: inputs x units x positions."""
    positions = math.prod(layer.output.shape[1:-1])
    if type(layer) is layers.Dense:
        return layer.input.shape[-1] * layer.units * positions
    kh, kw = layer.kernel_size
    return kh * kw * (layer.input.shape[-1] // layer.groups) * layer.filters * positions


# resnet1202 is left out for time (25 s to build its 1,202 layers); resnet110 runs the same code.
@pytest.mark.parametrize("name", sorted(WEIGHTED_LAYERS))
def test_params_equal_the_models_own_count(name):
    model = zoo.build(name) if name == "lenet5_1998" else zoo.build(name, width=0.25)  # LeNet-5 1998: fixed width
    df = compare.profile(model)
    total = compare.profile.totals(df)
    assert total["trainable"] + total["non_trainable"] == model.count_params()
    assert total["trainable"] == sum(int(w.numpy().size) for w in model.trainable_weights)
    # every row's MACs and FLOPs from the layer's own shapes by the formula (0 for every other layer)
    leaves = {l.name: l for l in _leaf_layers(model)}
    custom = LENET_1998_CUSTOM_MACS if name == "lenet5_1998" else {}
    for row in df.itertuples():
        layer = leaves[row.name]
        if row.name in custom:
            expected = custom[row.name]
        elif type(layer) in (layers.Conv2D, layers.Dense):
            expected = _conv_dense_macs_by_formula(layer)
        else:
            expected = 0
        assert (row.macs, row.flops) == (expected, 2 * expected), row.name
    assert total["weighted"] == WEIGHTED_LAYERS[name]


# -- TensorFlow's profiler ------------------------------------------------------------------------
def _leaf_layers(model):
    for layer in model.layers:
        yield from (_leaf_layers(layer) if isinstance(layer, keras.Model) else [layer])


def _grouped_macs_by_arithmetic(layer) -> int:
    c_in = layer.input.shape[-1]
    return arithmetic.conv_macs(layer.kernel_size, c_in, layer.filters, layer.output.shape[1:-1], layer.groups)


@pytest.mark.parametrize("name, overrides", [
    ("lenet5", {}),
    ("alexnet", dict(width=0.25)),                                          # two towers: grouped conv2, 4, 5
    ("googlenet", dict(input_shape=(96, 96, 3), width=0.25, aux_logits=True)),
    ("resnet20", {}),
    ("vgg11", dict(input_shape=(32, 32, 3), width=0.25)),
])
def test_conv_dense_macs_agree_with_tensorflows_profiler(name, overrides):
    """TensorFlow's profiler (float_ops of the frozen graph / 2) on every ungrouped conv and dense layer.

    Known trap (seen with TensorFlow 2.21): the profiler counts a grouped Conv2D (groups > 1) as 0 FLOPs, so grouped
    layers are checked against compare.arithmetic instead, and left out of the profiler comparison.
    """
    model = zoo.build(name, **overrides)
    df = compare.profile(model)
    tf_macs = tfprof.conv_dense_macs(model)
    assert tf_macs.get(None, 0) == 0  # every TensorFlow MAC op was matched to a layer
    grouped = {l.name: l for l in _leaf_layers(model) if getattr(l, "groups", 1) > 1}
    assert bool(grouped) == (name == "alexnet")
    ungrouped_mine = ungrouped_tf = 0
    for row in df[df["macs"] > 0].itertuples():
        if row.name in grouped:
            assert row.macs == _grouped_macs_by_arithmetic(grouped[row.name])
            assert tf_macs.get(row.name, 0) in (0, row.macs)  # 0: TensorFlow's grouped-conv gap
            continue
        if not row.weighted:
            continue
        assert tf_macs[row.name] == row.macs, row.name
        ungrouped_mine += row.macs
        ungrouped_tf += tf_macs[row.name]
    assert ungrouped_tf == ungrouped_mine
    # zoo's LRN sums squares over the channel window with one small MatMul, which TensorFlow
    # counts; that work is in the LRN row's "all ops", not in MACs (not a conv or dense layer)
    lrn = set(df.loc[df["type"] == "LocalResponseNormalization", "name"])
    assert set(tf_macs) - lrn == set(df.loc[df["weighted"] & (df["macs"] > 0), "name"]) - {
        n for n in grouped if tf_macs.get(n, 0) == 0}


# -- per-layer rules on small hand-made models ----------------------------------------------------
def _rows(df):
    return {r.name: r for r in df.itertuples()}


def test_counting_rules_for_each_layer_kind():
    x = keras.Input((8, 8, 4))
    y = layers.Conv2D(8, 3, padding="same", groups=2, name="gconv")(x)               # 8x8x8
    y = layers.DepthwiseConv2D(3, depth_multiplier=2, use_bias=False, name="dw")(y)  # 6x6x16
    y = layers.SeparableConv2D(6, 3, padding="same", activation="relu", name="sep")(y)  # 6x6x6
    y = layers.Conv2DTranspose(4, 2, strides=2, name="tr")(y)                         # 12x12x4
    y = layers.BatchNormalization(name="bn")(y)
    p = layers.MaxPooling2D(2, name="mp")(y)                                          # 6x6x4
    a = layers.Conv2D(4, 1, name="a")(p)
    s = layers.Add(name="add")([p, a])
    m = layers.Multiply(name="mul")([s, a])
    c = layers.Concatenate(name="cat")([s, m])                                        # 6x6x8
    d = layers.Dense(5, name="dense4d")(c)                                            # Dense on a map
    g = layers.GlobalAveragePooling2D(name="gap")(d)
    f = layers.Dropout(0.5, name="drop")(layers.Reshape((5,), name="reshape")(g))
    out = layers.Dense(3, activation="softmax", name="out")(f)
    model = keras.Model(x, out)
    df = compare.profile(model)
    r = _rows(df)
    expected_macs = {"gconv": 3 * 3 * 2 * 8 * 64, "dw": 3 * 3 * 8 * 2 * 36, "sep": (3 * 3 * 16 + 16 * 6) * 36,
                     "tr": 2 * 2 * 4 * 6 * 36, "a": 4 * 4 * 36, "dense4d": 8 * 5 * 36, "out": 5 * 3}
    expected_ops = {"gconv": 512, "dw": 0, "sep": 2 * 216, "tr": 576, "bn": 2 * 576, "mp": 4 * 144, "a": 144,
                    "add": 144, "mul": 144, "cat": 288, "dense4d": 180, "gap": 180, "reshape": 0, "drop": 0,
                    "out": 2 * 3}
    assert {n: r[n].macs for n in expected_macs} == expected_macs
    assert {n: r[n].all_ops for n in expected_ops} == expected_ops
    assert r["gconv"].macs == arithmetic.conv_macs((3, 3), 4, 8, (8, 8), groups=2)
    assert (r["bn"].trainable, r["bn"].non_trainable) == (8, 8)
    assert r["sep"].output_shape == (6, 6, 6) and r["sep"].act_elems == 216 and r["sep"].act_bytes == 864
    assert not df["uncounted"].any()
    assert {n: r[n].flops for n in df["name"]} == {
        "gconv": 18_432, "dw": 10_368, "sep": 17_280, "tr": 6_912, "bn": 0, "mp": 0, "a": 1_152, "add": 0,
        "mul": 0, "cat": 0, "dense4d": 2_880, "gap": 0, "reshape": 0, "drop": 0, "out": 30}
    total = compare.profile.totals(df)
    assert total["trainable"] + total["non_trainable"] == model.count_params()
    assert total["macs"] == sum(expected_macs.values())
    assert list(df["name"]) == ["gconv", "dw", "sep", "tr", "bn", "mp", "a", "add", "mul", "cat", "dense4d",
                                "gap", "reshape", "drop", "out"]


def test_conv1d_conv3d_and_1d_pooling():
    x = keras.Input((10, 2))
    y = layers.Conv1D(4, 3, name="c1d")(x)                       # 8x4
    y = layers.AveragePooling1D(2, name="p1d")(y)                # 4x4
    model1 = keras.Model(x, layers.GlobalMaxPooling1D(name="g1d")(y))
    r = _rows(compare.profile(model1))
    assert (r["c1d"].macs, r["p1d"].all_ops, r["g1d"].all_ops) == (3 * 2 * 4 * 8, 16 * 2, 16)
    assert (r["c1d"].rf, r["p1d"].rf, r["p1d"].jump) == (3, 4, 2)
    v = keras.Input((5, 5, 5, 1))
    model3 = keras.Model(v, layers.Conv3D(2, 3, strides=2, name="c3d")(v))
    r = _rows(compare.profile(model3))
    assert r["c3d"].macs == 27 * 1 * 2 * 8 and r["c3d"].output_shape == (2, 2, 2, 2)
    assert (r["c3d"].rf, r["c3d"].jump) == (3, 2)


def test_custom_layers_use_the_counting_protocol():
    # LeNet-5 (1998): trainable subsampling (macs + all_ops), partial C3 (macs), RBF output (macs)
    r = _rows(compare.profile(zoo.build("lenet5_1998")))
    assert r["s2"].macs == 14 * 14 * 6 and r["s2"].all_ops == 14 * 14 * 6 * 5
    assert r["c3"].macs == 60 * 25 * 100          # only the 60 connected kernels of the table
    assert r["rbf"].macs == 84 * 10 and r["rbf"].non_trainable == 840
    assert r["c3"].weighted and r["rbf"].weighted and not r["s2"].weighted
    # LRN counts through its all_ops: (n + 4) ops per element
    x = keras.Input((4, 4, 8))
    model = keras.Model(x, zoo.layers.LocalResponseNormalization(name="lrn")(x))
    row = _rows(compare.profile(model))["lrn"]
    assert (row.macs, row.all_ops, row.uncounted) == (0, 128 * 9, False)


class _Unknown(layers.Layer):
    def call(self, x):
        return x * 2.0


class _Broken(layers.Layer):
    def call(self, x):
        return x

    def macs(self, input_shape, output_shape):
        raise RuntimeError("no")


def test_unknown_layers_count_zero_and_are_flagged(capsys):
    x = keras.Input((6,))
    y = _Unknown(name="mystery")(layers.Dense(4, name="d")(x))
    y = _Broken(name="broken")(y)
    y = layers.Lambda(lambda t: t + 1.0, name="lam")(y)
    df = compare.profile(keras.Model(x, y))
    r = _rows(df)
    assert [n for n in df["name"] if r[n].uncounted] == ["mystery", "broken", "lam"]
    assert r["mystery"].macs == 0 and r["d"].macs == 24
    assert "3 uncounted layer(s): Lambda, _Broken, _Unknown" in compare.profile.summary(df)
    assert capsys.readouterr().out == ""  # library code never prints


def test_nested_and_shared_layers_are_counted_once():
    inner = keras.Sequential([keras.Input((8,)), layers.Dense(8, name="inner_dense")], name="inner")
    shared = layers.Dense(8, name="shared")
    x = keras.Input((8,))
    h = inner(inner(x))                     # the nested model is called twice
    out = layers.Add(name="add")([shared(h), shared(x)])
    model = keras.Model(x, out)
    df = compare.profile(model)
    r = _rows(df)
    assert list(df["name"]) == ["inner_dense", "shared", "add"]       # expanded, no row for "inner"
    assert (r["inner_dense"].trainable, r["inner_dense"].macs) == (72, 2 * 64)
    assert (r["shared"].trainable, r["shared"].macs) == (72, 2 * 64)
    assert compare.profile.totals(df)["trainable"] == model.count_params() == 144


def test_multi_output_rows_name_their_branch():
    x = keras.Input((4, 4, 3))
    trunk = layers.Conv2D(4, 3, name="trunk")(x)
    main = layers.Dense(2, name="main")(layers.Flatten(name="flat")(trunk))
    aux = layers.Dense(2, name="aux")(layers.GlobalAveragePooling2D(name="gap")(trunk))
    df = compare.profile(keras.Model(x, [main, aux]))
    assert dict(zip(df["name"], df["branch"])) == {"trunk": "all", "flat": "main", "main": "main",
                                                   "gap": "aux", "aux": "aux"}
    assert df.attrs["outputs"] == ("main", "aux")


def test_activation_bytes_follow_the_dtype():
    x = keras.Input((4, 4, 3))
    model = keras.Model(x, layers.Conv2D(2, 1, dtype="float16", name="half")(layers.Conv2D(2, 1, name="full")(x)))
    r = _rows(compare.profile(model))
    assert (r["full"].act_elems, r["full"].act_bytes, r["half"].act_bytes) == (32, 128, 64)


def test_receptive_field_of_vgg16_and_alexnet():
    r = _rows(compare.profile(zoo.build("vgg16", input_shape=(32, 32, 3), width=0.0625)))
    assert (r["block1_conv2"].rf, r["block5_conv3"].rf, r["block5_conv3"].jump) == (5, 196, 16)
    assert (r["block5_pool"].rf, r["block5_pool"].jump) == (212, 32)
    assert pd.isna(r["fc1"].rf) and pd.isna(r["fc1"].jump)  # no longer a spatial map
    r = _rows(compare.profile(zoo.build("alexnet", width=0.0625)))
    assert (r["pool5"].rf, r["pool5"].jump) == (195, 32)


# -- input shapes ---------------------------------------------------------------------------------
def test_input_shape_rebuilds_the_model():
    model = zoo.build("lenet5")
    df = compare.profile(model, input_shape=(64, 64, 1))
    # c1 5*5*6*60*60 + c3 5*5*6*16*26*26 + c5 2704*120 + f6 120*84 + out 84*10
    assert compare.profile.totals(df)["macs"] == 540_000 + 1_622_400 + 324_480 + 10_080 + 840 == 2_497_800
    assert df.attrs["input_shape"] == (64, 64, 1)
    assert compare.profile.totals(compare.profile(model))["macs"] == 416_520  # the original is untouched
    for bad in [(64, -1, 1), (), "64,64,1", (64.5, 64, 1)]:
        with pytest.raises(ValueError, match="input_shape must be a tuple of positive integers"):
            compare.profile(model, input_shape=bad)


def test_unknown_input_dims_need_input_shape():
    x = keras.Input((None, None, 3))
    model = keras.Model(x, layers.Conv2D(4, 3, name="c")(x))
    with pytest.raises(ValueError, match=r"unknown dimensions; pass input_shape"):
        compare.profile(model)
    assert _rows(compare.profile(model, input_shape=(10, 10, 3)))["c"].macs == 27 * 4 * 64


def test_sequential_without_input_and_nested_input_limits():
    seq = keras.Sequential([layers.Dense(4, name="d")])
    with pytest.raises(ValueError, match="has no input yet; pass input_shape"):
        compare.profile(seq)
    assert _rows(compare.profile(seq, input_shape=(8,)))["d"].macs == 32
    inner_in = keras.Input((8, 8, 3))
    inner = keras.Model(inner_in, layers.Conv2D(2, 3, name="ic")(inner_in), name="inner")
    x = keras.Input((8, 8, 3))
    outer = keras.Model(x, inner(x))
    assert _rows(compare.profile(outer))["ic"].macs == 27 * 2 * 36
    with pytest.raises(ValueError, match="nested model|cannot rebuild"):
        compare.profile(outer, input_shape=(16, 16, 3))


def test_multi_input_model_and_callable_module():
    a, b = keras.Input((4,)), keras.Input((4,))
    model = keras.Model([a, b], layers.Dense(2, name="d")(layers.Concatenate(name="cat")([a, b])))
    assert _rows(compare.profile(model, input_shape=[(6,), (6,)]))["d"].macs == 24
    import compare.profile as module

    # the module itself is the function: calling it profiles (Dense 10 -> 2: 20 MACs)
    df = module(model, input_shape=[(5,), (5,)])
    assert _rows(df)["d"].macs == 20 and module.totals(df)["macs"] == 20
    assert compare.profile is module and compare.totals is module.totals


class _Subclassed(keras.Model):
    def __init__(self):
        super().__init__(name="sub")
        self.dense = layers.Dense(3)

    def call(self, x):
        return self.dense(x)


def test_subclassed_model_is_one_flagged_row():
    model = _Subclassed()
    model(keras.ops.zeros((1, 4)))
    df = compare.profile(model)
    assert len(df) == 1 and df["uncounted"].all() and df["trainable"].iloc[0] == 15
    with pytest.raises(ValueError, match="functional or Sequential"):
        compare.profile(model, input_shape=(8,))
