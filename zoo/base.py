"""The one signature every builder shares, and the helpers that implement it.

Modelled on keras.applications: ``include_top, input_tensor, input_shape, pooling, classes,
classifier_activation, weights, name``, plus ``width``, a channel multiplier that scales every
convolution and hidden dense layer (never the input nor the classifier).

Width rounding: ``scale(c, width, divisor)`` rounds ``c * width`` half-up to the nearest multiple
of ``divisor`` (1 for most layers, the group count for grouped convolutions) and never goes
below ``divisor``. ``width=1.0`` gives the paper's widths exactly.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Callable, TypedDict, Unpack

import keras

from common.files import check_saved_file

from .cards import Card
from .graph import count_nodes, ensure_recursion_limit
from .registry import card as _card
from .weights import check_request as check_weights, load as load_published
from .weights.convert import WeightsMismatch


__all__ = ["BuildArgs", "Unpack", "Args", "args", "scale", "load_weights", "validate", "COMMON_DEFAULTS", "POOLINGS"]

POOLINGS = (None, "avg", "max")

COMMON_DEFAULTS: dict[str, Any] = dict(
    include_top=True,
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    weights=None,
    name=None,
    width=1.0,
)


class BuildArgs(TypedDict, total=False):
    """The common keyword arguments of every builder (defaults in ``COMMON_DEFAULTS``).

    ``include_top``: the classifier head (else features, pooled by ``pooling``: None, "avg", "max");
    ``input_tensor`` / ``input_shape``: the input (default: the card's); ``classes``: outputs
    (default: the card's); ``classifier_activation``: of the last layer ("softmax"; None for logits);
    ``weights``: None, ``"imagenet"`` (the default published weights), a source name (``"keras"``,
    ``"torchvision"``) or a path to a weights file (``zoo.weights``); ``name``: the model's name
    (default: the registered name); ``width``: channel multiplier of every conv and hidden dense layer.
    """

    include_top: bool
    input_tensor: Any
    input_shape: "tuple[int | None, ...] | None"
    pooling: "str | None"
    classes: int
    classifier_activation: "str | Callable | None"
    weights: "str | os.PathLike | None"
    name: "str | None"
    width: float


def scale(channels: int, width: float, divisor: int = 1) -> int:
    """``channels * width`` rounded half-up to a multiple of ``divisor`` (at least ``divisor``)."""
    return max(divisor, int(channels * width / divisor + 0.5) * divisor)


@dataclass
class Args:
    """The validated common arguments of one build call."""

    card: Card
    include_top: bool
    input_tensor: Any
    input_shape: tuple
    pooling: str | None
    classes: int
    classifier_activation: Any
    weights: str | None
    name: str
    width: float

    # -- helpers used by the family modules -------------------------------------------------
    def ch(self, channels: int, divisor: int = 1) -> int:
        """A conv / hidden-dense width scaled by ``width``."""
        return scale(channels, self.width, divisor)

    def inputs(self):
        """(model input, tensor to build on)."""
        if self.input_tensor is not None:
            t = self.input_tensor
            if not keras.backend.is_keras_tensor(t):
                t = keras.Input(tensor=t, shape=self.input_shape, name="input")
            sources = keras.utils.get_source_inputs(t)
            return (sources[0] if len(sources) == 1 else sources), t
        t = keras.Input(shape=self.input_shape, name="input")
        return t, t

    def pool(self, x):
        """The feature head when ``include_top=False``."""
        if self.pooling == "avg":
            return keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
        if self.pooling == "max":
            return keras.layers.GlobalMaxPooling2D(name="max_pool")(x)
        return x

    def classifier(self, x, name: str = "predictions"):
        return keras.layers.Dense(self.classes, activation=self.classifier_activation, name=name)(x)

    def finish(self, inputs, outputs, cls: type = keras.Model) -> keras.Model:
        # Keras walks the graph recursively: make room for deep nets (resnet1202) first.
        ensure_recursion_limit(count_nodes(outputs))
        model = cls(inputs, outputs, name=self.name)
        if self.weights is not None:
            load_published(model, self.card, self.weights)
        return model


def load_weights(model: keras.Model, path: str) -> None:
    """Load a ``.weights.h5`` (or ``.keras``) file into ``model`` with a clear error on mismatch."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ValueError(f"weights file {path!r} does not exist (weights must be None or a path to a saved weights file)")
    check_saved_file(path, "weights file")
    import warnings

    try:
        with warnings.catch_warnings():
            # Keras 3.15 warns about its own functional-graph bookkeeping ("Skipping nested
            # container at '_operations_by_depth'"); the layer weights do load (tested).
            warnings.filterwarnings("ignore", message="Skipping nested container")
            _load(model, path)
    except WeightsMismatch:
        raise
    except Exception as exc:  # keras raises several types for shape mismatches
        # Keras' message spans lines ("A total of N objects could not be loaded. Example error message
        # for object <Conv2D ...>:" then the layer's own error): one line, up to the first layer's
        # error, without the variable's values that Keras prints after it
        said = " ".join(str(exc).split()).split(" Target variable:")[0]
        said = said if len(said) <= 400 else said[:399] + "…"
        raise ValueError(f"weights file {path!r} does not match model {model.name!r}: {said or type(exc).__name__}"
                         ) from None


def _load(model: keras.Model, path: str) -> None:
    if path.endswith(".keras"):
        # by layer name, as a .weights.h5 loads: a model built with include_top=False takes the
        # backbone of a saved full model
        from .weights.convert import assign, from_keras_h5

        saved = keras.saving.load_model(path, compile=False)
        what = f"weights file {path!r}"
        layers = {ly.name: ly.get_weights() for ly in saved.layers if ly.weights}
        try:
            plan = from_keras_h5(model, layers)
        except KeyError as missing:
            name = missing.args[0]
            ours = [ly.name for ly in model.layers if ly.weights]
            # a model with its classifier, whose layers before this one are in the file (the first
            # missing is raised) and none from it on
            no_top = (name in ours and ours.index(name) > 0 and "predictions" in ours
                      and not any(n in layers for n in ours[ours.index(name):]))
            hint = " of the classifier (a no-top file?); build with include_top=False" if no_top else ""
            raise WeightsMismatch(f"{what} does not fit model {model.name!r}: it has no layer {name!r}{hint}") from None
        except WeightsMismatch as exc:
            raise WeightsMismatch(f"{what} does not fit model {model.name!r}: {exc}") from None
        assign(model, plan, what)
    else:
        model.load_weights(path)


def _spatial_ok(shape: tuple, min_size: int) -> bool:
    return all(d is None or d >= min_size for d in shape[:-1])


def validate(card: Card, kw: dict, min_size: int | None = None) -> Args:
    """Check the common arguments; raise ``ValueError`` naming the bad value and what is accepted."""
    n = card.name
    include_top = bool(kw["include_top"])
    pooling = kw["pooling"]
    if pooling not in POOLINGS:
        raise ValueError(f"{n}: unknown pooling {pooling!r}; accepted: None, 'avg', 'max'")
    classes = kw["classes"]
    if isinstance(classes, bool) or not isinstance(classes, int) or classes < 1:
        raise ValueError(f"{n}: classes must be an integer >= 1, got {classes!r}")
    width = kw["width"]
    if isinstance(width, bool) or not isinstance(width, (int, float)) or not width > 0:
        raise ValueError(f"{n}: width must be a number > 0, got {width!r}")
    weights = kw["weights"]
    if weights is not None and not isinstance(weights, (str, os.PathLike)):
        raise ValueError(f"{n}: weights must be None, 'imagenet', a source name or a path to a weights file, "
                         f"got {weights!r}")

    shape = kw["input_shape"]
    tensor = kw["input_tensor"]
    if tensor is not None and shape is None:
        shape = tuple(tensor.shape[1:])
    if shape is None:
        shape = card.input_shape
    try:
        shape = tuple(None if d is None else int(d) for d in shape)
    except (TypeError, ValueError):
        raise ValueError(f"{n}: input_shape must be a tuple of integers like {card.input_shape}, got {shape!r}") from None
    if len(shape) != len(card.input_shape):
        raise ValueError(
            f"{n}: input_shape must have {len(card.input_shape)} dimensions like {card.input_shape}, got {shape}"
        )
    if any(d is not None and d < 1 for d in shape):
        raise ValueError(f"{n}: input_shape dimensions must be >= 1, got {shape}")
    if include_top and any(d is None for d in shape):
        raise ValueError(f"{n}: include_top=True needs a static input_shape, got {shape}; set every dimension or use include_top=False")
    if shape[-1] is None:
        raise ValueError(f"{n}: the channel dimension of input_shape must be set, got {shape}")
    minimum = card.min_size if min_size is None else min_size
    if len(shape) == 3 and not _spatial_ok(shape, minimum):
        raise ValueError(
            f"{n}: input_shape {shape} is below the minimum {minimum}x{minimum} "
            f"(default {card.input_shape})"
        )
    check_weights(n, weights, include_top, classes, float(width), shape)
    return Args(
        card=card,
        include_top=include_top,
        input_tensor=tensor,
        input_shape=shape,
        pooling=pooling,
        classes=classes,
        classifier_activation=kw["classifier_activation"],
        weights=None if weights is None else (weights if isinstance(weights, str) else os.fspath(weights)),
        name=kw["name"] or n,
        width=float(width),
    )


def args(model: str | Card, kwargs: dict, **defaults: Any) -> Args:
    """Validate a builder's common keyword arguments ``kwargs`` against the card of ``model`` (a
    registered name, or a card of its own, as ``cifar_resnet`` makes for unregistered depths).

    ``defaults`` overrides a common default for this model (the perceptron's step activation).
    Unknown keywords raise ``TypeError`` listing the accepted ones, as Python would.
    """
    c = model if isinstance(model, Card) else _card(model)
    unknown = sorted(set(kwargs) - set(COMMON_DEFAULTS))
    if unknown:
        raise TypeError(f"{c.name}() got unexpected argument(s) {', '.join(unknown)}; "
                        f"accepted: {', '.join(COMMON_DEFAULTS)} and the model's own (help(zoo.{c.name}))")
    return validate(c, {**COMMON_DEFAULTS, "classes": c.classes, **defaults, **kwargs})
