"""Published ImageNet weights: where they come from, how they are fetched and read, and how they
are put into the zoo's paper-faithful models.

``weights=`` of every builder accepts:
- ``None``: random initialisation;
- ``"imagenet"``: the model's default published weights (its first source on the card);
- a source name, ``"keras"`` or ``"torchvision"``: that source's weights;
- a path, its format detected from the file: a keras.applications ``*_weights_tf_dim_ordering_tf_kernels*.h5``
  (legacy HDF5), a torchvision state dict ``.pth`` (read without PyTorch), or the zoo's own
  ``.weights.h5`` / ``.keras``.
"""

from __future__ import annotations

import os

from .sources import SOURCES, WeightSource, source_names, sources_for

__all__ = ["SOURCES", "WeightSource", "sources_for", "source_names", "pick_source", "check_request",
           "weights_file", "load", "detect_layout", "preprocessing_for", "check_file_layout", "NAMED"]

#: every accepted ``weights=`` name besides a path
NAMED = ("imagenet",) + source_names()


def _with_weights() -> str:
    return ", ".join(SOURCES)


def _variants(model: str, kind: str | None = None) -> str:
    """``"; try resnet50_v15"``: the variants of ``model`` (named ``model_...``) with weights (of
    ``kind``, a layout or a source name), as torchvision's ResNet-50 is our resnet50_v15 and its
    AlexNet our alexnet_owt."""
    names = [m for m, ss in SOURCES.items() if m.startswith(model + "_")
             and any(kind is None or kind in (s.layout, s.source) for s in ss)]
    return f"; try {', '.join(names)}" if names else ""


def pick_source(model: str, weights: str) -> WeightSource:
    """The source that ``weights`` (``"imagenet"`` or a source name) means for ``model``."""
    sources = sources_for(model)
    if not sources:
        raise ValueError(f"{model}: weights={weights!r}: this model has no published weights{_variants(model)}; "
                         f"models with them: {_with_weights()}")
    if weights.lower() == "imagenet":
        return sources[0]
    for s in sources:
        if s.source == weights.lower():
            return s
    raise ValueError(f"{model}: weights={weights!r}: no such source for this model{_variants(model, weights.lower())}; "
                     "accepted: 'imagenet', " + ", ".join(repr(s.source) for s in sources) + " or a path to a weights file")


def is_named(weights) -> bool:
    return isinstance(weights, str) and weights.lower() in NAMED


def check_request(model: str, weights, include_top: bool, classes: int, width: float, input_shape: tuple) -> None:
    """Before any work (and any download): the arguments under which published weights can be
    loaded at all. ``input_shape`` is the one the model will be built at (its size is checked
    once the model is built, still before the download: :func:`_check_classifier`)."""
    if weights is None:
        return
    if is_named(weights):
        source = pick_source(model, weights)
        what = f"{model}: weights={weights!r} ({source.source})"
    else:
        path = os.path.expanduser(os.fspath(weights))
        if os.path.isdir(path):
            raise ValueError(f"{model}: weights {os.fspath(weights)!r} is a directory; accepted: None, "
                             f"{', '.join(repr(n) for n in NAMED)} or a path to a weights file")
        if not os.path.isfile(path):
            raise ValueError(f"{model}: weights file {os.fspath(weights)!r} does not exist (accepted: None, "
                             f"{', '.join(repr(n) for n in NAMED)} or a path to a weights file)")
        return
    if width != 1.0:
        raise ValueError(f"{what} needs width=1.0 (the published network), got width={width}")
    if include_top and classes != 1000:
        raise ValueError(f"{what} with include_top=True needs classes=1000 (ImageNet), got {classes}; "
                         "use include_top=False for another number of classes")
    if input_shape[-1] != 3:
        raise ValueError(f"{what} needs 3 input channels (RGB), got {input_shape[-1]}")


def check_file_layout(model: str, path: str) -> None:
    """Cheap (the file's head only): a published-layout file for a model without weights in that
    layout is refused before any model is built (a torchvision file for resnet50, keras.applications'
    ResNet-50 for resnet50_v15); a legacy Keras HDF5 that is the model's own save passes."""
    path = os.path.expanduser(path)
    layout = detect_layout(path)
    if layout == "zoo" or any(s.layout == layout for s in sources_for(model)):
        return
    if layout == "keras_h5" and _own_legacy_h5(model, path):
        return
    raise ValueError(f"{model}: {os.path.basename(path)} is a {LAYOUTS[layout]} file, and {model} has no "
                     f"published weights in that layout{_variants(model, layout)}")


def preprocessing_for(model: str, weights) -> str | None:
    """The preprocessing mode (``"caffe"``, ``"torch"``) that ``weights`` (a name or a path) expect in
    ``model``: a named source's own; for a file, that of ``model``'s source in the file's layout
    (a torchvision ``.pth`` wants torch's even where the model's default source is keras.applications),
    else (the zoo's own files) the model's default source's. None for a model without published
    weights: nothing says. A file that cannot be read raises ValueError."""
    if is_named(weights):
        return pick_source(model, weights).preprocessing
    sources = sources_for(model)
    layout = detect_layout(os.path.expanduser(os.fspath(weights)))
    fits = [s for s in sources if s.layout == layout] or sources
    return fits[0].preprocessing if fits else None


def weights_file(model: str, weights: str, include_top: bool = True, cache_dir: str | None = None,
                 progress: bool = True, offline: bool = False) -> tuple[WeightSource, str]:
    """(source, local path) of a named weights file, downloaded into the Keras cache if needed
    (``offline``: never; ``DownloadError`` if it is not cached)."""
    from .download import fetch

    source = pick_source(model, weights)
    url, name, digest = source.url, source.file_name, source.file_hash
    if not include_top and source.notop_url:
        url, name, digest = source.notop_url, source.notop_file_name, source.notop_hash
    path = fetch(url, name, digest, source.hash_kind, cache_subdir="models", cache_dir=cache_dir, progress=progress,
                 offline=offline)
    return source, path


LAYOUTS = {"keras_h5": "keras.applications (legacy HDF5)", "torch_pth": "torchvision (PyTorch state dict)"}


def detect_layout(path: str) -> str:
    """``"keras_h5"`` (keras.applications, or any legacy Keras HDF5), ``"torch_pth"`` (torchvision)
    or ``"zoo"`` (our own files), from the file's content. A file of a known kind that is truncated
    or corrupt raises ValueError saying so (not that its format is unknown)."""
    from .keras_h5 import is_legacy_h5

    if path.endswith(".keras") or path.endswith(".weights.h5"):
        return "zoo"
    if is_legacy_h5(path):  # raises for an HDF5 file that h5py cannot open
        return "keras_h5"
    from .torch_pth import is_torch_file

    if is_torch_file(path):
        return "torch_pth"
    import zipfile

    with open(path, "rb") as f:
        zip_head = f.read(4) == b"PK\x03\x04"
    if zip_head and not zipfile.is_zipfile(path):  # the start of a zip archive without its end
        raise ValueError(f"weights file {path!r} is a truncated or corrupt zip archive (a torchvision .pth "
                         "is one): its central directory is missing")
    raise ValueError(f"weights file {path!r} is not a format the zoo reads: a keras.applications legacy "
                     "HDF5 (*.h5), a torchvision state dict (*.pth), or the zoo's own *.weights.h5 / *.keras")


def load(model, card, weights) -> None:
    """Load ``weights`` (a name or a path, see the module doc) into ``model`` built from ``card``."""
    if is_named(weights):
        _check_classifier(model, card, weights)
        _, path = weights_file(card.name, weights, include_top=_has_top(model))
    else:
        path = os.path.expanduser(os.fspath(weights))
    try:
        layout = detect_layout(path)
    except ValueError as exc:
        raise ValueError(f"{exc} (loading into model {model.name!r})") from None
    if layout == "zoo":
        from ..base import load_weights

        load_weights(model, path)
        return
    from .convert import WeightsMismatch, assign, from_keras_h5, from_torchvision

    what = f"weights file {path!r}"
    fits = [s for s in sources_for(card.name) if s.layout == layout]
    own = layout == "keras_h5" and (_own_legacy_h5(model.name, path) or _own_legacy_h5(card.name, path))
    if not fits and own:
        fits = ["the model's own layers"]  # a legacy .h5 that Keras wrote for this model: read by layer name
    if not fits:
        others = ", ".join(m for m, ss in SOURCES.items() if any(s.layout == layout for s in ss))
        raise WeightsMismatch(f"{what} is a {LAYOUTS[layout]} file, and model {card.name!r} has no published "
                              f"weights in that layout{_variants(card.name, layout)} (files of that layout fit: "
                              f"{others})")
    try:
        if layout == "keras_h5":
            from .keras_h5 import read_layers

            content = read_layers(path)
        else:
            from .torch_pth import read_state_dict

            content = read_state_dict(path)
    except ValueError as exc:  # a truncated or corrupt file: the reader names it and the reason
        raise ValueError(f"{exc} (loading into model {model.name!r})") from None
    try:
        plan = (from_keras_h5(model, content) if layout == "keras_h5"
                else from_torchvision(model, content, card.family))
    except KeyError as missing:
        from .convert import HEAD

        name = missing.args[0]
        if name in HEAD["keras"] or name.split(".", 1)[0] in HEAD["torch"]:
            raise WeightsMismatch(f"{what} does not fit model {model.name!r}: it has no tensor {name!r} of the "
                                  "classifier (a no-top file?); build with include_top=False") from None
        raise WeightsMismatch(f"{what} does not fit model {model.name!r}: it has no tensor "
                              f"{name!r} (is it a file for another model?)") from None
    except WeightsMismatch as exc:
        raise WeightsMismatch(f"{what} does not fit model {model.name!r}: {exc}") from None
    assign(model, plan, what)


def _check_classifier(model, card, weights) -> None:
    """Before a download: a model with its classifier takes the published one only if its input
    gives the published feature map. VGG's and AlexNet's first dense layer flattens it, so another
    map means other parameter counts (a ResNet pools globally and keeps them at any input)."""
    if not _has_top(model):
        return
    import math

    params = sum(math.prod(w.shape) for w in model.trainable_weights)
    if params != card.params:
        shape = "x".join(str(d) for d in model.input_shape[1:])
        raise ValueError(f"{card.name}: weights={weights!r} with include_top=True needs the published classifier, "
                         f"which input {shape} does not give ({params:,} trainable params, published {card.params:,}: "
                         f"the classifier flattens the last feature map); use include_top=False, or an input of "
                         f"{'x'.join(map(str, card.input_shape))}")


def _own_legacy_h5(model_name: str, path: str) -> bool:
    """Whether the legacy HDF5 at ``path`` is a whole model Keras saved under ``model_name``
    (``zoo.resnet20().save("x.h5")``), not a weights-only file such as keras.applications' (whose
    ResNet-50 has resnet50_v15's very layer names and shapes)."""
    from .keras_h5 import saved_model_name

    return saved_model_name(path) == model_name


def _has_top(model) -> bool:
    return any(layer.name == "predictions" for layer in model.layers)
