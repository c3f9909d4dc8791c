"""The TensorFlow-profiler route to conv + dense MACs, for cross-checks (tests, benchmark) only.

TensorFlow-specific: traces ``model`` at batch 1, freezes the variables into constants and runs
``tf.compat.v1.profiler`` (float_ops) on the frozen graph, silently. TensorFlow reports 2 x MACs,
and counts a grouped ``Conv2D`` (``groups > 1``) as 0 FLOPs (seen with TensorFlow 2.21): check grouped
convolutions against :mod:`compare.arithmetic`, this profiler only on ungrouped layers.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import sys
from collections import defaultdict
from typing import Iterator

# Op types whose float_ops are the multiply-accumulates of conv and dense layers (x 2).
MAC_OPS = ("Conv1D", "Conv2D", "Conv3D", "DepthwiseConv2dNative", "MatMul", "BatchMatMul", "BatchMatMulV2",
           "BatchMatMulV3")


@contextlib.contextmanager
def _silenced() -> Iterator[None]:
    """Mute TensorFlow's Python logger and file descriptors 1 and 2 (the profiler's C++ output)."""
    import tensorflow as tf

    logger = tf.get_logger()
    level = logger.level
    logger.setLevel(logging.ERROR)
    saved = []
    try:
        for stream in (sys.stdout, sys.stderr):
            try:
                fd = stream.fileno()
            except (AttributeError, OSError, ValueError):  # captured streams
                continue
            stream.flush()
            saved.append((fd, os.dup(fd)))
            null = os.open(os.devnull, os.O_WRONLY)
            os.dup2(null, fd)
            os.close(null)
        yield
    finally:
        for fd, copy in saved:
            os.dup2(copy, fd)
            os.close(copy)
        logger.setLevel(level)


def frozen_graph(model):
    """The model traced at batch 1 (inference mode) with its variables frozen: a ``tf.Graph``."""
    import tensorflow as tf
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    specs = [tf.TensorSpec([1, *t.shape[1:]], t.dtype) for t in model.inputs]
    fn = tf.function(lambda *xs: model(list(xs) if len(xs) > 1 else xs[0], training=False))
    with _silenced():
        frozen = convert_variables_to_constants_v2(fn.get_concrete_function(*specs))
        graph = tf.Graph()
        with graph.as_default():
            tf.graph_util.import_graph_def(frozen.graph.as_graph_def(), name="")
    return graph


def node_float_ops(graph) -> dict[str, int]:
    """float_ops per graph node name, from TensorFlow's profiler (``scope`` view)."""
    import tensorflow as tf

    builder = tf.compat.v1.profiler.ProfileOptionBuilder
    options = builder(builder.float_operation()).with_empty_output().build()
    with _silenced():
        root = tf.compat.v1.profiler.profile(graph, cmd="scope", options=options)
    out: dict[str, int] = {}
    stack = list(root.children)
    while stack:
        node = stack.pop()
        if node.float_ops:
            out[node.name] = int(node.float_ops)  # this node only (total_float_ops adds children)
        stack.extend(node.children)
    return out


def _layer_of(node_name: str, names: set[str]) -> str | None:
    """The deepest scope of ``node_name`` that is a layer name (TensorFlow may suffix ``_1``)."""
    for part in reversed(node_name.split("/")[:-1]):
        if part in names:
            return part
        base = re.sub(r"_\d+$", "", part)
        if base in names:
            return base
    return None


def _leaf_names(model) -> set[str]:
    names: set[str] = set()
    for layer in model.layers:
        names.add(layer.name)
        if hasattr(layer, "layers"):
            names |= _leaf_names(layer)
    return names


def conv_dense_macs(model) -> dict[str | None, int]:
    """MACs per layer name of conv and dense ops, as TensorFlow's profiler counts them (float_ops / 2).

    Grouped Conv2D layers come out as 0 (TensorFlow's limitation). Ops that match no layer name are
    under the key None.
    """
    graph = frozen_graph(model)
    types = {op.name: op.type for op in graph.get_operations()}
    names = _leaf_names(model)
    macs: dict[str | None, int] = defaultdict(int)
    for node, flops in node_float_ops(graph).items():
        if types.get(node) in MAC_OPS:
            macs[_layer_of(node, names)] += flops // 2
    return dict(macs)


def total_conv_dense_macs(model) -> int:
    """Sum of :func:`conv_dense_macs` (grouped convolutions contribute 0)."""
    return sum(conv_dense_macs(model).values())
