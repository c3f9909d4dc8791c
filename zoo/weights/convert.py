"""Put a published file's arrays into a zoo model, layer by layer, with every shape checked.

Two layouts:
- keras.applications (legacy HDF5): same layer names as ours (``block1_conv1``, ``conv2_block1_1_conv``,
  ``predictions``, ...). Its ResNets are He et al.'s Caffe models: each conv has a bias and each BN
  epsilon 1.001e-5; ours are bias-free with epsilon 1e-5. BN(conv(x) + b) with (gamma, beta, mean,
  var, 1.001e-5) equals BN(conv(x)) with (gamma, beta, mean - b, var + 1.001e-5 - 1e-5, 1e-5): the
  fold is exact (up to float32 rounding of the variance).
- torchvision (state dict): convs OIHW -> HWIO; dense (out, in) -> (in, out); BN weight/bias/
  running_mean/running_var -> gamma/beta/moving mean/moving variance (``num_batches_tracked`` is
  training bookkeeping). The first dense layer after the flatten reads torch's (C, H, W) order; ours
  flattens (H, W, C), so its rows are permuted.
"""

from __future__ import annotations

import re

import numpy as np

__all__ = ["from_keras_h5", "from_torchvision", "assign", "WeightsMismatch"]

KERAS_RESNET_EPSILON = 1.001e-5


class WeightsMismatch(ValueError):
    """A weights file that does not fit the model; the message names the file, model and tensor."""


def _kind(layer) -> str:
    return type(layer).__name__


#: classifier layers a file may have that a model built with include_top=False leaves out
HEAD = {"keras": ("fc1", "fc2", "predictions"), "torch": ("classifier", "fc")}  # torch: top-level modules


def _leftover(names: list[str]) -> None:
    """``names``: the file's tensors (or layers) the model has no place for, in the file's order."""
    if names:
        raise WeightsMismatch(f"the file has weights the model does not use, first {names[0]!r} "
                              f"({len(names)} in all)")


def _tail(names: list[str], used: set[str]) -> set[str]:
    """The names after the last used one, in the file's order: the classifier a model built with
    include_top=False leaves out (fc1, fc2, predictions; AlexNet's fc6 ...; LeNet's c5 ...)."""
    last = max((i for i, n in enumerate(names) if n in used), default=-1)
    return set(names[last + 1:])


def from_keras_h5(model, layers: dict[str, list[np.ndarray]]) -> dict[str, tuple[str, list[np.ndarray]]]:
    """``{our layer: (file tensor name, arrays)}`` from a Keras file's ``{layer: arrays}`` (in the
    file's order): keras.applications' legacy HDF5, or a zoo model's own save."""
    ours = {ly.name for ly in model.layers}
    top = "predictions" in ours
    head = set() if top else set(HEAD["keras"]) | _tail(list(layers), ours)
    _leftover([n for n in layers if n not in ours and n not in head])
    out = {}
    for layer in model.layers:
        if not layer.weights:
            continue
        name = layer.name
        if name not in layers:
            raise KeyError(name)
        arrays = list(layers[name])
        if _kind(layer) == "Conv2D" and not layer.use_bias and len(arrays) == 2:
            arrays = arrays[:1]  # the bias is folded into the following BatchNorm
        elif _kind(layer) == "BatchNormalization" and len(arrays) == 4:
            conv = layers.get(name[: -len("_bn")] + "_conv", []) if name.endswith("_bn") else []
            gamma, beta, mean, var = arrays
            if len(conv) == 2:
                mean = mean - conv[1]
            if not np.isclose(layer.epsilon, KERAS_RESNET_EPSILON) and len(conv) == 2:
                var = var + np.float32(KERAS_RESNET_EPSILON - layer.epsilon)
            arrays = [gamma, beta, mean, var]
        out[name] = (name, arrays)
    return out


# -- torchvision ------------------------------------------------------------------------------------

def _conv(state, prefix):
    arrays = [state[f"{prefix}.weight"].transpose(2, 3, 1, 0)]
    if f"{prefix}.bias" in state:
        arrays.append(state[f"{prefix}.bias"])
    return arrays


def _bn(state, prefix):
    return [state[f"{prefix}.{k}"] for k in ("weight", "bias", "running_mean", "running_var")]


#: Output rows of a Linear weight transposed at a time (256 rows of VGG's fc6 are 25 MB).
_ROWS = 256


def _kernel(w: np.ndarray, channels: int = 0) -> np.ndarray:
    """torch's ``(out, in)`` Linear weight as Keras' ``(in, out)`` kernel, C-contiguous.

    With ``channels``, the inputs are also reordered from torch's flattening ``(C, H, W)`` to ours
    ``(H, W, C)``. Done ``_ROWS`` output rows at a time: one strided copy of VGG-16's
    4096 x 25,088 fc6 took 1.15-1.59 s, in blocks 0.49-1.02 s (bench/RESULTS.md)."""
    out = np.empty((w.shape[1], w.shape[0]), dtype=w.dtype)
    for i in range(0, w.shape[0], _ROWS):
        rows = w[i:i + _ROWS]
        if channels:
            rows = np.ascontiguousarray(rows.reshape(len(rows), channels, -1).transpose(0, 2, 1))
        out[:, i:i + _ROWS] = rows.reshape(len(rows), -1).T
    return out


def _dense(state, prefix, flatten_from=None):
    w = state[f"{prefix}.weight"]
    channels = 0
    if flatten_from is not None:  # torch flattens (C, H, W); we flatten (H, W, C)
        h, wd, channels = flatten_from
        if w.shape[1] != h * wd * channels:
            raise ValueError(f"{prefix}.weight has {w.shape[1]} inputs, the model's flatten gives "
                             f"{h}x{wd}x{channels}")
    return [_kernel(w, channels), state[f"{prefix}.bias"]]


def _flatten_shape(model):
    try:
        return tuple(int(d) for d in model.get_layer("flatten").input.shape[1:])
    except ValueError:
        return None


def _torch_prefixes(state, suffix_check) -> list[str]:
    """Module prefixes under ``features.`` holding tensors that ``suffix_check`` accepts, in index order."""
    prefixes = {}
    for key, value in state.items():
        m = re.fullmatch(r"features\.(\d+)\.weight", key)
        if m and suffix_check(key, value):
            prefixes[int(m.group(1))] = f"features.{m.group(1)}"
    return [prefixes[i] for i in sorted(prefixes)]


def _plan_sequential(model, state, dense_names: tuple[str, ...]) -> dict[str, tuple[str, str]]:
    """VGG and AlexNet: ``features`` convs / BNs in order, then the three ``classifier`` linears."""
    convs = [ly.name for ly in model.layers if _kind(ly) == "Conv2D"]
    bns = [ly.name for ly in model.layers if _kind(ly) == "BatchNormalization"]
    t_convs = _torch_prefixes(state, lambda k, v: v.ndim == 4)
    t_bns = _torch_prefixes(state, lambda k, v: v.ndim == 1 and k.replace(".weight", ".running_mean") in state)
    if (len(t_convs), len(t_bns)) != (len(convs), len(bns)):
        raise WeightsMismatch(f"the file has {len(t_convs)} convolutions and {len(t_bns)} BatchNorms under "
                              f"'features', the model has {len(convs)} and {len(bns)} (is it a file for another "
                              f"model? its first tensor is {next(iter(state), None)!r})")
    plan = {n: (p, "conv") for n, p in zip(convs, t_convs)}
    plan.update({n: (p, "bn") for n, p in zip(bns, t_bns)})
    linears = sorted({int(m.group(1)) for k in state for m in [re.fullmatch(r"classifier\.(\d+)\.weight", k)] if m})
    for i, (name, idx) in enumerate(zip(dense_names, linears)):
        plan[name] = (f"classifier.{idx}", "flatten_dense" if i == 0 else "dense")
    return plan


def _plan_resnet(model) -> dict[str, tuple[str, str]]:
    plan = {}
    for layer in model.layers:
        name = layer.name
        if name in ("conv1_conv", "conv1_bn"):
            plan[name] = ("conv1" if name.endswith("conv") else "bn1", "conv" if name.endswith("conv") else "bn")
            continue
        if name == "predictions":
            plan[name] = ("fc", "dense")
            continue
        m = re.fullmatch(r"conv(\d)_block(\d+)_(\d)_(conv|bn)", name)
        if not m:
            continue
        stage, block, i, kind = int(m.group(1)), int(m.group(2)), int(m.group(3)), m.group(4)
        base = f"layer{stage - 1}.{block - 1}"
        if i == 0:
            plan[name] = (f"{base}.downsample.{0 if kind == 'conv' else 1}", kind)
        else:
            plan[name] = (f"{base}.{kind}{i}", kind)
    return plan


def from_torchvision(model, state: dict[str, np.ndarray], family: str) -> dict[str, tuple[str, list[np.ndarray]]]:
    """``{our layer: (torch module prefix, arrays)}`` from a torchvision state dict."""
    if family == "resnet":
        plan = _plan_resnet(model)
    elif family == "vgg":
        plan = _plan_sequential(model, state, ("fc1", "fc2", "predictions"))
    elif family == "alexnet":
        plan = _plan_sequential(model, state, ("fc6", "fc7", "predictions"))
    else:
        raise WeightsMismatch(f"there is no torchvision layout for the {family!r} family")
    names = {ly.name for ly in model.layers}
    top = "predictions" in names
    used = {p for n, (p, _) in plan.items() if n in names}
    _leftover([k for k in state if not k.endswith("num_batches_tracked") and k.rsplit(".", 1)[0] not in used
               and (top or k.split(".", 1)[0] not in HEAD["torch"])])
    out = {}
    flatten = _flatten_shape(model)
    for name, (prefix, kind) in plan.items():
        if name not in names:
            continue
        try:
            if kind == "conv":
                arrays = _conv(state, prefix)
            elif kind == "bn":
                arrays = _bn(state, prefix)
            else:
                arrays = _dense(state, prefix, flatten if kind == "flatten_dense" else None)
        except ValueError as exc:
            raise WeightsMismatch(str(exc)) from None
        out[name] = (prefix, arrays)
    return out


def assign(model, plan: dict[str, tuple[str, list[np.ndarray]]], what: str) -> int:
    """Check every array's shape against the model's, then set them all; returns the layers set.

    ``what`` names the file in errors. Raises ``WeightsMismatch`` naming the first tensor that does
    not fit (or the first weighted layer the file has nothing for), before any weight is changed.
    """
    pending = []
    for layer in model.layers:
        if not layer.weights:
            continue
        if layer.name not in plan:
            raise WeightsMismatch(f"{what} does not fit model {model.name!r}: it has nothing for layer {layer.name!r}")
        source, arrays = plan[layer.name]
        wanted = [tuple(w.shape) for w in layer.weights]
        got = [tuple(a.shape) for a in arrays]
        if wanted != got:
            raise WeightsMismatch(f"{what} does not fit model {model.name!r}: tensor {source!r} has shapes "
                                  f"{_shapes(got)}, layer {layer.name!r} needs {_shapes(wanted)}")
        pending.append((layer, [np.asarray(a, dtype=layer.weights[i].dtype) for i, a in enumerate(arrays)]))
    for layer, arrays in pending:
        layer.set_weights(arrays)
    return len(pending)


def _shapes(shapes) -> str:
    return ", ".join("x".join(map(str, s)) or "scalar" for s in shapes)
