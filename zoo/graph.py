"""Graph facts computed from a built model (not typed in): depth in weighted layers; and the room
Keras needs to walk a deep graph.

Keras builds and loads a functional model with a recursive walk over its graph, one Python frame
per node on the path (``keras.src.ops.function._build_map_helper``): resnet1202's longest path has
about 4,200 nodes, far over Python's default recursion limit of 1,000. The zoo raises the limit
itself (never lowers it): to :data:`RECURSION_LIMIT` once Keras and zoo are both imported (enough to
build and load every registered model) and further when a larger graph is built.
"""

from __future__ import annotations

import sys

import keras

#: Recursion limit set on ``import zoo`` + Keras: above the node count of the deepest registered model
#: (resnet1202: 4,209 layers) with room for a CIFAR ResNet of twice its depth.
RECURSION_LIMIT = 10_000

WEIGHTED_TYPES = (
    keras.layers.Conv1D, keras.layers.Conv2D, keras.layers.Conv3D,
    keras.layers.Conv1DTranspose, keras.layers.Conv2DTranspose, keras.layers.Conv3DTranspose,
    keras.layers.DepthwiseConv2D, keras.layers.SeparableConv2D, keras.layers.Dense,
)


def ensure_recursion_limit(nodes: int = 0) -> int:
    """Raise Python's recursion limit to at least ``RECURSION_LIMIT`` and ``nodes + 2,000``
    (a graph of ``nodes`` nodes, with room for the caller's frames); never lower it."""
    needed = max(RECURSION_LIMIT, nodes + 2_000)
    if sys.getrecursionlimit() < needed:
        sys.setrecursionlimit(needed)
    return sys.getrecursionlimit()


def count_nodes(outputs) -> int:
    """Nodes reachable from ``outputs`` (Keras tensors), walked without recursion."""
    seen, stack = set(), list(keras.tree.flatten(outputs))
    while stack:
        history = getattr(stack.pop(), "_keras_history", None)
        if history is None or history.operation is None:
            continue
        node = history.operation._inbound_nodes[history.node_index]
        if id(node) in seen:
            continue
        seen.add(id(node))
        stack.extend(node.input_tensors)
    return len(seen)


def is_weighted(layer) -> bool:
    """A conv or dense layer (or a custom layer that declares ``weighted_layer = True``)."""
    return isinstance(layer, WEIGHTED_TYPES) or bool(getattr(layer, "weighted_layer", False))


def depth(model: keras.Model, output: int = 0) -> int:
    """Weighted layers (conv + dense) on the longest input-to-output path to ``model.outputs[output]``.

    Projection shortcuts lie on a shorter path and auxiliary heads on other outputs, so neither is
    counted (docs/reference.md, "Counting conventions"). Nested models are counted through. The walk
    is iterative, so any depth works.
    """
    longest: dict[int, int] = {}  # id(node) -> weighted layers on the longest path ending at its output
    hist = model.outputs[output]._keras_history
    root = hist.operation._inbound_nodes[hist.node_index]
    stack = [(root, False)]
    while stack:
        node, parents_done = stack.pop()
        if id(node) in longest:
            continue
        parents = node.parent_nodes
        if not parents_done:
            stack.append((node, True))
            stack.extend((p, False) for p in parents if id(p) not in longest)
            continue
        layer = node.operation
        own = depth(layer) if isinstance(layer, keras.Model) else int(is_weighted(layer))
        longest[id(node)] = max((longest[id(p)] for p in parents), default=0) + own
    return longest[id(root)]
