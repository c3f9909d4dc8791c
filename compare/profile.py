"""Per-layer profile of a built Keras model: shapes, params, MACs/FLOPs, other ops, activations, receptive field.

    import compare
    df = compare.profile(model)                 # one row per leaf layer, in graph order
    compare.profile.totals(df)                  # a pandas Series of the sums
    compare.profile(model, input_shape=(64, 64, 3))

Columns, per sample: ``trainable`` and ``non_trainable`` params (each weight counted once);
``macs`` of conv and dense layers (and custom layers' ``macs()``), ``flops = 2 * macs``; ``all_ops``,
the other arithmetic kept out of MACs: bias and activation 1 per element, BatchNorm 2, other norms 5,
pooling its window per output, add/multiply inputs - 1, concat 1, LRN and custom layers their
``all_ops()``, reshape/dropout/padding 0; ``act_elems``/``act_bytes`` of the outputs (dtype-aware);
``rf``/``jump``, receptive field and stride in input pixels (largest over the spatial axes, empty
once the output is no longer a map); ``weighted`` (conv/dense); ``uncounted`` (unknown type, counted
0); ``branch``, the outputs a layer feeds ("all" for every one). Rows follow the graph depth-first
from the outputs, so each Inception branch is contiguous; nested models are expanded.

Works with any Keras 3 backend: it reads layer attributes and symbolic shapes only. The per-layer
counting rules are in :mod:`compare.layer_counts`.
"""

from __future__ import annotations

import math
import sys
import types

import keras
import pandas as pd

from common.conventions import CONVENTIONS as BASE_CONVENTIONS
from common.text import human_count
from zoo.graph import is_weighted

from .layer_counts import count, elems, itemsize, rf_next

__all__ = ["profile", "totals", "summary", "rebuild", "COLUMNS", "CONVENTIONS"]

COLUMNS = ["name", "type", "output_shape", "trainable", "non_trainable", "macs", "flops", "all_ops",
           "act_elems", "act_bytes", "rf", "jump", "weighted", "uncounted", "branch"]
_SUMMED = ["trainable", "non_trainable", "macs", "flops", "all_ops", "act_elems", "act_bytes"]

CONVENTIONS = BASE_CONVENTIONS + (
    " In a profile: all_ops = other work (bias, BN, activations, pooling, add, concat, LRN), labelled, "
    "not in MACs; act = output elements/bytes per image; rf/jump in input pixels."
)

# -- graph walk --------------------------------------------------------------------------------------
def _producer(tensor):
    op, index, _ = tensor._keras_history
    return op._inbound_nodes[index]


def _graph(model):
    """The Functional graph behind a model (a built Sequential wraps one), or None."""
    g = getattr(model, "_functional", None) if isinstance(model, keras.Sequential) else model
    return g if g is not None and hasattr(g, "_nodes_by_depth") else None


def _graph_order(inputs: list, outputs: list) -> tuple[list, dict]:
    """Nodes in depth-first topological order, and for each node the outputs it feeds."""
    input_ids = {id(t) for t in inputs}
    order, placed, reach = [], set(), {}
    for k, out in enumerate(outputs):
        visited: set[int] = set()
        stack = [(_producer(out), False)]
        while stack:
            node, expanded = stack.pop()
            if expanded:
                if id(node) not in placed:
                    placed.add(id(node))
                    order.append(node)
                continue
            if id(node) in visited:
                continue
            visited.add(id(node))
            reach.setdefault(id(node), set()).add(k)
            stack.append((node, True))
            for t in reversed(node.input_tensors):
                if id(t) not in input_ids and id(_producer(t)) not in visited:
                    stack.append((_producer(t), False))
    return order, reach


class _Walker:
    """Accumulates one row per leaf layer while walking (possibly nested) model graphs."""

    def __init__(self) -> None:
        self.rows: dict[int, dict] = {}
        self.seen_weights: set[int] = set()

    def walk(self, model, in_states: list, branch: str | None = None) -> list:
        g = _graph(model)
        outputs = list(g.outputs)
        names = [t._keras_history[0].name for t in outputs]
        state = {id(t): s for t, s in zip(g.inputs, in_states)}
        order, reach = _graph_order(list(g.inputs), outputs)
        for node in order:
            layer = node.operation
            if node.is_input or isinstance(layer, keras.layers.InputLayer):
                continue
            here = branch or ("all" if len(reach[id(node)]) == len(outputs)
                              else "+".join(names[k] for k in sorted(reach[id(node)])))
            states = [state.get(id(t)) for t in node.input_tensors]
            if _graph(layer) is not None and isinstance(layer, keras.Model):
                out_states = self.walk(layer, states, here)
            else:
                out_states = [self.leaf(layer, node, states, here)] * len(node.outputs)
            for t, s in zip(node.outputs, out_states):
                state[id(t)] = s
        return [state.get(id(t)) for t in outputs]

    def leaf(self, layer, node, states: list, branch: str):
        ins = [tuple(t.shape) for t in node.input_tensors]
        outs = [tuple(t.shape) for t in node.outputs]
        macs, ops, known = count(layer, ins, outs)
        rf = rf_next(layer, states, ins, outs)
        trainable_ids = {id(w) for w in layer.trainable_weights}
        fresh = [w for w in layer.weights if id(w) not in self.seen_weights]
        self.seen_weights.update(id(w) for w in fresh)
        work = dict(trainable=sum(math.prod(w.shape) for w in fresh if id(w) in trainable_ids),
                    non_trainable=sum(math.prod(w.shape) for w in fresh if id(w) not in trainable_ids),
                    macs=macs, flops=2 * macs, all_ops=ops, act_elems=sum(elems(s) for s in outs),
                    act_bytes=sum(elems(t.shape) * itemsize(t.dtype) for t in node.outputs))
        row = self.rows.get(id(layer))
        if row is not None:  # a shared layer called again: its work adds up, its weights count once
            for key, value in work.items():
                row[key] += value
            return rf
        self.rows[id(layer)] = dict(
            name=layer.name, type=type(layer).__name__,
            output_shape=outs[0][1:] if len(outs) == 1 else tuple(s[1:] for s in outs), **work,
            rf=None if rf is None else max(r for r, _ in rf), jump=None if rf is None else max(j for _, j in rf),
            weighted=is_weighted(layer), uncounted=not known, branch=branch)
        return rf


# -- public API --------------------------------------------------------------------------------------
def _shapes(input_shape, n_inputs: int) -> list[tuple[int, ...]]:
    """``input_shape`` as a list of shapes (one per model input), checked."""
    nested = isinstance(input_shape, (tuple, list)) and input_shape and isinstance(input_shape[0], (tuple, list))
    shapes = list(input_shape) if nested else [input_shape]
    for s in shapes:
        if not (isinstance(s, (tuple, list)) and s and all(
                hasattr(d, "__index__") and not isinstance(d, bool) and d >= 1 for d in s)):
            raise ValueError("input_shape must be a tuple of positive integers like (224, 224, 3), "
                             f"got {input_shape!r}")
    if len(shapes) != n_inputs:
        raise ValueError(f"the model has {n_inputs} inputs; input_shape must list {n_inputs} shapes, "
                         f"got {input_shape!r}")
    return [tuple(int(d) for d in s) for s in shapes]


def rebuild(model, input_shape) -> keras.Model:
    """A copy of a Functional or Sequential ``model`` built on a new ``input_shape`` (fresh weights).

    Limitation: a nested model keeps its own fixed input, so a model that nests one is rebuilt only
    when the nested model's input does not change; otherwise rebuild it from its builder.
    """
    if not isinstance(model, keras.Model) or (_graph(model) is None and not isinstance(model, keras.Sequential)):
        raise ValueError(f"input_shape needs a functional or Sequential model; {type(model).__name__} "
                         f"{getattr(model, 'name', '')!r} must be built on the new input by its own code")
    n = len(model.inputs) if _graph(model) is not None else 1
    shapes = _shapes(input_shape, n)
    dtypes = [t.dtype for t in model.inputs] if _graph(model) is not None else [None]
    tensors = [keras.Input(shape=s, dtype=d) for s, d in zip(shapes, dtypes)]
    try:
        new = keras.models.clone_model(model, input_tensors=tensors[0] if n == 1 else tensors)
    except Exception as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise ValueError(f"cannot rebuild {model.name!r} on input_shape {input_shape}: {first}") from None
    for layer in new.layers:
        inner = _graph(layer) if isinstance(layer, keras.Model) else None
        if inner is None:
            continue
        for node in layer._inbound_nodes:
            got = [tuple(t.shape[1:]) for t in node.input_tensors]
            want = [tuple(t.shape[1:]) for t in inner.inputs]
            if node.input_tensors and got != want:
                raise ValueError(f"input_shape {input_shape} changes the input of nested model {layer.name!r} "
                                 f"(fixed at {want[0]}); build the model on that input instead")
    return new


def profile(model, input_shape=None) -> pd.DataFrame:
    """One row per leaf layer of ``model`` in graph order (see the module docstring for the columns).

    ``input_shape`` (without the batch axis) rebuilds a functional/Sequential model on that input
    first (see :func:`rebuild`). A model whose input has unknown dimensions needs ``input_shape``.
    """
    if not isinstance(model, keras.layers.Layer):
        raise ValueError(f"profile needs a Keras model, got {type(model).__name__}")
    if input_shape is not None:
        model = rebuild(model, input_shape)
    graph = _graph(model) if isinstance(model, keras.Model) else None
    walker = _Walker()
    inputs: list = []
    if graph is None:  # a subclassed model: no graph to walk, one flagged row with its weights
        if isinstance(model, keras.Sequential):
            raise ValueError(f"Sequential model {model.name!r} has no input yet; pass input_shape=(...) "
                             f"or start it with keras.Input")
        walker.rows[id(model)] = dict(
            name=model.name, type=type(model).__name__, output_shape=(),
            trainable=sum(math.prod(w.shape) for w in model.trainable_weights),
            non_trainable=sum(math.prod(w.shape) for w in model.non_trainable_weights),
            macs=0, flops=0, all_ops=0, act_elems=0, act_bytes=0, rf=None, jump=None,
            weighted=False, uncounted=True, branch="all")
    else:
        inputs = list(graph.inputs)
        for t in inputs:
            if any(d is None for d in tuple(t.shape)[1:]):
                raise ValueError(f"model {model.name!r} has input shape {tuple(t.shape)[1:]} with unknown "
                                 f"dimensions; pass input_shape=(...) to profile it at a fixed size")
        walker.walk(model, [tuple((1, 1) for _ in range(len(t.shape) - 2)) if len(t.shape) >= 3 else None
                            for t in inputs])
    shapes = tuple(tuple(t.shape[1:]) for t in inputs)
    df = pd.DataFrame(list(walker.rows.values()), columns=COLUMNS)
    for col in ("rf", "jump"):  # integers, or fractions after a transposed conv / upsampling
        integral = all(float(v).is_integer() for v in df[col].dropna())
        df[col] = df[col].astype("Float64").astype("Int64" if integral else "Float64")
    df.attrs.update(model=model.name, conventions=CONVENTIONS,
                    input_shape=shapes[0] if len(shapes) == 1 else shapes,
                    outputs=tuple(t._keras_history[0].name for t in (graph.outputs if graph is not None else [])))
    return df


def totals(df: pd.DataFrame) -> pd.Series:
    """Column sums of a profile (params, MACs, FLOPs, all_ops, activations), weighted and uncounted counts."""
    out = {col: int(df[col].sum()) for col in _SUMMED}
    out.update(weighted=int(df["weighted"].sum()), uncounted=int(df["uncounted"].sum()), layers=len(df))
    return pd.Series(out, name="total", dtype="int64")


def summary(df: pd.DataFrame, name: str | None = None, depth: int | None = None) -> str:
    """One line: "resnet20: 269,722 params (1,376 non-trainable), 40.6 M MACs, 20 weighted layers in all,
    depth 20 on the longest path". Every
    conv and dense layer counts in all, so resnet50's 4 projection shortcuts give 54; ``depth`` (given
    by the caller, ``zoo.graph.depth``) is the longest path's, 50."""
    t = totals(df)
    fixed = f" ({t['non_trainable']:,} non-trainable)" if t["non_trainable"] else ""
    text = (f"{name or df.attrs.get('model', 'model')}: {t['trainable']:,} params{fixed}, "
            f"{human_count(t['macs'])} MACs, {t['weighted']} weighted layers in all"
            + (f", depth {depth} on the longest path" if depth else ""))
    if t["uncounted"]:
        kinds = sorted(set(df.loc[df["uncounted"], "type"]))
        text += f"; {t['uncounted']} uncounted layer(s): {', '.join(kinds)}"
    return text


class _CallableModule(types.ModuleType):
    """``compare.profile`` is this module and, called, :func:`profile`."""

    def __call__(self, model, input_shape=None) -> pd.DataFrame:
        return profile(model, input_shape)


sys.modules[__name__].__class__ = _CallableModule
