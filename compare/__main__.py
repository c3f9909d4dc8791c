"""``python -m compare COMMAND ...``: measure models from the command line.

Commands: ``profile`` (per-layer table of a model) and ``arith`` (one conv/pool layer explained).
To add a command, write ``add_<name>_parser(sub, parents)`` in its own module (setting ``func``
with ``set_defaults``) and call it in :func:`build_parser`.
"""

from __future__ import annotations

import argparse
import sys
from typing import Sequence

from zoo.cli import quiet_tensorflow, run_main

from . import profile_cli


def build_parser() -> argparse.ArgumentParser:
    """The argument parser: one subparser per command, each with ``--verbose``."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--verbose", action="store_true", help="show TensorFlow's start-up logs and warnings")
    parser = argparse.ArgumentParser(prog="python -m compare", description="Measure and compare models.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    profile_cli.add_profile_parser(sub, [common])
    profile_cli.add_arith_parser(sub, [common])
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv``, quiet TensorFlow (unless --verbose), run the command; returns the exit code."""
    args = build_parser().parse_args(argv)
    quiet_tensorflow(args.verbose)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(run_main(main))
