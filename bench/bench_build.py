"""Build time of every registered model at its default input, and VGG-16 / VGG-19 / ResNet-50 side
by side with ``keras.applications`` (``weights=None``) in one process, alternating, medians of
``--rounds``. Target (issue 2): ours no slower than keras.applications.

    python bench/bench_build.py [--rounds 5] [--skip resnet1202] [--write]
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from common.cli import quiet_tensorflow  # noqa: E402

quiet_tensorflow()

import keras  # noqa: E402

import zoo  # noqa: E402

PAIRS = {"vgg16": keras.applications.VGG16, "vgg19": keras.applications.VGG19,
         "resnet50": keras.applications.ResNet50}


def timed(fn) -> float:
    keras.backend.clear_session()
    gc.collect()
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--skip", default="", help="comma-separated models not to build in the per-model table")
    args = p.parse_args()
    print(f"machine: {os.cpu_count()} cpus, {platform.machine()}, python {platform.python_version()}, "
          f"keras {keras.__version__}")
    print("\n| model | ours (s) | keras.applications (s) | ratio ours/keras |\n|---|---:|---:|---:|")
    for name, app in PAIRS.items():
        ours, theirs = [], []
        for _ in range(args.rounds):
            ours.append(timed(lambda: zoo.build(name)))
            theirs.append(timed(lambda: app(weights=None)))
        o, t = statistics.median(ours), statistics.median(theirs)
        print(f"| {name} | {o:.2f} | {t:.2f} | {o / t:.2f} |")
    skip = set(filter(None, args.skip.split(",")))
    print("\n| model | input | build (s) |\n|---|---|---:|")
    total = 0.0
    for name in zoo.list_models():
        if name in skip:
            continue
        s = timed(lambda: zoo.build(name))
        total += s
        print(f"| {name} | {'x'.join(map(str, zoo.card(name).input_shape))} | {s:.2f} |")
    print(f"\nall {len(zoo.list_models()) - len(skip)} models: {total:.1f} s")


if __name__ == "__main__":
    main()
