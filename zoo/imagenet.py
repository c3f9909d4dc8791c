"""ImageNet inputs and outputs for the pretrained models: preprocessing, image loading, class names.

- ``preprocess_input(x, model, source)``: what the weights of ``source`` expect (``"caffe"``: RGB ->
  BGR minus the mean pixel, keras.applications' VGG and ResNet; ``"torch"``: [0, 1] then the
  per-channel mean / std, torchvision's). ``x`` is RGB in [0, 255], channels last.
- ``load_images(paths, model, source)``: read, resize the shorter side to 256 and take the centre
  224 x 224 crop (the single-crop protocol), then preprocess.
- ``decode_predictions(p, top=5)``: ``[(wnid, class name, score), ...]`` per image, from the 1,000
  ILSVRC-2012 classes shipped in ``zoo/data/imagenet_classes.tsv`` (no download).
"""

from __future__ import annotations

import numbers
import os
from functools import lru_cache

import numpy as np

from .weights.sources import PREPROCESSING, WeightSource

__all__ = ["preprocess_input", "decode_predictions", "class_names", "wnids", "load_images", "resolve_source",
           "NUM_CLASSES"]

NUM_CLASSES = 1000
CAFFE_MEAN_BGR = np.array([103.939, 116.779, 123.68], dtype=np.float32)
TORCH_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
TORCH_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)
_CLASSES = os.path.join(os.path.dirname(__file__), "data", "imagenet_classes.tsv")


def resolve_source(model: str | None = None, source: str | WeightSource | None = None) -> str:
    """The preprocessing mode (``"caffe"`` or ``"torch"``) for ``model``'s weights from ``source``
    (``"imagenet"``/None, a source name, a ``WeightSource`` or a mode). ValueError naming what is
    accepted; an unknown model raises :class:`zoo.UnknownModelError` with close names."""
    if isinstance(source, WeightSource):
        return source.preprocessing
    if source is not None and not isinstance(source, str):
        raise ValueError(f"preprocessing: source must be a string, a WeightSource or None, got {source!r}")
    if source is not None and source.lower() in PREPROCESSING:
        return source.lower()
    modes = ", ".join(repr(m) for m in PREPROCESSING)
    if model is None:
        raise ValueError(f"preprocessing: give a model name or a mode; accepted modes: {modes}")
    from .registry import card
    from .weights import SOURCES, sources_for

    name = card(model).name
    sources = sources_for(name)
    if not sources:
        raise ValueError(f"preprocessing: {name} has no published weights to take it from; accepted: a mode "
                         f"({modes}), or a model with weights ({', '.join(SOURCES)})")
    if source is None or source.lower() == "imagenet":  # a string or None here (checked above)
        return sources[0].preprocessing
    for s in sources:
        if s.source == source.lower():
            return s.preprocessing
    raise ValueError(f"preprocessing: source {source!r} is not one of {name}'s; accepted: 'imagenet', "
                     + ", ".join(repr(s.source) for s in sources) + f", None or a mode ({modes})")


def preprocess_input(x, model: str | None = None, source: str | WeightSource | None = None) -> np.ndarray:
    """``x`` (RGB, [0, 255], channels last, one image or a batch) as ``model``'s ``source`` weights expect.

    ``source``: ``"imagenet"`` / None (the model's default weights), a source name (``"keras"``,
    ``"torchvision"``), a ``WeightSource``, or directly a mode (``"caffe"``, ``"torch"``).
    Returns a new float32 array; ``x`` is not modified.
    """
    mode = resolve_source(model, source)
    x = np.asarray(x, dtype=np.float32)
    if x.ndim not in (3, 4) or x.shape[-1] != 3:
        raise ValueError(f"preprocess_input: x must be RGB images, channels last, shape (H, W, 3) or "
                         f"(N, H, W, 3); got {x.shape}")
    if mode == "caffe":
        return x[..., ::-1] - CAFFE_MEAN_BGR
    return (x / np.float32(255.0) - TORCH_MEAN) / TORCH_STD


@lru_cache(maxsize=1)
def _classes() -> tuple[tuple[str, ...], tuple[str, ...]]:
    ids, names = [], []
    with open(_CLASSES, encoding="utf8") as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            index, wnid, name = line.rstrip("\n").split("\t")
            if int(index) != len(ids):
                raise RuntimeError(f"{_CLASSES}: class {index} out of order")
            ids.append(wnid)
            names.append(name)
    return tuple(ids), tuple(names)


def class_names() -> tuple[str, ...]:
    """The 1,000 ILSVRC-2012 class names in the models' output order."""
    return _classes()[1]


def wnids() -> tuple[str, ...]:
    """The WordNet ids of the 1,000 classes in output order (sorted, as the ImageNet folders are)."""
    return _classes()[0]


def decode_predictions(preds, top: int = 5) -> list[list[tuple[str, str, float]]]:
    """The ``top`` classes of each row of ``preds`` (N, 1000): ``(wnid, name, score)``, best first."""
    preds = np.asarray(preds)
    if preds.ndim != 2 or preds.shape[1] != NUM_CLASSES:
        raise ValueError(f"decode_predictions expects a batch of ImageNet scores, shape (N, {NUM_CLASSES}); "
                         f"got {preds.shape}")
    if isinstance(top, bool) or not isinstance(top, numbers.Integral) or not 1 <= top <= NUM_CLASSES:
        raise ValueError(f"decode_predictions: top must be an integer from 1 to {NUM_CLASSES}, got {top!r}")
    top = int(top)
    ids, names = _classes()
    out = []
    for row in preds:
        best = np.argsort(-row, kind="stable")[:top]
        out.append([(ids[i], names[i], float(row[i])) for i in best])
    return out


def load_images(paths, model: str, source: str | WeightSource | None = None, size: int = 224) -> np.ndarray:
    """Read images (a path or a list of them) into a preprocessed batch (N, size, size, 3) as the
    single-crop protocol of every source on the cards says: the shorter side to ``size * 256 / 224``
    (bilinear), the centre ``size`` x ``size`` crop, then the source's preprocessing."""
    from PIL import Image

    resolve_source(model, source)  # a bad model or source fails before any image is read
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    paths = list(paths)
    if not paths:
        raise ValueError("load_images: no image paths given; accepted: a path or a list of paths")
    batch = []
    for path in paths:
        try:
            with Image.open(path) as im:
                im = im.convert("RGB")
                short = round(size * 256 / 224)
                w, h = im.size
                scale = short / min(w, h)
                im = im.resize((max(short, round(w * scale)), max(short, round(h * scale))), Image.BILINEAR)
                w, h = im.size
                left, top = (w - size) // 2, (h - size) // 2
                im = im.crop((left, top, left + size, top + size))
                batch.append(np.asarray(im, dtype=np.float32))
        except OSError as exc:
            raise ValueError(f"cannot read image {os.fspath(path)!r}: {' '.join(str(exc).split())}") from None
    return preprocess_input(np.stack(batch), model, source)
