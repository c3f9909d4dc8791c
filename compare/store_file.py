"""The results store's file: its name, schema (tables ``meta``, ``trials``, ``predictions``) and
version, and the checks and transactions :class:`compare.store.Store` opens it with."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

#: The results store's file name inside a run directory (``OUT/results.sqlite``).
STORE_NAME = "results.sqlite"
SCHEMA_VERSION = 2
#: Older schemas this version opens; each is migrated to :data:`SCHEMA_VERSION` when opened.
MIGRATABLE = (1,)
STATUSES = ("running", "done", "failed")
BASE_COLUMNS = ["id", "key", "model", "dataset", "seed", "status", "reason", "started_at",
                "finished_at", "pid", "config", "metrics", "history"]
SQLITE_MAGIC = b"SQLite format 3\x00"
SCHEMA = f"""
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS trials (
    id INTEGER PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,
    model TEXT,
    dataset TEXT,
    seed INTEGER,
    config TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN {STATUSES}),
    reason TEXT,
    metrics TEXT,
    history TEXT,
    started_at TEXT,
    finished_at TEXT,
    pid INTEGER
);
CREATE INDEX IF NOT EXISTS trials_status ON trials (status);
CREATE TABLE IF NOT EXISTS predictions (
    trial_id INTEGER PRIMARY KEY REFERENCES trials (id),
    dtype TEXT NOT NULL,
    n INTEGER NOT NULL,
    pred BLOB NOT NULL,
    label BLOB NOT NULL
);
"""


class StoreError(ValueError):
    """The results store cannot be used as asked (bad file, schema, state or value)."""


def check_file(path: Path) -> bool:
    """False when ``path`` is missing or empty (a new store); True for a SQLite file; StoreError else."""
    if path.is_dir():
        raise StoreError(f"{path} is a directory; pass the path of a .sqlite file")
    if not path.is_file() or path.stat().st_size == 0:
        return False
    with open(path, "rb") as f:
        if f.read(16) != SQLITE_MAGIC:
            raise StoreError(f"{path} is not a SQLite database (corrupt or another file type)")
    return True


def check_schema(conn: sqlite3.Connection, path: Path, tables: set[str]) -> None:
    """StoreError unless ``conn`` holds the results tables at this version's schema."""
    missing = {"meta", "trials"} - tables
    if missing:
        raise StoreError(f"{path} is a SQLite file without the results table(s) "
                         f"{', '.join(sorted(missing))}; not a results store")
    row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    readable = {str(v) for v in (SCHEMA_VERSION, *MIGRATABLE)}
    if row is None or row[0] not in readable:
        found = "none" if row is None else row[0]
        accepted = " or ".join(sorted(readable))
        raise StoreError(f"{path} has schema version {found}; this version reads schema "
                         f"{accepted} (use a new store file or the matching version)")


def table_names(conn: sqlite3.Connection) -> set[str]:
    return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


@contextlib.contextmanager
def transaction(conn: sqlite3.Connection):
    """One write transaction (``BEGIN IMMEDIATE``): committed at the end, rolled back on any exception."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:  # Ctrl-C can come after COMMIT returned: nothing left to roll back
            conn.execute("ROLLBACK")
        raise


def create_tables(conn: sqlite3.Connection) -> None:
    """Create the schema's tables and indexes that are missing (each statement is IF NOT EXISTS)."""
    for statement in SCHEMA.split(";"):
        if statement.strip():
            conn.execute(statement)
