"""Model registry: names, cards and builders. Imports neither Keras nor TensorFlow.

The cards (``zoo.cards``) are data; a builder is the function of the same name in the card's
family module (``zoo.families.vgg.vgg16``), imported on first use.
"""

from __future__ import annotations

import difflib
import fnmatch
import importlib
import re
from typing import Callable, Iterable

from .cards import CARDS, Card

__all__ = ["list_models", "build", "card", "builder", "UnknownModelError"]


class UnknownModelError(KeyError, ValueError):
    """Raised for a model name that is not registered; the message suggests close names."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


def _natural_key(name: str) -> list:
    """``resnet8 < resnet14 < resnet110 < resnet1202``: digit runs compare as numbers."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def _patterns(value: str | Iterable[str] | None) -> list[str]:
    if value is None:
        return []
    items = [value] if isinstance(value, str) else list(value)
    return [p.strip().lower() for item in items for p in str(item).split(",") if p.strip()]


def list_models(pattern: str | Iterable[str] = "*", exclude: str | Iterable[str] | None = None,
                family: str | Iterable[str] | None = None, tag: str | Iterable[str] | None = None,
                pretrained: bool = False) -> list[str]:
    """Registered model names, sorted naturally (resnet8, resnet14, ..., resnet1202).

    ``pattern``: one fnmatch pattern or several (a list, or comma-separated: ``"vgg1?,resnet*"``);
    a name matching any is kept. ``exclude``: patterns to drop (``exclude="*_bn"``).
    ``family``: keep these card families (``"resnet_cifar"``); ``tag``: keep models carrying every
    given tag (``tag="imagenet"``; see ``card(name).tags``); ``pretrained``: only models with
    published weights (``card(name).weights``). As timm's ``list_models``.
    """
    include, drop = _patterns(pattern) or ["*"], _patterns(exclude)
    families, tags = set(_patterns(family)), set(_patterns(tag))
    for what, given, known in (("family", families, {c.family for c in CARDS.values()}),
                               ("tag", tags, {t for c in CARDS.values() for t in c.tags})):
        unknown = given - known
        if unknown:
            raise ValueError(f"unknown {what} {sorted(unknown)[0]!r}; accepted: {', '.join(sorted(known))}")
    names = [
        n for n, c in CARDS.items()
        if any(fnmatch.fnmatchcase(n, p) for p in include)
        and not any(fnmatch.fnmatchcase(n, p) for p in drop)
        and (not families or c.family in families)
        and tags <= set(c.tags)
        and (not pretrained or c.weights)
    ]
    return sorted(names, key=_natural_key)


def card(name: str) -> Card:
    """The card of a registered model; ``UnknownModelError`` (a ValueError) suggests close names."""
    if isinstance(name, str) and name in CARDS:
        return CARDS[name]
    text = str(name).lower()
    family = [n for n in CARDS if n.startswith(text)] if text else []
    if len(family) > 1:
        hint = (f"; {len(family)} models start with it: see zoo.list_models({text + '*'!r}) "
                f"or python -m zoo list '{text}*'")
    else:
        close = difflib.get_close_matches(text, list(CARDS), n=3, cutoff=0.5)
        hint = f"; did you mean {', '.join(close)}?" if close else "; see zoo.list_models() or python -m zoo list"
    raise UnknownModelError(f"unknown model {name!r}{hint}")


def builder(name: str) -> Callable:
    """The builder function of a registered model (imports its family module, hence Keras)."""
    c = card(name)
    return getattr(importlib.import_module(c.module), c.name)


def build(model: str, /, **overrides):
    """Build a registered model: ``build("resnet56", input_shape=(32, 32, 3), classes=10)``; every
    builder keyword passes through, ``name=`` too (the Keras model's name)."""
    return builder(model)(**overrides)
