"""Results store: one SQLite row per trial, safe to interrupt.

Every write is its own transaction, so a killed process loses at most the trial in flight; that
row stays ``running`` and :meth:`Store.stale_running` reports it. A trial is identified by the
canonical JSON of its config (:meth:`Store.key`). Read the results with :meth:`Store.trials` or
``pandas.read_sql("SELECT * FROM trials", sqlite3.connect(path))``.

Schema 2 adds the ``predictions`` table: each trial's test-set predictions and labels as compact
integer arrays (uint8 up to 256 classes, else uint16 or int32), for paired tests between models
(:func:`compare.stats.mcnemar`); :meth:`Store.predictions` reads them. A schema-1 store is
migrated in place when opened (the table is added; its trials simply have no predictions).
"""

from __future__ import annotations

import json
import math
import os
import sqlite3
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .store_file import (BASE_COLUMNS, SCHEMA_VERSION, STATUSES, STORE_NAME, StoreError, check_file, check_schema,
                         create_tables, table_names, transaction)

# the file's name, schema version, columns and error are compare.store_file's, used through here
__all__ = ["STORE_NAME", "SCHEMA_VERSION", "BASE_COLUMNS", "StoreError", "Store", "run_store", "to_jsonable"]


def to_jsonable(value: Any) -> Any:
    """Plain-JSON copy of ``value``: numpy scalars/arrays -> Python numbers/lists, tuples ->
    lists, NaN and infinities -> None, dict keys -> str. Raises TypeError for other objects."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        items = sorted(value, key=repr) if isinstance(value, (set, frozenset)) else value
        return [to_jsonable(v) for v in items]
    if hasattr(value, "tolist") and hasattr(value, "dtype"):  # numpy scalar or array
        return to_jsonable(value.tolist())
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    raise TypeError(f"{type(value).__name__} value {value!r:.60} is not JSON-able")


def _dumps(value: Any, what: str, canonical: bool = False) -> str:
    try:
        plain = to_jsonable(value)
    except TypeError as exc:
        raise StoreError(f"{what}: {exc}") from None
    if canonical:
        return json.dumps(plain, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return json.dumps(plain, allow_nan=False)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _one_line(reason: str) -> str:
    """A failure reason as stored: one line, at most 500 characters."""
    return " ".join(str(reason).split())[:500]


def _package_version() -> str:
    try:
        from importlib.metadata import version

        return f"cnn-zoo {version('cnn-zoo')}"
    except Exception:
        pass
    try:
        import tomllib

        pyproject = Path(__file__).resolve().parent.parent / "pyproject.toml"
        return f"cnn-zoo {tomllib.loads(pyproject.read_text())['project']['version']}"
    except Exception:
        return "cnn-zoo unknown"


def _pid_alive(pid: int | None) -> bool:
    """True when ``pid`` runs on this machine (zombies count as dead)."""
    if not pid or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return False
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def run_store(run_dir: str | os.PathLike) -> Path:
    """The results store of the run directory ``run_dir``, checked without changing anything.

    Raises FileNotFoundError for a missing directory or store, NotADirectoryError when
    ``run_dir`` is a file, and StoreError (a ValueError) for a store that cannot be read; each
    names the path. Cheap: no pandas, no TensorFlow.
    """
    run = Path(run_dir)
    if not run.exists():
        raise FileNotFoundError(f"run directory {str(run)!r} does not exist")
    if not run.is_dir():
        raise NotADirectoryError(f"{str(run)!r} is not a run directory (expected a directory holding {STORE_NAME})")
    path = run / STORE_NAME
    if not path.is_file():
        raise FileNotFoundError(f"no results store in {str(run)!r} (expected {str(path)!r}; "
                                "run `python -m compare` first)")
    try:
        Store.check(path)
    except StoreError as exc:
        raise StoreError(f"cannot read results store {str(path)!r}: {exc}") from None
    return path


def _pack_predictions(predictions: dict) -> tuple[str, int, bytes, bytes]:
    """``(dtype, n, pred bytes, label bytes)``: the smallest unsigned type that holds every class."""
    import numpy as np

    try:
        pred = np.asarray(predictions["pred"]).reshape(-1)
        label = np.asarray(predictions["label"]).reshape(-1)
    except (KeyError, TypeError) as exc:
        raise StoreError(f"predictions must be a dict with 'pred' and 'label' arrays ({exc})") from None
    if pred.shape != label.shape or pred.dtype.kind not in "iu" or label.dtype.kind not in "iu":
        raise StoreError(f"predictions: 'pred' and 'label' must be integer arrays of one length, got "
                         f"{pred.dtype} {pred.shape} and {label.dtype} {label.shape}")
    both = np.concatenate([pred, label])
    if both.size and both.min() < 0:
        raise StoreError("predictions: class indices must be >= 0")
    top = int(both.max()) if both.size else 0
    dtype = "uint8" if top < 2 ** 8 else "uint16" if top < 2 ** 16 else "int32"
    return dtype, int(pred.size), pred.astype(dtype).tobytes(), label.astype(dtype).tobytes()


class Store:
    """SQLite results database at ``path`` (created with its parent folder when new)."""

    @staticmethod
    def check(path: str | os.PathLike) -> None:
        """Raise StoreError if ``path`` exists but is not a results store this version can use
        (another file type, a corrupt database, a foreign SQLite file, another schema version).
        A missing or empty file passes (it becomes a new store). Changes nothing: run it before
        any work, so bad input is rejected before anything is printed or computed."""
        path = Path(path).expanduser()
        if not check_file(path):
            return
        try:
            conn = sqlite3.connect(path, timeout=30.0, isolation_level=None)
        except sqlite3.Error as exc:
            raise StoreError(f"{path} is not a usable SQLite database ({exc})") from None
        try:
            check_schema(conn, path, table_names(conn))
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{path} is not a usable SQLite database ({exc})") from None
        finally:
            conn.close()

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path).expanduser()
        self._begun: set[int] = set()  # ids of the trials begun through this instance (fail_running)
        check_file(self.path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
        try:
            self._open()
        except sqlite3.DatabaseError as exc:
            self._conn.close()
            raise StoreError(f"{self.path} is not a usable SQLite database ({exc})") from None
        except StoreError:
            self._conn.close()
            raise

    def _open(self) -> None:
        conn = self._conn
        conn.execute("PRAGMA busy_timeout = 30000")
        tables = table_names(conn)
        if not tables:
            conn.execute("PRAGMA journal_mode = WAL")
            with transaction(conn):
                create_tables(conn)
                conn.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
                conn.execute("INSERT OR IGNORE INTO meta VALUES ('created_with', ?)", (_package_version(),))
                conn.execute("INSERT OR IGNORE INTO meta VALUES ('created_at', ?)", (_now(),))
            tables = {"meta", "trials", "predictions"}
        check_schema(conn, self.path, tables)
        if "predictions" not in tables or self.schema_version() != SCHEMA_VERSION:
            try:
                self._migrate()
            except sqlite3.OperationalError:  # a read-only file: read it as it is (no predictions)
                pass
        conn.execute("PRAGMA synchronous = NORMAL")

    def schema_version(self) -> int:
        """The schema version recorded in the store's meta table."""
        return int(self._conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0])

    def _migrate(self) -> None:
        """Schema 1 -> 2: add the predictions table (the trials are unchanged), in one transaction."""
        with transaction(self._conn) as conn:
            create_tables(conn)
            conn.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION),))
            conn.execute("INSERT OR REPLACE INTO meta VALUES ('migrated_with', ?)", (_package_version(),))

    # ------------------------------------------------------------------ plumbing

    def _write(self, sql: str, args: tuple = ()) -> sqlite3.Cursor:
        """One statement in its own (immediate) transaction."""
        with self._conn:
            return self._conn.execute(sql, args)

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection (idempotent)."""
        if getattr(self, "_conn", None) is not None:
            self._conn.close()
            self._conn = None

    def __repr__(self) -> str:
        return f"Store({str(self.path)!r})"

    # ------------------------------------------------------------------ API

    @staticmethod
    def key(config: dict) -> str:
        """Canonical JSON of ``config``: sorted keys, no spaces, numpy values as Python, NaN as null."""
        if not isinstance(config, dict):
            raise StoreError(f"config must be a dict, got {type(config).__name__}")
        return _dumps(config, "config", canonical=True)

    def status(self, config: dict) -> str | None:
        """Status of the trial with this config, or None when it was never begun."""
        row = self._conn.execute("SELECT status FROM trials WHERE key = ?", (self.key(config),)).fetchone()
        return row[0] if row else None

    def begin(self, config: dict) -> int:
        """Record a trial as running and return its id. A trial left running or failed is reset
        and keeps its id; a finished one raises StoreError."""
        key = self.key(config)
        model, dataset, seed = config.get("model"), config.get("dataset"), config.get("seed")
        model = None if model is None else str(model)
        dataset = None if dataset is None else str(dataset)
        seed = int(seed) if isinstance(seed, int) or (hasattr(seed, "dtype") and seed.dtype.kind in "iu") else None
        with transaction(self._conn) as conn:
            found = conn.execute("SELECT id, status FROM trials WHERE key = ?", (key,)).fetchone()
            if found is None:
                cur = conn.execute(
                    "INSERT INTO trials (key, model, dataset, seed, config, status, started_at, pid) "
                    "VALUES (?, ?, ?, ?, ?, 'running', ?, ?)",
                    (key, model, dataset, seed, _dumps(config, "config"), _now(), os.getpid()),
                )
                trial_id = int(cur.lastrowid)
            elif found[1] == "done":
                raise StoreError(f"trial {found[0]} ({model} on {dataset}, seed {seed}) is already done; "
                                 "it is skipped on resume")
            else:
                trial_id = int(found[0])
                conn.execute("DELETE FROM predictions WHERE trial_id = ?", (trial_id,))
                conn.execute(
                    "UPDATE trials SET status = 'running', reason = NULL, metrics = NULL, history = NULL, "
                    "started_at = ?, finished_at = NULL, pid = ? WHERE id = ?",
                    (_now(), os.getpid(), trial_id),
                )
            self._begun.add(trial_id)  # before the commit: Ctrl-C cannot fall between the two
        return trial_id

    def finish(self, trial_id: int, metrics: dict, history: dict | None = None,
               predictions: dict | None = None) -> None:
        """Mark trial ``trial_id`` done with its metrics and training history, and its test-set
        ``predictions`` (``{"pred": classes, "label": true classes}``, integer arrays of one length)
        when given, in one transaction."""
        blob = _pack_predictions(predictions) if predictions is not None else None
        with transaction(self._conn):  # (the connection autocommits: `with conn` alone is no transaction)
            cur = self._conn.execute(
                "UPDATE trials SET status = 'done', reason = NULL, metrics = ?, history = ?, finished_at = ? "
                "WHERE id = ?",
                (_dumps(metrics or {}, "metrics"), _dumps(history or {}, "history"), _now(), int(trial_id)),
            )
            if cur.rowcount != 1:
                raise StoreError(f"no trial with id {trial_id} in {self.path}")
            if blob is not None:
                self._conn.execute("INSERT OR REPLACE INTO predictions VALUES (?, ?, ?, ?, ?)", (int(trial_id), *blob))

    def predictions(self, trial_ids=None) -> dict:
        """``{trial id: (pred, label)}``: the stored test-set predictions and true labels (int64
        numpy arrays) of the trials ``trial_ids`` (default: every trial that has them)."""
        import numpy as np

        if "predictions" not in table_names(self._conn):  # an old store opened read-only
            return {}
        rows = self._conn.execute("SELECT trial_id, dtype, n, pred, label FROM predictions ORDER BY trial_id")
        wanted = None if trial_ids is None else {int(t) for t in trial_ids}
        out = {}
        for tid, dtype, n, pred, label in rows:
            if wanted is None or tid in wanted:
                p = np.frombuffer(pred, dtype=dtype).astype(np.int64)
                y = np.frombuffer(label, dtype=dtype).astype(np.int64)
                if len(p) != n or len(y) != n:
                    raise StoreError(f"{self.path}: the predictions of trial {tid} are damaged "
                                     f"({len(p)} and {len(y)} values, expected {n})")
                out[int(tid)] = (p, y)
        return out

    def fail(self, trial_id: int, reason: str) -> None:
        """Mark trial ``trial_id`` failed with a one-line reason (at most 500 characters)."""
        cur = self._write("UPDATE trials SET status = 'failed', reason = ?, finished_at = ? WHERE id = ?",
                          (_one_line(reason), _now(), int(trial_id)))
        if cur.rowcount != 1:
            raise StoreError(f"no trial with id {trial_id} in {self.path}")

    def fail_running(self, reason: str) -> list[int]:
        """Mark failed, with a one-line ``reason``, every trial begun through this ``Store`` and still
        running, in one transaction; returns their ids. What Ctrl-C interrupts, including a trial
        whose row was written an instant before it came (its id not yet known to the caller).
        Another process's trials in the same file are never touched, even one with the same pid
        (in another container)."""
        if self._conn.in_transaction:  # a write that Ctrl-C interrupted half-way: it did not happen
            self._conn.execute("ROLLBACK")
        with transaction(self._conn) as conn:
            running = conn.execute("SELECT id FROM trials WHERE status = 'running' AND pid = ? ORDER BY id",
                                   (os.getpid(),))
            ids = [int(r[0]) for r in running if int(r[0]) in self._begun]  # not bound: SQLite caps variables
            conn.executemany("UPDATE trials SET status = 'failed', reason = ?, finished_at = ? WHERE id = ?",
                             [(_one_line(reason), _now(), i) for i in ids])
        return ids

    def get_meta(self, key: str) -> Any:
        """The JSON value stored under ``key`` in the meta table by :meth:`set_meta`, or None."""
        row = self._conn.execute("SELECT value FROM meta WHERE key = ?", (f"json:{key}",)).fetchone()
        return None if row is None else json.loads(row[0])

    def set_meta(self, key: str, value: Any) -> None:
        """Store a JSON-able ``value`` under ``key`` in the meta table (run-wide facts, e.g. the
        bench's matmul peak), replacing an earlier one."""
        self._write("INSERT OR REPLACE INTO meta VALUES (?, ?)", (f"json:{key}", _dumps(value, key)))

    def done_keys(self) -> set[str]:
        """Keys of the finished trials (what a resumed run skips)."""
        return {r[0] for r in self._conn.execute("SELECT key FROM trials WHERE status = 'done'")}

    def stale_running(self) -> list[int]:
        """Ids of trials left ``running`` by a process that no longer exists on this machine."""
        rows = self._conn.execute("SELECT id, pid FROM trials WHERE status = 'running' ORDER BY id")
        return [int(i) for i, pid in rows if not _pid_alive(pid)]

    def trials(self, status: str | None = None):
        """One row per trial as a pandas DataFrame.

        Columns: ``BASE_COLUMNS`` (``config``, ``metrics`` and ``history`` as dicts), then each
        config key as its own column, then each metrics key. Name rule: a metrics key keeps its
        name unless it is a base column (then ``metrics_<name>``); a config key keeps its name
        unless it is a base column or also a metrics key (then ``config_<name>``); the config
        keys ``model``, ``dataset`` and ``seed`` are the base columns themselves.
        """
        import pandas as pd

        if status is not None and status not in STATUSES:
            raise StoreError(f"unknown status {status!r}; accepted: {', '.join(STATUSES)} or None")
        sql = f"SELECT {', '.join(BASE_COLUMNS)} FROM trials"
        rows = self._conn.execute(sql + (" WHERE status = ?" if status else "") + " ORDER BY id",
                                  (status,) if status else ()).fetchall()
        records = []
        for values in rows:
            rec = dict(zip(BASE_COLUMNS, values))
            for col in ("config", "metrics", "history"):
                rec[col] = json.loads(rec[col]) if rec[col] else {}
            records.append(rec)
        metric_keys = list(dict.fromkeys(k for r in records for k in r["metrics"]))
        config_keys = [k for k in dict.fromkeys(k for r in records for k in r["config"])
                       if k not in ("model", "dataset", "seed")]
        metric_cols = {k: f"metrics_{k}" if k in BASE_COLUMNS else k for k in metric_keys}
        taken = set(BASE_COLUMNS) | set(metric_cols.values())
        config_cols = {k: f"config_{k}" if k in taken else k for k in config_keys}
        table = []
        for r in records:
            row = {c: r[c] for c in BASE_COLUMNS}
            row.update({col: r["config"].get(k) for k, col in config_cols.items()})
            row.update({col: r["metrics"].get(k) for k, col in metric_cols.items()})
            table.append(row)
        columns = BASE_COLUMNS + list(config_cols.values()) + list(metric_cols.values())
        return pd.DataFrame(table, columns=columns)
