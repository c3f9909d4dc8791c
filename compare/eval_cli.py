"""``python -m compare eval ...``: pretrained models on your own ImageNet validation folder."""

from __future__ import annotations

import argparse
import os
import sys
import time

from common.cli import parse_count

from .imagenet_eval import DEFAULT_BATCH_SIZE, PREPROCESSING_MODES

DEFAULT_OUT = os.path.join("runs", "eval")
PROGRESS_EVERY_S = 30.0  # without a terminal: one progress line per model at most this often


def add_eval_parser(sub, parents: list[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("eval", parents=parents, help="top-1/top-5 of pretrained models on your ImageNet val folder",
                       description="Measure the top-1 and top-5 accuracy of models with published ImageNet weights on "
                                   "an ImageNet validation folder (one sub-folder per class, named by WordNet id: "
                                   "n01440764, ...), beside the published figures. Results go to OUT/results.sqlite "
                                   "(study 'eval') and a report to OUT/report.md; re-running skips the models done.")
    p.add_argument("--models", required=True, help="comma-separated names with published weights, e.g. resnet18,vgg16")
    p.add_argument("--weights", default="imagenet",
                   help="imagenet (each model's default source), keras, torchvision, or a weights file (every model)")
    p.add_argument("--preprocessing", choices=PREPROCESSING_MODES,
                   help="with a weights file: the preprocessing it expects (default: that of the model's source in "
                        "the file's format; for the zoo's own files, the model's default source's)")
    p.add_argument("--dataset", required=True, help="folder:PATH, an ImageNet validation folder")
    p.add_argument("--batch-size", help=f"images per forward pass (default {DEFAULT_BATCH_SIZE})")
    p.add_argument("--limit", help="evaluate at most this many images (a fixed subset with the folder's class mix)")
    p.add_argument("--out", help=f"run directory (default {DEFAULT_OUT})")
    p.add_argument("--no-report", action="store_true", help="do not write the report at the end")
    p.set_defaults(func=cmd_eval)


def _folder(dataset: str) -> str:
    prefix, _, path = dataset.strip().partition(":")
    if prefix.lower() != "folder" or not path:
        raise ValueError(f"--dataset {dataset!r} is not an image folder; accepted: folder:PATH, an ImageNet "
                         "validation folder with one sub-folder per class named by WordNet id (n01440764, ...)")
    if not os.path.isdir(os.path.expanduser(path)):
        what = "is a file" if os.path.exists(os.path.expanduser(path)) else "does not exist"
        raise ValueError(f"--dataset {dataset!r}: {path} {what}; accepted: folder:PATH, an ImageNet validation "
                         "folder with one sub-folder per class named by WordNet id (n01440764, ...)")
    return path


def _eta(seconds: float) -> str:
    m, s = divmod(int(seconds + 0.5), 60)
    return f"about {m}m{s:02d}s left"


def printer():
    """A progress callback for :func:`compare.imagenet_eval.run_eval`: lines on stdout with the summary
    (errors alone go to stderr); on a terminal the image count is rewritten in place."""
    tty = sys.stdout.isatty()
    last = [0.0]

    def say(text: str, end: str = "\n") -> None:
        print(("\r\033[K" if tty else "") + text, end=end, flush=True)

    def progress(event, i, n, cfg, **info):
        tag = f"[{i}/{n}] {cfg['model']} ({os.path.basename(cfg['weights'])})"
        if event == "skip":
            say(f"{tag}: already done, skipped")
        elif event == "start":
            last[0] = time.perf_counter()
            say(f"{tag}: {info['images']:,} images, {cfg['preprocessing']} preprocessing at {cfg['input_size']}",
                end="" if tty else "\n")
        elif event == "batch":
            now = time.perf_counter()
            if tty or (now - last[0] >= PROGRESS_EVERY_S and info["done"] < info["images"]):
                last[0] = now
                say(f"{tag}: {info['done']:,}/{info['images']:,} images, {_eta(info['eta_s'])}",
                    end="" if tty else "\n")
        elif event == "done":
            m = info["metrics"]
            left_out = (f" ({m['unreadable']:,} unreadable left out, the first {m['first_unreadable']})"
                        if m.get("unreadable") else "")
            say(f"{tag}: top-1 {m['top1_acc'] * 100:.2f}%, top-5 {m['top5_acc'] * 100:.2f}% on {m['n_images']:,} "
                f"images{left_out}, {info['seconds']:.0f} s")
        elif event == "failed":
            say(f"{tag}: FAILED: {info['reason']}")
    return progress


def cmd_eval(args: argparse.Namespace) -> int:
    """Check every argument and the folder (cheap: no TensorFlow, no image read), then evaluate."""
    from .imagenet_eval import plan_eval, run_eval, scan_folder
    from .run_cli import check_out, finish

    models = [m.strip() for m in args.models.split(",") if m.strip()]
    if not models:
        raise ValueError(f"--models {args.models!r} names no model; accepted: names from python -m zoo list, "
                         "comma-separated")
    batch_size = parse_count(args.batch_size, "--batch-size") or DEFAULT_BATCH_SIZE
    limit = parse_count(args.limit, "--limit")
    folder = scan_folder(_folder(args.dataset), limit)
    # folder.limit: None when the limit keeps every image (the same row as a run without --limit)
    configs = plan_eval(models, args.weights, args.dataset.strip(), preprocessing=args.preprocessing,
                        limit=folder.limit)
    out = args.out or DEFAULT_OUT
    check_out(out)
    print(f"{len(configs)} model(s) on {len(folder.files):,} images of {len(folder.classes)} class(es) -> {out}",
          flush=True)
    summary = run_eval(configs, folder, out, batch_size=batch_size, progress=printer())
    return finish(summary, out, args)
