"""Helpers of the data tests: builders of test files for tests/test_data_files.py (npz files, PNG
folders, a fake Keras cache) and the stratified-split rule restated for both data test modules."""

from __future__ import annotations

import io
import pickle
import tarfile
from pathlib import Path

import numpy as np


def largest_remainder(counts, n_take):
    """Independent restatement of the documented rule: floor of each quota, leftovers to the
    largest fractional parts, ties to the lower class."""
    quotas = [c * n_take / sum(counts) for c in counts]
    out = [int(q) for q in quotas]
    order = sorted(range(len(counts)), key=lambda i: (-(quotas[i] - out[i]), i))
    for i in order[: n_take - sum(out)]:
        out[i] += 1
    return out


def write_npz(path: Path, **arrays) -> Path:
    np.savez(path, **arrays)
    return path


def good_arrays(n_train: int = 20, n_test: int = 10, size: int = 6, seed: int = 0) -> dict:
    """Grey (N,H,W) uint8 images and int labels 0..2."""
    rng = np.random.default_rng(seed)
    return {
        "x_train": rng.integers(0, 256, (n_train, size, size), dtype=np.uint8),
        "y_train": np.arange(n_train) % 3,
        "x_test": rng.integers(0, 256, (n_test, size, size), dtype=np.uint8),
        "y_test": np.arange(n_test) % 3,
    }


def write_png_folder(root: Path, classes: dict[str, int], size=(12, 10), mode="RGB", odd: int = 0) -> Path:
    """``classes`` maps class name -> number of PNGs; ``odd`` extra images of size 20x20 go to the
    first class (they are resized to the most common size)."""
    from PIL import Image

    rng = np.random.default_rng(1)
    channels = 3 if mode == "RGB" else 1
    for c, (name, count) in enumerate(classes.items()):
        folder = root / name
        folder.mkdir(parents=True)
        for i in range(count + (odd if c == 0 else 0)):
            w, h = size if i < count else (20, 20)
            arr = rng.integers(0, 256, (h, w, channels), dtype=np.uint8)
            Image.fromarray(arr[..., 0] if channels == 1 else arr, mode).save(folder / f"img{i:03d}.png")
        (folder / "notes.txt").write_text("not an image")
    return root


def cifar_tar(path: Path, n_per_batch: int = 4) -> dict:
    """A tiny CIFAR-10-format archive (cifar-10-python.tar.gz layout); returns the arrays written."""
    rng = np.random.default_rng(2)
    written = {}
    with tarfile.open(path, "w:gz") as tar:
        def add(name: str, obj) -> None:
            blob = pickle.dumps(obj)
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))

        for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
            data = rng.integers(0, 256, (n_per_batch, 3072), dtype=np.uint8)
            labels = list(rng.integers(0, 10, n_per_batch))
            add(name, {b"data": data, b"labels": [int(v) for v in labels]})
            written[name] = (data, labels)
    return written
