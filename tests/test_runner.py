"""The runner on tiny real runs: store rows, resume, SIGKILL, failure isolation, bad input,
seeded reproducibility and the mirrored strategy."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from compare.runner import plan, run
from compare.store import Store
from common.cli import run_main

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _independent import recount  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = dict(dataset="shapes", limit=96, epochs=1, width=0.25, batch_size=32)


def cli(*argv: str) -> int:
    from compare.__main__ import main

    return run_main(main, list(argv))


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    configs = plan(["lenet5", "resnet8"], seeds=[0], **TINY)
    events = []
    summary = run(configs, out, progress=lambda e, i, n, c, **k: events.append((e, i, n, c["model"])))
    return out, configs, summary, events


def test_run_stores_one_row_per_trial(tiny_run):
    out, configs, summary, events = tiny_run
    assert (summary.total, summary.done, summary.failed, summary.skipped) == (2, 2, 0, 0)
    assert events == [("start", 1, 2, "lenet5"), ("done", 1, 2, "lenet5"),
                      ("start", 2, 2, "resnet8"), ("done", 2, 2, "resnet8")]
    df = Store(out / "results.sqlite").trials()
    assert df["model"].tolist() == ["lenet5", "resnet8"] and set(df["status"]) == {"done"}
    lenet = df.iloc[0]
    # lenet5 at width 0.25 (2, 4, 30, 21 units) on 32x32x1 shapes, 8 classes:
    # 2*(25+1) + 4*(2*25+1) + 30*(100+1) + 21*(30+1) + 8*(21+1) params;
    # 28*28*2*25 + 10*10*4*50 + 100*30 + 30*21 + 21*8 MACs
    assert lenet["input_shape"] == [32, 32, 1] and lenet["classes"] == 8
    assert df["data_channels"].tolist() == [3, 3]  # colour shapes (turned grey for lenet5's one channel)
    assert (lenet["params"], lenet["non_trainable"], lenet["macs"]) == (4_113, 0, 62_998)
    # --limit 96 of each split; 10% of the 96 training images (round(9.6) = 10, stratified over the
    # 8 classes) are held out for validation
    assert (lenet["n_train"], lenet["n_val"], lenet["n_test"]) == (86, 10, 96)
    # resnet8 at width 0.25 (4, 8, 16 filters; bias-free convs, BN after each; option-A shortcuts) on
    # 32x32x3, 8 classes: convs 108 + 2*144 + 288 + 576 + 1,152 + 2,304, BN 2*60, fc 16*8 + 8 params;
    # MACs 108*32*32 + 2*144*32*32 + (288 + 576)*16*16 + (1,152 + 2,304)*8*8 + 128
    resnet = df.iloc[1]
    assert (resnet["params"], resnet["non_trainable"], resnet["macs"]) == (4_972, 120, 848_000)
    assert lenet["config"]["val_fraction"] == 0.1
    # the budget is in every row: the default recipe's Adam, cosine schedule, batch 32, lr 1e-3
    assert (lenet["optimizer"], lenet["schedule"], lenet["batch_size"], lenet["lr"], lenet["epochs_run"]) == (
        "adam", "cosine", 32, 0.001, 1)
    for key in ("top1_acc", "top1_err", "top5_acc", "train_loss", "train_acc", "train_s", "train_img_per_s",
                "infer_ms_b1", "infer_ms_b32", "macs", "flops", "depth", "peak_mem_mb", "versions"):
        assert key in df.columns, key
    # FLOPs = 2 x the hand-counted 62,998 MACs above; depth: c1, c3, c5, f6, output
    assert lenet["flops"] == 125_996 and lenet["depth"] == 5
    # one epoch: its time includes tracing and compilation, so no training throughput is claimed
    assert df["train_img_per_s"].isna().all() and len(lenet["epoch_s"]) == 1
    assert df["num_replicas_in_sync"].tolist() == [1, 1]  # no strategy: one replica
    assert len(lenet["history"]["loss"]) == 1 and len(lenet["history"]["val_accuracy"]) == 1
    assert (out / lenet["weights_path"]).is_file()
    # read back with pandas.read_sql, as the issue promises
    import pandas as pd

    with sqlite3.connect(out / "results.sqlite") as conn:
        raw = pd.read_sql("SELECT model, status FROM trials ORDER BY id", conn)
    assert raw.values.tolist() == [["lenet5", "done"], ["resnet8", "done"]]


def test_stored_errors_are_the_saved_models_mistakes(tiny_run):
    """The stored errors equal the mistakes of the saved model, counted here on the trial's data."""
    out, _, _, _ = tiny_run
    df = Store(out / "results.sqlite").trials()
    for _, row in df.iterrows():
        r = recount(out, row)
        assert (r.n_test, r.n_train, r.n_val) == (96, 86, 10)  # --limit 96 of each split, 10% validation
        assert row["top1_err"] == pytest.approx(r.top1_mistakes / 96, abs=1e-12), row["model"]
        assert row["top1_acc"] == pytest.approx((96 - r.top1_mistakes) / 96, abs=1e-12), row["model"]
        assert row["top1_correct"] == 96 - r.top1_mistakes, row["model"]
        assert row["train_err_eval"] == pytest.approx(r.train_mistakes / 86, abs=1e-12), row["model"]
        assert row["val_err"] == pytest.approx(r.val_mistakes / 10, abs=1e-12), row["model"]
        assert row["val_acc"] == pytest.approx(1 - r.val_mistakes / 10, abs=1e-12), row["model"]
        # 8 classes: top-5 error is not measured (it is only with more than 10 classes)
        assert row["top5_err"] is None and row["top5_acc"] is None, row["model"]
        # the stored 95% interval is Wilson's for (mistakes, 96)
        from compare.stats import wilson

        assert (row["top1_err_lo"], row["top1_err_hi"]) == pytest.approx(wilson(r.top1_mistakes, 96), abs=1e-15)


def test_test_predictions_are_stored_for_paired_tests(tiny_run):
    """The stored test predictions are the saved model's, and the labels those of the test split."""
    from compare.data import load_dataset

    out, _, _, _ = tiny_run
    with Store(out / "results.sqlite") as store:
        df = store.trials()
        preds = store.predictions()
    labels = load_dataset("shapes", limit=96).y_test
    assert sorted(preds) == df["id"].tolist()
    for _, row in df.iterrows():
        pred, label = preds[int(row["id"])]
        assert label.tolist() == labels.tolist()
        assert tuple(pred.tolist()) == recount(out, row).test_pred, row["model"]
        assert int((pred == label).sum()) == row["top1_correct"]


def test_params_and_macs_are_the_models_own(tiny_run):
    import keras
    import zoo  # noqa: F401  (registers the custom layers)

    out, _, _, _ = tiny_run
    df = Store(out / "results.sqlite").trials()
    for _, row in df.iterrows():
        model = keras.saving.load_model(out / row["weights_path"], compile=False)
        assert row["params"] == sum(int(np.prod(w.shape)) for w in model.trainable_weights)
        assert row["non_trainable"] == sum(int(np.prod(w.shape)) for w in model.non_trainable_weights)


def test_rerun_skips_done_trials(tiny_run):
    out, configs, _, _ = tiny_run
    again = run(configs, out)
    assert (again.done, again.skipped, again.failed) == (0, 2, 0)
    assert len(Store(out / "results.sqlite").trials()) == 2


def test_failure_is_isolated_and_counted(tmp_path):
    configs = plan(["lenet5", "resnet8"], seeds=[0], **TINY)
    configs[0].update(recipe="paper", lr=1e38)  # plain SGD at 1e38 overflows float32: the loss turns NaN
    summary = run(configs, tmp_path)
    assert (summary.done, summary.failed) == (1, 1)
    assert summary.failures[0][0] == "lenet5"
    assert summary.failures[0][1].startswith("TrialError: loss became NaN/inf at epoch 1")
    assert summary.line().startswith("1 trained, 0 already done, 1 failed of 2 trial(s)")
    df = Store(tmp_path / "results.sqlite").trials()
    assert df.set_index("model")["status"].to_dict() == {"lenet5": "failed", "resnet8": "done"}


def test_same_seed_same_numbers_and_one_trace_of_the_train_step(monkeypatch, train_step_traces):
    from compare import train
    from compare.train import run_trial

    traces = train_step_traces
    cfg = dict(model="lenet5", seed=3, **TINY)
    a = run_trial(cfg)
    assert len(traces) == 1  # the compiled metrics' variables exist before fit: one trace
    # without that, Keras creates them inside the first trace and TensorFlow traces again
    monkeypatch.setattr(train, "_build_compiled_state", lambda model, data: None)
    b = run_trial(cfg)
    assert len(traces) == 3
    assert a.history == b.history  # the same numbers either way
    assert (a.metrics["top1_acc"], a.metrics["val_loss"]) == (b.metrics["top1_acc"], b.metrics["val_loss"])
    c = run_trial({**cfg, "seed": 4})
    assert c.history["loss"] != a.history["loss"]


def test_a_trial_traces_its_predictions_twice_and_predicts_as_keras_does(monkeypatch, predict_step_traces):
    """Validation (10 images), test (96) and training-set (86) predictions and both latencies
    (batch 1 and 32) go through one compiled function: traced at the first batch shape, then once
    more with the batch dimension generalised. With Keras' ``predict`` for the splits, a trial traced
    4 times (2 per function family)."""
    import keras

    from compare import train
    from compare.train import predict_probs, run_trial

    cfg = dict(model="lenet5", seed=3, **TINY)
    a = run_trial(cfg)
    assert predict_step_traces == ["lenet5", "lenet5"]
    x = np.random.default_rng(0).random((300, 32, 32, 1)).astype("float32")  # 256 + a partial batch of 44
    ours, keras_predict = predict_probs(a.model, x), a.model.predict(x, batch_size=256, verbose=0)
    assert ours.dtype == keras_predict.dtype == np.float32 and ours.shape == (300, 8)
    np.testing.assert_array_equal(ours, keras_predict)
    inp = keras.Input((4,))
    two_heads = keras.Model(inp, [keras.layers.Dense(2)(inp), keras.layers.Dense(3)(inp)], name="two_heads")
    with pytest.raises(ValueError, match="^predict_probs needs a model with one output, two_heads has 2$"):
        predict_probs(two_heads, np.zeros((2, 4), "float32"))
    monkeypatch.setattr(train, "predict_probs", lambda net, x: net.predict(x, batch_size=256, verbose=0))
    predict_step_traces.clear()
    b = run_trial(cfg)
    assert len(predict_step_traces) == 4
    for key in ("top1_acc", "val_loss", "val_acc", "train_err_eval"):
        assert a.metrics[key] == b.metrics[key], key


KILLER = textwrap.dedent("""
    import sys
    from common.cli import quiet_tensorflow; quiet_tensorflow()
    from compare.runner import plan, run
    lenet, resnet = plan(["lenet5", "resnet8"], seeds=[0], dataset="shapes", limit=96, epochs=1,
                         width=0.25, batch_size=32)
    configs = [lenet, {**lenet, "width": 0.5}, {**resnet, "epochs": 3}]
    def progress(event, i, n, cfg, **kw):
        print(event, i, flush=True)
    run(configs, sys.argv[1], progress=progress)
""")


def running_trials(path) -> list[int]:
    """Ids of the rows marked running in the store at ``path``, read without writing to it
    ([] while the file or its tables do not exist yet)."""
    if not os.path.exists(path):
        return []
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
        try:
            return [r[0] for r in conn.execute("SELECT id FROM trials WHERE status = 'running' ORDER BY id")]
        finally:
            conn.close()
    except sqlite3.Error:  # created but not yet initialised by the writer
        return []


def wait_for_running(path, trial_id: int, proc, deadline_s: float = 240.0) -> None:
    """Poll the store until trial ``trial_id`` is recorded as running (the trial is in flight)."""
    end = time.monotonic() + deadline_s
    while running_trials(path) != [trial_id]:
        assert proc.poll() is None, f"the run ended (code {proc.returncode}) before trial {trial_id} started"
        assert time.monotonic() < end, f"trial {trial_id} not running after {deadline_s:.0f} s"
        time.sleep(0.05)


def test_sigkill_loses_only_the_trial_in_flight_and_resumes(tmp_path):
    script = tmp_path / "killer.py"
    script.write_text(KILLER)
    env = {**os.environ, "PYTHONPATH": REPO}
    proc = subprocess.Popen([sys.executable, str(script), str(tmp_path / "out")], stdout=subprocess.PIPE,
                            text=True, env=env, cwd=REPO)
    try:
        for line in proc.stdout:
            if line.strip() == "start 3":
                break
        # the third trial (three epochs of resnet8) is in flight once its row says running
        wait_for_running(tmp_path / "out" / "results.sqlite", 3, proc)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
        proc.stdout.close()
    assert proc.returncode == -signal.SIGKILL
    store = Store(tmp_path / "out" / "results.sqlite")
    df = store.trials()
    assert df["status"].tolist() == ["done", "done", "running"]
    assert store.stale_running() == [int(df["id"].iloc[2])]
    store.close()
    lenet, resnet = plan(["lenet5", "resnet8"], seeds=[0], **TINY)
    configs = [lenet, {**lenet, "width": 0.5}, {**resnet, "epochs": 3}]
    summary = run(configs, tmp_path / "out")
    assert (summary.skipped, summary.done, summary.failed) == (2, 1, 0)
    after = Store(tmp_path / "out" / "results.sqlite").trials()
    assert after["status"].tolist() == ["done", "done", "done"]
    assert after["id"].tolist() == df["id"].tolist()  # the killed trial kept its row
    assert after["finished_at"].iloc[:2].tolist() == df["finished_at"].iloc[:2].tolist()


# -- bad input: exit code 2, one line, nothing stored is lost ------------------------------------

@pytest.mark.parametrize("argv, message", [
    (["run", "--models", "resnet57"], "error: unknown model 'resnet57'; did you mean resnet56"),
    (["run", "--models", "lenet5", "--dataset", "imagenet"], "error: unknown dataset 'imagenet'; accepted: mnist5k"),
    (["run", "--models", "alphago_policy"], "error: alphago_policy takes 48-plane inputs"),
    (["run", "--models", "alexnet", "--input-size", "32"], "error: alexnet needs inputs of at least 67x67, got --input-size 32"),
    (["run", "--models", "lenet5", "--epochs", "0"], "error: --epochs must be an integer >= 1, got '0'"),
    (["run", "--models", "lenet5", "--batch-size", "-4"], "error: --batch-size must be an integer >= 1, got '-4'"),
    (["run", "--models", "lenet5", "--seeds", "1,x"], "error: --seeds '1,x' must be integers separated by commas"),
])
def test_bad_input_one_line_exit_2(argv, message, capsys, tmp_path):
    assert cli(*argv, "--out", str(tmp_path / "o")) == 2
    err = capsys.readouterr().err
    assert err.startswith(message) and err.count("\n") == 1
    assert not (tmp_path / "o").exists()  # rejected before anything ran


def test_bad_npz_and_empty_folder(tmp_path, capsys):
    bad = tmp_path / "bad.npz"
    np.savez(bad, x_train=np.zeros((4, 8, 8), "uint8"), y_train=np.array([0, 1, 2]),
             x_test=np.zeros((2, 8, 8), "uint8"), y_test=np.array([0, 1]))
    assert cli("run", "--models", "lenet5", "--dataset", f"npz:{bad}") == 2
    assert str(bad) in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert cli("run", "--models", "lenet5", "--dataset", f"folder:{tmp_path / 'empty'}") == 2
    assert "empty" in capsys.readouterr().err


def test_out_is_a_file_and_incompatible_store_keep_results(tiny_run, tmp_path, capsys, monkeypatch):
    f = tmp_path / "file"
    f.write_text("x")
    assert cli("run", "--models", "lenet5", "--dataset", "shapes", "--out", str(f)) == 2
    assert capsys.readouterr().err.startswith(f"error: --out '{f}' is a file")
    assert cli("run", "--models", "lenet5", "--dataset", "shapes", "--out", str(f / "sub")) == 2
    assert capsys.readouterr() == ("", f"error: --out '{f / 'sub'}' is inside '{f}', which is a file; "
                                       "accepted: a directory\n")  # nothing printed before it
    monkeypatch.setenv("HOME", str(tmp_path))  # the same with ~, which the run expands
    assert cli("run", "--models", "lenet5", "--dataset", "shapes", "--out", "~/file/sub") == 2
    assert capsys.readouterr() == ("", f"error: --out '~/file/sub' is inside '{f}', which is a file; "
                                       "accepted: a directory\n")
    out = tmp_path / "old"
    out.mkdir()
    Store(out / "results.sqlite").close()  # a store written by a future version
    with sqlite3.connect(out / "results.sqlite") as conn:
        conn.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    before = (out / "results.sqlite").read_bytes()
    assert cli("run", "--models", "lenet5", "--dataset", "shapes", "--limit", "96", "--out", str(out)) == 2
    assert "schema" in capsys.readouterr().err
    assert (out / "results.sqlite").read_bytes() == before


MIRRORED = textwrap.dedent("""
    import sys
    from common.cli import quiet_tensorflow; quiet_tensorflow()
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    import json
    import keras
    passes = []  # every forward pass after training: (replicas of the model, images in, rows out)
    real = keras.Model.predict_on_batch
    def predict_on_batch(self, x):
        out = real(self, x)
        passes.append((self.distribute_strategy.num_replicas_in_sync, len(x), len(out)))
        return out
    keras.Model.predict_on_batch = predict_on_batch
    from compare.runner import plan, run
    configs = plan(["lenet5", "resnet8"], seeds=[0], dataset="shapes", limit=64, epochs=1, width=0.25,
                   batch_size=32, strategy="mirrored")
    summary = run(configs, sys.argv[1])
    print(summary.line())
    print("PASSES " + json.dumps(sorted(set(passes))))
    sys.exit(0 if summary.done == 2 else 1)
""")


def test_mirrored_strategy_on_two_logical_cpus(tmp_path):
    """The trial records how many replicas trained it: the process splits its CPU into two logical
    devices, so MirroredStrategy must have trained on 2. The trained model is then evaluated, timed
    and saved as a one-device copy: every forward pass gives one row per image (under the strategy
    ``predict_on_batch`` ran the batch on both replicas, and the latencies counted twice the work),
    and the stored errors are the saved model's, BatchNorm statistics included (resnet8): Keras
    keeps one set per replica, and the copy, like the saved file, has the first replica's."""
    script = tmp_path / "mirrored.py"
    script.write_text(MIRRORED)
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, str(script), str(out)], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": REPO}, cwd=REPO)
    assert proc.returncode == 0, proc.stdout[-1000:] + proc.stderr[-2000:]
    df = Store(out / "results.sqlite").trials()
    assert df["status"].tolist() == ["done", "done"] and df["strategy"].tolist() == ["mirrored", "mirrored"]
    assert df["num_replicas_in_sync"].tolist() == [2, 2]
    row = df.iloc[0]
    # lenet5 at width 0.25 on 32x32x1 shapes, 8 classes: the same 4,113 params as without a strategy
    # --limit 64, 10% of the training split for validation (round(6.4) = 6)
    assert (row["params"], row["macs"], row["n_train"], row["n_val"], row["n_test"]) == (4_113, 62_998, 58, 6, 64)
    for _, row in df.iterrows():  # the models trained under the strategy, saved and loaded back without one
        r = recount(out, row)
        assert row["top1_err"] == pytest.approx(r.top1_mistakes / 64, abs=1e-12), row["model"]
        assert row["val_err"] == pytest.approx(r.val_mistakes / 6, abs=1e-12), row["model"]
        assert row["val_loss"] == pytest.approx(r.val_loss, rel=1e-5), row["model"]  # the BN statistics too
        assert row["train_err_eval"] == pytest.approx(r.train_mistakes / 58, abs=1e-12), row["model"]
    # validation 6, test 64 and training 58 images, then the latencies at batch 1 and 32
    passes = json.loads(proc.stdout.split("PASSES ", 1)[1])
    assert passes == [[1, 1, 1], [1, 6, 6], [1, 32, 32], [1, 58, 58], [1, 64, 64]]


def test_ctrl_c_stops_after_saving_what_is_done(tmp_path, capsys):
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "compare", "run", "--models", "lenet5,resnet8", "--dataset", "shapes",
           "--limit", "96", "--width", "0.25", "--batch-size", "32", "--epochs", "1", "--quiet", "--no-report",
           "--out", str(out)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO)
    try:
        for line in proc.stdout:
            if line.startswith("[2/2] resnet8") and "training" in line:
                break
        wait_for_running(out / "results.sqlite", 2, proc)  # resnet8's row is written: it is in flight
    except BaseException:
        proc.kill()
        proc.communicate()
        raise
    proc.send_signal(signal.SIGINT)
    rest, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err[-500:]
    assert rest.strip().splitlines()[-1].startswith("interrupted: 1 trained, 0 already done, 0 failed of 2 trial(s)")
    assert "Traceback" not in err
    df = Store(out / "results.sqlite").trials()
    assert df["status"].tolist() == ["done", "failed"]
    assert df["reason"].iloc[1] == "interrupted by the user (Ctrl-C); it runs again on resume"
    capsys.readouterr()
    assert cli(*cmd[3:]) == 0  # the same command resumes (here in-process: no second TensorFlow start-up)
    assert capsys.readouterr().out.strip().splitlines()[-1].startswith("1 trained, 1 already done, 0 failed of 2 trial(s)")


def test_ctrl_c_as_a_trial_begins_leaves_no_row_running(ctrl_c_as_begun, tmp_path):
    """Ctrl-C between resnet8's row being written and the loop holding its id: that trial is stored
    as interrupted (not left ``running``), the done one is kept, and the summary says interrupted."""
    ctrl_c_as_begun(lambda cfg: cfg["model"] == "resnet8")
    summary = run(plan(["lenet5", "resnet8"], seeds=[0], **TINY), tmp_path, save_models=False)
    assert (summary.done, summary.failed, summary.interrupted) == (1, 0, True)
    df = Store(tmp_path / "results.sqlite").trials()
    assert df["model"].tolist() == ["lenet5", "resnet8"] and df["status"].tolist() == ["done", "failed"]
    assert df["reason"].iloc[1] == "interrupted by the user (Ctrl-C); it runs again on resume"


def test_repeated_models_and_seeds_plan_one_trial_each():
    configs = plan(["lenet5", "resnet8", "lenet5"], seeds=[0, 0, 1], **TINY)
    assert [(c["model"], c["seed"]) for c in configs] == [("lenet5", 0), ("lenet5", 1), ("resnet8", 0), ("resnet8", 1)]


def test_datasets_are_loaded_once_per_effective_seed(monkeypatch):
    """A trial's dataset comes from a per-process cache: one load per (name, effective seed, limit);
    only the synthetic set depends on the seed."""
    from compare import data as datalib
    from compare import train

    calls = []
    real = datalib.load_dataset
    monkeypatch.setattr(datalib, "load_dataset", lambda name, **kw: calls.append((name, kw)) or real(name, **kw))
    train._load_cached.cache_clear()
    try:
        digits0, digits5 = train.cached_dataset("digits", 0, None), train.cached_dataset("digits", 5, None)
        shapes3, again3 = train.cached_dataset("shapes", 3, 40), train.cached_dataset("shapes", 3, 40)
        shapes4 = train.cached_dataset("shapes", 4, 40)
    finally:
        train._load_cached.cache_clear()
    assert digits5 is digits0 and again3 is shapes3 and shapes4 is not shapes3
    assert calls == [("digits", {"seed": 0, "limit": None}), ("shapes", {"seed": 3, "limit": 40}),
                     ("shapes", {"seed": 4, "limit": 40})]


@pytest.mark.parametrize("given, expected", [(None, "1"), ("0", "0")])
def test_runner_asks_for_onednn_unless_the_user_chose(given, expected):
    """Importing compare.train (as the runner does, before TensorFlow) sets TF_ENABLE_ONEDNN_OPTS=1
    unless the user set it; bench/RESULTS.md (issue 11) has the measurements behind the default."""
    env = {k: v for k, v in os.environ.items() if k != "TF_ENABLE_ONEDNN_OPTS"}
    if given is not None:
        env["TF_ENABLE_ONEDNN_OPTS"] = given
    code = "import os, sys, compare.train; print(os.environ['TF_ENABLE_ONEDNN_OPTS'], 'tensorflow' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert out.stdout.split() == [expected, "False"], out.stderr


def test_time_left_follows_each_trials_work(tmp_path, monkeypatch):
    """The time left at each trial's start, on a clock where a trial takes 10 s x (its MACs / plain8's
    MACs)^0.6, so the true time left is known. Depths 8, 14 and 56: plain8, resnet8, plain14,
    resnet14 (26,395,264 MACs), plain56, resnet56 (125,485,696). Until two finished trials differ in
    work the exponent is taken as 0.5; from then on it is fitted, and the estimate is exact. A mean
    time per trial said 50 s at the second start, for 122.5 s left."""
    from types import SimpleNamespace

    from compare import depth, runner
    from compare.train import TrialResult

    clock = [0.0]
    monkeypatch.setattr(runner, "time", SimpleNamespace(perf_counter=lambda: clock[0]))
    units = {8: 1.0, 14: 26_395_264 / 12_239_488, 56: 125_485_696 / 12_239_488}  # work per plain8's

    def trial(cfg, verbose=0, save_path=None):
        clock[0] += 10.0 * units[int(cfg["model"].lstrip("plainresnet"))] ** 0.6  # width, input: all the same
        return TrialResult(metrics={"top1_acc": 0.5}, history={})

    configs = depth.plan((8, 14, 56), seeds=[0], epochs=1)
    assert [c["model"] for c in configs] == ["plain8", "resnet8", "plain14", "resnet14", "plain56", "resnet56"]
    starts = []
    with runner.open_run(tmp_path) as (out, store, ctrl_c):
        runner._run(store, configs, out, 0, lambda event, i, n, cfg, **info: starts.append(info.get("eta_s"))
                    if event == "start" else None, False, trial, ctrl_c)
    t14, t56 = 10 * units[14] ** 0.6, 10 * units[56] ** 0.6
    assert 10 + 2 * t14 + 2 * t56 == pytest.approx(122.54, abs=0.01)  # left at the second start
    assert starts[0] is None
    assert starts[1:3] == pytest.approx([10 * (1 + 2 * units[14] ** 0.5 + 2 * units[56] ** 0.5),
                                         10 * (2 * units[14] ** 0.5 + 2 * units[56] ** 0.5)], rel=1e-12)
    assert starts[3:] == pytest.approx([t14 + 2 * t56, 2 * t56, t56], rel=1e-12)
    # the work at a trial's own input and width: alexnet on mnist5k's 28x28 digits gets its minimum, 67x67
    alexnet = {**configs[0], "model": "alexnet", "width": 0.25, "epochs": 6}
    assert runner.Eta.work(alexnet, (28, 28, 1)) == pytest.approx(724_406_816 * 0.25 ** 2 * (67 / 227) ** 2 * 6)


def test_time_left_ignores_failed_trials_and_waits_for_the_longest():
    """A trial that failed at once says nothing of the work it had: its time is not learnt (it used
    to pull the fitted exponent to 0 and the estimate to 11 s for 97 s). With several trials at once,
    the time left is never less than the longest trial left."""
    from compare import depth
    from compare.runner import Eta

    configs = depth.plan((8, 14, 56), seeds=[0], epochs=1)  # plain8, resnet8, plain14, resnet14, plain56, resnet56
    eta = Eta(configs)
    u14, u56 = 26_395_264 / 12_239_488, 125_485_696 / 12_239_488
    eta.finished(configs[0], 10.0)
    eta.finished(configs[1], 10.0)
    eta.finished(configs[2], None)  # plain14 failed after 0.5 s
    assert eta.fit()[1] == 0.5
    assert eta.eta() == pytest.approx(10 * (u14 ** 0.5 + 2 * u56 ** 0.5), rel=1e-12)
    eta.finished(configs[3], None)
    assert eta.eta(parallel=4) == pytest.approx(10 * u56 ** 0.5, rel=1e-12)  # two trials left, 4 workers
    assert eta.eta(parallel=1) == pytest.approx(20 * u56 ** 0.5, rel=1e-12)
    # with Ray, one of them has run for 30 s already: only the rest of its estimate is left; one
    # that has run longer than estimated counts nothing, and the other sets the floor
    plain56, resnet56 = (Store.key(c) for c in configs[4:])
    assert eta.eta(2, {plain56: 30.0}) == pytest.approx(10 * u56 ** 0.5, rel=1e-12)
    assert eta.eta(1, {plain56: 30.0}) == pytest.approx(20 * u56 ** 0.5 - 30, rel=1e-12)
    assert eta.eta(1, {plain56: 1e6}) == pytest.approx(10 * u56 ** 0.5, rel=1e-12)


def test_time_left_does_not_stop_a_run_that_has_a_bad_trial(tmp_path):
    """A trial the runner will store as failed (an unknown model, a model that cannot take images)
    has no work estimate; the estimate is made from the others, and the run goes on."""
    from compare import depth
    from compare.runner import Eta

    good = depth.plan((8,), seeds=[0], epochs=1)
    eta = Eta([*good, {**good[0], "model": "nosuchnet"}, {**good[0], "model": "alphago_policy"}])
    assert list(eta.left.values())[2:] == [0.0, 0.0]
    eta.finished(good[0], 10.0)
    assert eta.eta() == pytest.approx(10.0, rel=1e-12)  # resnet8 left, as plain8; the bad trials add nothing


def test_a_graph_errors_stored_reason_keeps_its_cause_not_the_python_stack():
    """TensorFlow's graph errors carry "Detected at node N defined at (most recent call last):" and
    the Python stack before their cause; a stored reason (500 characters) kept the stack and lost the
    cause (a lost multi-worker peer: "Collective ops is aborted by: Socket closed")."""
    import re

    import tensorflow as tf

    from compare.runner import without_graph_trace

    @tf.function(input_signature=[tf.TensorSpec([None, None]), tf.TensorSpec([None, None])])
    def product(a, b):
        return tf.matmul(a, b)

    with pytest.raises(tf.errors.InvalidArgumentError) as err:
        product(tf.zeros((2, 3)), tf.zeros((4, 5)))
    assert "File " in str(err.value)  # TensorFlow's own message holds the stack
    assert re.fullmatch(r"Graph execution error: Detected at node MatMul: Matrix size-incompatible: In\[0\]: \[2,3\], "
                        r"In\[1\]: \[4,5\] \[\[\{\{node MatMul\}\}\]\] \[Op:__inference_product_\d+\]",
                        " ".join(without_graph_trace(str(err.value)).split()))
