"""Engines for the ledger: SQLite (a file, several processes) or PostgreSQL, chosen by URL.

SQLite: WAL mode (readers never block the writer), a busy timeout, ``synchronous=FULL`` (a commit
is on disk before the caller is told "accepted"), foreign keys on, and every write transaction
opens with ``BEGIN IMMEDIATE`` so the write lock is taken at BEGIN rather than on the first write —
two processes then queue for the lock instead of failing with "database is locked" half-way.
Reads go through :func:`reader`, which opens with a plain deferred ``BEGIN``.

Within one process, writers first queue on a Python lock and only then issue ``BEGIN IMMEDIATE``:
SQLite's busy handler sleeps in steps of up to 100 ms while it waits, so threads of one process
contending for the write lock spent most of their time asleep (measured in docs/BENCHMARKS.md).
The lock is taken at the first ``BEGIN IMMEDIATE`` on a pooled connection and released when that
connection goes back to the pool.

Between processes on one file (`serve` and its delivery process, `lienthong worker`s), the holder of
that Python lock then takes an exclusive ``flock`` on ``<database>-writelock`` beside the file before
``BEGIN IMMEDIATE``: a process waiting for another's write transaction sleeps in the kernel and is
woken when it ends, instead of in the busy handler's steps of up to 100 ms. Nothing depends on it
for correctness (SQLite's own lock still decides; a process without it, e.g. the sqlite3 shell,
meets the busy handler as before), and the kernel drops it when its process dies.
"""

from __future__ import annotations

import fcntl
import os
import threading
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.pool import StaticPool

SQLITE_BUSY_TIMEOUT_S = 60.0
# Every commit writes each B-tree page it touched into the WAL, whole, and the checkpoint writes it
# again: smaller pages cost fewer bytes per small message (a 5 KB document: 42 KiB written per
# message with 4 KiB pages, 34 with 2 KiB, 64 with 8 KiB), and a larger WAL lets a page changed by
# many commits be checkpointed once (2 KiB pages: 34 KiB with a 2 MiB WAL, 29 with 16 MiB). A page
# size applies to a new database only; an existing ledger keeps its own. See bench/FINDINGS.md.
SQLITE_PAGE_SIZE = 2048
SQLITE_WAL_AUTOCHECKPOINT_PAGES = 8192  # 16 MiB of WAL between automatic checkpoints
_BEGIN_OPTION = "ledger_sqlite_begin"
_HOLDS_WRITE_LOCK = "ledger_holds_write_lock"  # in a pooled connection's info


def create_ledger_engine(url: str | URL) -> Engine:
    """An engine for the ledger's database, tuned for concurrent appends."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(parsed)
    return sa.create_engine(parsed, pool_pre_ping=True)


def reader(engine: Engine) -> Engine:
    """The same engine and pool, but transactions that only read (no write lock on SQLite)."""
    return engine.execution_options(**{_BEGIN_OPTION: "DEFERRED"})


def _sqlite_engine(url: URL) -> Engine:
    database = url.database or ""
    in_memory = database in ("", ":memory:") or database.startswith("file::memory:")
    kwargs: dict[str, Any] = {"connect_args": {"timeout": SQLITE_BUSY_TIMEOUT_S}}
    if in_memory:
        # One shared connection, or every checkout would see its own empty database.
        kwargs["poolclass"] = StaticPool
        kwargs["connect_args"]["check_same_thread"] = False
    else:
        Path(database).expanduser().resolve().parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(url, **kwargs)
    write_lock = threading.Lock()
    between_processes = None if in_memory else _process_lock(Path(database).expanduser().resolve())

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" hook below emit BEGIN instead of the sqlite3 module.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {int(SQLITE_BUSY_TIMEOUT_S * 1000)}")
            cursor.execute(f"PRAGMA page_size = {SQLITE_PAGE_SIZE}")  # before WAL mode: a new file only
            if not in_memory:
                cursor.execute("PRAGMA journal_mode = WAL")
                cursor.execute(f"PRAGMA wal_autocheckpoint = {SQLITE_WAL_AUTOCHECKPOINT_PAGES}")
            cursor.execute("PRAGMA synchronous = FULL")
            cursor.execute("PRAGMA foreign_keys = ON")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: sa.Connection) -> None:
        mode = conn.get_execution_options().get(_BEGIN_OPTION, "IMMEDIATE")
        if mode == "IMMEDIATE" and not in_memory:
            info = conn.connection.info
            if not info.get(_HOLDS_WRITE_LOCK):
                write_lock.acquire()
                if between_processes is not None:
                    fcntl.flock(between_processes, fcntl.LOCK_EX)
                info[_HOLDS_WRITE_LOCK] = True
        conn.exec_driver_sql(f"BEGIN {mode}")

    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_connection: Any, record: Any) -> None:
        if record is not None and record.info.pop(_HOLDS_WRITE_LOCK, False):
            if between_processes is not None:
                fcntl.flock(between_processes, fcntl.LOCK_UN)
            write_lock.release()

    return engine


def _process_lock(database: Path) -> int | None:
    """The open lock file that queues this file's writers across processes; None where it cannot be
    created (a read-only directory: writes then fail on SQLite's own terms, as before)."""
    try:
        database.parent.mkdir(parents=True, exist_ok=True)
        return os.open(database.with_name(database.name + "-writelock"), os.O_RDWR | os.O_CREAT, 0o600)
    except OSError:
        return None
