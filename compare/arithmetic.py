"""Convolution arithmetic in pure Python: output sizes, fit checks, parameter counts, receptive fields.

``O = (N - F + 2P) / S + 1`` (docs/reference.md). With ``rounding="exact"`` a layer whose result is not an
integer does not fit its input and raises a ``ValueError`` that shows the arithmetic; ``"floor"``
and ``"ceil"`` round on purpose (Caffe-era pooling uses ceil). ``"same"``/``"valid"`` padding follow
Keras/TensorFlow. Dilation ``d`` widens a filter to ``d * (F - 1) + 1``.

No Keras import: safe for command-line help and quick checks.
Reference: Dumoulin & Visin, A guide to convolution arithmetic for deep learning (2016).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Iterable, Sequence

__all__ = [
    "ROUNDINGS", "PADDINGS", "effective_filter", "conv_output_size", "padded_output_size",
    "same_padding", "transposed_output_size", "conv_params", "conv_macs", "conv_layer",
    "RFStep", "receptive_field", "explain",
]

ROUNDINGS = ("exact", "floor", "ceil")
PADDINGS = ("same", "valid")


def _int(name: str, value, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return value


def _pad_pair(pad) -> tuple[int, int]:
    """``P`` or ``(before, after)`` -> (before, after)."""
    if isinstance(pad, (tuple, list)):
        if len(pad) != 2:
            raise ValueError(f"pad must be an integer or a (before, after) pair, got {pad!r}")
        return _int("pad", pad[0], 0), _int("pad", pad[1], 0)
    p = _int("pad", pad, 0)
    return p, p


def effective_filter(f: int, dilation: int = 1) -> int:
    """The extent of a dilated filter: ``d * (F - 1) + 1``."""
    return _int("dilation", dilation, 1) * (_int("filter", f, 1) - 1) + 1


def _formula(n: int, f: int, s: int, total_pad: int, value: Fraction) -> str:
    shown = f"{float(value):.2f}" if value.denominator != 1 else str(int(value))
    return f"({n} - {f} + {total_pad})/{s} + 1 = {shown}"


def conv_output_size(n: int, f: int, s: int = 1, p=0, rounding: str = "exact", dilation: int = 1) -> int:
    """Output size of a conv or pool layer: ``(N - F + 2P)/S + 1``.

    ``p`` is the padding on each side (or a ``(before, after)`` pair). ``rounding``: ``"exact"``
    raises ``ValueError`` when the layer does not fit, ``"floor"`` drops the incomplete last window,
    ``"ceil"`` keeps it (Caffe: a window that would start beyond the padded input is dropped).
    """
    n, s = _int("input", n, 1), _int("stride", s, 1)
    fe = effective_filter(f, dilation)
    before, after = _pad_pair(p)
    if rounding not in ROUNDINGS:
        raise ValueError(f"rounding must be one of {', '.join(ROUNDINGS)}, got {rounding!r}")
    span = n - fe + before + after
    if span < 0:
        raise ValueError(f"filter {fe} is larger than the padded input {n + before + after} "
                         f"({n} + padding {before + after}): the layer does not fit")
    value = Fraction(span, s) + 1
    if rounding == "exact":
        if value.denominator != 1:
            raise ValueError(f"{_formula(n, fe, s, before + after, value)} is not an integer: "
                             f"a {fe}x{fe} filter with stride {s} and padding {before + after} "
                             f"does not fit a {n}x{n} input (use rounding='floor' or 'ceil' on purpose, "
                             f"or change the padding or stride)")
        return int(value)
    if rounding == "floor":
        return span // s + 1
    out = -(-span // s) + 1
    if (out - 1) * s >= n + before:  # the last window would start in the right padding only
        out -= 1
    return out


def padded_output_size(n: int, f: int, s: int = 1, padding: str = "valid", dilation: int = 1) -> int:
    """Keras/TensorFlow output size: ``"same"`` -> ceil(N/S); ``"valid"`` -> floor((N - F)/S) + 1."""
    n, s = _int("input", n, 1), _int("stride", s, 1)
    fe = effective_filter(f, dilation)
    if padding == "same":
        return -(-n // s)
    if padding == "valid":
        if fe > n:
            raise ValueError(f"filter {fe} is larger than the input {n} with 'valid' padding")
        return (n - fe) // s + 1
    raise ValueError(f"padding must be 'same' or 'valid', got {padding!r}")


def same_padding(n: int, f: int, s: int = 1, dilation: int = 1) -> tuple[int, int]:
    """The (before, after) zero padding TensorFlow adds for ``"same"`` (the extra pixel goes after)."""
    out = padded_output_size(n, f, s, "same", dilation)
    total = max((out - 1) * s + effective_filter(f, dilation) - n, 0)
    return total // 2, total - total // 2


def transposed_output_size(n: int, f: int, s: int = 1, padding: str = "valid",
                           output_padding: int | None = None, dilation: int = 1) -> int:
    """Output size of a transposed convolution (Keras ``Conv2DTranspose`` semantics)."""
    n, s = _int("input", n, 1), _int("stride", s, 1)
    fe = effective_filter(f, dilation)
    if padding not in PADDINGS:
        raise ValueError(f"padding must be 'same' or 'valid', got {padding!r}")
    if output_padding is None:
        return n * s if padding == "same" else n * s + max(fe - s, 0)
    pad = fe // 2 if padding == "same" else 0
    return (n - 1) * s + fe - 2 * pad + output_padding


def _kernel_volume(kernel) -> int:
    ks = tuple(kernel) if isinstance(kernel, (tuple, list)) else (kernel,)
    return math.prod(_int("filter", k, 1) for k in ks)


def conv_params(kernel, c_in: int, c_out: int, groups: int = 1, bias: bool = True) -> int:
    """Parameters of a convolution: ``prod(kernel) * (C_in/groups) * C_out (+ C_out bias)``.

    ``kernel`` is an int (square/1-D) or a tuple such as ``(5, 5)``; a 2-D square kernel is
    ``(5, 5)``, not ``5`` (``5`` is a 1-D kernel): ``conv_params((5, 5), 3, 10) == 760``.
    """
    c_in, c_out, groups = _int("c_in", c_in, 1), _int("c_out", c_out, 1), _int("groups", groups, 1)
    if c_in % groups or c_out % groups:
        raise ValueError(f"groups={groups} must divide both C_in={c_in} and C_out={c_out}")
    return _kernel_volume(kernel) * (c_in // groups) * c_out + (c_out if bias else 0)


def conv_macs(kernel, c_in: int, c_out: int, out_spatial: Sequence[int], groups: int = 1) -> int:
    """Multiply-accumulates of one convolution per sample: ``prod(k) * C_in/groups * C_out * prod(out)``."""
    weights = conv_params(kernel, c_in, c_out, groups, bias=False)
    return weights * math.prod(_int("output size", o, 1) for o in out_spatial)


def conv_layer(input_shape: Sequence[int], filters: int, kernel: int, stride: int = 1, pad=0,
               groups: int = 1, bias: bool = True, rounding: str = "exact") -> tuple[tuple[int, ...], int]:
    """(output shape, params) of a square conv on a channels-last ``input_shape`` such as (32, 32, 3).

    >>> conv_layer((32, 32, 3), filters=10, kernel=5, stride=1, pad=2)
    ((32, 32, 10), 760)
    """
    *spatial, c_in = input_shape
    out = tuple(conv_output_size(n, kernel, stride, pad, rounding) for n in spatial)
    return (*out, filters), conv_params((kernel,) * len(spatial), c_in, filters, groups, bias)


@dataclass(frozen=True)
class RFStep:
    """Receptive field after one layer: ``rf`` input pixels wide, outputs ``jump`` input pixels apart,
    the first output centred on input pixel ``start`` (0-based, may be negative with padding)."""

    rf: int
    jump: int
    start: float


def receptive_field(layers: Iterable[Sequence[int]], pads: Iterable[int] | None = None) -> list[RFStep]:
    """Receptive field and jump through a stack of ``(filter, stride[, dilation])`` layers.

    ``rf_out = rf_in + (F_eff - 1) * jump_in``, ``jump_out = jump_in * S``.

    >>> [s.rf for s in receptive_field([(3, 1), (3, 1), (3, 1)])]
    [3, 5, 7]
    """
    steps: list[RFStep] = []
    rf, jump, start = 1, 1, 0.0
    layers = list(layers)
    pads = [0] * len(layers) if pads is None else list(pads)
    if len(pads) != len(layers):
        raise ValueError(f"pads has {len(pads)} entries for {len(layers)} layers")
    for layer, pad in zip(layers, pads):
        if len(layer) not in (2, 3):
            raise ValueError(f"each layer is (filter, stride) or (filter, stride, dilation), got {layer!r}")
        f, s = layer[0], _int("stride", layer[1], 1)
        fe = effective_filter(f, layer[2] if len(layer) == 3 else 1)
        start = start + ((fe - 1) / 2 - pad) * jump
        rf, jump = rf + (fe - 1) * jump, jump * s
        steps.append(RFStep(rf, jump, start))
    return steps


def explain(n: int, f: int, s: int = 1, p=0, rounding: str = "exact", dilation: int = 1,
            channels: int | None = None, filters: int | None = None, groups: int = 1) -> tuple[bool, list[str]]:
    """Explain one layer in words: (fits, lines). Never raises for a layer that merely does not fit."""
    n, s = _int("input", n, 1), _int("stride", s, 1)
    fe = effective_filter(f, dilation)
    before, after = _pad_pair(p)
    total = before + after
    dilated = f" (filter {f}, dilation {dilation})" if dilation > 1 else ""
    lines = [f"O = (N - F + 2P)/S + 1 with N={n}, F={fe}{dilated}, S={s}, "
             f"P={before if before == after else (before, after)}"]
    span = n - fe + total
    if span < 0:
        lines.append(f"filter {fe} is larger than the padded input {n + total}: the layer does not fit")
        return False, lines
    value = Fraction(span, s) + 1
    fits = value.denominator == 1 or rounding != "exact"
    if value.denominator == 1:
        out = int(value)
        lines.append(f"O = {_formula(n, fe, s, total, value)}: fits, output {out}x{out}")
    else:
        fl, ce = conv_output_size(n, f, s, p, "floor", dilation), conv_output_size(n, f, s, p, "ceil", dilation)
        lines.append(f"O = {_formula(n, fe, s, total, value)} is not an integer"
                     + (": the layer does not fit" if rounding == "exact" else "")
                     + f" (floor rounding gives {fl}, ceil gives {ce})")
        if rounding != "exact":
            out = fl if rounding == "floor" else ce
            lines.append(f"{rounding} rounding on purpose: output {out}x{out}")
        good = [q for q in range(0, fe) if (n - fe + 2 * q) % s == 0 and n - fe + 2 * q >= 0]
        if good:
            lines.append(f"padding that fits with stride {s}: P={good[0]}")
        strides = [t for t in range(1, fe + 1) if span % t == 0 and t != s]
        if strides:
            lines.append(f"strides that fit with padding {total // 2 if before == after else (before, after)}: "
                         + ", ".join(map(str, strides)))
    lines.append(f"'same' padding (Keras) gives {padded_output_size(n, f, s, 'same', dilation)}, "
                 f"'valid' gives {padded_output_size(n, f, s, 'valid', dilation) if fe <= n else 'nothing'}")
    if filters is not None and channels is not None and fits:
        out = conv_output_size(n, f, s, p, "floor" if rounding == "exact" else rounding, dilation)
        params = conv_params((f, f), channels, filters, groups)
        per = f"{f}*{f}*{channels // groups}"
        lines.append(f"{n}x{n}x{channels} -> {out}x{out}x{filters}, params = {filters}*({per}+1) = {params:,}"
                     + (f" (groups {groups})" if groups > 1 else ""))
        macs = conv_macs((f, f), channels, filters, (out, out), groups)
        lines.append(f"MACs = {per}*{filters}*{out}*{out} = {macs:,}")
    return fits, lines
