"""python -m zoo list [PATTERN] | show NAME: the model cards on the command line."""

from __future__ import annotations

import argparse
import sys
from typing import Sequence

from common.cli import parse_shape, quiet_tensorflow, run_main
from common.conventions import CONVENTIONS



def _num(v) -> str:
    return "-" if v is None else f"{v:,}"


def _err(c) -> str:
    parts = []
    if c.top1_err is not None:
        parts.append(f"top-1 {c.top1_err:g}%")
    if c.top5_err is not None:
        parts.append(f"top-5 {c.top5_err:g}%")
    return (", ".join(parts) + (f" ({c.err_dataset})" if c.err_dataset else "")) if parts else "-"


def _shape(shape) -> str:
    return "x".join(str(d) for d in shape)


def cmd_list(args) -> int:
    import zoo

    names = zoo.list_models(args.pattern)
    if not names:
        raise ValueError(f"no model matches {args.pattern!r}; accepted: an fnmatch pattern such as 'resnet*' "
                         f"({len(zoo.list_models())} models registered)")
    rows = []
    for i, n in enumerate(names, 1):
        if args.depth:
            print(f"\r  measuring depth {i}/{len(names)}: {n:<16}", end="", file=sys.stderr, flush=True)
        c = zoo.card(n)
        depth = c.depth if args.depth else c.ref_depth
        rows.append((n, c.family, str(c.year), _shape(c.input_shape), _num(c.params), _num(c.macs),
                     _num(depth), _err(c)))
    if args.depth:
        print("\r" + " " * 60 + "\r", end="", file=sys.stderr)
    head = ("name", "family", "year", "input", "params", "MACs", "depth" if args.depth else "depth (paper)",
            "published error")
    widths = [max(len(r[i]) for r in (head, *rows)) for i in range(len(head))]
    right = {4, 5, 6}
    for r in (head, *rows):
        print("  ".join(v.rjust(w) if i in right else v.ljust(w) for i, (v, w) in enumerate(zip(r, widths))).rstrip())
    print(f"# {CONVENTIONS}; figures at the default input")
    print(f"{len(names)} model(s) match {args.pattern!r}")
    return 0


def cmd_show(args) -> int:
    import zoo

    c = zoo.card(args.name)
    overrides = {}
    if args.input_shape:
        overrides["input_shape"] = parse_shape(args.input_shape)
    if args.classes is not None:
        overrides["classes"] = args.classes
    if args.width is not None:
        overrides["width"] = args.width
    model = zoo.build(args.name, **overrides)
    for key in ("name", "family", "variant", "paper", "year"):
        print(f"{key:>16}: {getattr(c, key)}")
    print(f"{'default input':>16}: {_shape(c.input_shape)} (minimum {c.min_size}x{c.min_size})")
    print(f"{'params':>16}: {_num(c.params)} trainable, {_num(c.non_trainable)} non-trainable (reference)")
    print(f"{'MACs':>16}: {_num(c.macs)} (reference at the default input)")
    print(f"{'depth':>16}: {c.depth} weighted layers (measured on the graph; paper: {_num(c.ref_depth)})")
    print(f"{'published error':>16}: {_err(c)}")
    print(f"{'about':>16}: {c.description}")
    model.summary(print_fn=lambda line, **kw: print(line))
    trainable = sum(int(w.numpy().size) for w in model.trainable_weights)
    frozen = sum(int(w.numpy().size) for w in model.non_trainable_weights)
    print(f"{model.name}: {trainable:,} trainable + {frozen:,} non-trainable params, depth {zoo.depth(model)}, "
          f"input {_shape(model.input_shape[1:])}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m zoo", description="Classic CNNs, faithful to their papers.")
    p.add_argument("--verbose", action="store_true", help="show TensorFlow's start-up logs")
    sub = p.add_subparsers(dest="command", required=True)
    ls = sub.add_parser("list", help="a table of the model cards")
    ls.add_argument("pattern", nargs="?", default="*", help="fnmatch pattern, e.g. 'resnet*'")
    ls.add_argument("--depth", action="store_true", help="measure depth on each built graph (slower)")
    ls.set_defaults(func=cmd_list)
    sh = sub.add_parser("show", help="one card and the Keras summary")
    sh.add_argument("name")
    sh.add_argument("--input-shape", help="e.g. 32,32,3")
    sh.add_argument("--classes", type=int)
    sh.add_argument("--width", type=float)
    sh.set_defaults(func=cmd_show)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    quiet_tensorflow(args.verbose)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(run_main(main))
