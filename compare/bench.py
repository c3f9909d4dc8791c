"""Inference benchmark of the real networks: each model at its paper input and full width.

``plan(models, batch_sizes)`` turns names and batch sizes into row configs (study ``"bench"``),
checked before any work; ``run(configs, out_dir)`` measures them into ``OUT/results.sqlite``:
one store row per (model, batch size), resumable (a rerun skips the rows already done), a failed
row stored with its reason while the others go on. Library code: nothing here prints; progress
goes to a callback.

How each number is measured (``METHOD``):

- Each model is measured in a fresh process (``python -m compare.bench_worker``) that imports
  TensorFlow, builds the model with random weights (``width=1.0``, ``card.input_shape``,
  ``card.classes``) and wraps ``model(x, training=False)`` in ``tf.function``. Per batch size
  (ascending): ``warmup`` untimed calls (the first traces the graph), then ``repeats`` timed calls,
  each ended by copying the logits to the host (``.numpy()``), so a timing is a whole forward pass.
  ``time_ms`` is the median; ``img_per_s = batch / median``, ``latency_ms = median / batch``.
- ``peak_mem_mb``: the peak resident set size (Linux ``VmHWM``) of that process over the warm-up
  and the timed runs of this batch size; the peak is reset (``/proc/self/clear_refs``) before each
  batch size, so it counts the TensorFlow runtime, the model's weights and the batch's
  activations, but not an earlier batch size's. ``base_mem_mb`` is the resident size at the reset.
  (tracemalloc would miss TensorFlow's C++ allocations.)
- ``gflops = 2 * card.macs * batch / median / 1e9`` (conv and dense multiply-accumulates only).
- ``mode="train"`` (``--train``): each call is one training step, ``train_on_batch`` with SGD
  (learning rate 0.01, momentum 0.9) on sparse categorical cross-entropy with random labels; its
  ``gflops`` count ``TRAIN_FLOPS_FACTOR = 3`` forward passes' worth (forward + backward), stored as
  ``flops_factor``; the memory estimate counts weights x 3 (weights, gradients, momentum) and the
  activations twice.
- ``dtype="bfloat16"`` (``--dtype bfloat16``, inference only): the model built under Keras'
  ``mixed_bfloat16`` policy without its softmax, given the weights of a float32 twin; the row times
  the bfloat16 forward pass and then the float32 twin on the same batch (``fp32_time_ms``), with
  ``speedup_vs_fp32`` = float32 time / bfloat16 time and ``max_logit_change`` = the largest
  |bfloat16 logit - float32 logit| (beside ``max_abs_logit_fp32``, the logits' scale). Both models
  are resident, so ``peak_mem_mb`` holds both.
- ``pct_peak = 100 * gflops / peak_gflops``, where ``peak_gflops`` is this machine's float32
  matrix-multiply rate, measured once per run directory (by the first model's fresh process, after
  its own rows, so that its memory peaks are not raised by the matmul's): a ``tf.function``
  ``tf.matmul`` of two ``PEAK_N x PEAK_N`` float32 matrices, 2 warm-ups, the median of
  ``PEAK_REPEATS`` timed runs (``2 * N**3`` FLOPs each). It is kept in the store's ``meta`` table
  (key ``bench_peak``) and copied into every row.
- Before a batch size runs, its memory is estimated (float32 weights + every layer's output for
  the batch, an upper bound since TensorFlow frees outputs it no longer needs) and compared with
  the memory available (``MemAvailable``, or ``mem_limit_mb``); a batch that does not fit is a
  failed row with the numbers in its reason, and so is one that raises an out-of-memory error or
  whose process is killed.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

from common.cli import check_directory

from .bench_process import Worker, WorkerError
from .runner import INTERRUPTED, RunSummary
from .store import STORE_NAME, Store

__all__ = ["STUDY", "DEFAULT_MODELS", "DEFAULT_BATCH_SIZES", "DEFAULT_REPEATS", "MIN_REPEATS", "METHOD", "TRAIN_METHOD",
           "parse_models", "parse_batch_sizes", "parse_repeats", "plan", "run", "BenchSummary", "PEAK_KEY"]

STUDY = "bench"
#: The classic lineup at paper size.
DEFAULT_MODELS: tuple[str, ...] = ("lenet5", "alexnet", "zfnet", "vgg16", "vgg19", "googlenet", "resnet18",
                                   "resnet34", "resnet50", "resnet101", "resnet152")
#: Chosen so the default run fits 10 minutes on 2 shared CPU cores (bench/RESULTS.md, "Real networks").
DEFAULT_BATCH_SIZES: tuple[int, ...] = (1, 4)
DEFAULT_REPEATS = 5
MIN_REPEATS = 5
WARMUP = 2
PEAK_N = 2048
PEAK_REPEATS = 7
PEAK_KEY = "bench_peak"
MODES = ("inference", "train")
DTYPES = ("float32", "bfloat16")
#: FLOPs of a training step per forward FLOP: the forward pass, and the backward pass's two
#: products per weighted layer (gradients of the inputs and of the weights). A convention, stored
#: with each row as ``flops_factor``.
TRAIN_FLOPS_FACTOR = 3
METHOD = ("forward pass model(x, training=False) in tf.function, random weights, float32; "
          f"{WARMUP} warm-up calls, then the median of the timed calls (each ends with .numpy()); one fresh "
          "process per model; peak_mem_mb = peak resident set size (VmHWM) of that process during this batch "
          "size's calls, reset before each batch size (TensorFlow runtime + weights + activations); "
          f"pct_peak = gflops / a {PEAK_N}x{PEAK_N} float32 tf.matmul's rate (median of {PEAK_REPEATS}) "
          "measured once per run")
BF16_METHOD = ("bfloat16: the model built under Keras' mixed_bfloat16 policy without its softmax, with the weights "
               "of a float32 twin, timed beside the twin on the same batch (fp32_time_ms)")
TRAIN_METHOD = ("each timed call is one train_on_batch step (SGD, learning rate 0.01, momentum 0.9, sparse "
                "categorical cross-entropy on random labels), in place of the forward pass; its GFLOP/s count "
                f"{TRAIN_FLOPS_FACTOR} forward passes' worth (forward + backward)")


def method(cfg: dict) -> str:
    """How a row of ``cfg``'s mode and dtype is measured (stored with it as ``method``)."""
    extra = {"train": TRAIN_METHOD}.get(cfg.get("mode", "inference"), "")
    if cfg.get("dtype", "float32") == "bfloat16":
        extra = BF16_METHOD
    return METHOD + (f"; {extra}" if extra else "")


def parse_models(text: str | None) -> list[str]:
    """``"a,b"`` -> checked names (unknown -> ``UnknownModelError``, a ValueError); None -> the default lineup."""
    import zoo

    if text is None:
        return list(DEFAULT_MODELS)
    names = list(dict.fromkeys(p.strip() for p in text.split(",") if p.strip()))
    if not names:
        raise ValueError(f"--models {text!r} names no model; accepted: names from python -m zoo list, "
                         "comma-separated")
    for name in names:
        zoo.card(name)  # unknown -> "unknown model 'x'; did you mean ...?"
    return names


def parse_batch_sizes(text: str | None) -> list[int]:
    """``"1,8"`` -> [1, 8] (de-duplicated, ascending); None -> :data:`DEFAULT_BATCH_SIZES`."""
    if text is None:
        return list(DEFAULT_BATCH_SIZES)
    parts = [p.strip() for p in text.split(",")]
    if not any(parts):
        raise ValueError(f"--batch-sizes {text!r} is empty; accepted: integers >= 1 separated by commas, e.g. 1,8")
    sizes = []
    for p in parts:
        if not p:
            continue
        try:
            value = int(p)
        except ValueError:
            raise ValueError(f"batch size {p!r} in --batch-sizes {text!r} is not an integer; accepted: "
                             "integers >= 1 separated by commas, e.g. 1,8") from None
        if value < 1:
            raise ValueError(f"batch size {value} in --batch-sizes {text!r} is < 1; accepted: integers >= 1 "
                             "separated by commas, e.g. 1,8")
        sizes.append(value)
    return sorted(set(sizes))


def parse_repeats(text: str | None) -> int:
    """``--repeats``: an integer >= :data:`MIN_REPEATS` (a median of fewer runs is too noisy)."""
    if text is None:
        return DEFAULT_REPEATS
    try:
        value = int(str(text).strip())
    except ValueError:
        value = 0
    if value < MIN_REPEATS:
        raise ValueError(f"--repeats must be an integer >= {MIN_REPEATS} (timed runs per row), got {str(text)!r}")
    return value


def plan(models: Iterable[str], batch_sizes: Iterable[int], mode: str = "inference",
         dtype: str = "float32") -> list[dict]:
    """Row configs: for each model (in order) each batch size (ascending). The config is the row's
    identity in the store: study, model, batch size, width 1.0, the card's input shape and classes,
    ``mode`` (``inference``, or ``train``: one SGD step per timed call), ``dtype`` (``float32``, or
    ``bfloat16``: Keras' mixed_bfloat16 policy, inference only, timed beside float32). The number
    of timed runs is not part of it: a rerun with another ``--repeats`` skips the rows already done."""
    import zoo

    if mode not in MODES:
        raise ValueError(f"mode {mode!r} is not one of {', '.join(MODES)}")
    if dtype not in DTYPES:
        raise ValueError(f"--dtype {dtype!r} is not accepted; accepted: {', '.join(DTYPES)}")
    if dtype != "float32" and mode != "inference":
        raise ValueError(f"--dtype {dtype} is measured for inference only; accepted with --train: float32")
    sizes = sorted(set(batch_sizes))
    for b in sizes:
        if isinstance(b, bool) or not isinstance(b, int) or b < 1:
            raise ValueError(f"batch size {b!r} is not an integer >= 1")
    configs = []
    for name in dict.fromkeys(models):
        card = zoo.card(name)
        for b in sizes:
            configs.append(dict(study=STUDY, model=name, batch_size=b, width=1.0, input_shape=list(card.input_shape),
                                classes=card.classes, mode=mode, dtype=dtype))
    return configs


# -- running -----------------------------------------------------------------------------------------

@dataclass
class BenchSummary(RunSummary):
    """A run's counts (``RunSummary``'s; ``failures`` are (model, batch size, reason)) and the peak."""

    peak_gflops: float | None = None
    peak_measured: bool = False

    def line(self, where: str | None = None) -> str:
        """The one-line summary a CLI ends with."""
        state = "interrupted: " if self.interrupted else ""
        peak = "" if self.peak_gflops is None else (
            f"; fp32 matmul peak {self.peak_gflops:.1f} GFLOP/s" + (" (measured now)" if self.peak_measured
                                                                    else " (from the store)"))
        return (f"{state}{self.done} measured, {self.skipped} already done, {self.failed} failed of {self.total} "
                f"row(s) in {self.wall_s:.0f} s{peak}; results {where or 'in ' + self.store_path}")


def measure_peak() -> dict:
    """This machine's float32 matmul rate, measured in a fresh process of its own (see :data:`METHOD`;
    :func:`run` has the first model's process measure it instead, which saves a process start)."""
    w = Worker({"kind": "peak", "n": PEAK_N, "repeats": PEAK_REPEATS})
    try:
        for ev in w.events():
            if ev.get("event") == "peak":
                return ev["peak"]
        raise WorkerError(f"matmul peak not measured: {w.end_reason()}")
    finally:
        w.close()


def _work(cfg: dict, macs: int, calls: int) -> float:
    return float(macs) * cfg["batch_size"] * calls


def run(configs: list[dict], out_dir: str | os.PathLike, *, repeats: int = DEFAULT_REPEATS,
        mem_limit_mb: float | None = None, progress: Callable[..., None] | None = None) -> BenchSummary:
    """Measure ``configs`` (from :func:`plan`) into ``out_dir/results.sqlite``; returns a :class:`BenchSummary`.

    ``progress(event, index, total, config, **info)`` gets ``"peak"`` (``peak``), ``"skip"``,
    ``"start"`` (``eta_s``: seconds left, None until something was measured), ``"measured"``
    (``metrics``: the time, throughput and memory of a row whose FLOP rate waits for the matmul peak
    that its process measures after its rows), ``"done"`` (``metrics``, ``seconds``, ``measured``: True
    when a ``"measured"`` event came first) and ``"failed"`` (``reason``). ``mem_limit_mb`` replaces the
    memory available to the estimate (default: the kernel's MemAvailable when each batch starts).
    """
    import zoo

    if repeats < MIN_REPEATS:
        raise ValueError(f"repeats must be >= {MIN_REPEATS}, got {repeats}")
    notify = progress or (lambda *a, **k: None)
    check_directory("--out", str(out_dir))
    out = Path(out_dir).expanduser()
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    with Store(out / STORE_NAME) as store:
        summary = BenchSummary(out_dir=str(out), store_path=str(store.path), total=len(configs))
        done_keys = store.done_keys()
        index = {Store.key(c): i for i, c in enumerate(configs, 1)}
        todo = [c for c in configs if Store.key(c) not in done_keys]
        for c in configs:
            if Store.key(c) in done_keys:
                summary.skipped += 1
                notify("skip", index[Store.key(c)], len(configs), c)
        try:
            peak = {"value": store.get_meta(PEAK_KEY)}  # measured by the first worker when missing
            if peak["value"] is not None:
                summary.peak_gflops = float(peak["value"]["gflops"])
                if todo:
                    notify("peak", 0, len(configs), {}, peak=peak["value"], measured=False)
            by_model: dict[str, list[dict]] = {}
            for c in todo:
                by_model.setdefault(c["model"], []).append(c)
            state = _Eta(todo, repeats)
            for model, rows in by_model.items():
                _measure_model(store, model, rows, repeats, mem_limit_mb, peak, summary, index, len(configs),
                               notify, state, zoo.card(model).macs)
                if summary.interrupted:
                    break
        except KeyboardInterrupt:  # between models, or a second Ctrl-C while the first was handled
            store.fail_running(INTERRUPTED)
            summary.interrupted = True
        finally:
            summary.wall_s = time.perf_counter() - start
    return summary


class _Eta:
    """Time left: per-process start-up (mean so far) x processes left + seconds per unit of work
    (MACs x batch x calls) x work left. The rate starts at the matmul peak (a guess: convolutions reach 0.5-2x it here) and is
    then learnt from the measured rows of real size (rows under ``SMALL`` units, whose time is call
    overhead, are left out of it). None until the first process started."""

    SMALL = 1e9

    def __init__(self, todo: list[dict], repeats: int) -> None:
        import zoo

        self.calls = repeats + WARMUP
        self.left = {Store.key(c): _work(c, zoo.card(c["model"]).macs, self.calls) for c in todo}
        self.models_left = len({c["model"] for c in todo})
        self.startups: list[float] = []
        self.prior = 2.0 / (30.0 * 1e9)  # seconds per MAC, until the peak is known
        self.work_done = 0.0
        self.seconds = 0.0

    def set_peak(self, peak_gflops: float) -> None:
        self.prior = 2.0 / (max(peak_gflops, 1e-3) * 1e9)

    def eta(self) -> float | None:
        if not self.startups:
            return None
        rate = self.seconds / self.work_done if self.work_done else self.prior
        startup = sum(self.startups) / len(self.startups)
        return self.models_left * startup + sum(self.left.values()) * rate + 0.5 * len(self.left)

    def row_done(self, cfg: dict, seconds: float | None) -> None:
        work = self.left.pop(Store.key(cfg), 0.0)
        if seconds is not None and work >= self.SMALL:
            self.work_done += work
            self.seconds += seconds


def _measure_model(store, model: str, rows: list[dict], repeats: int, mem_limit_mb: float | None, peak: dict,  # noqa: PLR0913
                   summary: BenchSummary, index: dict, total: int, notify: Callable, eta: _Eta, macs: int) -> None:
    """One worker process for ``model``: its rows in ascending batch size."""
    by_batch = {c["batch_size"]: c for c in rows}
    t_start = time.perf_counter()
    first = rows[0]
    notify("start", index[Store.key(first)], total, first, eta_s=eta.eta())
    request = {"kind": "model", "model": model, "batch_sizes": sorted(by_batch), "repeats": repeats,
               "warmup": WARMUP, "mem_limit_mb": mem_limit_mb, "mode": first["mode"], "dtype": first["dtype"]}
    if peak["value"] is None:
        request["peak"] = {"n": PEAK_N, "repeats": PEAK_REPEATS}
    else:
        eta.set_peak(float(peak["value"]["gflops"]))
    worker = Worker(request)
    current: tuple[dict, int, float] | None = None  # (config, trial id, start time)
    pending: list[tuple[dict, int, dict, float]] = []  # rows measured before the peak: (config, id, raw, s)
    finished: set[int] = set()

    def fail(cfg: dict, trial_id: int, reason: str) -> None:
        store.fail(trial_id, reason)
        summary.failed += 1
        summary.failures.append((cfg["model"], cfg["batch_size"], reason))
        notify("failed", index[Store.key(cfg)], total, cfg, reason=reason)

    def finish(cfg: dict, trial_id: int, raw: dict, seconds: float, measured: bool = False) -> None:
        metrics = _derive(raw, cfg, macs, peak["value"])
        store.finish(trial_id, metrics)
        summary.done += 1
        eta.row_done(cfg, seconds)
        notify("done", index[Store.key(cfg)], total, cfg, metrics=metrics, seconds=seconds, measured=measured)

    try:
        for ev in worker.events():
            kind = ev.get("event")
            if kind == "peak":
                peak["value"] = ev["peak"]
                store.set_meta(PEAK_KEY, ev["peak"])
                summary.peak_gflops, summary.peak_measured = float(ev["peak"]["gflops"]), True
                eta.set_peak(summary.peak_gflops)
                notify("peak", 0, total, {}, peak=ev["peak"], measured=True)
                for row in pending:
                    finish(*row, measured=True)
                pending.clear()
            elif kind == "ready":
                eta.startups.append(time.perf_counter() - t_start)
                eta.models_left -= 1
            elif kind == "start":
                cfg = by_batch[ev["batch_size"]]
                if cfg is not first:
                    notify("start", index[Store.key(cfg)], total, cfg, eta_s=eta.eta())
                current = (cfg, store.begin(cfg), time.perf_counter())
            elif kind in ("row", "fail") and current is not None:
                cfg, trial_id, t0 = current
                current = None
                finished.add(cfg["batch_size"])
                seconds = time.perf_counter() - t0
                if kind == "fail":
                    fail(cfg, trial_id, ev["reason"])
                    eta.row_done(cfg, None)
                elif peak["value"] is None:  # this process measures the peak after its rows
                    pending.append((cfg, trial_id, ev["metrics"], seconds))
                    raw = ev["metrics"]
                    notify("measured", index[Store.key(cfg)], total, cfg, metrics={
                        "time_ms": raw["time_ms"], "img_per_s": cfg["batch_size"] * 1000.0 / raw["time_ms"],
                        "peak_mem_mb": raw["peak_mem_mb"]})
                else:
                    finish(cfg, trial_id, ev["metrics"], seconds)
        if len(finished) < len(by_batch) or pending:
            reason = worker.end_reason()
            if current is not None:
                cfg, trial_id, _ = current
                current = None
                finished.add(cfg["batch_size"])
                fail(cfg, trial_id, reason)
            for b, cfg in by_batch.items():
                if b not in finished:
                    eta.row_done(cfg, None)
                    fail(cfg, store.begin(cfg), f"not measured: {reason}")
            for cfg, trial_id, _, _ in pending:
                eta.row_done(cfg, None)
                fail(cfg, trial_id, f"measured, but the run's matmul peak was not: {reason}")
            pending.clear()
    except KeyboardInterrupt:
        worker.kill()
        store.fail_running(INTERRUPTED)  # the rows in flight and those waiting for the peak
        summary.interrupted = True
    finally:
        worker.close()


def _derive(raw: dict, cfg: dict, macs: int, peak: dict) -> dict:
    """The stored metrics of a measured row: the worker's numbers and the derived columns."""
    b = cfg["batch_size"]
    factor = TRAIN_FLOPS_FACTOR if cfg.get("mode") == "train" else 1
    median_s = float(raw["time_ms"]) / 1000.0
    gflops = 2.0 * factor * macs * b / median_s / 1e9
    peak_gflops = float(peak["gflops"])
    return {
        "img_per_s": b / median_s, "latency_ms": raw["time_ms"] / b, "peak_mem_mb": raw["peak_mem_mb"],
        "gflops": gflops, "pct_peak": 100.0 * gflops / peak_gflops, "time_ms": raw["time_ms"],
        "timings_ms": raw["timings_ms"], "repeats": len(raw["timings_ms"]), "warmup": raw["warmup"],
        "base_mem_mb": raw["base_mem_mb"], "est_mem_mb": raw["est_mem_mb"], "macs": macs,
        "params": raw["params"], "build_s": raw["build_s"], "peak_gflops": peak_gflops,
        "peak_numpy_gflops": peak.get("numpy_gflops"), "flops_factor": factor,
        "load_avg": raw.get("load_avg"), "method": method(cfg), "versions": raw["versions"],
        **{k: raw[k] for k in ("fp32_time_ms", "fp32_timings_ms", "speedup_vs_fp32", "max_logit_change",
                               "max_abs_logit_fp32") if k in raw},
    }
