"""Bodies of ``python -m compare profile`` and ``python -m compare arith`` (they print; library code does not).

Nothing here imports Keras at module level; a command checks its arguments before it loads anything.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from common.cli import SHAPE_FORM, parse_count, parse_positive, parse_shape
from common.files import check_saved_file
from common.text import shape_text, text_table

FORMATS = ("table", "markdown", "csv", "json")


def add_profile_parser(sub, parents: list[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("profile", parents=parents, help="per-layer shapes, params, MACs/FLOPs, activations",
                       description="Per-layer profile of a registered model or a saved .keras file.")
    p.add_argument("model", metavar="NAME|PATH.keras", help="registered model name or a saved .keras model")
    p.add_argument("--input-shape", metavar="H,W,C", help=f"input shape without batch axis ({SHAPE_FORM}); with a "
                                                          ".keras file, its architecture is rebuilt at that input "
                                                          "(a dense layer after a flatten changes size)")
    p.add_argument("--classes", help="number of classes (registered models only)")
    p.add_argument("--width", help="channel width multiplier (registered models only)")
    p.add_argument("--format", choices=FORMATS, default="table", help="output format (default: table)")
    p.set_defaults(func=cmd_profile)


def add_arith_parser(sub, parents: list[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("arith", parents=parents, help="explain one conv/pool layer's output size",
                       description="O = (N - F + 2P)/S + 1, explained for one layer. "
                                   "Exit status 1 when the layer does not fit its input.")
    p.add_argument("--input", type=int, required=True, metavar="N", help="input size N (square)")
    p.add_argument("--filter", type=int, required=True, metavar="F", help="filter size F")
    p.add_argument("--stride", type=int, default=1, metavar="S", help="stride S (default 1)")
    p.add_argument("--pad", type=int, default=0, metavar="P", help="zero padding per side P (default 0)")
    p.add_argument("--dilation", type=int, default=1, help="dilation (default 1)")
    p.add_argument("--rounding", choices=("exact", "floor", "ceil"), default="exact",
                   help="exact (default: error if not an integer), floor or ceil on purpose")
    p.add_argument("--channels", type=int, help="input channels (with --filters: params and MACs)")
    p.add_argument("--filters", type=int, help="number of filters")
    p.add_argument("--groups", type=int, default=1, help="groups (default 1)")
    p.set_defaults(func=cmd_arith)


# -- profile -----------------------------------------------------------------------------------
def _is_file_spec(spec: str) -> bool:
    return spec.endswith(".keras") or os.sep in spec or os.path.exists(spec)


def _check(args) -> dict:
    """The profile's arguments, checked without loading anything: the input shape, --classes and
    --width, and a model file that exists and is a .keras archive. Returns the builder overrides."""
    spec = args.model
    shape = parse_shape(args.input_shape) if args.input_shape is not None else None
    classes, width = parse_count(args.classes, "--classes"), parse_positive(args.width, "--width")
    if _is_file_spec(spec):
        if classes is not None or width is not None:
            raise ValueError("--classes and --width apply to registered model names, not to a saved model file")
        if not os.path.isfile(spec):
            raise FileNotFoundError(f"no such model file {spec!r} (expected a registered name or a .keras file)")
        check_saved_file(spec)
    return {k: v for k, v in (("input_shape", shape), ("classes", classes), ("width", width)) if v is not None}


def _load(args, overrides: dict):
    """The model named by ``args.model`` (checked by :func:`_check`): a registered builder or a
    saved .keras file; and the input shape to profile a saved model at (None: its own)."""
    import zoo

    spec = args.model
    if _is_file_spec(spec):
        import keras

        zoo.list_models()  # registers the zoo's custom layers for deserialisation
        try:
            model = keras.saving.load_model(spec, compile=False)
        except Exception as exc:  # a damaged archive, a missing custom layer, ... -> one line
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise ValueError(f"cannot load model file {spec!r}: {first}") from None
        return model, overrides.get("input_shape")
    zoo.card(spec)  # an unknown name raises, listing the closest names (as python -m zoo does)
    return zoo.build(spec, **overrides), None


def _cells(df, total) -> tuple[list[str], list[list[str]]]:
    """Header and formatted rows (with a totals line) of the human-readable formats."""
    import pandas as pd

    multi = df["branch"].nunique() > 1 or (len(df) and df["branch"].iloc[0] != "all")
    head = ["name", "type", "output", "params", "non-train", "MACs", "FLOPs", "all_ops", "act elems",
            "act bytes", "rf", "jump"] + (["branch"] if multi else [])

    def num(v) -> str:
        return "-" if pd.isna(v) else (f"{int(v):,}" if float(v).is_integer() else f"{v:.3g}")

    rows = []
    for r in df.itertuples(index=False):
        rows.append([r.name, r.type + (" (uncounted)" if r.uncounted else ""), shape_text(r.output_shape),
                     num(r.trainable), num(r.non_trainable), num(r.macs), num(r.flops), num(r.all_ops),
                     num(r.act_elems), num(r.act_bytes), num(r.rf), num(r.jump)] + ([r.branch] if multi else []))
    rows.append(["total", f"{total['weighted']} weighted", "", *(num(total[c]) for c in
                 ("trainable", "non_trainable", "macs", "flops", "all_ops", "act_elems", "act_bytes")),
                 "", ""] + ([""] if multi else []))
    return head, rows


def _markdown(head: list[str], rows: list[list[str]]) -> list[str]:
    out = ["| " + " | ".join(head) + " |", "|" + "|".join("---" if i < 3 else "---:" for i in range(len(head))) + "|"]
    out += ["| " + " | ".join(c.replace("|", "\\|") for c in r) + " |" for r in rows[:-1]]
    out.append("| " + " | ".join(f"**{c}**" if c else "" for c in rows[-1]) + " |")
    return out


def render(df, fmt: str, title: str) -> str:
    """The profile ``df`` as text in ``fmt`` (table, markdown, csv, json)."""
    from . import profile as prof

    total = prof.totals(df)
    if fmt in ("csv", "json"):
        flat = df.assign(output_shape=[shape_text(s) for s in df["output_shape"]])
        if fmt == "csv":
            tot = {**{c: "" for c in flat.columns}, **{k: int(v) for k, v in total.items() if k in flat.columns},
                   "name": "TOTAL"}
            return flat.to_csv(index=False) + ",".join(str(tot[c]) for c in flat.columns) + "\n"
        doc = {"model": title, "input_shape": list(df.attrs.get("input_shape", ())),
               "conventions": prof.CONVENTIONS, "layers": json.loads(flat.to_json(orient="records")),
               "totals": {k: int(v) for k, v in total.items()}}
        return json.dumps(doc, indent=1) + "\n"
    head, rows = _cells(df, total)
    shape = shape_text(df.attrs.get("input_shape", ()))
    conv = prof.CONVENTIONS
    if fmt == "markdown":
        lines = [f"**{title}** (input {shape}, per sample)", "", f"> {conv}", "", *_markdown(head, rows), ""]
    else:
        lines = [f"{title}: input {shape}, per sample", f"conventions: {conv}", "",
                 *text_table(head, rows[:-1], footer=rows[-1:])]
    return "\n".join(lines) + "\n"


def cmd_profile(args: argparse.Namespace) -> int:
    overrides = _check(args)  # before anything loads Keras
    from . import profile as prof

    model, shape = _load(args, overrides)
    df = prof.profile(model, input_shape=shape)
    saved = _is_file_spec(args.model)
    title = model.name if saved else args.model
    if saved and shape is not None:  # the saved architecture at another input, not the file
        title += f" (rebuilt at {shape_text(shape)})"
    sys.stdout.write(render(df, args.format, title))
    from zoo.graph import depth

    line = prof.summary(df, title, depth=depth(model))
    print(line, file=sys.stderr if args.format in ("csv", "json") else sys.stdout)
    return 0


# -- arith -------------------------------------------------------------------------------------
def _check_arith(args: argparse.Namespace) -> None:
    """Every arith option, named as on the command line, before anything is computed."""
    for option, value, minimum in (("--input", args.input, 1), ("--filter", args.filter, 1),
                                   ("--stride", args.stride, 1), ("--pad", args.pad, 0),
                                   ("--dilation", args.dilation, 1), ("--channels", args.channels, 1),
                                   ("--filters", args.filters, 1), ("--groups", args.groups, 1)):
        if value is not None and value < minimum:
            raise ValueError(f"{option} must be an integer >= {minimum}, got {value}")
    if (args.channels is None) != (args.filters is None):
        given, missing = ("--channels", "--filters") if args.filters is None else ("--filters", "--channels")
        raise ValueError(f"{given} needs {missing} too (params and MACs need both); accepted: both or neither")
    if args.groups != 1 and args.channels is None:
        raise ValueError(f"--groups {args.groups} needs --channels and --filters (it changes only params and MACs)")
    if args.channels is not None and (args.channels % args.groups or args.filters % args.groups):
        raise ValueError(f"--groups {args.groups} must divide --channels {args.channels} and --filters {args.filters}")


def cmd_arith(args: argparse.Namespace) -> int:
    from .arithmetic import explain

    _check_arith(args)
    fits, lines = explain(args.input, args.filter, args.stride, args.pad, args.rounding, args.dilation,
                          args.channels, args.filters, args.groups)
    print("\n".join(lines))
    return 0 if fits else 1

