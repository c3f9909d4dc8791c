"""compare.store: round trip, columns, resume semantics, bad files, and a SIGKILL mid-run."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from compare.store import BASE_COLUMNS, SCHEMA_VERSION, Store, StoreError

ROOT = Path(__file__).resolve().parents[1]

CONFIG = {"model": "resnet20", "dataset": "mnist5k", "seed": 0, "width": 0.5, "input_size": 28,
          "epochs": 3, "batch_size": 64, "recipe": "default", "lr": None, "augment": None,
          "strategy": None, "study": "main"}
METRICS = {"top1_acc": 0.981, "top1_err": 0.019, "top5_acc": 0.999, "top5_err": 0.001,
           "train_loss": 0.07, "train_acc": 0.98, "train_s": 12.3, "train_img_per_s": 812.0,
           "infer_ms_b1": 1.5, "infer_ms_b32": 9.0, "params": 269722, "non_trainable": 1344,
           "macs": 40551040, "flops": 81102080, "depth": 20, "input_shape": [28, 28, 1],
           "peak_mem_mb": 512.5, "versions": {"keras": "3.15.1", "tensorflow": "2.21.0"}}
HISTORY = {"loss": [0.9, 0.3, 0.1], "accuracy": [0.7, 0.9, 0.97],
           "val_loss": [0.5, 0.2, 0.1], "val_accuracy": [0.85, 0.94, 0.98]}


def cfg(**changes) -> dict:
    return {**CONFIG, **changes}


@pytest.fixture()
def store(tmp_path):
    with Store(tmp_path / "sub" / "results.sqlite") as s:
        yield s


def test_key_is_canonical_json():
    plain = json.dumps(CONFIG, sort_keys=True, separators=(",", ":"))
    assert Store.key(CONFIG) == plain
    reordered = dict(reversed(list(CONFIG.items())))
    assert Store.key(reordered) == plain
    assert Store.key(cfg(seed=np.int64(0), width=np.float32(0.5))) == plain
    assert Store.key({"a": float("nan"), "b": (1, 2)}) == '{"a":null,"b":[1,2]}'
    with pytest.raises(StoreError, match="not JSON-able"):
        Store.key(cfg(width=object()))


def test_round_trip(store):
    tid = store.begin(cfg(seed=np.int64(0)))
    assert tid == 1 and store.status(CONFIG) == "running"
    metrics = {**METRICS, "top1_acc": np.float64(0.981), "params": np.int64(269722),
               "train_loss": float("nan"), "input_shape": (28, 28, 1)}
    before = datetime.now(timezone.utc).replace(microsecond=0)  # the store keeps whole seconds
    store.finish(tid, metrics, {**HISTORY, "loss": list(np.array([0.9, 0.3, 0.1]))})
    after = datetime.now(timezone.utc)
    assert store.status(CONFIG) == "done"
    row = store.trials().iloc[0]
    assert (row["id"], row["model"], row["dataset"], row["seed"], row["status"]) == (1, "resnet20", "mnist5k", 0, "done")
    assert row["config"] == CONFIG
    assert row["history"] == HISTORY
    assert row["metrics"] == {**METRICS, "train_loss": None}
    assert row["top1_acc"] == 0.981 and row["params"] == 269722 and row["train_loss"] is None
    assert row["input_shape"] == [28, 28, 1] and row["versions"]["keras"] == "3.15.1"
    assert row["reason"] is None and row["pid"] == os.getpid()
    started = datetime.fromisoformat(row["started_at"])
    assert started.tzinfo is not None and started.utcoffset().total_seconds() == 0
    assert before <= datetime.fromisoformat(row["finished_at"]) <= after  # stamped by finish(), in UTC
    # plain SQL readers see the same row
    with sqlite3.connect(store.path) as conn:
        df = pd.read_sql("SELECT * FROM trials", conn)
        meta = dict(conn.execute("SELECT key, value FROM meta"))
    assert list(df.columns) == ["id", "key", "model", "dataset", "seed", "config", "status", "reason",
                                "metrics", "history", "started_at", "finished_at", "pid"]
    assert json.loads(df.loc[0, "metrics"])["params"] == 269722
    assert meta["schema_version"] == str(SCHEMA_VERSION) == "2"
    assert meta["created_with"] == "cnn-zoo 0.1.0"  # pyproject.toml's version


def test_trials_columns_and_name_rule(store):
    assert list(store.trials().columns) == BASE_COLUMNS and len(store.trials()) == 0
    a = store.begin(CONFIG)
    store.finish(a, METRICS, HISTORY)
    b = store.begin(cfg(seed=1, params="clash"))       # config key that is also a metrics key
    store.fail(b, "ValueError: boom\n  at line 3")
    store.begin(cfg(seed=2))
    df = store.trials()
    config_cols = ["width", "input_size", "epochs", "batch_size", "recipe", "lr", "augment", "strategy",
                   "study", "config_params"]
    assert list(df.columns) == BASE_COLUMNS + config_cols + list(METRICS)
    assert list(df["status"]) == ["done", "failed", "running"]
    assert list(df["seed"]) == [0, 1, 2]
    assert df.loc[1, "reason"] == "ValueError: boom at line 3"
    assert df.loc[1, "config_params"] == "clash" and pd.isna(df.loc[1, "params"])
    assert df.loc[0, "width"] == 0.5 and df.loc[0, "depth"] == 20
    assert list(store.trials("done")["id"]) == [a]
    assert list(store.trials("failed")["id"]) == [b]
    with pytest.raises(StoreError, match="unknown status 'ok'"):
        store.trials("ok")
    store2 = store.begin(cfg(seed=3))
    store.finish(store2, {"seed": 99}, {})          # metrics key clashing with a base column
    assert store.trials("done").set_index("id").loc[store2, "metrics_seed"] == 99


def test_resume_semantics(store):
    a, b, c = (store.begin(cfg(seed=s)) for s in range(3))
    store.finish(a, METRICS, HISTORY)
    store.fail(b, "out of memory")
    assert store.done_keys() == {Store.key(cfg(seed=0))}
    assert [store.status(cfg(seed=s)) for s in range(4)] == ["done", "failed", "running", None]
    assert store.begin(cfg(seed=1)) == b                      # failed -> reset, same id
    row = store.trials().set_index("id").loc[b]
    assert row["status"] == "running" and row["reason"] is None and row["finished_at"] is None
    assert store.begin(cfg(seed=2)) == c                      # left running -> reset, same id
    with pytest.raises(StoreError, match=r"trial 1 \(resnet20 on mnist5k, seed 0\) is already done"):
        store.begin(cfg(seed=0))
    with pytest.raises(StoreError, match="no trial with id 42"):
        store.finish(42, {}, {})
    with pytest.raises(StoreError, match="no trial with id 42"):
        store.fail(42, "x")
    assert store.stale_running() == []                        # this process is alive
    assert len(store.trials()) == 3


def test_fail_running_marks_only_what_this_store_left_running(store):
    a, b, c = (store.begin(cfg(seed=s)) for s in range(3))
    store.finish(a, METRICS, HISTORY)
    store.fail(b, "out of memory")
    with Store(store.path) as other:  # trial d: begun by another run on the same file (same pid here, as
        d = other.begin(cfg(seed=3))  # two containers sharing a volume may have), still in flight
    assert store.fail_running("interrupted by\n  the user") == [c]
    rows = store.trials().set_index("id")
    assert rows["status"].tolist() == ["done", "failed", "failed", "running"]
    assert rows["reason"].tolist() == [None, "out of memory", "interrupted by the user", None]
    assert rows.loc[c, "finished_at"] is not None and rows.loc[d, "finished_at"] is None
    assert store.fail_running("again") == []
    assert store.begin(cfg(seed=2)) == c  # resumed: runs again under its id


def test_ctrl_c_right_after_a_commit_stays_a_ctrl_c(tmp_path):
    """A KeyboardInterrupt that lands after COMMIT returned, inside ``transaction``: there is nothing
    to roll back, and the interrupt (not "cannot rollback - no transaction is active") reaches the
    loop that stores the trial as interrupted; the committed row is kept."""
    from compare.store_file import transaction

    class CtrlCAfterCommit:
        def __init__(self, conn):
            self.conn = conn

        def execute(self, sql, *args):
            cur = self.conn.execute(sql, *args)
            if sql == "COMMIT":
                raise KeyboardInterrupt
            return cur

        @property
        def in_transaction(self):
            return self.conn.in_transaction

    conn = sqlite3.connect(tmp_path / "t.sqlite", isolation_level=None)
    conn.execute("CREATE TABLE t (x)")
    with pytest.raises(KeyboardInterrupt):
        with transaction(CtrlCAfterCommit(conn)) as c:
            c.execute("INSERT INTO t VALUES (1)")
    assert conn.execute("SELECT x FROM t").fetchall() == [(1,)]
    conn.close()


def test_finish_is_one_transaction(store):
    """The 'done' status and the predictions are written together: when the second write fails, the
    trial stays running (a resume trains it again) instead of 'done' without its predictions."""
    t = store.begin(CONFIG)
    with sqlite3.connect(store.path) as other:
        other.execute("DROP TABLE predictions")
    with pytest.raises(sqlite3.OperationalError, match="no such table: predictions"):
        store.finish(t, METRICS, HISTORY, {"pred": np.array([1, 2]), "label": np.array([1, 3])})
    assert store.status(CONFIG) == "running"


def test_fail_running_rolls_back_a_write_that_ctrl_c_cut(store):
    """Ctrl-C can leave a transaction open on the connection; fail_running undoes it first."""
    t = store.begin(CONFIG)
    store._conn.execute("BEGIN IMMEDIATE")
    store._conn.execute("UPDATE trials SET reason = 'half-written' WHERE id = ?", (t,))
    assert store.fail_running("interrupted") == [t]
    assert store.trials()["reason"].tolist() == ["interrupted"]


def test_reopen_keeps_rows(tmp_path):
    path = tmp_path / "r.sqlite"
    with Store(path) as s:
        s.finish(s.begin(CONFIG), METRICS, HISTORY)
    with Store(path) as s:
        assert s.done_keys() == {Store.key(CONFIG)}
        assert s.trials().loc[0, "macs"] == 40551040


def test_schema_version_mismatch(tmp_path):
    path = tmp_path / "old.sqlite"
    Store(path).close()
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE meta SET value = '3' WHERE key = 'schema_version'")
    conn.close()
    with pytest.raises(StoreError, match=rf"{path} has schema version 3; this version reads schema 1 or 2"):
        Store(path)


V1_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE trials (id INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE, model TEXT, dataset TEXT, seed INTEGER,
    config TEXT NOT NULL, status TEXT NOT NULL CHECK (status IN ('running', 'done', 'failed')), reason TEXT,
    metrics TEXT, history TEXT, started_at TEXT, finished_at TEXT, pid INTEGER);
INSERT INTO meta VALUES ('schema_version', '1');
"""


def _v1_store(path: Path) -> Path:
    """A store as schema 1 wrote it (no predictions table), with one done trial."""
    with sqlite3.connect(path) as conn:
        conn.executescript(V1_SCHEMA)
        conn.execute("INSERT INTO trials (key, model, dataset, seed, config, status, metrics, history) "
                     "VALUES (?, 'resnet20', 'mnist5k', 0, ?, 'done', ?, ?)",
                     (Store.key(CONFIG), json.dumps(CONFIG), json.dumps(METRICS), json.dumps(HISTORY)))
    conn.close()
    return path


def test_schema_1_store_is_migrated_and_keeps_its_rows(tmp_path):
    path = _v1_store(tmp_path / "v1.sqlite")
    Store.check(path)  # readable as it is; check changes nothing
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() == ("1",)
    conn.close()
    with Store(path) as s:
        assert s.schema_version() == 2
        row = s.trials().iloc[0]
        assert (row["model"], row["params"], row["top1_err"]) == ("resnet20", 269722, 0.019)
        assert s.predictions() == {}  # trials of schema 1 have none
        tid = s.begin(cfg(seed=1))
        s.finish(tid, METRICS, HISTORY, {"pred": np.array([1, 2, 3]), "label": np.array([1, 0, 3])})
        assert sorted(s.predictions()) == [2]


def test_schema_1_store_read_only_is_still_readable(tmp_path):
    path = _v1_store(tmp_path / "v1.sqlite")
    path.chmod(0o444)
    tmp_path.chmod(0o555)  # no journal can be created either
    try:
        with Store(path) as s:
            assert s.trials().loc[0, "macs"] == 40551040 and s.predictions() == {}
    finally:
        tmp_path.chmod(0o755)
        path.chmod(0o644)


def test_predictions_round_trip_compact(store):
    a, b = store.begin(cfg(seed=1)), store.begin(cfg(seed=2))
    pred_a = np.array([0, 9, 3, 3, 255])
    store.finish(a, METRICS, HISTORY, {"pred": pred_a, "label": np.array([0, 9, 3, 4, 255])})
    store.finish(b, METRICS, HISTORY, {"pred": np.array([999, 0]), "label": np.array([1, 2])})
    got = store.predictions()
    assert sorted(got) == [a, b]
    assert got[a][0].tolist() == [0, 9, 3, 3, 255] and got[a][1].tolist() == [0, 9, 3, 4, 255]
    assert got[b][0].tolist() == [999, 0] and got[a][0].dtype == np.int64
    with sqlite3.connect(store.path) as conn:
        rows = conn.execute("SELECT trial_id, dtype, n, length(pred), length(label) FROM predictions "
                            "ORDER BY trial_id").fetchall()
    assert rows == [(a, "uint8", 5, 5, 5), (b, "uint16", 2, 4, 4)]  # one byte per image up to 256 classes
    assert list(store.predictions([b])) == [b]
    store.fail(a, "boom")
    store.begin(cfg(seed=1))  # a re-run trial loses its old predictions
    assert list(store.predictions()) == [b]
    with pytest.raises(StoreError, match="integer arrays of one length"):
        store.finish(a, METRICS, HISTORY, {"pred": np.array([1, 2]), "label": np.array([1])})


def test_corrupt_and_foreign_files(tmp_path):
    garbage = tmp_path / "garbage.sqlite"
    garbage.write_bytes(os.urandom(4096))
    with pytest.raises(StoreError, match=rf"{garbage} is not a SQLite database"):
        Store(garbage)
    broken = tmp_path / "broken.sqlite"
    broken.write_bytes(b"SQLite format 3\x00" + b"\xff" * 4080)
    with pytest.raises(StoreError, match=rf"{broken} is not a usable SQLite database"):
        Store(broken)
    foreign = tmp_path / "foreign.sqlite"
    with sqlite3.connect(foreign) as conn:
        conn.execute("CREATE TABLE trials (x INTEGER)")
    conn.close()
    with pytest.raises(StoreError, match=rf"{foreign} is a SQLite file without the results table\(s\) meta"):
        Store(foreign)
    with pytest.raises(StoreError, match=rf"{tmp_path} is a directory; pass the path of a .sqlite file"):
        Store(tmp_path)
    empty = tmp_path / "empty.sqlite"
    empty.write_bytes(b"")
    with Store(empty) as s:                                   # zero-byte file: a new store
        assert s.done_keys() == set() and len(s.trials()) == 0
    # callers that catch ValueError (the CLIs' bad-input path: exit code 2) catch the store's errors
    with pytest.raises(ValueError, match=rf"{garbage} is not a SQLite database"):
        Store(garbage)


CHILD = textwrap.dedent("""
    import sys, time
    from compare.store import Store
    base = {"model": "lenet5", "dataset": "digits", "epochs": 1}
    store = Store(sys.argv[1])
    for seed in range(3):
        tid = store.begin({**base, "seed": seed})
        store.finish(tid, {"top1_acc": 0.9 + seed / 100, "params": 61706}, {"loss": [1.0, 0.5]})
    tid = store.begin({**base, "seed": 3})
    print(tid, flush=True)
    time.sleep(60)
""")


def test_sigkill_mid_run(tmp_path):
    path = tmp_path / "killed.sqlite"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(path)], stdout=subprocess.PIPE, text=True, env=env)
    try:
        in_flight = int(proc.stdout.readline())
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        proc.stdout.close()
    assert proc.returncode == -signal.SIGKILL
    with Store(path) as s:
        df = s.trials().set_index("seed")
        assert list(df["status"]) == ["done", "done", "done", "running"]
        assert list(df["top1_acc"].iloc[:3]) == [0.9, 0.91, 0.92]
        assert df.loc[1, "history"] == {"loss": [1.0, 0.5]}
        assert df.loc[3, "pid"] == proc.pid
        assert s.stale_running() == [in_flight] == [4]
        assert len(s.done_keys()) == 3
        again = {"model": "lenet5", "dataset": "digits", "epochs": 1, "seed": 3}
        assert s.begin(again) == in_flight                    # resume re-runs the trial in flight
        assert s.stale_running() == []
