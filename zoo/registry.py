"""Model registry: every builder registers here with its card.

A card is the single source of truth for a model's facts: the CLI listing, the reports
and the tests read it; no reference figure is typed twice.
"""

from __future__ import annotations

import difflib
import fnmatch
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from typing import Callable

__all__ = ["Card", "register", "list_models", "build", "card", "builder", "UnknownModelError"]


@dataclass(frozen=True)
class Card:
    """Facts about one registered model.

    ``params`` and ``macs`` are the reference figures at ``input_shape`` with ``classes``
    outputs (trainable parameters; multiply-accumulates of conv and dense layers): the papers'
    and torchvision's published numbers, or None where none is published. ``non_trainable``
    counts BatchNorm moving statistics (and other fixed weights). ``ref_depth`` is the depth the
    paper states; ``depth`` is always measured on the built graph (see ``zoo.depth``).
    """

    name: str
    family: str
    variant: str
    paper: str
    year: int
    input_shape: tuple[int, ...]
    min_size: int
    classes: int = 1000
    params: int | None = None
    non_trainable: int | None = None
    macs: int | None = None
    ref_depth: int | None = None
    top1_err: float | None = None
    top5_err: float | None = None
    err_dataset: str | None = None
    description: str = ""
    tags: tuple[str, ...] = field(default_factory=tuple)

    @property
    def depth(self) -> int:
        """Weighted layers on the longest input-to-output path, measured on the built graph
        (a cheap build: depth does not depend on width). Cached per model."""
        return _graph_depth(self.name)

    def as_dict(self, depth: bool = True) -> dict:
        d = asdict(self)
        if depth:
            d["depth"] = self.depth
        return d


class UnknownModelError(KeyError, ValueError):
    """Raised for a model name that is not registered; the message suggests close names."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


_REGISTRY: dict[str, tuple[Card, Callable]] = {}


def register(card: Card) -> Callable[[Callable], Callable]:
    """Decorator: register ``fn`` as the builder for ``card.name``."""

    def deco(fn: Callable) -> Callable:
        if card.name in _REGISTRY:
            raise ValueError(f"model {card.name!r} is already registered")
        _REGISTRY[card.name] = (card, fn)
        fn.card = card
        return fn

    return deco


# Family modules, imported on first use; importing one registers its builders.
FAMILIES = ("lenet", "mlp", "alphago", "alexnet", "zfnet", "vgg", "googlenet", "resnet")


_loaded = False


def _load_all() -> None:
    global _loaded
    if _loaded:
        return
    import importlib
    import sys

    for family in FAMILIES:
        importlib.import_module(f"zoo.{family}")
    # Importing zoo/alexnet.py set the package attribute ``zoo.alexnet`` to the module; the
    # builder of the same name takes its place, so ``zoo.alexnet()`` builds AlexNet.
    package = sys.modules["zoo"]
    for name, (_, fn) in _REGISTRY.items():
        setattr(package, name, fn)
    _loaded = True


def list_models(pattern: str = "*") -> list[str]:
    """Registered model names matching an fnmatch ``pattern`` ("resnet*", "vgg1?"), sorted."""
    _load_all()
    return sorted(n for n in _REGISTRY if fnmatch.fnmatchcase(n, pattern.lower()))


def _lookup(name: str) -> tuple[Card, Callable]:
    _load_all()
    if not isinstance(name, str) or name not in _REGISTRY:
        close = difflib.get_close_matches(str(name).lower(), list(_REGISTRY), n=3, cutoff=0.5)
        hint = f"; did you mean {', '.join(close)}?" if close else "; see zoo.list_models()"
        raise UnknownModelError(f"unknown model {name!r}{hint}")
    return _REGISTRY[name]


@lru_cache(maxsize=None)
def _graph_depth(name: str) -> int:
    """Depth of ``name`` measured on a cheap build (depth does not depend on width)."""
    from .graph import depth

    fn = _lookup(name)[1]
    try:
        model = fn(width=1e-3)
    except ValueError:  # a fixed-width model (lenet5_1998)
        model = fn()
    return depth(model)


def card(name: str) -> Card:
    """The card of a registered model (``card.depth`` is measured on the built graph on first use)."""
    return _lookup(name)[0]


def builder(name: str) -> Callable:
    """The builder function of a registered model."""
    return _lookup(name)[1]


def build(name: str, **overrides):
    """Build a registered model: ``build("resnet56", input_shape=(32, 32, 3), classes=10)``."""
    return builder(name)(**overrides)
