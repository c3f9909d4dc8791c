"""``python -m compare run --executor ray`` (issue 13): each trial a Ray task, the driver the only
writer of the store. On one local Ray cluster shared by the module (2 CPUs): the same numbers as
the in-process runner; a worker SIGKILLed mid-trial (Ray runs the task again, the store records it
once); the driver SIGKILLed (the next run resumes); Ctrl-C (the task in flight is cancelled, the
done trial kept). Also the argument checks, which answer without Ray."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest

from common.cli import run_main
from compare.runner import plan, run
from compare.store import Store

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _independent import recount  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
#: Two small models, one epoch on 300 of the 8x8 digits (300 test images), batch 16.
TINY = dict(dataset="digits", limit=300, epochs=1, batch_size=16)
MODELS = ["lenet5", "lenet5_1998"]
#: lenet5 at its 16x16 minimum (the digits are 8x8), 10 classes: 156 + 2,416 + 2,040 + 10,164 + 850
#: params; lenet5_1998 at 32x32: its paper's 60,000 trainable params (and the 840 fixed RBF weights).
PARAMS = {"lenet5": 15_626, "lenet5_1998": 60_000}
#: Tagged into the environment of the module's cluster and of the drivers the tests start: every
#: process Ray starts for them inherits it, so leftovers can be found after the tests.
TAG = "CNN_ZOO_RAY_TEST"
#: How long a test waits for the store to reach a state. Alone, the Ctrl-C test's first trial is done
#: after about 18 s; CI's two cores, shared with the rest of the suite, once took over 180 s.
DEADLINE_S = 480.0


def cli(*argv: str) -> int:
    from compare.__main__ import main

    return run_main(main, list(argv))


def _configs() -> list[dict]:
    return plan(MODELS, seeds=[0], **TINY)


def _procs() -> dict[int, int]:
    """pid -> parent pid of every process."""
    out = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    out[int(d)] = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                pass
    return out


def _read(pid: int, what: str) -> bytes:
    try:
        with open(f"/proc/{pid}/{what}", "rb") as f:
            return f.read()
    except OSError:
        return b""


def task_workers(root: int) -> list[int]:
    """Ray workers below process ``root`` running a trial: Ray titles them ``ray::trial_task``."""
    parents = _procs()
    below, frontier = set(), {root}
    while frontier:
        frontier = {p for p, pp in parents.items() if pp in frontier} - below
        below |= frontier
    return sorted(p for p in below if _read(p, "cmdline").startswith(b"ray::trial_task"))


def tagged(tag: str) -> list[int]:
    """Live processes (other than this one) whose environment carries ``TAG=tag``."""
    needle = f"{TAG}={tag}".encode()
    return [p for p in _procs() if p != os.getpid() and needle in _read(p, "environ").split(b"\0")
            and _read(p, "stat").rsplit(b")", 1)[-1].split()[:1] != [b"Z"]]  # zombies have ended


def statuses(path: Path) -> list[str]:
    """The store's statuses by id, read without writing ([] before the store exists)."""
    if not path.exists():
        return []
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
        try:
            return [r[0] for r in conn.execute("SELECT status FROM trials ORDER BY id")]
        finally:
            conn.close()
    except sqlite3.Error:
        return []


def wait_for(path: Path, want: list[str], proc: subprocess.Popen) -> None:
    end = time.monotonic() + DEADLINE_S
    while statuses(path) != want:
        assert proc.poll() is None, f"the driver ended (code {proc.returncode}) before the store read {want}"
        assert time.monotonic() < end, f"store reads {statuses(path)}, not {want}, after {DEADLINE_S:.0f} s"
        time.sleep(0.1)


def gone(pids_fn, deadline_s: float = 30.0) -> list[int]:
    """Poll until ``pids_fn()`` is empty (or the deadline); returns what is left."""
    end = time.monotonic() + deadline_s
    while (left := pids_fn()) and time.monotonic() < end:
        time.sleep(0.2)
    return left


# -- argument checks: one line, exit 2, before any work ---------------------------------------------

@pytest.mark.parametrize("extra, message", [
    (["--workers", "2"], "error: --workers needs --executor ray"),
    (["--address", "auto"], "error: --address needs --executor ray"),
    (["--executor", "ray", "--workers", "0"], "error: --workers must be an integer >= 1, got '0'"),
    (["--executor", "ray", "--cpus-per-trial", "1.5"], "error: --cpus-per-trial must be an integer >= 1, got '1.5'"),
    (["--executor", "ray", "--gpus-per-trial", "-1"], "error: --gpus-per-trial must be a number >= 0, got '-1'"),
    (["--executor", "ray", "--strategy", "multiworker"], "error: --executor ray cannot run --strategy multiworker"),
    (["--executor", "ray", "--address", "head"], "error: --address must be 'auto' or HOST:PORT, got 'head'"),
])
def test_bad_options_one_line_exit_2(extra, message, capsys, tmp_path):
    assert cli("run", "--models", "lenet5", "--dataset", "digits", *extra, "--out", str(tmp_path / "o")) == 2
    err = capsys.readouterr().err
    assert err.startswith(message) and err.count("\n") == 1, err
    assert not (tmp_path / "o").exists()


def test_address_without_a_cluster_one_line_exit_2(capsys, tmp_path):
    """Ray retries a dead address for minutes; the run answers at once, before writing anything."""
    with socket.socket() as s:  # a free port: nothing listens there once closed
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    assert cli("run", "--models", "lenet5", "--dataset", "digits", "--executor", "ray", "--address",
               f"127.0.0.1:{port}", "--out", str(tmp_path / "o")) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: --address 127.0.0.1:{port}: no Ray cluster answers there (Connection refused); "
                          "start one with `ray start --head`") and err.count("\n") == 1, err
    assert not (tmp_path / "o").exists()


def test_without_ray_installed_one_line_says_how(monkeypatch, capsys, tmp_path):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "ray" else real(name, *a))
    assert cli("run", "--models", "lenet5", "--dataset", "digits", "--executor", "ray", "--out", str(tmp_path)) == 2
    assert capsys.readouterr().err == (
        "error: --executor ray needs Ray, which is not installed: pip install -r requirements-test.txt "
        "(or pip install 'ray==2.60.0', the project's 'ray' extra)\n")


# -- on a local Ray cluster -------------------------------------------------------------------------

@pytest.fixture(scope="module")
def cluster():
    """A local Ray cluster (2 CPUs) this process is connected to; its address for other drivers.
    Shut down at the end, and then none of its processes may be left."""
    import ray

    tag = uuid.uuid4().hex
    os.environ[TAG] = tag
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    try:
        yield ray.get_runtime_context().gcs_address
    finally:
        ray.shutdown()
        left = gone(lambda: tagged(tag))
        del os.environ[TAG]
        assert left == [], f"processes left by the Ray cluster: {left}"


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> dict:
    """The trials run in this process, one after another: model -> store row."""
    out = tmp_path_factory.mktemp("local")
    summary = run(_configs(), out, save_models=False)
    assert (summary.done, summary.failed) == (2, 0)
    return {r["model"]: r for _, r in Store(out / "results.sqlite").trials().iterrows()}


def same_numbers(row, ref) -> None:
    """A trial run on Ray gives the in-process run's numbers: exact sizes and test counts, the
    accuracies within one test image, the final loss within 0.1% (TensorFlow runs with one thread
    in a worker, two here)."""
    assert (row["params"], row["macs"], row["n_train"], row["n_val"], row["n_test"]) == (
        PARAMS[row["model"]], ref["macs"], 270, 30, 300)  # 300 training images, 10% held out
    assert row["params"] == ref["params"]
    assert abs(row["top1_acc"] - ref["top1_acc"]) <= 1 / 300 + 1e-12
    assert row["top5_acc"] is None and ref["top5_acc"] is None  # 10 classes: no top-5
    assert row["train_loss"] == pytest.approx(ref["train_loss"], rel=1e-3)
    assert abs(row["val_acc"] - ref["val_acc"]) <= 1 / 30 + 1e-12


def test_same_numbers_as_in_process_two_at_once(cluster, reference, tmp_path):
    from compare.ray_runner import RayOptions, run_ray

    events = []
    summary = run_ray(_configs(), tmp_path, RayOptions(workers=2),
                      progress=lambda e, i, n, c, **k: events.append((e, i, c["model"])))
    assert (summary.done, summary.skipped, summary.failed, summary.interrupted) == (2, 0, 0, False)
    # both submitted before either finished: two trials at once
    assert [e for e in events if e[0] == "start"] == [("start", 1, "lenet5"), ("start", 2, "lenet5_1998")]
    assert events.index(("start", 2, "lenet5_1998")) == 1
    df = Store(tmp_path / "results.sqlite").trials()
    assert df["id"].tolist() == [1, 2] and df["status"].tolist() == ["done", "done"]
    assert df["model"].tolist() == MODELS
    assert df["worker"].nunique() == 2  # two worker processes
    assert df["tf_threads"].tolist() == [[1, 1], [1, 1]]  # TensorFlow kept to the trial's one CPU
    for _, row in df.iterrows():
        same_numbers(row, reference[row["model"]])
        # the model the driver saved from the task's bytes is the one that was measured
        assert row["weights_path"] == f"models/{row['id']}_{row['model']}.keras"
        assert row["top1_err"] == pytest.approx(recount(tmp_path, row).top1_mistakes / 300, abs=1e-12)


def test_worker_killed_mid_trial_is_retried_and_recorded_once(cluster, reference, tmp_path):
    from compare.ray_runner import RayOptions, run_ray

    killed = []

    def kill_first_trial_worker():
        end = time.monotonic() + DEADLINE_S
        while not killed and time.monotonic() < end:
            pids = task_workers(os.getpid())
            if pids:  # Ray titles a worker ray::trial_task only while it runs that task: mid-trial
                os.kill(pids[0], signal.SIGKILL)
                killed.append(pids[0])
            time.sleep(0.05)

    killer = threading.Thread(target=kill_first_trial_worker, daemon=True)
    killer.start()
    configs = _configs()[:1]
    summary = run_ray(configs, tmp_path, RayOptions(workers=1))
    killer.join()
    assert len(killed) == 1
    assert (summary.done, summary.failed, summary.interrupted) == (1, 0, False)
    df = Store(tmp_path / "results.sqlite").trials()
    assert df["id"].tolist() == [1] and df["status"].tolist() == ["done"]  # one row, recorded once
    row = df.iloc[0]
    assert row["worker"].split(" pid ")[1] != str(killed[0])  # the retry ran in another worker
    same_numbers(row, reference["lenet5"])


def test_failed_trial_is_stored_with_its_own_reason(cluster, tmp_path):
    """A trial that raises in its worker is stored failed with the trial's error (not Ray's
    wrapper with its traceback); the trial is not retried (only a dead worker is)."""
    from compare.ray_runner import RayOptions, run_ray

    bad = {**_configs()[0], "dataset": "npz:/nonexistent/data.npz"}  # planned by hand: plan() would refuse it
    events = []
    summary = run_ray([bad], tmp_path, RayOptions(workers=1), progress=lambda e, i, n, c, **k: events.append(e))
    assert (summary.done, summary.failed, summary.interrupted) == (0, 1, False)
    assert events == ["start", "failed"]
    df = Store(tmp_path / "results.sqlite").trials()
    assert df["status"].tolist() == ["failed"]
    reason = df["reason"].iloc[0]
    assert reason == "ValueError: npz file not found: /nonexistent/data.npz", reason
    assert "Traceback" not in reason and summary.failures == [("lenet5", reason)]


def test_ctrl_c_before_the_task_is_submitted_leaves_no_row_running(cluster, ctrl_c_as_begun, tmp_path):
    """Ctrl-C between a trial's row being written and its task being submitted (the window the
    driver test below can hit): the trial is stored as interrupted, not left ``running``."""
    from compare.ray_runner import RayOptions, run_ray

    ctrl_c_as_begun()
    summary = run_ray(_configs(), tmp_path, RayOptions(workers=1))
    assert (summary.done, summary.failed, summary.interrupted) == (0, 0, True)
    df = Store(tmp_path / "results.sqlite").trials()
    assert df["model"].tolist() == [MODELS[0]] and df["status"].tolist() == ["failed"]
    assert df["reason"].iloc[0] == "interrupted by the user (Ctrl-C); it runs again on resume"


def test_a_relative_dataset_path_reaches_workers_started_elsewhere(cluster, tmp_path, monkeypatch):
    """The cluster's workers run in the directory it was started from; a trial on `npz:d.npz`,
    relative to the driver's directory, still finds the file (its stored name stays as given)."""
    import numpy as np

    from compare.ray_runner import RayOptions, run_ray

    rng = np.random.default_rng(0)
    data = tmp_path / "data"
    data.mkdir()
    np.savez(data / "d.npz", x_train=rng.integers(0, 256, (40, 16, 16, 1), dtype=np.uint8),
             y_train=np.arange(40) % 2, x_test=rng.integers(0, 256, (20, 16, 16, 1), dtype=np.uint8),
             y_test=np.arange(20) % 2)
    monkeypatch.chdir(data)  # the driver's directory; the workers' is this test process's first one
    configs = plan(["lenet5"], dataset="npz:d.npz", seeds=[0], epochs=1, width=0.25, batch_size=16)
    summary = run_ray(configs, tmp_path / "out", RayOptions(workers=1), save_models=False)
    rows = Store(tmp_path / "out" / "results.sqlite").trials(status=None)
    assert (summary.done, summary.failed) == (1, 0), rows["reason"].tolist()
    assert rows["dataset"].tolist() == ["npz:d.npz"] and rows["n_test"].tolist() == [20]


def _driver(out: Path, *extra: str, tag: str | None = None, env: dict | None = None) -> tuple[subprocess.Popen, object]:
    """``compare run --executor ray`` on the two models as a subprocess, stdout to a log file;
    ``tag``: the processes it starts carry ``TAG=tag`` (default: the module cluster's tag);
    ``env``: more environment variables."""
    log = open(out.parent / f"{out.name}.log", "w+")
    cmd = [sys.executable, "-m", "compare", "run", "--models", ",".join(MODELS), "--dataset", "digits", "--limit",
           "300", "--epochs", "1", "--batch-size", "16", "--executor", "ray", "--workers", "1", "--quiet",
           "--no-report", "--out", str(out), *extra]
    env = {**os.environ, "PYTHONPATH": str(ROOT), **({TAG: tag} if tag else {}), **(env or {})}
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.PIPE, text=True, cwd=ROOT, env=env)
    return proc, log


def test_driver_killed_next_run_resumes(cluster, reference, tmp_path):
    from compare.ray_runner import RayOptions, run_ray

    out = tmp_path / "out"
    proc, log = _driver(out, "--address", cluster)
    try:
        wait_for(out / "results.sqlite", ["done", "running"], proc)  # trial 1 done, trial 2 in flight
    finally:
        proc.kill()
        proc.communicate(timeout=60)
        log.close()
    assert proc.returncode == -signal.SIGKILL
    before = Store(out / "results.sqlite").trials()
    # Ray ends the tasks of a driver that died: no trial runs on in the cluster
    assert gone(lambda: task_workers(os.getpid())) == []
    summary = run_ray(_configs(), out, RayOptions(workers=1))
    assert (summary.skipped, summary.done, summary.failed) == (1, 1, 0)
    after = Store(out / "results.sqlite").trials()
    assert after["id"].tolist() == [1, 2] and after["status"].tolist() == ["done", "done"]
    assert after["finished_at"].iloc[0] == before["finished_at"].iloc[0]  # the done trial was kept
    for _, row in after.iterrows():
        same_numbers(row, reference[row["model"]])


def test_ctrl_c_cancels_the_trial_in_flight_and_keeps_the_done_one(tmp_path):
    """The default path: the driver starts its own local Ray cluster (--workers 1, no --address),
    even with RAY_ADDRESS naming another (here a port where nothing listens: Ray would try to join
    it); Ctrl-C cancels the task in flight, keeps the done trial, and leaves no Ray process behind."""
    out = tmp_path / "out"
    tag = uuid.uuid4().hex
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"127.0.0.1:{s.getsockname()[1]}"
    proc, log = _driver(out, tag=tag, env={"RAY_ADDRESS": dead})
    try:
        wait_for(out / "results.sqlite", ["done", "running"], proc)
    except BaseException:
        proc.kill()
        proc.communicate()
        log.close()
        raise
    proc.send_signal(signal.SIGINT)
    try:
        _, err = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        log.close()
        pytest.fail("the driver did not end within 60 s of Ctrl-C")
    log.seek(0)
    lines = log.read().strip().splitlines()
    log.close()
    assert proc.returncode == 130, err[-800:]
    assert "Traceback" not in err, err[-800:]
    assert lines[1] == "on a local Ray cluster, 1 worker(s) x 1 CPU"
    assert lines[-1].startswith("interrupted: 1 trained, 0 already done, 0 failed of 2 trial(s)")
    df = Store(out / "results.sqlite").trials()
    assert df["status"].tolist() == ["done", "failed"]
    assert df["reason"].iloc[1] == "interrupted by the user (Ctrl-C); it runs again on resume"
    assert gone(lambda: tagged(tag)) == []  # the task cancelled, the driver's own cluster shut down
