"""Many trials (models x seeds on one dataset) into a resumable results store.

``plan(...)`` turns names and settings into trial configs and rejects bad input before any
training; ``run(configs, out_dir)`` trains them one by one into ``OUT/results.sqlite``, skipping
the trials already done, storing a failed trial with its reason and going on, and stopping
cleanly on Ctrl-C. A process killed outright loses at most the trial in flight.
:mod:`compare.ray_runner` runs the same trials as Ray tasks, many at once, into the same store.
"""

from __future__ import annotations

import contextlib
import math
import os
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from .store import STORE_NAME
from .train import CONFIG_DEFAULTS, cached_dataset, model_input_shape, normalise_config

INTERRUPTED = "interrupted by the user (Ctrl-C); it runs again on resume"

#: The main job: one model of each family at CPU scale on the embedded MNIST digits. Widths,
#: input sizes and epochs are chosen so the whole job fits 10 minutes on 2 cores (bench/RESULTS.md).
#: The budgets were chosen on the validation split (400 of the 4,000 training digits), never on
#: the test digits: LeNet-5 kept 20 epochs, batch 32, lr 0.002 (validation 98.25%; lr 0.001 or
#: batch 64: 98.00%; 30 epochs: 98.25% at 1.5x the cost); GoogLeNet went from 8 epochs
#: (validation 94.25%) to 10 (96.25%); the others reached 96.5-97.75% on validation as they were.
MAIN_JOB: tuple[dict, ...] = (
    # LeNet-5 at its paper input (32x32, 61,706 params) with pad-4 random crops
    dict(model="lenet5", width=1.0, input_size=32, epochs=20, batch_size=32, lr=0.002, augment="crop"),
    dict(model="alexnet", width=0.25, epochs=6),             # 67x67, the smallest valid AlexNet input
    dict(model="zfnet", width=0.25, epochs=6),               # 47x47, ZFNet's smallest input
    dict(model="vgg11", width=0.25, epochs=5),               # 32x32, VGG's smallest input
    dict(model="googlenet", width=0.25, epochs=10),          # 65x65: the auxiliary heads' minimum
    dict(model="resnet18", width=0.25, input_size=56, epochs=6),
    dict(model="resnet20", width=0.5, epochs=6, batch_size=128, lr=0.002),   # 28x28, native
)

#: Named model lists for ``--preset``.
PRESETS: dict[str, tuple[str, ...]] = {
    "main": tuple(t["model"] for t in MAIN_JOB),
    "classic": ("lenet5", "alexnet", "zfnet", "vgg11", "vgg16", "googlenet", "resnet18", "resnet34", "resnet20",
                "resnet56"),
    "cifar": ("resnet20", "resnet32", "resnet44", "resnet56", "plain20", "plain32", "plain44", "plain56"),
}


@dataclass
class RunSummary:
    out_dir: str
    store_path: str
    total: int = 0
    done: int = 0
    skipped: int = 0
    failed: int = 0
    interrupted: bool = False
    #: why the run stopped before its last trial (other than Ctrl-C), e.g. a lost multi-worker peer
    stopped: str | None = None
    wall_s: float = 0.0
    failures: list[tuple[str, str]] = field(default_factory=list)

    def line(self, where: str | None = None) -> str:
        """The one-line summary a CLI ends with; ``where`` the results are (default: the store)."""
        state = "interrupted: " if self.interrupted else (f"stopped ({self.stopped}): " if self.stopped else "")
        return (f"{state}{self.done} trained, {self.skipped} already done, {self.failed} failed "
                f"of {self.total} trial(s) in {self.wall_s:.0f} s; results {where or 'in ' + self.store_path}")


def record_failure(store, trial_id: int, exc: BaseException, ctrl_c: bool, summary: RunSummary,
                   model: str) -> str | None:
    """Store a trial that raised ``exc``. Ctrl-C (a KeyboardInterrupt, or an error TensorFlow raised
    for one while ``ctrl_c`` was pressed): the trial is stored as interrupted and None returned, so
    that the caller stops. Any other error: stored as failed with its one-line reason, counted in
    ``summary``, and the reason returned, so that the caller goes on with the next trial."""
    if isinstance(exc, KeyboardInterrupt) or ctrl_c:
        store.fail(trial_id, INTERRUPTED)
        summary.interrupted = True
        return None
    reason = f"{type(exc).__name__}: {' '.join(without_graph_trace(str(exc)).split()) or 'no message'}"
    store.fail(trial_id, reason)
    summary.failed += 1
    summary.failures.append((model, reason))
    return reason


_TRACE_START = " defined at (most recent call last):"


def without_graph_trace(message: str) -> str:
    """``message`` without the Python stack TensorFlow puts in a graph error ("Detected at node N
    defined at (most recent call last):" and its indented ``File`` lines): kept, the cause after it
    (e.g. "Collective ops is aborted by: Socket closed"), which a stored reason of 500 characters
    otherwise loses."""
    out, in_trace = [], False
    for line in message.splitlines():
        if line.rstrip().endswith(_TRACE_START):
            out.append(line.rstrip()[: -len(_TRACE_START)] + ":")
            in_trace = True
        elif in_trace and (not line.strip() or line.startswith((" ", "\t"))):
            continue
        else:
            in_trace = False
            out.append(line)
    return "\n".join(out)


def plan(models: list[str] | None = None, *, preset: str | None = None, seeds: list[int] = (0,),
         download: bool = False, **settings) -> list[dict]:
    """Trial configs for ``models`` (or a ``preset``) x ``seeds``; ``settings`` are config keys
    (dataset, epochs, width, input_size, recipe, batch_size, lr, augment, limit, strategy, study,
    val_fraction)
    applied to every trial; a ``None`` setting keeps the preset's or the default value.
    Everything is checked here, so bad input fails before any training. ``download=True`` lets
    keras.datasets download a Keras dataset (mnist, fashion_mnist, cifar10, cifar100) that is not
    in the local cache; otherwise nothing reaches the network."""
    import zoo

    if (models is None) == (preset is None):
        raise ValueError("give either models or a preset")
    if preset is not None:
        if preset not in PRESETS:
            raise ValueError(f"unknown preset {preset!r}; accepted: {', '.join(PRESETS)}")
        base = list(MAIN_JOB) if preset == "main" else [dict(model=m) for m in PRESETS[preset]]
    else:
        if not models:
            raise ValueError("no models given; accepted: names from python -m zoo list, comma-separated")
        base = [dict(model=m) for m in models]
    if not seeds:
        raise ValueError("no seeds given; accepted: integers like 0,1,2")
    for s in seeds:
        if isinstance(s, bool) or not isinstance(s, int):
            raise ValueError(f"seed {s!r} is not an integer; accepted: integers like 0,1,2")
        if not 0 <= s < 2 ** 32:  # what Keras' set_random_seed takes
            raise ValueError(f"seed {s} is out of range; accepted: integers from 0 to {2 ** 32 - 1}")
    given = {k: v for k, v in settings.items() if v is not None}
    given.setdefault("study", "main" if preset == "main" else "run")
    from .store import Store

    configs, seen = [], set()
    for entry in base:
        zoo.card(entry["model"])  # unknown model -> UnknownModelError with suggestions
        for seed in seeds:
            cfg = normalise_config({**entry, **given, "seed": seed})
            if Store.key(cfg) not in seen:  # `--seeds 0,0` or `--models a,a`: one trial each
                seen.add(Store.key(cfg))
                configs.append(cfg)
    _check_data(configs, download)
    return configs


def _check_data(configs: list[dict], download: bool) -> None:
    """Every model can take the dataset (loads each dataset once; unknown names raise)."""
    import zoo

    for cfg in configs:
        ds = cached_dataset(cfg["dataset"], int(cfg["seed"]), cfg["limit"], download)
        model_input_shape(zoo.card(cfg["model"]), ds.shape, cfg["input_size"])


def run(configs: list[dict], out_dir: str | os.PathLike, *, verbose: int = 0,
        progress: Callable[..., None] | None = None, save_models: bool = True,
        agree_done: Callable[[list[bool]], list[bool]] | None = None) -> RunSummary:
    """Run ``configs`` into ``out_dir/results.sqlite``; returns a :class:`RunSummary`.

    ``progress(event, index, total, config, **info)`` is called with events ``"skip"``,
    ``"start"`` (``eta_s``), ``"done"`` (``metrics``, ``seconds``) and ``"failed"`` (``reason``).
    ``agree_done(flags)``: for multi-worker runs, maps "config i is done in this store" to the
    decision every worker follows (the chief's: :func:`compare.distribute.chief_decisions`), so
    all workers skip and train the same trials. The configs' strategies are created first
    (:func:`compare.distribute.start`), before any trial prepares its data.
    """
    from . import distribute
    from .train import run_trial

    for name in sorted({c.get("strategy") for c in configs} - {None}):
        distribute.start(name)

    with open_run(out_dir) as (out, store, ctrl_c):
        return _run(store, configs, out, verbose, progress or (lambda *a, **k: None), save_models, run_trial,
                    ctrl_c, agree_done)


@contextlib.contextmanager
def open_run(out_dir: str | os.PathLike):
    """The run directory (created if missing), its open store and the Ctrl-C flag, as
    ``(out, store, ctrl_c)``: what a trial loop (this module's, or :mod:`compare.ray_runner`'s)
    works with. The store is closed and the Ctrl-C handler restored on exit."""
    from common.cli import check_directory

    from .store import Store

    check_directory("--out", str(out_dir))
    out = Path(out_dir).expanduser()
    out.mkdir(parents=True, exist_ok=True)
    with Store(out / STORE_NAME) as store, _CtrlC() as ctrl_c:
        yield out, store, ctrl_c


def model_path(out: Path, trial_id: int, cfg: dict) -> str:
    """Where a trial's trained model is saved: ``OUT/models/<trial id>_<model>.keras``."""
    return str(out / "models" / f"{trial_id}_{cfg['model']}.keras")


def record_done(store, out: Path, trial_id: int, metrics: dict, history: dict, save: str | None,
                predictions: dict | None = None) -> dict:
    """Store a finished trial (its model saved at ``save``, or None; its test ``predictions`` for
    paired tests, or None); returns the metrics stored."""
    metrics = dict(metrics)
    if save:
        metrics["weights_path"] = os.path.relpath(save, out)
    store.finish(trial_id, metrics, history, predictions)
    return metrics


class Eta:
    """Time left in a run, from each trial's work: its model's MACs at the trial's width and input
    (the card's MACs x width^2 x (side / card side)^2, the input side as the trial will use it) x
    its epochs. A trial's time is taken as ``c x work^k``: ``k`` is fitted (least squares on the
    logarithms, kept within 0..1) over the trials finished once two of them differ in work, and
    0.5 before (between a fixed cost per trial, 0, and time proportional to work, 1); ``c`` follows.
    On two measured runs replayed it stayed within 2.2x of the time left from the second trial on,
    and within 2.4x in a live main job, where a mean time per trial was up to 3.5x under it
    (bench/RESULTS.md). None until a trial has
    finished."""

    def __init__(self, todo: list[dict]) -> None:
        from .store import Store

        native: dict[str, tuple | None] = {}
        for c in todo:
            if c["input_size"] is None and c["dataset"] not in native:
                try:  # loaded by plan() already (cached): only its shape is used
                    native[c["dataset"]] = cached_dataset(c["dataset"], int(c["seed"]), c["limit"]).shape
                except Exception:  # noqa: BLE001 -- the trial itself will report it; estimate at the card's input
                    native[c["dataset"]] = None
        self._key = Store.key
        self.left = {}
        for c in todo:
            try:
                self.left[Store.key(c)] = self.work(c, native.get(c["dataset"]))
            except Exception:  # noqa: BLE001 -- an unknown model or an input it cannot take: the trial
                self.left[Store.key(c)] = 0.0  # itself fails with the reason; its work stays unknown
        self.finished_trials: list[tuple[float, float]] = []  # (work, seconds)

    @staticmethod
    def work(cfg: dict, native: tuple | None) -> float:
        import zoo

        card = zoo.card(cfg["model"])
        base = card.input_shape[0] if len(card.input_shape) == 3 else 1
        if cfg["input_size"] is not None:
            side = cfg["input_size"]
        elif native is not None and len(card.input_shape) == 3:
            side = model_input_shape(card, native, None)[0]
        else:
            side = base
        return float(card.macs) * float(cfg["width"]) ** 2 * (side / base) ** 2 * int(cfg["epochs"])

    def finished(self, cfg: dict, seconds: float | None) -> None:
        """``cfg`` is no longer left; its time (None for a failed trial, whose time says nothing of
        its work) is learnt from."""
        work = self.left.pop(self._key(cfg), 0.0)
        if work > 0 and seconds is not None:
            self.finished_trials.append((work, max(seconds, 1e-3)))

    def fit(self) -> tuple[float, float] | None:
        """``(c, k)`` of ``seconds = c x work^k``; None before any trial finished."""
        if not self.finished_trials:
            return None
        logs = [(math.log(w), math.log(t)) for w, t in self.finished_trials]
        w_mean = sum(w for w, _ in logs) / len(logs)
        t_mean = sum(t for _, t in logs) / len(logs)
        spread = sum((w - w_mean) ** 2 for w, _ in logs)
        k = 0.5 if spread == 0 else min(1.0, max(0.0, sum((w - w_mean) * (t - t_mean) for w, t in logs) / spread))
        return math.exp(t_mean - k * w_mean), k

    def eta(self, parallel: int = 1, running: dict[str, float] | None = None) -> float | None:
        """Seconds left with ``parallel`` trials at once (never less than the longest trial left).
        ``running``: the seconds each trial already started has run, by :meth:`Store.key`; only the
        rest of its estimate is counted (none once it has run longer than estimated)."""
        ck = self.fit()
        if ck is None:
            return None
        c, k = ck
        ran = running or {}
        times = [max(0.0, c * w ** k - ran.get(key, 0.0)) for key, w in self.left.items() if w > 0]
        return max(sum(times) / max(1, parallel), max(times, default=0.0))


class _CtrlC:
    """Remembers that Ctrl-C was pressed. TensorFlow can turn the KeyboardInterrupt raised inside
    one of its ops into another exception; the flag tells an interruption from a failed trial."""

    def __init__(self) -> None:
        self.pressed = False
        self._old = None

    def _handler(self, signum, frame):
        self.pressed = True
        raise KeyboardInterrupt

    def __enter__(self) -> "_CtrlC":
        if threading.current_thread() is threading.main_thread():
            self._old = signal.signal(signal.SIGINT, self._handler)
        return self

    def __exit__(self, *exc) -> None:
        if self._old is not None:
            signal.signal(signal.SIGINT, self._old)


def _run(store, configs: list[dict], out: Path, verbose: int, notify: Callable, save_models: bool,
         run_trial: Callable, ctrl_c: _CtrlC, agree_done: Callable | None = None) -> RunSummary:
    from . import distribute
    from .store import Store

    summary = RunSummary(out_dir=str(out), store_path=str(store.path), total=len(configs))
    done_keys = store.done_keys()
    if agree_done is not None:
        flags = agree_done([Store.key(c) in done_keys for c in configs])
        done_keys = {Store.key(c) for c, done in zip(configs, flags) if done}
    start = time.perf_counter()
    eta = Eta([c for c in configs if Store.key(c) not in done_keys])
    try:
        for i, cfg in enumerate(configs, 1):
            if Store.key(cfg) in done_keys:
                summary.skipped += 1
                notify("skip", i, len(configs), cfg)
                continue
            notify("start", i, len(configs), cfg, eta_s=eta.eta())
            trial_id = store.begin(cfg)
            t0 = time.perf_counter()
            try:
                save = model_path(out, trial_id, cfg) if save_models else None
                result = run_trial(cfg, verbose=verbose, save_path=save)
            except (KeyboardInterrupt, Exception) as exc:  # noqa: BLE001 -- failure isolation: record and go on
                reason = record_failure(store, trial_id, exc, ctrl_c.pressed, summary, cfg["model"])
                if reason is None:
                    break
                eta.finished(cfg, None)
                notify("failed", i, len(configs), cfg, reason=reason)
                if cfg.get("strategy") == "multiworker" and distribute.cluster_lost(exc):
                    # this process's collectives are aborted: every later trial would fail the same way
                    summary.stopped = "a worker of the multi-worker cluster was lost; rerun on every host to resume"
                    break
                continue
            metrics = record_done(store, out, trial_id, result.metrics, result.history, save,
                                  getattr(result, "predictions", None))
            done_keys.add(Store.key(cfg))
            seconds = time.perf_counter() - t0
            eta.finished(cfg, seconds)
            summary.done += 1
            notify("done", i, len(configs), cfg, metrics=metrics, seconds=seconds)
    except KeyboardInterrupt:  # between trials, or as one began (its row written, its id not yet known here)
        store.fail_running(INTERRUPTED)
        summary.interrupted = True
    finally:
        summary.wall_s = time.perf_counter() - start
    return summary


__all__ = ["plan", "run", "Eta", "RunSummary", "MAIN_JOB", "PRESETS", "STORE_NAME", "CONFIG_DEFAULTS"]
