"""``python -m compare bench``: real measurements of real models into the results store.

A bench of lenet5 and alexnet at batch sizes 1 and 2 (5 timed runs each) writes exactly the
expected rows and columns, with the derived columns consistent with the stored times and the
stored matmul peak; a rerun measures nothing; the report has the bench section and its figures.
Bad input is one exact ``error:`` line with exit code 2, before any work; a batch that does not
fit the memory given is a stored failure while the other rows go on.
"""

from __future__ import annotations

import os
import re
import sqlite3
import statistics
import subprocess
import sys
from pathlib import Path

import pytest

from compare.store import STORE_NAME, Store

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_cli_contract import probe  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
ROW_KEYS = {"img_per_s", "latency_ms", "peak_mem_mb", "gflops", "pct_peak", "time_ms", "timings_ms", "repeats",
            "warmup", "base_mem_mb", "est_mem_mb", "macs", "params", "build_s", "peak_gflops", "peak_numpy_gflops",
            "flops_factor", "load_avg", "method",
            "versions"}
FIGURES = ("bench_accuracy_vs_macs", "bench_accuracy_per_param", "bench_throughput", "bench_memory", "bench_pct_peak")
SUMMARY = re.compile(r"(\d+) measured, (\d+) already done, (\d+) failed of (\d+) row\(s\) in \d+ s; fp32 matmul peak "
                     r"[\d.]+ GFLOP/s \((measured now|from the store)\); results in (.+?)(; report .*)?$")


def bench(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "compare", "bench", *argv], capture_output=True, text=True,
                          cwd=ROOT, timeout=600, env={**os.environ, "PYTHONPATH": str(ROOT)})


def stored(out: Path):
    with Store(out / STORE_NAME) as store:
        return store.trials(status=None), store.get_meta("bench_peak")


def test_bench_rows_resume_and_report(tmp_path):
    import zoo

    out = tmp_path / "bench"
    proc = bench("--models", "lenet5,alexnet", "--batch-sizes", "2,1", "--repeats", "5", "--out", str(out))
    assert proc.returncode == 0, proc.stdout[-1000:] + proc.stderr[-2000:]
    m = SUMMARY.fullmatch(proc.stdout.strip().splitlines()[-1])
    assert m and m.groups()[:5] == ("4", "0", "0", "4", "measured now"), proc.stdout
    assert proc.stdout.count(": measuring;") == 4 and "fp32 matmul peak (2048x2048)" in proc.stdout
    assert proc.stderr == ""  # progress and summary on stdout, stderr for errors alone (and no TensorFlow noise)

    trials, peak = stored(out)
    # exactly the expected rows: each model at each batch size, ascending, all done
    assert [(t.model, t.config["batch_size"], t.status) for t in trials.itertuples()] == [
        ("lenet5", 1, "done"), ("lenet5", 2, "done"), ("alexnet", 1, "done"), ("alexnet", 2, "done")]
    for t in trials.itertuples():
        card = zoo.card(t.model)
        assert t.config == dict(study="bench", model=t.model, batch_size=t.config["batch_size"], width=1.0,
                                input_shape=list(card.input_shape), classes=card.classes, mode="inference",
                                dtype="float32")
        m = t.metrics
        assert set(m) == ROW_KEYS, set(m) ^ ROW_KEYS
        assert m["flops_factor"] == 1
        b = t.config["batch_size"]
        assert len(m["timings_ms"]) == m["repeats"] == 5 and m["warmup"] == 2
        assert m["time_ms"] == pytest.approx(statistics.median(m["timings_ms"]), rel=1e-12)
        seconds = m["time_ms"] / 1000
        assert m["macs"] == card.macs and m["params"] == card.params
        # the derived columns, from the stored time and the stored peak
        assert m["gflops"] == pytest.approx(2 * card.macs * b / seconds / 1e9, rel=1e-12)
        assert m["peak_gflops"] == peak["gflops"]
        assert m["pct_peak"] == pytest.approx(100 * m["gflops"] / peak["gflops"], rel=1e-12)
        assert m["img_per_s"] == pytest.approx(b / seconds, rel=1e-12)
        assert m["latency_ms"] == pytest.approx(m["time_ms"] / b, rel=1e-12)
        # resident memory of a process holding TensorFlow and the model: well above 100 MB, and at
        # least the resident size before the batch ran
        assert 100 < m["base_mem_mb"] <= m["peak_mem_mb"] < 20_000
        assert {"python", "tensorflow", "keras", "cpus", "machine"} <= set(m["versions"])
    # the memory estimate, by hand: float32 weights + every layer's output for one image x (batch + 1)
    t = {(r.model, r.config["batch_size"]): r.metrics for r in trials.itertuples()}
    lenet_outputs = 32 * 32 + 28 * 28 * 6 + 14 * 14 * 6 + 10 * 10 * 16 + 5 * 5 * 16 + 400 + 120 + 84 + 10
    alexnet_outputs = (227 * 227 * 3 + 2 * 55 * 55 * 96 + 27 * 27 * 96 + 2 * 27 * 27 * 256 + 13 * 13 * 256  # to pool2
                       + 2 * 13 * 13 * 384 + 13 * 13 * 256 + 2 * 6 * 6 * 256 + 4 * 4096 + 1000)  # pool5, flatten; fc6, drop6
    for (model, b), params, outputs in [(("lenet5", 1), 61_706, lenet_outputs), (("lenet5", 2), 61_706, lenet_outputs),
                                        (("alexnet", 1), 60_965_224, alexnet_outputs),
                                        (("alexnet", 2), 60_965_224, alexnet_outputs)]:
        assert t[(model, b)]["est_mem_mb"] == round(4 * (params + (b + 1) * outputs) / 2 ** 20, 1), (model, b)
    assert t[("alexnet", 1)]["peak_mem_mb"] > t[("lenet5", 1)]["peak_mem_mb"] + 150  # 233 MB of float32 weights
    assert peak["n"] == 2048 and len(peak["timings_ms"]) == 7 and peak["gflops"] == pytest.approx(
        2 * 2048 ** 3 / (statistics.median(peak["timings_ms"]) / 1000) / 1e9, rel=1e-12)

    # the report: the bench section, its table and every figure, files beside report.md
    md = (out / "report.md").read_text()
    assert "## Inference benchmark: the real networks at paper size" in md
    assert "### Inference, one row per model and batch size" in md
    for name in FIGURES:
        assert f"![{name}](figures/{name}.png)" in md, name
        assert (out / "figures" / f"{name}.png").stat().st_size > 1000
        assert (out / "figures" / f"{name}.svg").is_file()
    assert "Left out (neither published weights nor a top-1 error on the card): alexnet." in md
    assert "100 - the card's published top-1 error for lenet5" in md
    assert "error_vs_macs" not in md and "## Comparison" not in md  # the training sections do not apply
    assert (out / "report.html").is_file()
    from reports.reference import COLUMN_UNITS  # every column of results.csv is explained

    columns = open(out / "results.csv").readline().strip().split(",")
    assert {"gflops", "pct_peak", "mode", "dtype"} <= set(columns) and set(columns) <= set(COLUMN_UNITS)

    # resume: a second run measures nothing and changes no row
    before = sqlite3.connect(out / STORE_NAME).execute("SELECT id, metrics, finished_at FROM trials").fetchall()
    again = bench("--models", "lenet5,alexnet", "--batch-sizes", "1,2", "--repeats", "5", "--out", str(out),
                  "--no-report")
    assert again.returncode == 0, again.stderr[-2000:]
    m = SUMMARY.fullmatch(again.stdout.strip().splitlines()[-1])
    assert m and m.groups()[:5] == ("0", "4", "0", "4", "from the store"), again.stdout
    assert again.stdout.count("already done, skipped") == 4 and "measuring" not in again.stdout
    assert sqlite3.connect(out / STORE_NAME).execute("SELECT id, metrics, finished_at FROM trials").fetchall() == before
    assert stored(out)[1] == peak


def test_batch_over_the_memory_limit_is_a_stored_failure(tmp_path):
    """lenet5 at --mem-limit 1 MB: batch 1 fits (0.24 MB of weights + ~0.04 MB per image), batch 64 does
    not: stored as failed with its reason, batch 1 measured."""
    out = tmp_path / "mem"
    proc = bench("--models", "lenet5", "--batch-sizes", "1,64", "--mem-limit", "1", "--out", str(out),
                 "--no-report")
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert SUMMARY.fullmatch(proc.stdout.strip().splitlines()[-1]).groups()[:4] == ("1", "0", "1", "2")
    trials, _ = stored(out)
    rows = {r.config["batch_size"]: r for r in trials.itertuples()}
    assert rows[1].status == "done" and rows[64].status == "failed"
    assert re.fullmatch(r"estimated 2\.\d MB \(weights 0\.2 MB \+ activations 0\.0\d MB per image x \(batch 64 \+ 1\)\) "
                        r"exceeds the 1\.0 MB given by --mem-limit; not run", rows[64].reason), rows[64].reason
    assert "[2/2] lenet5 batch 64: FAILED: estimated" in proc.stdout


@pytest.mark.parametrize("argv, message", [
    (["--models", "lenet5,nosuchnet"], "error: unknown model 'nosuchnet'; did you mean resnet8?"),
    (["--models", "resnet5"], "error: unknown model 'resnet5'; 3 models start with it: see "
                              "zoo.list_models('resnet5*') or python -m zoo list 'resnet5*'"),
    (["--models", ","], "error: --models ',' names no model; accepted: names from python -m zoo list, "
                        "comma-separated"),
    (["--batch-sizes", "1,0"], "error: batch size 0 in --batch-sizes '1,0' is < 1; accepted: integers >= 1 "
                               "separated by commas, e.g. 1,8"),
    (["--batch-sizes", "-4"], "error: batch size -4 in --batch-sizes '-4' is < 1; accepted: integers >= 1 "
                              "separated by commas, e.g. 1,8"),
    (["--batch-sizes", "1,2.5"], "error: batch size '2.5' in --batch-sizes '1,2.5' is not an integer; accepted: "
                                 "integers >= 1 separated by commas, e.g. 1,8"),
    (["--batch-sizes", "one"], "error: batch size 'one' in --batch-sizes 'one' is not an integer; accepted: "
                               "integers >= 1 separated by commas, e.g. 1,8"),
    (["--batch-sizes", ""], "error: --batch-sizes '' is empty; accepted: integers >= 1 separated by commas, "
                            "e.g. 1,8"),
    (["--repeats", "3"], "error: --repeats must be an integer >= 5 (timed runs per row), got '3'"),
    (["--mem-limit", "0"], "error: --mem-limit must be a number > 0, got '0'"),
])
def test_bad_input_is_one_line_exit_2_before_any_work(tmp_path, argv, message):
    out = tmp_path / "never"
    code, stdout, stderr, tf = probe("compare", "bench", *argv, "--out", str(out))
    assert (code, stderr, stdout.strip()) == (2, message + "\n", "")
    assert not tf and not out.exists()  # no TensorFlow, nothing written


def test_out_that_is_a_file_is_bad_input(tmp_path):
    target = tmp_path / "file.txt"
    target.write_text("x")
    code, stdout, stderr, _ = probe("compare", "bench", "--models", "lenet5", "--out", str(target))
    assert (code, stderr) == (2, f"error: --out {str(target)!r} is a file; accepted: a directory (created if "
                                 "missing)\n")


def test_store_meta_round_trip(tmp_path):
    """The run-wide values (the bench's matmul peak) live in the store's meta table as JSON; the
    store stays readable by this version's check."""
    path = tmp_path / STORE_NAME
    with Store(path) as store:
        assert store.get_meta("bench_peak") is None
        store.set_meta("bench_peak", {"gflops": 30.5, "timings_ms": [1.0, 2.0]})
        store.set_meta("bench_peak", {"gflops": 31.25, "timings_ms": [1.5]})  # replaced, not added
    Store.check(path)
    with Store(path) as store:
        assert store.get_meta("bench_peak") == {"gflops": 31.25, "timings_ms": [1.5]}
    rows = sqlite3.connect(path).execute("SELECT key FROM meta WHERE key LIKE 'json:%'").fetchall()
    assert rows == [("json:bench_peak",)]


def test_train_rows_count_three_forward_passes(tmp_path):
    """--train: one SGD step per timed call, rows of their own (mode 'train'), GFLOP/s counting the
    forward and the backward pass as 3 forward passes."""
    import zoo

    out = tmp_path / "train"
    proc = bench("--train", "--models", "lenet5", "--batch-sizes", "4", "--out", str(out), "--no-report")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "[1/1] lenet5 batch 4 (train): measuring;" in proc.stdout
    trials, peak = stored(out)
    (row,) = list(trials.itertuples())
    m = row.metrics
    assert (row.status, row.config["mode"], m["flops_factor"]) == ("done", "train", 3)
    from compare.bench import METHOD, TRAIN_METHOD

    assert m["method"] == f"{METHOD}; {TRAIN_METHOD}"  # results.csv says how a training-step row was timed
    seconds = m["time_ms"] / 1000
    assert m["gflops"] == pytest.approx(2 * 3 * zoo.card("lenet5").macs * 4 / seconds / 1e9, rel=1e-12)
    assert m["pct_peak"] == pytest.approx(100 * m["gflops"] / peak["gflops"], rel=1e-12)


def test_bfloat16_rows_time_the_float32_twin_and_the_logit_change(tmp_path):
    """--dtype bfloat16: the mixed_bfloat16 model and its float32 twin (same weights) timed on the same
    batch; the speed-up is their ratio; the logits change a little (bfloat16 keeps 8 bits of mantissa)."""
    out = tmp_path / "bf16"
    proc = bench("--dtype", "bfloat16", "--models", "lenet5", "--batch-sizes", "2", "--out", str(out), "--no-report")
    assert proc.returncode == 0, proc.stderr[-2000:]
    trials, _ = stored(out)
    (row,) = list(trials.itertuples())
    m = row.metrics
    assert (row.status, row.config["dtype"], row.config["mode"]) == ("done", "bfloat16", "inference")
    assert m["fp32_time_ms"] == pytest.approx(statistics.median(m["fp32_timings_ms"]), rel=1e-12)
    assert m["speedup_vs_fp32"] == pytest.approx(m["fp32_time_ms"] / m["time_ms"], rel=1e-12)
    assert 0 < m["max_logit_change"] < 0.1 * m["max_abs_logit_fp32"]
    assert "largest logit change" in proc.stdout


@pytest.mark.parametrize("argv, message", [
    (["--dtype", "float16"], "error: --dtype 'float16' is not accepted; accepted: float32, bfloat16"),
    (["--dtype", "bfloat16", "--train"], "error: --dtype bfloat16 is measured for inference only; accepted with "
                                         "--train: float32"),
])
def test_bad_dtype_is_one_line_exit_2(tmp_path, argv, message):
    out = tmp_path / "never"
    code, stdout, stderr, tf = probe("compare", "bench", *argv, "--out", str(out))
    assert (code, stderr, stdout.strip(), tf, out.exists()) == (2, message + "\n", "", False, False)


def _fake_worker(monkeypatch, out: Path, killed: str | None = None, peak: bool = True) -> None:
    """The measuring process replaced by one that answers as the real one would (a 10 ms row per batch
    size, then the matmul peak, 50 GFLOP/s, when asked for it), except that the process of model
    ``killed`` dies by SIGKILL in its first row; with ``peak``, that peak is already in ``out``'s store."""
    from compare import bench

    fake = ("import json, os, sys\n"
            "req = json.loads(sys.stdin.read())\n"
            "emit = lambda **e: print(json.dumps(e), flush=True)\n"
            "emit(event='ready')\n"
            "for b in req['batch_sizes']:\n"
            "    emit(event='start', batch_size=b)\n"
            f"    if req['model'] == {killed!r}:\n"
            "        print('about to be killed', file=sys.stderr, flush=True)\n"
            "        os.kill(os.getpid(), 9)\n"
            "    emit(event='row', batch_size=b, metrics=dict(time_ms=10.0, timings_ms=[10.0] * 5, warmup=2,\n"
            "         peak_mem_mb=900.0, base_mem_mb=800.0, est_mem_mb=1.0, params=1, build_s=0.1, versions={}))\n"
            "if 'peak' in req:\n"
            "    emit(event='peak', peak=dict(n=req['peak']['n'], gflops=50.0))\n")
    monkeypatch.setattr(bench.Worker, "command", [sys.executable, "-c", fake])
    if peak:
        with Store(out / STORE_NAME) as store:
            store.set_meta(bench.PEAK_KEY, {"gflops": 50.0})


def test_a_killed_measuring_process_is_a_stored_failure_and_the_run_goes_on(tmp_path, monkeypatch):
    """The kernel's OOM killer, simulated: the measuring process of the first model dies by SIGKILL
    in its first row; that row and the model's next one are stored as failed with the reason, and
    the next model is still measured (by a process that answers as the real one would)."""
    from compare import bench

    _fake_worker(monkeypatch, tmp_path, killed="alexnet")
    events = []
    summary = bench.run(bench.plan(["alexnet", "lenet5"], [1, 2]), tmp_path,
                        progress=lambda event, i, n, cfg, **info: events.append((event, cfg.get("model"),
                                                                                 cfg.get("batch_size"))))
    assert (summary.done, summary.failed, summary.interrupted) == (2, 2, False)
    trials, _ = stored(tmp_path)
    got = {(r.model, r.config["batch_size"]): (r.status, r.reason) for r in trials.itertuples()}
    killed = ("the measuring process was killed by SIGKILL (most likely by the kernel's out-of-memory killer): "
              "about to be killed")
    assert got == {("alexnet", 1): ("failed", killed), ("alexnet", 2): ("failed", "not measured: " + killed),
                   ("lenet5", 1): ("done", None), ("lenet5", 2): ("done", None)}
    lenet = trials[trials["model"] == "lenet5"].iloc[0]["metrics"]
    assert lenet["gflops"] == pytest.approx(2 * 416_520 * 1 / 0.010 / 1e9) and lenet["peak_gflops"] == 50.0
    assert ("failed", "alexnet", 1) in events and ("done", "lenet5", 2) in events


def test_rows_measured_before_the_peak_are_announced_in_order(tmp_path, monkeypatch, capsys):
    """The first process measures the matmul peak after its rows, so their GFLOP/s come last; each row
    is still announced with its time and memory before the next one starts, then completed by its
    GFLOP/s once the peak is known (the progress lines were out of order: "[2/3] measuring" came before
    the result of [1/3])."""
    from compare import bench
    from compare.bench_cli import _progress

    _fake_worker(monkeypatch, tmp_path, peak=False)
    bench.run(bench.plan(["lenet5", "alexnet"], [1, 2], mode="inference")[:3], tmp_path, progress=_progress)
    lines = [ln.split(";")[0] for ln in capsys.readouterr().out.splitlines()]
    assert lines == [
        "[1/3] lenet5 batch 1: measuring",
        "[1/3] lenet5 batch 1: 10.0 ms/batch, 100.0 img/s, 900 MB peak",
        "[2/3] lenet5 batch 2: measuring",
        "[2/3] lenet5 batch 2: 10.0 ms/batch, 200.0 img/s, 900 MB peak",
        "fp32 matmul peak (2048x2048): 50.0 GFLOP/s (measured)",
        "[1/3] lenet5 batch 1: 0.1 GFLOP/s (0% of peak)",
        "[2/3] lenet5 batch 2: 0.2 GFLOP/s (0% of peak)",
        "[3/3] alexnet batch 1: measuring",
        "[3/3] alexnet batch 1: 10.0 ms/batch, 100.0 img/s, 900 MB peak, 144.9 GFLOP/s (290% of peak)"]  # 2 x 724,406,816 MACs / 10 ms


def test_ctrl_c_as_a_row_begins_stores_it_interrupted(tmp_path, monkeypatch, ctrl_c_as_begun):
    """Ctrl-C right after batch size 2's row is written: that row is stored as interrupted (not left
    ``running``), the measured row is kept and the run stops before the next model."""
    from compare import bench

    _fake_worker(monkeypatch, tmp_path)
    ctrl_c_as_begun(lambda cfg: cfg["batch_size"] == 2)
    summary = bench.run(bench.plan(["lenet5", "alexnet"], [1, 2]), tmp_path)
    assert (summary.done, summary.failed, summary.interrupted) == (1, 0, True)
    trials, _ = stored(tmp_path)
    got = [(r.model, r.config["batch_size"], r.status, r.reason) for r in trials.itertuples()]
    assert got == [("lenet5", 1, "done", None),
                   ("lenet5", 2, "failed", "interrupted by the user (Ctrl-C); it runs again on resume")]


def test_a_report_keeps_each_mode_apart(tmp_path):
    """Inference, bfloat16 and training-step rows in one run: the section and its table say so, the
    per-batch figures draw the float32 inference rows alone (a line never joins two modes), and a
    row not measured names its mode."""
    from compare.store import Store
    from reports.render import build_report

    def row(store, batch, mode="inference", dtype="float32", img_per_s=100.0, failed=None):
        cfg = dict(study="bench", model="lenet5", batch_size=batch, width=1.0, input_shape=[32, 32, 1], classes=10,
                   mode=mode, dtype=dtype)
        trial = store.begin(cfg)
        if failed:
            store.fail(trial, failed)
        else:
            store.finish(trial, dict(time_ms=batch * 1000 / img_per_s, img_per_s=img_per_s, latency_ms=1000 / img_per_s,
                                     peak_mem_mb=700.0 + 50 * batch, gflops=1.0, pct_peak=img_per_s / 4000,
                                     peak_gflops=200.0))

    with Store(tmp_path / "results.sqlite") as store:
        row(store, 1, img_per_s=1000.0)
        row(store, 2, img_per_s=2000.0)
        row(store, 2, dtype="bfloat16", img_per_s=1989.0)
        row(store, 2, mode="train", img_per_s=821.0)
        row(store, 64, mode="train", failed="estimated 2,466.5 MB exceeds the limit")
    rep = build_report(tmp_path, profiles=False)
    md = (tmp_path / "report.md").read_text()
    assert "## Inference and training-step benchmark: the real networks at paper size" in md
    assert "### Inference and training-step, one row per model, mode and batch size" in md
    assert "Training-step rows: each timed call is one train_on_batch step" in md
    assert "- lenet5 (train) at batch 64: estimated 2,466.5 MB exceeds the limit" in md
    failed = md.split("### Trials that did not finish: 1", 1)[1].split("\n\n", 2)[1].splitlines()
    assert [c.strip() for c in failed[0].split("|")[1:-1]] == ["trial", "model", "mode", "dtype", "batch", "status",
                                                                "reason"]
    assert [c.strip() for c in failed[2].split("|")[1:-1]] == ["5", "lenet5", "train", "float32", "64", "failed",
                                                                "estimated 2,466.5 MB exceeds the limit"]
    assert "; inference rows only (the run also measured inference, bfloat16, train: see the table)." in md
    from reports import bench as bench_report
    from reports.tables import load_trials

    assert rep.notes == []
    fig = bench_report.plot_throughput(bench_report._drawn(bench_report.rows(load_trials(tmp_path))))
    (line,) = fig.axes[0].get_lines()
    assert list(line.get_xdata()) == [1, 2] and list(line.get_ydata()) == [1000.0, 2000.0]
    assert fig.axes[0].get_title() == "Inference throughput vs batch size"
    drawn = bench_report._drawn(bench_report.rows(load_trials(tmp_path)))
    (line,) = bench_report.plot_memory(drawn).axes[0].get_lines()  # each row's own peak memory
    assert list(line.get_xdata()) == [1, 2] and list(line.get_ydata()) == [750.0, 800.0]
    bars = bench_report.plot_pct_peak(drawn).axes[0].patches  # one bar per batch size, each row's own share
    assert [b.get_height() for b in bars] == [0.25, 0.5]


def test_accuracy_figures_use_a_measured_evaluation_marked_as_such(tmp_path):
    """Where the run also evaluated a model's published weights (python -m compare eval), its bench
    point is that measured top-1, labelled (measured); the others keep their card's published top-1."""
    from compare.store import Store
    from reports import bench as bench_report
    from reports.render import build_report
    from reports.tables import evaluations, load_trials

    with Store(tmp_path / "results.sqlite") as store:
        for model, shape in (("resnet18", [224, 224, 3]), ("alexnet_owt", [224, 224, 3])):
            cfg = dict(study="bench", model=model, batch_size=1, width=1.0, input_shape=shape, classes=1000,
                       mode="inference", dtype="float32")
            store.finish(store.begin(cfg), dict(time_ms=10.0, img_per_s=100.0, latency_ms=10.0, peak_mem_mb=900.0,
                                                gflops=1.0, pct_peak=0.5, peak_gflops=200.0))
        ev = dict(study="eval", model="resnet18", dataset="folder:/data/val", weights="torchvision",
                  preprocessing="torch", input_size=224, limit=None)
        store.finish(store.begin(ev), dict(n_images=500, n_classes=10, correct_top1=350, correct_top5=450,
                                           top1_acc=0.7, top5_acc=0.9, source="torchvision", measured=True))
    build_report(tmp_path, profiles=False)
    md = (tmp_path / "report.md").read_text()
    assert ("measured by python -m compare eval for resnet18 (resnet18: 500 images of folder:/data/val "
            "(torchvision weights); their 95% intervals are in the evaluation table), marked (measured)") in md
    assert "the card's first published weight source's top-1 (card.weights[0].top1, torchvision weights" in md
    trials = load_trials(tmp_path)
    acc = bench_report.accuracy(["resnet18", "alexnet_owt"], evaluations(trials)).set_index("model")
    assert acc.loc["resnet18", "top1"] == pytest.approx(70.0) and acc.loc["resnet18", "source"] == "measured"
    assert acc.loc["alexnet_owt", "top1"] == 56.522  # torchvision's published acc@1
    fig = bench_report.plot_accuracy_vs_macs(acc.reset_index())
    assert {t.get_text() for t in fig.axes[0].texts} == {"resnet18 (measured)", "alexnet_owt"}
