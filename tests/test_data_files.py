"""compare.data on datasets read from files: the Keras cache contract (never a download unless
asked), user .npz files and image folders, with their one-line errors."""

from __future__ import annotations

import numpy as np
import pytest

from compare.data import DatasetUnavailableError, load_dataset
from _data_helpers import cifar_tar, good_arrays, largest_remainder, write_npz, write_png_folder


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
    "empty_test": (lambda a: {**a, "x_test": a["x_test"][:0], "y_test": a["y_test"][:0]},
                   "x_test is empty; accepted: at least one image in each split$"),
    "one_class": (lambda a: {**a, "y_train": np.full_like(a["y_train"], 2)},
                  r"y_train holds one class \(2\); accepted: labels of two or more classes$"),
    "test_class_not_in_train": (lambda a: {**a, "y_test": np.where(a["y_test"] == 0, 5, a["y_test"])},
                                r"y_test holds 1 class\(es\) that y_train lacks \(5\); accepted: test labels from "
                                r"the classes of y_train$"),
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
    one = write_png_folder(tmp_path / "one", {"cat": 10})
    with pytest.raises(ValueError) as err:
        load_dataset(f"folder:{one}")
    assert str(err.value) == f"{one} has one class sub-folder (cat); accepted: two or more, one per class"
    two = write_png_folder(tmp_path / "two", {"cat": 1, "dog": 1})  # 20% of 2 images rounds to 0
    with pytest.raises(ValueError) as err:
        load_dataset(f"folder:{two}")
    assert str(err.value) == f"{two} holds 2 images, and the 20% held out for test rounds to none; accepted: 3 or more images"
    assert len(load_dataset(f"folder:{write_png_folder(tmp_path / 'three', {'cat': 2, 'dog': 1})}").y_test) == 1


def test_dataset_names_are_stored_in_one_spelling(tmp_path):
    """``--dataset Digits`` plans (and resumes) the same trial as ``digits``; a path keeps its case."""
    from compare.data import canonical_name
    from compare.runner import plan

    assert [canonical_name(n) for n in ("Digits", " fashion-MNIST ", "FOLDER:/Data/Pets", "npz:/A.npz")] == [
        "digits", "fashion_mnist", "folder:/Data/Pets", "npz:/A.npz"]
    assert load_dataset("DIGITS").name == "digits"
    assert plan(["lenet5"], dataset="DIGITS", limit=50)[0]["dataset"] == "digits"
    with pytest.raises(ValueError, match="^seed -1 is out of range; accepted: integers from 0 to 4294967295$"):
        plan(["lenet5"], seeds=[-1], dataset="digits")
    with pytest.raises(ValueError, match="^seed 4294967296 is out of range"):
        plan(["lenet5"], seeds=[2 ** 32], dataset="digits")
