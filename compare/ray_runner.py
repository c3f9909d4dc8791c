"""Many trials at once: each trial a Ray task (``python -m compare run --executor ray``).

The driver (this process) plans, skips the trials already done, and keeps up to ``workers``
trials in flight on a Ray cluster: a local one started here (``workers x cpus_per_trial`` CPUs)
or an existing one (``address``). Each task trains one trial with :func:`compare.train.run_trial`
in a Ray worker whose TensorFlow is limited to the trial's CPUs, and returns its metrics, history
and trained model (the ``.keras`` file's bytes). The driver is the only writer of the results
store: it records each trial when its task returns and saves the model under ``OUT/models/``, as
the in-process runner does. A worker killed mid-trial makes Ray run the task again
(``max_retries``), so the trial is recorded once; Ctrl-C cancels the tasks in flight (stored as
interrupted, run again on resume); a driver killed outright leaves its trials in flight
``running`` in the store, and the next run trains them again.

Ray is imported only here, and only when a run asks for it (``pip install 'ray==2.60.0'``).
"""

from __future__ import annotations

import collections
import importlib.util
import os
import socket
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from .data import located
from .runner import INTERRUPTED, Eta, RunSummary, model_path, open_run, record_done, record_failure

RAY_MISSING = ("--executor ray needs Ray, which is not installed: pip install -r requirements-test.txt "
               "(or pip install 'ray==2.60.0', the project's 'ray' extra)")


@dataclass(frozen=True)
class RayOptions:
    """Where and how the trials run. ``address``: an existing cluster (``auto`` or ``HOST:PORT``),
    None for a local cluster started for the run. ``workers``: trials at once (None: the local
    machine's cores, or the cluster's CPUs, divided by ``cpus_per_trial``). ``max_retries``: how
    many times Ray runs a task again whose worker died."""

    address: str | None = None
    workers: int | None = None
    cpus_per_trial: int = 1
    gpus_per_trial: float = 0.0
    max_retries: int = 2

    def __post_init__(self) -> None:
        if self.workers is not None and self.workers < 1:
            raise ValueError(f"--workers must be an integer >= 1, got {self.workers!r}")
        if self.cpus_per_trial < 1:
            raise ValueError(f"--cpus-per-trial must be an integer >= 1, got {self.cpus_per_trial!r}")
        if not self.gpus_per_trial >= 0:
            raise ValueError(f"--gpus-per-trial must be a number >= 0, got {self.gpus_per_trial!r}")


def check_installed() -> None:
    """A ValueError saying how to install Ray when it is missing (without importing it)."""
    if importlib.util.find_spec("ray") is None:
        raise ValueError(RAY_MISSING)


def _worker_env(cpus: int, verbose: bool) -> dict[str, str]:
    """Environment of the Ray workers: TensorFlow and OpenMP threads = the trial's CPUs, quiet logs."""
    env = {"OMP_NUM_THREADS": str(cpus), "TF_NUM_INTRAOP_THREADS": str(cpus), "TF_NUM_INTEROP_THREADS": str(cpus),
           "KERAS_BACKEND": os.environ.get("KERAS_BACKEND", "tensorflow")}
    if not verbose:
        env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    return env


def connect(opts: RayOptions, verbose: bool = False) -> tuple[int, str]:
    """Start a local Ray cluster or join ``opts.address`` (or use the connection this process
    already has, from its own ``ray.init``); returns (trials at once, a description such as
    ``local Ray cluster, 2 worker(s) x 1 CPU``). A ValueError when the address has no cluster or
    the cluster cannot hold one trial."""
    import logging

    import ray

    common = dict(include_dashboard=False, log_to_driver=verbose,
                  logging_level=logging.INFO if verbose else logging.ERROR)
    if ray.is_initialized():
        where = "Ray cluster this process joined"
    elif opts.address is None:
        workers = opts.workers or max(1, (os.cpu_count() or 1) // opts.cpus_per_trial)
        # "local": a cluster of its own even when one runs on this host (`ray start`) or RAY_ADDRESS
        # names one; joining is what --address is for
        ray.init(address="local", num_cpus=workers * opts.cpus_per_trial, **common)
        where = "local Ray cluster"
    else:
        check_reachable(opts.address)
        try:
            ray.init(address=opts.address, **common)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise ValueError(f"--address {opts.address}: cannot join a Ray cluster ({first}); start one with "
                             "`ray start --head`, or leave --address out for a local cluster") from None
        where = f"Ray cluster at {opts.address}"
    have = ray.cluster_resources()
    for what, need in (("CPU", opts.cpus_per_trial), ("GPU", opts.gpus_per_trial)):
        if need > have.get(what, 0):
            raise ValueError(f"--{what.lower()}s-per-trial {need:g}: the {where} has {have.get(what, 0):g} {what}(s); "
                             "no trial could start")
    workers = opts.workers or max(1, int(have.get("CPU", 1) // opts.cpus_per_trial))
    gpus = f", {opts.gpus_per_trial:g} GPU" if opts.gpus_per_trial else ""
    return workers, f"{where}, {workers} worker(s) x {opts.cpus_per_trial} CPU{gpus}"


def split_address(address: str) -> tuple[str, int]:
    """``HOST:PORT`` -> (host, port); a ValueError naming the value otherwise."""
    host, _, port = address.rpartition(":")
    if not host.strip("[]") or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"--address must be 'auto' or HOST:PORT, got {address!r}")
    return host.strip("[]"), int(port)


def check_reachable(address: str, timeout_s: float = 5.0) -> None:
    """A ValueError unless ``address`` (``auto`` or HOST:PORT) has a Ray head listening: Ray itself
    retries a dead address for minutes. ``auto`` is resolved as Ray does (the cluster that
    ``ray start`` made on this host, or ``RAY_ADDRESS``); a ``ray://`` client address is not checked."""
    if address.startswith("ray://"):
        return
    hint = "start one with `ray start --head`, or leave --address out for a local cluster"
    if address == "auto":
        from ray._private.services import canonicalize_bootstrap_address

        try:
            found = canonicalize_bootstrap_address("auto")
        except (ConnectionError, ValueError) as exc:
            found, why = None, " ".join(str(exc).split())
        else:
            why = "none found on this host"
        if found is None:
            raise ValueError(f"--address auto: no Ray cluster to join ({why}); {hint}")
        address = found
    host, port = split_address(address)
    try:
        socket.create_connection((host, port), timeout=timeout_s).close()
    except OSError as exc:
        raise ValueError(f"--address {address}: no Ray cluster answers there ({exc.strerror or exc}); {hint}") from None


def trial_task(cfg: dict, cpus: int, save: bool) -> dict:
    """One trial in a Ray worker: TensorFlow limited to ``cpus`` threads, the trial trained, and
    its metrics, history and (``save``) the ``.keras`` file's bytes returned to the driver."""
    import tensorflow as tf

    from .train import run_trial

    for setter in (tf.config.threading.set_intra_op_parallelism_threads,
                   tf.config.threading.set_inter_op_parallelism_threads):
        try:
            setter(cpus)
        except RuntimeError:  # a reused worker whose TensorFlow runs already (with another count)
            pass
    with tempfile.TemporaryDirectory(prefix="compare-ray-") as tmp:
        path = os.path.join(tmp, "model.keras") if save else None
        result = run_trial(cfg, verbose=0, save_path=path)
        blob = Path(path).read_bytes() if save else None
    where = {"worker": f"{socket.gethostname()} pid {os.getpid()}",
             "tf_threads": [tf.config.threading.get_intra_op_parallelism_threads(),
                            tf.config.threading.get_inter_op_parallelism_threads()]}  # (intra-op, inter-op)
    return {"metrics": {**result.metrics, **where}, "history": result.history, "model": blob,
            "predictions": result.predictions}


def _cause(exc: BaseException) -> BaseException:
    """The trial's own exception inside a Ray task error (its name and message, no traceback)."""
    cause = getattr(exc, "cause", None)
    return cause if isinstance(cause, BaseException) else exc


def run_ray(configs: list[dict], out_dir: str | os.PathLike, opts: RayOptions, *, verbose: bool = False,
            progress: Callable[..., None] | None = None, save_models: bool = True,
            on_connect: Callable[[str], None] | None = None) -> RunSummary:
    """Run ``configs`` into ``out_dir/results.sqlite`` as Ray tasks; returns a :class:`RunSummary`.
    ``progress`` gets the events of :func:`compare.runner.run` (``start`` when a task is submitted);
    ``on_connect(description)`` is called once the cluster is there. A connection made here is
    closed at the end (a local cluster started here stops with it); one the process had is kept."""
    from .store import Store

    notify = progress or (lambda *a, **k: None)
    n = len(configs)
    with open_run(out_dir) as (out, store, _ctrl_c):
        summary = RunSummary(out_dir=str(out), store_path=str(store.path), total=n)
        start = time.perf_counter()
        done_keys = store.done_keys()
        queue = collections.deque()
        for i, cfg in enumerate(configs, 1):
            if Store.key(cfg) in done_keys:
                summary.skipped += 1
                notify("skip", i, n, cfg)
            else:
                queue.append((i, cfg))
        if not queue:
            summary.wall_s = time.perf_counter() - start
            return summary
        import ray

        running: dict = {}  # task ref -> (index, config, trial id, submitted at)
        owner = not ray.is_initialized()  # a connection made here is closed here (a local cluster stops)
        try:
            workers, where = connect(opts, verbose)
            if on_connect is not None:
                on_connect(where)
            task = ray.remote(trial_task).options(
                num_cpus=opts.cpus_per_trial, num_gpus=opts.gpus_per_trial, max_retries=opts.max_retries,
                retry_exceptions=False, runtime_env={"env_vars": _worker_env(opts.cpus_per_trial, verbose)})
            eta = Eta([cfg for _, cfg in queue])
            while queue or running:
                while queue and len(running) < workers:
                    i, cfg = queue.popleft()
                    now = time.perf_counter()
                    ran = {Store.key(c): now - t for _, c, _, t in running.values()}
                    notify("start", i, n, cfg, eta_s=eta.eta(workers, ran))
                    trial_id = store.begin(cfg)
                    # the worker may run in another directory (a cluster started elsewhere): it gets
                    # the dataset's path as this process sees it
                    sent = {**cfg, "dataset": located(cfg["dataset"])}
                    running[task.remote(sent, opts.cpus_per_trial, save_models)] = (i, cfg, trial_id,
                                                                                    time.perf_counter())
                ready, _ = ray.wait(list(running), num_returns=1, timeout=0.5)  # a short wait: Ctrl-C answers
                for ref in ready:
                    i, cfg, trial_id, t0 = running.pop(ref)
                    try:
                        got = ray.get(ref)
                    except Exception as exc:  # noqa: BLE001 -- failure isolation: record and go on
                        reason = record_failure(store, trial_id, _cause(exc), False, summary, cfg["model"])
                        eta.finished(cfg, None)
                        notify("failed", i, n, cfg, reason=reason)
                        continue
                    save = model_path(out, trial_id, cfg) if save_models else None
                    if save:
                        os.makedirs(os.path.dirname(save), exist_ok=True)
                        Path(save).write_bytes(got["model"])
                    metrics = record_done(store, out, trial_id, got["metrics"], got["history"], save,
                                          got.get("predictions"))
                    seconds = time.perf_counter() - t0
                    eta.finished(cfg, seconds)
                    summary.done += 1
                    notify("done", i, n, cfg, metrics=metrics, seconds=seconds)
        except KeyboardInterrupt:
            for ref in running:
                try:
                    ray.cancel(ref, force=True)
                except Exception:  # noqa: BLE001 -- a terminal's Ctrl-C may have stopped the local cluster too
                    pass
            # every trial begun here and not finished, also one whose row was written as Ctrl-C came,
            # before its task was submitted
            store.fail_running(INTERRUPTED)
            summary.interrupted = True
        finally:
            summary.wall_s = time.perf_counter() - start
            if owner and ray.is_initialized():
                ray.shutdown()
        return summary


__all__ = ["RayOptions", "RAY_MISSING", "check_installed", "check_reachable", "connect", "run_ray", "split_address",
           "trial_task"]
