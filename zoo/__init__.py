"""zoo: the classic CNN architectures, each built by one call and faithful to its paper.

    import zoo
    model = zoo.vgg16()
    model = zoo.build("resnet56", input_shape=(32, 32, 3), classes=10)
    zoo.list_models("vgg*")
    zoo.card("alexnet")

Importing ``zoo`` is cheap: Keras is imported on first use of a builder, so command-line
entry points can quiet TensorFlow first.
"""

from __future__ import annotations

import importlib

from .registry import Card, UnknownModelError, build, builder, card, list_models  # noqa: F401

_LAZY = {
    "depth": ("zoo.graph", "depth"),
    "is_weighted": ("zoo.graph", "is_weighted"),
    "to_fully_convolutional": ("zoo.convert", "to_fully_convolutional"),
    "scale": ("zoo.base", "scale"),
    "load_weights": ("zoo.base", "load_weights"),
}


def __getattr__(name: str):
    if name in _LAZY:
        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    if name == "layers":
        return importlib.import_module("zoo.layers")
    if not name.startswith("_"):
        from .registry import _REGISTRY, _load_all

        _load_all()
        if name in _REGISTRY:
            return _REGISTRY[name][1]
    raise AttributeError(f"module 'zoo' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY) | set(list_models()))
