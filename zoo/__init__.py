"""zoo: the classic CNN architectures, each built by one call and faithful to its paper.

    import zoo
    model = zoo.vgg16()
    model = zoo.build("resnet56", input_shape=(32, 32, 3), classes=10)
    zoo.list_models("vgg*", exclude="*_bn")
    zoo.card("alexnet")
    model = zoo.resnet50(weights="imagenet")          # keras.applications' published weights
    probs = model.predict(zoo.load_images(["cat.jpg"], "resnet50"))
    zoo.decode_predictions(probs, top=5)

Importing ``zoo`` is cheap: the cards and the registry need neither Keras nor TensorFlow, and a
builder imports Keras on first use. Whenever Keras is imported in a process that imported zoo
(before or after), zoo's custom layers and functions are registered with Keras' serialization,
so a saved zoo model loads with ``keras.saving.load_model(path)`` (``safe_mode`` on), and Python's
recursion limit is raised to what Keras' recursive graph walk needs for the deepest zoo model.
"""

from __future__ import annotations

import importlib

from common.imports import on_import

from .cards import CARDS, Card, Training
from .registry import UnknownModelError, build, builder, card, list_models

__all__ = ["Card", "Training", "UnknownModelError", "build", "builder", "card", "list_models",
           "depth", "is_weighted", "to_fully_convolutional", "scale", "load_weights", "cifar_resnet",
           "train_perceptron", "preprocess_input", "decode_predictions", "load_images", "layers", *CARDS]

_LAZY = {
    "depth": "zoo.graph",
    "is_weighted": "zoo.graph",
    "to_fully_convolutional": "zoo.convert",
    "scale": "zoo.base",
    "load_weights": "zoo.base",
    "cifar_resnet": "zoo.families.resnet",
    "train_perceptron": "zoo.families.mlp",
    "preprocess_input": "zoo.imagenet",
    "decode_predictions": "zoo.imagenet",
    "load_images": "zoo.imagenet",
}


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    if name == "layers":
        return importlib.import_module("zoo.layers")
    if name in CARDS:
        return builder(name)
    raise AttributeError(f"module 'zoo' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))


# -- Keras integration, on whichever comes second: `import zoo` or `import keras` -------------------

def _keras_ready(keras_module=None) -> None:
    """Register zoo's custom objects with Keras and make room for deep graphs (idempotent)."""
    from .graph import ensure_recursion_limit

    importlib.import_module("zoo.layers")  # its decorators register every custom layer and function
    ensure_recursion_limit()


on_import("keras", after=_keras_ready)
