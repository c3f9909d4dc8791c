"""Read keras.applications' published weight files: the legacy Keras HDF5 layout.

Layout (Keras 2's ``save_weights`` to ``.h5``, kept by Keras 3 for these files): the root (or its
``model_weights`` group, for a whole saved model) has the attribute ``layer_names``; each layer is a
group of that name whose attribute ``weight_names`` lists its arrays in the layer's order (conv and
dense: kernel, bias; BatchNorm: gamma, beta, moving mean, moving variance). Keras 3's own
``.weights.h5`` files use another layout (no ``layer_names``) and are loaded by Keras itself.
"""

from __future__ import annotations

import numpy as np

__all__ = ["is_legacy_h5", "layer_names", "read_layers", "saved_model_name"]

_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


def _attr_list(group, name: str) -> list[str]:
    values = group.attrs.get(name)
    if values is None:
        # long attribute lists are split into name0, name1, ... by Keras
        values, i = [], 0
        while f"{name}{i}" in group.attrs:
            values.extend(group.attrs[f"{name}{i}"])
            i += 1
        if not values:
            return []
    return [v.decode("utf8") if isinstance(v, bytes) else str(v) for v in values]


def _root(f):
    return f["model_weights"] if "model_weights" in f and "layer_names" not in f.attrs else f


def is_legacy_h5(path: str) -> bool:
    """True if ``path`` is an HDF5 file in the legacy (keras.applications) weights layout; False if
    it is not HDF5 or has another layout. An HDF5 file that cannot be opened (truncated, corrupt)
    raises ValueError naming it."""
    with open(path, "rb") as fh:
        if fh.read(8) != _HDF5_SIGNATURE:
            return False
    return bool(layer_names(path))


def layer_names(path: str) -> list[str]:
    """The ``layer_names`` of the legacy HDF5 file at ``path`` (empty for another HDF5 layout);
    ValueError naming the file when HDF5 cannot open it."""
    import h5py

    try:
        with h5py.File(path, "r") as f:
            return _attr_list(_root(f), "layer_names")
    except OSError as exc:
        raise ValueError(f"weights file {path!r} is a truncated or corrupt HDF5 file (h5py: "
                         f"{' '.join(str(exc).split())})") from None


def saved_model_name(path: str) -> str | None:
    """The model name in a whole-model legacy HDF5 (``model.save("x.h5")``: its ``model_config``),
    None for a weights-only file such as keras.applications' or one that cannot be read."""
    import json

    import h5py

    try:
        with h5py.File(path, "r") as f:
            config = f.attrs.get("model_config")
        config = json.loads(config.decode("utf8") if isinstance(config, bytes) else config) if config else None
        return str(config["config"]["name"]) if isinstance(config, dict) else None
    except (OSError, ValueError, KeyError, TypeError):
        return None


def read_layers(path: str) -> dict[str, list[np.ndarray]]:
    """``{layer name: [arrays in the layer's order]}`` for every layer that has weights."""
    import h5py

    try:
        with h5py.File(path, "r") as f:
            root = _root(f)
            out: dict[str, list[np.ndarray]] = {}
            for name in _attr_list(root, "layer_names"):
                if name not in root:
                    continue
                group = root[name]
                arrays = [np.asarray(group[w]) for w in _attr_list(group, "weight_names")]
                if arrays:
                    out[name] = arrays
            return out
    except (OSError, KeyError) as exc:
        raise ValueError(f"weights file {path!r} is not a readable Keras HDF5 weights file: "
                         f"{' '.join(str(exc).split())}") from None
