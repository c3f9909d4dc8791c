"""Command-line plumbing shared by the ``python -m zoo|compare|reports`` entry points.

Only ``__main__`` modules print; this module gives them quiet TensorFlow start-up and the
one-line error contract (exit code 2, no traceback) for bad input.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from typing import Callable, Sequence

EXIT_BAD_INPUT = 2
SHAPE_FORM = "comma-separated positive integers such as 32,32,3"


class OneLineParser(argparse.ArgumentParser):
    """Usage errors as one line, ``error: ... (see PROG --help)``, and exit code 2."""

    def error(self, message: str):
        self.exit(EXIT_BAD_INPUT, f"error: {message} (see {self.prog} --help)\n")


def parse_shape(text: str) -> tuple[int, ...]:
    """``"32,32,3"`` (or ``"32x32x3"``) -> (32, 32, 3); a ValueError naming the value otherwise."""
    parts = [p.strip() for p in str(text).replace("x", ",").split(",")]
    try:
        dims = tuple(int(p) for p in parts)
    except ValueError:
        dims = ()
    if not dims or any(d < 1 for d in dims):
        raise ValueError(f"--input-shape {text!r} is not a shape; use {SHAPE_FORM}")
    return dims


def quiet_tensorflow(verbose: bool = False) -> None:
    """Silence TensorFlow's C++ start-up logs and Python warnings unless ``verbose``.

    Must run before TensorFlow is imported. The absl "log messages before InitializeLog"
    line is written straight to file descriptor 2, so stderr is muted while TF loads.
    """
    if verbose:
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    if "tensorflow" in sys.modules:
        return
    with _muted_stderr():
        try:
            import tensorflow as tf  # noqa: F401

            tf.get_logger().setLevel("ERROR")
        except ImportError:
            pass
    import warnings

    warnings.filterwarnings("ignore", category=UserWarning, module="keras")


@contextlib.contextmanager
def _muted_stderr():
    try:
        fd = sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):  # pytest capture, notebooks
        yield
        return
    sys.stderr.flush()
    saved = os.dup(fd)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, fd)
    try:
        yield
    finally:
        os.dup2(saved, fd)
        os.close(saved)
        os.close(devnull)


def run_main(main: Callable[[Sequence[str] | None], int], argv: Sequence[str] | None = None) -> int:
    """Call ``main``; turn bad input (ValueError, KeyError, FileNotFoundError) into one line on
    stderr and exit code 2; Ctrl-C into exit code 130."""
    prog = os.path.basename(sys.argv[0]) if argv is None else "cli"
    try:
        return int(main(argv) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except (ValueError, KeyError, FileNotFoundError, NotADirectoryError, IsADirectoryError) as exc:
        msg = str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else str(exc)
        msg = " ".join(msg.split())  # one line
        print(f"error: {msg}", file=sys.stderr)
        del prog
        return EXIT_BAD_INPUT
