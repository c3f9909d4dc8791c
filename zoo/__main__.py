"""python -m zoo list [PATTERN ...] | show NAME | reference | predict IMAGE ...: the model cards on
the command line, and the pretrained models on your images.

``list``, ``show`` (the card) and ``reference`` read the cards only: no TensorFlow is imported.
``show --summary`` (or any of its build options) builds the model and prints Keras' summary.
``predict IMAGE... --model vgg16 --weights imagenet`` prints each image's top-5 ImageNet classes.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from typing import Sequence

from common.cli import Parser, parse_shape, quiet_tensorflow, run_main
from common.conventions import CONVENTIONS
from common.text import shape_text, text_table
from zoo.reference import count, published_error


def _err(c) -> str:
    return published_error(c, "%")


def cmd_list(args) -> int:
    import zoo

    from zoo.weights import sources_for

    names = zoo.list_models(args.pattern or "*", exclude=args.exclude, family=args.family, tag=args.tag,
                            pretrained=args.pretrained)
    if not names:
        raise ValueError(f"no model matches {' '.join(args.pattern or ['*'])!r} with the given filters; accepted: "
                         f"fnmatch patterns such as 'resnet*' ({len(zoo.list_models())} models registered)")
    rows = []
    for n in names:
        c = zoo.card(n)
        rows.append((n, c.family, str(c.year), shape_text(c.input_shape), count(c.params), count(c.non_trainable),
                     count(c.macs), str(c.depth), ", ".join(w.source for w in sources_for(n)) or "-", _err(c)))
    head = ("name", "family", "year", "input", "params", "non-trainable", "MACs", "depth", "weights",
            "published error")
    print("\n".join(text_table(head, rows)))
    print(f"# {CONVENTIONS} Figures at the default input; sources: python -m zoo show NAME, docs/reference.md")
    print(f"{len(names)} model(s) listed")
    return 0


def _print_card(c) -> None:
    for key in ("name", "family", "variant", "paper", "year"):
        print(f"{key:>16}: {getattr(c, key)}")
    print(f"{'default input':>16}: {shape_text(c.input_shape)} (minimum {c.min_size}x{c.min_size}), {c.classes} classes")
    print(f"{'params':>16}: {count(c.params)} trainable, {count(c.non_trainable)} non-trainable")
    print(f"{'MACs':>16}: {count(c.macs)} at the default input (FLOPs = 2 x MACs)")
    print(f"{'depth':>16}: {c.depth} weighted layers on the longest path")
    print(f"{'published error':>16}: {_err(c)}")
    print(f"{'tags':>16}: {', '.join(c.tags) or '-'}")
    print(f"{'about':>16}: {c.description}")
    for figure, source in c.sources.items():
        print(f"{'source ' + figure:>16}: {source}")
    from zoo.weights import sources_for

    for i, w in enumerate(sources_for(c.name)):
        default = " (weights='imagenet')" if i == 0 else ""
        print(f"{'weights':>16}: {w.source}{default}: top-1 {w.top1:g}%, top-5 {w.top5:g}%; {w.protocol}")
        print(f"{'':>16}  {w.url} ({w.hash_kind} {w.file_hash}); preprocessing {w.preprocessing}; "
              f"licence {w.licence}")
    if not sources_for(c.name):
        print(f"{'weights':>16}: none published (random initialisation; models with weights: "
              "python -m zoo list --pretrained)")


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
    if not (args.summary or overrides):
        _print_card(c)
        return 0
    quiet_tensorflow(args.verbose)
    model = zoo.build(args.name, **overrides)  # a shape or width the model cannot take: before any output
    _print_card(c)
    model.summary(print_fn=lambda line, **kw: print(line))
    trainable = sum(int(w.numpy().size) for w in model.trainable_weights)
    frozen = sum(int(w.numpy().size) for w in model.non_trainable_weights)
    print(f"{model.name}: {trainable:,} trainable + {frozen:,} non-trainable params, depth {zoo.depth(model)}, "
          f"input {shape_text(model.input_shape[1:])}")
    return 0


def cmd_reference(args) -> int:
    from zoo.reference import render

    print(render(), end="")
    return 0


def cmd_predict(args) -> int:
    import os

    import zoo
    from zoo.weights import NAMED, SOURCES, check_file_layout, pick_source, preprocessing_for

    c = zoo.card(args.model)
    if c.classes != 1000 or len(c.input_shape) != 3 or c.input_shape[-1] != 3:
        raise ValueError(f"--model {c.name} is not an ImageNet model (input {shape_text(c.input_shape)}, "
                         f"{c.classes} classes); models with published weights: {', '.join(SOURCES)}")
    if args.top < 1 or args.top > 1000:
        raise ValueError(f"--top must be an integer from 1 to 1000, got {args.top}")
    weights = args.weights if args.weights.lower() in NAMED else os.path.expanduser(args.weights)
    if weights.lower() in NAMED:
        if args.preprocessing is not None:
            raise ValueError(f"--preprocessing is for a weights file; --weights {weights} uses its source's own "
                             f"({pick_source(c.name, weights).preprocessing} for {c.name})")
        source = pick_source(c.name, weights)
    elif not os.path.isfile(weights):
        raise ValueError(f"--weights {weights!r} is neither a file nor a source; accepted: "
                         f"{', '.join(NAMED)} or a path to a weights file")
    else:
        source = None
        check_file_layout(c.name, weights)  # a torchvision file for resnet50: refused before any build
        if args.preprocessing is None:
            # what the file's own layout expects (a torchvision .pth: torch's, whatever the model's default)
            args.preprocessing = preprocessing_for(c.name, weights)
            if args.preprocessing is None:
                raise ValueError(f"--preprocessing is needed with {os.path.basename(weights)} for {c.name} (nothing "
                                 "says what the file expects); accepted: caffe, torch")
    missing = [p for p in args.images if not os.path.isfile(p)]
    if missing:
        what = "is a directory" if os.path.isdir(missing[0]) else "does not exist"
        raise ValueError(f"image {missing[0]!r} {what}; accepted: image files (JPEG, PNG, ...)")
    quiet_tensorflow(args.verbose)
    from zoo.imagenet import decode_predictions, load_images

    mode = args.preprocessing or source.preprocessing
    x = load_images(args.images, c.name, mode, size=c.input_shape[0])
    with contextlib.redirect_stdout(sys.stderr):  # Keras' download messages and progress bar: stdout is the answer
        model = zoo.build(c.name, weights=weights)
    probs = model.predict(x, verbose=0)
    for path, best in zip(args.images, decode_predictions(probs, top=args.top)):
        print(path)
        for rank, (wnid, name, p) in enumerate(best, start=1):
            print(f"  {rank}. {name:<32} {wnid}  {p:7.2%}")
    label = f"{source.source} weights" if weights.lower() in NAMED else os.path.basename(weights)
    print(f"{len(args.images)} image(s) classified by {c.name} ({label}, {mode} preprocessing)")
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
    ls.add_argument("--pretrained", action="store_true", help="only models with published ImageNet weights")
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
    pr = sub.add_parser("predict", parents=[common], help="top-5 ImageNet classes of images, with pretrained weights")
    pr.add_argument("images", nargs="+", metavar="IMAGE", help="image files (JPEG, PNG, ...)")
    pr.add_argument("--model", required=True, help="a model with published weights, e.g. vgg16, resnet50")
    pr.add_argument("--weights", default="imagenet",
                    help="imagenet (the default source), keras, torchvision, or a weights file")
    pr.add_argument("--preprocessing", choices=("caffe", "torch"),
                    help="for a weights file: the preprocessing it expects (default: that of the model's source "
                         "in the file's format; for the zoo's own files, the model's default source's)")
    pr.add_argument("--top", type=int, default=5, help="classes shown per image (default 5)")
    pr.set_defaults(func=cmd_predict)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(run_main(main))
