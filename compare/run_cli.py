"""``python -m compare run ...`` and the main job (``python -m compare`` alone)."""

from __future__ import annotations

import argparse
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from typing import Callable

from common.cli import check_directory, keras_backend, parse_count, parse_positive
from common.text import human_count

from .depth import ALL

DEFAULT_OUT = os.path.join("runs", "main")
#: Seconds --strategy multiworker waits for every worker in TF_CONFIG to connect (TensorFlow alone waits an hour).
CONNECT_TIMEOUT_S = 600.0


def _int_list(text: str, what: str) -> list[int]:
    try:
        return [int(p) for p in text.split(",") if p.strip()]
    except ValueError:
        raise ValueError(f"{what} {text!r} must be integers separated by commas, e.g. 0,1,2") from None


def _limit(text: str | None) -> int | str | None:
    """``--limit``: an integer >= 1, or ``all`` (no cap, returned as :data:`compare.depth.ALL`)."""
    if text is None:
        return None
    if text.strip().lower() == ALL:
        return ALL
    try:
        return parse_count(text, "--limit")
    except ValueError:
        raise ValueError(f"--limit must be an integer >= 1 or '{ALL}' (no cap), got {text!r}") from None


def add_run_parser(sub, parents: list[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("run", parents=parents, help="train and evaluate models into a results store",
                       description="Train and evaluate models on a dataset; results go to OUT/results.sqlite "
                                   "and a report to OUT/report.md. Re-running skips the trials already done.")
    which = p.add_mutually_exclusive_group()
    which.add_argument("--models", help="comma-separated names (python -m zoo list)")
    which.add_argument("--preset", help="main (one model per family at CPU scale, each with its own budget; the "
                                        "default without --models), classic (10 classics, LeNet-5 to ResNet-56), "
                                        "cifar (resnet and plain 20-56)")
    add_training_options(p)
    p.set_defaults(func=cmd_run)


def add_training_options(p: argparse.ArgumentParser, out_default: str | None = None) -> None:
    p.add_argument("--dataset", default=None, help="mnist5k (default, embedded), digits, shapes, mnist, "
                                                   "fashion_mnist, cifar10, cifar100, folder:PATH, npz:PATH")
    p.add_argument("--epochs", help="epochs per trial (default 5, or the main preset's own per model)")
    p.add_argument("--seeds", default="0", help="comma-separated integer seeds (default 0)")
    p.add_argument("--width", help="channel multiplier for every model (default 1, the paper's widths, or the main "
                                   "preset's own per model)")
    p.add_argument("--input-size", help="square input side for every model (default: the dataset's image size, "
                                        "raised to each model's minimum, or the main preset's own)")
    p.add_argument("--batch-size", help="batch size (default: the recipe's, or the main preset's own)")
    p.add_argument("--lr", help="initial learning rate (default: the recipe's, or the main preset's own)")
    p.add_argument("--recipe", choices=("default", "paper"),
                   help="training recipe: default (Adam 1e-3, cosine decay, batch 64; the default) or paper (each "
                        "paper's SGD, learning rate, weight decay and schedule, scaled to --epochs)")
    p.add_argument("--augment", choices=("crop", "crop_flip"),
                   help="pad-crop(-flip) augmentation (default none, or the main preset's own)")
    p.add_argument("--val-fraction", help="share of the training split held out for validation (curves, "
                                          "schedules), stratified; 0 <= f < 1, default 0.1")
    p.add_argument("--limit", help=f"cap train/test images per split (quick runs; '{ALL}' = no cap, the default)")
    p.add_argument("--strategy", choices=("mirrored", "multiworker"),
                   help="tf.distribute strategy (default: none, one device)")
    p.add_argument("--connect-timeout", help="with --strategy multiworker: seconds to wait for every worker in "
                                             f"TF_CONFIG to connect (default {CONNECT_TIMEOUT_S:g})")
    p.add_argument("--executor", choices=("local", "ray"), default="local",
                   help="local: the trials one after another in this process (default); ray: each trial a Ray "
                        "task, several at once (needs ray: pip install 'ray==2.60.0')")
    p.add_argument("--address", help="with --executor ray: an existing Ray cluster, 'auto' (the one `ray start` "
                                     "made on this host) or HOST:PORT (default: start a local one)")
    p.add_argument("--workers", help="with --executor ray: trials at once (default: cores, or the cluster's CPUs, "
                                     "divided by --cpus-per-trial)")
    p.add_argument("--cpus-per-trial", help="with --executor ray: CPU cores (TensorFlow threads) per trial (default 1)")
    p.add_argument("--gpus-per-trial", help="with --executor ray: GPUs per trial, may be a fraction (default 0)")
    p.add_argument("--download", action="store_true",
                   help="let keras.datasets download mnist, fashion_mnist, cifar10 or cifar100 when it is not in "
                        "~/.keras/datasets (without it nothing reaches the network)")
    p.add_argument("--out", default=out_default, help=f"run directory (default {out_default or DEFAULT_OUT})")
    p.add_argument("--quiet", action="store_true",
                   help="no per-epoch bars (for logs): one line as each trial starts, one with its result")
    p.add_argument("--no-report", action="store_true", help="do not write the report at the end")


def settings_from(args: argparse.Namespace) -> dict:
    """Validated config settings from the command line (None = keep the default; ``limit`` may be
    :data:`compare.depth.ALL`). Cheap: checks the values and the dataset (its name, its path, the
    Keras cache) without loading anything, so bad input is rejected before any work."""
    backend = keras_backend()
    if backend != "tensorflow":  # tf.data pipelines and tf.distribute: every trial would fail
        where = "KERAS_BACKEND" if os.environ.get("KERAS_BACKEND") else "the backend in keras.json"
        raise ValueError(f"Keras backend {backend!r} ({where}): training (compare run, compare depth) needs "
                         "TensorFlow; accepted: KERAS_BACKEND=tensorflow")
    if args.dataset is not None:
        from .data import check_dataset

        check_dataset(args.dataset, download=args.download, hint="rerun with --download")
    ray_options(args)  # the executor's options, checked here with the others
    connect_timeout(args)
    return dict(
        dataset=args.dataset, epochs=parse_count(args.epochs, "--epochs"),
        width=parse_positive(args.width, "--width"), input_size=parse_count(args.input_size, "--input-size"),
        batch_size=parse_count(args.batch_size, "--batch-size"), lr=parse_positive(args.lr, "--lr"),
        recipe=args.recipe, augment=args.augment, limit=_limit(args.limit), strategy=args.strategy,
        val_fraction=_val_fraction(args.val_fraction),
    )


def connect_timeout(args: argparse.Namespace) -> float | None:
    """``--connect-timeout`` in seconds (:data:`CONNECT_TIMEOUT_S` by default) with ``--strategy
    multiworker``, None without it; a ValueError for a bad value or the option without multiworker."""
    if args.strategy != "multiworker":
        if getattr(args, "connect_timeout", None) is not None:
            raise ValueError("--connect-timeout needs --strategy multiworker (the only strategy that waits for "
                             "other workers)")
        return None
    return CONNECT_TIMEOUT_S if args.connect_timeout is None else parse_positive(args.connect_timeout,
                                                                                "--connect-timeout")


def ray_options(args: argparse.Namespace):
    """``--executor ray``'s options as a :class:`compare.ray_runner.RayOptions` (None for the
    default in-process executor), checked without importing Ray: its options without
    ``--executor ray``, ``--strategy multiworker`` with it, bad numbers, or Ray not installed
    are a ValueError naming the value."""
    ray_only = {"--address": args.address, "--workers": args.workers, "--cpus-per-trial": args.cpus_per_trial,
                "--gpus-per-trial": args.gpus_per_trial}
    if args.executor != "ray":
        given = [k for k, v in ray_only.items() if v is not None]
        if given:
            raise ValueError(f"{given[0]} needs --executor ray (the default executor runs the trials in this process)")
        return None
    if args.strategy == "multiworker":
        raise ValueError("--executor ray cannot run --strategy multiworker (its workers train one trial in step); "
                         "accepted with ray: no --strategy, or mirrored")
    gpus = 0.0 if args.gpus_per_trial is None else _at_least_zero(args.gpus_per_trial, "--gpus-per-trial")
    from .ray_runner import RayOptions, check_installed, split_address

    if args.address is not None and args.address != "auto" and not args.address.startswith("ray://"):
        split_address(args.address)

    opts = RayOptions(address=args.address, workers=parse_count(args.workers, "--workers"),
                      cpus_per_trial=parse_count(args.cpus_per_trial, "--cpus-per-trial") or 1, gpus_per_trial=gpus)
    check_installed()
    return opts


def _at_least_zero(text: str, what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value >= 0):
        raise ValueError(f"{what} must be a number >= 0, got {text!r}")
    return value


def _val_fraction(text: str | None) -> float | None:
    """``--val-fraction``: a number with 0 <= f < 1; None keeps the default."""
    if text is None:
        return None
    try:
        value = float(str(text).strip())
    except ValueError:
        value = float("nan")
    if not 0.0 <= value < 1.0:
        raise ValueError(f"--val-fraction must be a number with 0 <= f < 1, got {text!r}")
    return value


def check_out(out: str) -> None:
    """``--out`` can take the results: not a file, and any store in it is one this version uses.
    Changes nothing (run it before any work)."""
    from .store import STORE_NAME, Store

    check_directory("--out", out)
    Store.check(os.path.join(out, STORE_NAME))


def start_run(settings: dict, out: str, timeout: float | None = None):
    """After the argument checks, before any data or model: check ``--out`` (:func:`check_out`)
    and, for ``--strategy multiworker``, check ``TF_CONFIG`` (a ValueError naming the problem) and
    create the process's strategy (:mod:`compare.distribute`): it must exist before TensorFlow
    runs any op. Returns this worker's :class:`compare.distribute.WorkerInfo`
    (None without ``multiworker``); only the chief uses ``--out``."""
    from . import distribute

    worker = distribute.worker_info() if settings["strategy"] == "multiworker" else None
    if worker is None or worker.is_chief:
        check_out(out)
    if worker is not None:  # mirrored can wait for the trials: argument errors answer without TensorFlow
        # while TensorFlow waits for the other workers no Python handler runs: Ctrl-C ends the process
        # at once (nothing has run yet); a worker missing after ``timeout`` seconds is an error
        main_thread = threading.current_thread() is threading.main_thread()
        previous = signal.signal(signal.SIGINT, signal.SIG_DFL) if main_thread else None
        try:
            distribute.start("multiworker", timeout)
        except distribute.WorkersMissing as exc:
            raise ValueError(str(exc)) from None  # one error line, exit code 2: nothing has run yet
        finally:
            if previous is not None:
                signal.signal(signal.SIGINT, previous)
    return worker


def _fmt_eta(seconds: float | None) -> str:
    if seconds is None:
        return "time left: estimating"
    m, s = divmod(int(seconds + 0.5), 60)
    return f"about {m}m{s:02d}s left"


def printer(quiet: bool):
    """A progress callback for :func:`compare.runner.run` that prints one line per event."""
    def progress(event, i, n, cfg, **info):
        tag = f"[{i}/{n}] {cfg['model']} (width {cfg['width']:g}, seed {cfg['seed']})"
        if event == "skip":
            print(f"{tag}: already done, skipped", flush=True)
        elif event == "start":
            print(f"{tag}: training on {cfg['dataset']}, {cfg['epochs']} epoch(s); {_fmt_eta(info.get('eta_s'))}",
                  flush=True)
        elif event == "done":
            m = info["metrics"]
            ci = (f" (95% CI {(1 - m['top1_err_hi']) * 100:.1f}-{(1 - m['top1_err_lo']) * 100:.1f}%)"
                  if m.get("top1_err_lo") is not None and m.get("top1_err_hi") is not None else "")
            val = f", validation {m['val_acc'] * 100:.2f}%" if m.get("val_acc") is not None else ""
            # accuracy, named as such: the reports show the error
            print(f"{tag}: test top-1 accuracy {m['top1_acc'] * 100:.2f}%{ci}{val}, {m['params']:,} params, "
                  f"{human_count(m['macs'])} MACs, {info['seconds']:.0f} s", flush=True)
        elif event == "failed":
            print(f"{tag}: FAILED: {info['reason']}", flush=True)
    return progress


def execute(configs: list[dict], out: str, args: argparse.Namespace,
            before_summary: Callable[[], None] | None = None) -> int:
    """Run ``configs`` into ``out`` (checked first with :func:`start_run`) with progress, write the
    report, print the summary line (``before_summary()`` prints what goes above it: the depth study's
    table). With ``multiworker`` trials only the chief keeps a store (in
    ``out``) and writes the report; another worker trains in step with it against a scratch store
    in a temporary directory, deleted at the end."""
    from . import distribute
    from .runner import run

    verbose = 0 if args.quiet else (1 if sys.stdout.isatty() else 2)
    agree = worker = None
    if any(c["strategy"] == "multiworker" for c in configs):
        worker = distribute.worker_info()
        strategy = distribute.get("multiworker")
        agree = lambda flags: distribute.chief_decisions(strategy, flags)  # noqa: E731
    if worker is not None and not worker.is_chief:
        print(f"{len(configs)} trial(s) on {worker.describe()}: training in step with the chief, "
              "which keeps the results in its --out; this worker keeps nothing", flush=True)
        scratch = tempfile.mkdtemp(prefix=f"compare-{worker.task_type}{worker.index}-")
        try:
            summary = run(configs, scratch, verbose=verbose, progress=printer(args.quiet), save_models=False,
                          agree_done=agree)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        print(summary.line(where="kept by the chief"))
        return 130 if summary.interrupted else (1 if summary.failed else 0)
    where = f" ({worker.describe()})" if worker is not None else ""  # (worker 0 of 2, the chief)
    opts = ray_options(args)
    if opts is not None and opts.address is not None:
        from .ray_runner import check_reachable

        check_reachable(opts.address)  # before anything is written: Ray would retry a dead address for minutes
    print(f"{len(configs)} trial(s) -> {out}{where}", flush=True)
    if opts is not None:
        from .ray_runner import run_ray

        summary = run_ray(configs, out, opts, verbose=args.verbose, progress=printer(args.quiet),
                          on_connect=lambda where: print(f"on a {where}", flush=True))
    else:
        summary = run(configs, out, verbose=verbose, progress=printer(args.quiet), agree_done=agree)
    return finish(summary, out, args, before_summary)


def finish(summary, out: str, args, before_summary: Callable[[], None] | None = None) -> int:
    """After a run: the report (unless --no-report, or nothing is done), what ``before_summary()``
    prints, the one-line summary last, and the exit code (130 interrupted, 1 if a trial failed,
    else 0)."""
    report = ""
    if not args.no_report and (summary.done or summary.skipped):
        report = write_report(out, args.verbose)
    if before_summary is not None:
        before_summary()
    print(summary.line() + report)
    if summary.interrupted:
        return 130
    return 1 if summary.failed else 0


def write_report(out: str, verbose: bool) -> str:
    """Build the report with ``python -m reports OUT`` (compare never imports reports)."""
    cmd = [sys.executable, "-m", "reports", out] + (["--verbose"] if verbose else [])
    t = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        msg = (proc.stderr.strip().splitlines() or ["unknown error"])[-1]
        return f"; report not written ({msg})"
    return f"; report {os.path.join(out, 'report.md')} ({time.perf_counter() - t:.0f} s)"


def cmd_run(args: argparse.Namespace) -> int:
    """Check every argument (cheap: no TensorFlow), create the strategy, plan the trials (models
    and data), run them."""
    models = [m.strip() for m in args.models.split(",") if m.strip()] if args.models is not None else None
    if models == []:
        raise ValueError(f"--models {args.models!r} names no model; accepted: names from python -m zoo list, "
                         "comma-separated")
    settings = settings_from(args)
    if settings["limit"] == ALL:
        settings["limit"] = None  # no cap: the trial default
    seeds = _int_list(args.seeds, "--seeds")
    out = args.out or DEFAULT_OUT
    start_run(settings, out, connect_timeout(args))  # --strategy multiworker: before anything runs TensorFlow
    from .runner import plan

    preset = None if models is not None else (args.preset or "main")
    configs = plan(models, preset=preset, seeds=seeds, download=args.download, **settings)
    return execute(configs, out, args)
