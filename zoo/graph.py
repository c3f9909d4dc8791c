"""Graph facts computed from a built model (not typed in): depth in weighted layers."""

from __future__ import annotations

from functools import lru_cache

import keras

WEIGHTED_TYPES = (
    keras.layers.Conv1D, keras.layers.Conv2D, keras.layers.Conv3D,
    keras.layers.Conv1DTranspose, keras.layers.Conv2DTranspose, keras.layers.Conv3DTranspose,
    keras.layers.DepthwiseConv2D, keras.layers.SeparableConv2D, keras.layers.Dense,
)


def is_weighted(layer) -> bool:
    """A conv or dense layer (or a custom layer that declares ``weighted_layer = True``)."""
    return isinstance(layer, WEIGHTED_TYPES) or bool(getattr(layer, "weighted_layer", False))


def depth(model: keras.Model, output: int = 0) -> int:
    """Weighted layers (conv + dense) on the longest input-to-output path to ``model.outputs[output]``.

    Projection shortcuts lie on a shorter path and auxiliary heads on other outputs, so
    neither is counted (SPEC.md's definition). Nested models are counted through.
    """

    @lru_cache(maxsize=None)
    def longest(layer_id: int, node_index: int) -> int:
        layer = ops_by_id[layer_id]
        node = layer._inbound_nodes[node_index]
        best = 0
        for parent in node.parent_nodes:
            p = parent.operation
            best = max(best, longest(id(p), p._inbound_nodes.index(parent)))
        own = depth(layer) if isinstance(layer, keras.Model) else int(is_weighted(layer))
        return best + own

    ops_by_id: dict[int, object] = {}

    def collect(m):
        for op in m.operations:
            ops_by_id[id(op)] = op
    collect(model)
    hist = model.outputs[output]._keras_history
    return longest(id(hist.operation), hist.node_index)
