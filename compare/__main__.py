"""``python -m compare COMMAND ...``: measure models from the command line.

With no command: the main job (one model of each family trained on the embedded MNIST digits,
then the report). Commands: ``run`` (train and evaluate models into a results store),
``profile`` (per-layer table of a model), ``arith`` (one conv/pool layer explained) and
``depth`` (plain vs residual nets at growing depth) and ``bench`` (inference speed and memory
of the real networks at paper size).
To add a command, write ``add_<name>_parser(sub, parents)`` in its own module (setting ``func``
with ``set_defaults``) and call it in :func:`build_parser`.
"""

from __future__ import annotations

import argparse
import sys
from typing import Sequence

from common.cli import Parser, quiet_tensorflow, run_main

from . import bench_cli, depth_cli, profile_cli, run_cli


def build_parser() -> argparse.ArgumentParser:
    """The argument parser: one subparser per command, each with ``--verbose``."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--verbose", action="store_true", help="show TensorFlow's start-up logs and warnings")
    parser = Parser(prog="python -m compare", description="Measure and compare models. With no command: "
                     "the main job (python -m compare run --preset main --out runs/main).")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    run_cli.add_run_parser(sub, [common])
    __import__("compare.eval_cli").eval_cli.add_eval_parser(sub, [common])  # pretrained models on an ImageNet folder
    profile_cli.add_profile_parser(sub, [common])
    profile_cli.add_arith_parser(sub, [common])
    depth_cli.add_depth_parser(sub, [common])
    bench_cli.add_bench_parser(sub, [common])
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` and run the command; returns the exit code.

    TensorFlow is not imported here: each command checks its arguments first and imports it
    only for the work that needs it (quietly, unless --verbose), so ``--help``, ``arith`` and
    every argument error answer at once.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0].startswith("-") and argv[0] not in ("-h", "--help"):
        argv = ["run", *argv]  # the main job, e.g. `python -m compare --quiet`
    args = build_parser().parse_args(argv)
    quiet_tensorflow(args.verbose)  # cheap: takes effect if and when TensorFlow is imported
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(run_main(main))
