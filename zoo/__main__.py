"""python -m zoo list [PATTERN ...] | show NAME | reference: the model cards on the command line.

``list``, ``show`` (the card) and ``reference`` read the cards only: no TensorFlow is imported.
``show --summary`` (or any of its build options) builds the model and prints Keras' summary.
"""

from __future__ import annotations

import argparse
import sys
from typing import Sequence

from common.cli import Parser, parse_shape, quiet_tensorflow, run_main
from common.conventions import CONVENTIONS
from common.text import text_table
from zoo.reference import count, published_error


def _err(c) -> str:
    return published_error(c, "%")


def _shape(shape) -> str:
    return "x".join(str(d) for d in shape)


def cmd_list(args) -> int:
    import zoo

    names = zoo.list_models(args.pattern or "*", exclude=args.exclude, family=args.family, tag=args.tag)
    if not names:
        raise ValueError(f"no model matches {' '.join(args.pattern or ['*'])!r} with the given filters; accepted: "
                         f"fnmatch patterns such as 'resnet*' ({len(zoo.list_models())} models registered)")
    rows = []
    for n in names:
        c = zoo.card(n)
        rows.append((n, c.family, str(c.year), _shape(c.input_shape), count(c.params), count(c.non_trainable),
                     count(c.macs), str(c.depth), _err(c)))
    head = ("name", "family", "year", "input", "params", "non-trainable", "MACs", "depth", "published error")
    print("\n".join(text_table(head, rows)))
    print(f"# {CONVENTIONS} Figures at the default input; sources: python -m zoo show NAME, docs/reference.md")
    print(f"{len(names)} model(s) listed")
    return 0


def _print_card(c) -> None:
    for key in ("name", "family", "variant", "paper", "year"):
        print(f"{key:>16}: {getattr(c, key)}")
    print(f"{'default input':>16}: {_shape(c.input_shape)} (minimum {c.min_size}x{c.min_size}), {c.classes} classes")
    print(f"{'params':>16}: {count(c.params)} trainable, {count(c.non_trainable)} non-trainable")
    print(f"{'MACs':>16}: {count(c.macs)} at the default input (FLOPs = 2 x MACs)")
    print(f"{'depth':>16}: {c.depth} weighted layers on the longest path")
    print(f"{'published error':>16}: {_err(c)}")
    print(f"{'tags':>16}: {', '.join(c.tags) or '-'}")
    print(f"{'about':>16}: {c.description}")
    for figure, source in c.sources.items():
        print(f"{'source ' + figure:>16}: {source}")


def cmd_show(args) -> int:
    import zoo

    c = zoo.card(args.name)
    overrides = {}
    if args.input_shape:
        overrides["input_shape"] = parse_shape(args.input_shape)
    if args.classes is not None:
        if args.classes < 1:
            raise ValueError(f"--classes must be an integer >= 1, got {args.classes}")
        overrides["classes"] = args.classes
    if args.width is not None:
        if not args.width > 0:
            raise ValueError(f"--width must be a number > 0, got {args.width:g}")
        overrides["width"] = args.width
    _print_card(c)
    if not (args.summary or overrides):
        return 0
    sys.stdout.flush()
    quiet_tensorflow(args.verbose)
    model = zoo.build(args.name, **overrides)
    model.summary(print_fn=lambda line, **kw: print(line))
    trainable = sum(int(w.numpy().size) for w in model.trainable_weights)
    frozen = sum(int(w.numpy().size) for w in model.non_trainable_weights)
    print(f"{model.name}: {trainable:,} trainable + {frozen:,} non-trainable params, depth {zoo.depth(model)}, "
          f"input {_shape(model.input_shape[1:])}")
    return 0


def cmd_reference(args) -> int:
    from zoo.reference import render

    print(render(), end="")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = Parser(prog="python -m zoo", description="Classic CNNs, faithful to their papers: the model cards.")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--verbose", action="store_true", help="show TensorFlow's start-up logs")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=Parser)
    ls = sub.add_parser("list", parents=[common], help="a table of the model cards (no TensorFlow)")
    ls.add_argument("pattern", nargs="*", help="fnmatch patterns, e.g. 'resnet*' 'vgg1?' (default: all)")
    ls.add_argument("--exclude", action="append", metavar="PATTERN", help="leave out names matching, e.g. '*_bn'")
    ls.add_argument("--family", action="append", help="only this card family, e.g. resnet_cifar")
    ls.add_argument("--tag", action="append", help="only models with this tag, e.g. imagenet, batchnorm, residual")
    ls.set_defaults(func=cmd_list)
    sh = sub.add_parser("show", parents=[common], help="one card, its figures and their sources")
    sh.add_argument("name", help="a registered model name (python -m zoo list)")
    sh.add_argument("--summary", action="store_true", help="also build the model and print Keras' layer summary")
    sh.add_argument("--input-shape", help="build at this input, e.g. 32,32,3 (implies --summary)")
    sh.add_argument("--classes", type=int, help="build with this many outputs (implies --summary)")
    sh.add_argument("--width", type=float, help="build with this channel multiplier, e.g. 0.25 (implies --summary)")
    sh.set_defaults(func=cmd_show)
    ref = sub.add_parser("reference", parents=[common],
                         help="print docs/reference.md (conventions, every card's figures and sources)")
    ref.set_defaults(func=cmd_reference)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(run_main(main))
