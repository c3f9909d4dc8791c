"""The local Keras dataset cache: ``mnist``, ``fashion_mnist``, ``cifar10`` and ``cifar100`` read
from ``~/.keras/datasets`` (or ``$KERAS_HOME/datasets``) without importing Keras.

Nothing here touches the network unless the caller passes ``download=True``, which lets
``keras.datasets`` fetch a dataset that is not cached. :func:`check_cached` answers "is it there?"
from file names alone (cheap: for argument checks before any work); :func:`load_keras` reads it.
Readers return ``(x_train, y_train, x_test, y_test, class_names)`` (see :mod:`compare.datasets_io`).
"""

from __future__ import annotations

import gzip
import os
import pickle
import tarfile
from pathlib import Path

import numpy as np

__all__ = ["KERAS_DATASETS", "DatasetUnavailableError", "keras_cache_dirs", "find_cached", "check_cached",
           "load_keras", "fetch_keras", "FASHION_NAMES", "CIFAR10_NAMES"]

Arrays = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[str]]

KERAS_DATASETS = ("mnist", "fashion_mnist", "cifar10", "cifar100")
OFFLINE_CHOICES = "mnist5k, digits, shapes (or folder:PATH, npz:PATH)"
#: How a library caller allows a download (a command line names its own flag instead).
DOWNLOAD_HINT = "pass download=True"


class DatasetUnavailableError(ValueError):
    """A Keras dataset is not in the local cache and no download was requested (or it failed)."""


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


# -- where a cached copy is ------------------------------------------------------------------------

def _candidates(name: str, d: Path) -> list[tuple[str, Path]]:
    """(kind, path) of the copies of ``name`` that cache folder ``d`` may hold, preferred first."""
    if name == "mnist":
        return [("npz", d / "mnist.npz")]
    if name == "fashion_mnist":
        return [("idx", d / "fashion-mnist")]
    inner, target, original, _ = _CIFAR[name]
    return ([("folder", folder) for folder in (d / target / inner, d / inner)]  # keras 3 and tf.keras 2 dirs
            + [("tar", archive) for archive in (d / f"{target}_archive", d / original, d / f"{inner}.tar.gz")])


def _present(name: str, kind: str, path: Path) -> bool:
    if kind == "idx":
        return all((path / f).is_file() for f in _FASHION_FILES)
    if kind == "folder":
        return (path / ("test_batch" if name == "cifar10" else "test")).is_file()
    return path.is_file()


def find_cached(name: str) -> tuple[str, Path] | None:
    """``(kind, path)`` of the first cached copy of Keras dataset ``name``, or None (file names only)."""
    for d in keras_cache_dirs():
        for kind, path in _candidates(name, d):
            if _present(name, kind, path):
                return kind, path
    return None


def check_cached(name: str, *, download: bool = False, hint: str = DOWNLOAD_HINT) -> None:
    """Raise DatasetUnavailableError when ``name`` is not in the local Keras cache and ``download``
    is False; the one-line message names the file to place, the folder to place it in, and
    ``hint`` (how to allow the download instead). Cheap: looks at file names only."""
    if download or find_cached(name) is not None:
        return
    where = keras_cache_dirs()[0]
    if name == "mnist":
        place = f"mnist.npz ({_KERAS_URL}mnist.npz)"
    elif name == "fashion_mnist":
        place, where = f"{', '.join(_FASHION_FILES)} ({_KERAS_URL})", where / "fashion-mnist"
    else:
        _, _, original, url = _CIFAR[name]
        place = f"{original} ({url})"
    raise DatasetUnavailableError(f"dataset {name!r} is not in the local Keras cache: place {place} in {where}/ "
                                  f"or {hint}; offline alternatives: {OFFLINE_CHOICES}")


# -- reading ---------------------------------------------------------------------------------------

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
    found = find_cached(name)
    if found is None:
        return None
    kind, path = found
    if kind == "npz":
        return _read_mnist_npz(path)
    if kind == "idx":
        return _read_idx(path)
    if kind == "folder":
        return _read_cifar(name, lambda m: (path / m).read_bytes())
    inner = _CIFAR[name][0]
    with tarfile.open(path, "r:*") as tar:
        return _read_cifar(name, lambda m: tar.extractfile(f"{inner}/{m}").read())


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
    check_cached(name, download=download)
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


def fetch_keras(name: str) -> None:
    """Download Keras dataset ``name`` into the local cache (keras.datasets) unless it is there."""
    if find_cached(name) is None:
        load_keras(name, download=True)
