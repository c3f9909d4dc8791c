"""Command-line plumbing shared by the ``python -m zoo|compare|reports`` entry points.

Only ``__main__`` modules print; this module gives them the one-line error contract (exit code 2,
no traceback) for bad input, an argument parser that keeps to it, and quiet TensorFlow start-up
that costs nothing until TensorFlow is actually imported.

Imports nothing heavy: ``--help`` and every argument check run without TensorFlow.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import sys
import warnings
from typing import Callable, Sequence

from .imports import hooks, on_import

EXIT_BAD_INPUT = 2
EXIT_FAILURE = 1


class Failure(RuntimeError):
    """A failure that is not bad input (a download that did not complete, ...), with a one-line
    message meant for the user: ``run_main`` prints it without a traceback, exit code 1."""
SHAPE_FORM = "comma-separated positive integers such as 32,32,3"


class Parser(argparse.ArgumentParser):
    """An ``argparse.ArgumentParser`` whose usage errors are one line on stderr,
    ``error: MESSAGE (see PROG --help)``, with exit code 2 (the bad-input contract).

    Subparsers made with ``add_subparsers().add_parser`` are of this class too.
    """

    def error(self, message: str):
        self.exit(EXIT_BAD_INPUT, f"error: {' '.join(message.split())} (see {self.prog} --help)\n")

    def parse_args(self, args=None, namespace=None):
        """As argparse's, but an unrecognized argument after a sub-command is reported by that
        sub-command's parser, so that the error points to its own ``--help``."""
        argv = list(sys.argv[1:] if args is None else args)
        ns, extra = self.parse_known_args(argv, namespace)
        if extra:
            chosen = self
            for action in self._actions:
                if not isinstance(action, argparse._SubParsersAction):
                    continue
                name = getattr(ns, action.dest, None)
                if name in action.choices and name in argv and argv.index(extra[0]) > argv.index(name):
                    chosen = action.choices[name]  # the first unknown argument comes after the sub-command
            chosen.error(f"unrecognized arguments: {' '.join(extra)}")
        return ns


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


def parse_count(text: str | None, what: str) -> int | None:
    """An option that is an integer >= 1 (``--epochs 3``); None stays None. A ValueError such as
    ``--epochs must be an integer >= 1, got '2.5'`` otherwise."""
    if text is None:
        return None
    try:
        value = int(str(text).strip())
    except ValueError:
        value = 0
    if value < 1:
        raise ValueError(f"{what} must be an integer >= 1, got {str(text)!r}")
    return value


def parse_positive(text: str | None, what: str) -> float | None:
    """An option that is a finite number > 0 (``--width 0.5``); None stays None. A ValueError such
    as ``--width must be a number > 0, got '-1'`` otherwise."""
    if text is None:
        return None
    try:
        value = float(str(text).strip())
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{what} must be a number > 0, got {str(text)!r}")
    return value


def check_directory(option: str, path: str) -> None:
    """``option``'s ``path`` (``~`` expanded) is a directory, or one can be made there: neither a
    file nor inside one (a check before any work; creates nothing)."""
    full = os.path.expanduser(path)
    if os.path.exists(full) and not os.path.isdir(full):
        raise ValueError(f"{option} {path!r} is a file; accepted: a directory (created if missing)")
    parent = os.path.dirname(os.path.abspath(full))
    while not os.path.exists(parent):
        parent = os.path.dirname(parent)
    if not os.path.isdir(parent):
        raise ValueError(f"{option} {path!r} is inside {parent!r}, which is a file; accepted: a directory")


def keras_backend() -> str:
    """The backend Keras will use in this process, found as Keras finds it but without importing
    it: a non-empty ``KERAS_BACKEND``, else the ``"backend"`` of ``keras.json`` in ``KERAS_HOME``
    (or ``~/.keras``, ``/tmp/.keras`` when home is not writable), else ``tensorflow``."""
    name = os.environ.get("KERAS_BACKEND")
    if name:
        return name
    if "KERAS_HOME" in os.environ:
        home = os.environ["KERAS_HOME"]
    else:
        base = os.path.expanduser("~")
        home = os.path.join(base if os.access(base, os.W_OK) else "/tmp", ".keras")
    try:
        with open(os.path.join(os.path.expanduser(home), "keras.json")) as f:
            config = json.load(f)
        return str(config.get("backend", "tensorflow")) if isinstance(config, dict) else "tensorflow"
    except (OSError, ValueError):
        return "tensorflow"


# -- quiet TensorFlow ------------------------------------------------------------------------------

def quiet_tensorflow(verbose: bool = False) -> None:
    """Hide TensorFlow's C++ start-up logs and Keras' Python warnings, unless ``verbose``.

    Cheap: it does not import TensorFlow. It sets ``TF_CPP_MIN_LOG_LEVEL=3`` (unless already set)
    and arranges that whenever TensorFlow is first imported in this process (by a command that
    needs it, possibly through Keras or the zoo), file descriptor 2 is muted while it loads: the
    absl "log messages before InitializeLog" lines are written there directly, whatever the log
    level. Call it once, early in ``main``; commands that never import TensorFlow never pay for it.
    If TensorFlow is already imported, only its Python logger is set to ERROR.
    """
    installed = hooks("tensorflow")
    if verbose:
        for hook in installed:
            sys.meta_path.remove(hook)
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # the Keras backend stays the user's (keras.json)
    warnings.filterwarnings("ignore", category=UserWarning, module="keras")
    if "tensorflow" in sys.modules:
        _quiet_logger(sys.modules["tensorflow"])
    elif not installed:
        on_import("tensorflow", after=_quiet_logger, around=_muted_stderr)


def _quiet_logger(tf) -> None:
    get_logger = getattr(tf, "get_logger", None)
    if callable(get_logger):
        get_logger().setLevel("ERROR")


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


# -- the bad-input contract ------------------------------------------------------------------------

def run_main(main: Callable[[Sequence[str] | None], int], argv: Sequence[str] | None = None) -> int:
    """Call ``main``; turn bad input (ValueError, KeyError, FileNotFoundError, ...) into one line
    on stderr and exit code 2, a ``Failure`` into one line and exit code 1; Ctrl-C into 130."""
    try:
        return int(main(argv) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader went away (`... | head`): stop quietly, as shell tools do
        with contextlib.suppress(OSError, ValueError, AttributeError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no error when Python flushes
        return 141
    except Failure as exc:
        print(f"error: {' '.join(str(exc).split())}", file=sys.stderr)
        return EXIT_FAILURE
    except (ValueError, KeyError, FileNotFoundError, NotADirectoryError, IsADirectoryError) as exc:
        msg = str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else str(exc)
        print(f"error: {' '.join(msg.split())}", file=sys.stderr)  # one line
        return EXIT_BAD_INPUT
