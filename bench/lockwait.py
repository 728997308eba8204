"""Sampling PostgreSQL's backends while the hub takes load: how many wait on a lock, and on what.

Every ``interval`` seconds one query reads ``pg_stat_activity`` for the benchmark's database (the
sampler's own backend excluded). A backend *waits on a lock* when ``wait_event_type = 'Lock'``
(a row or transaction lock another transaction holds: in ledger v1 the chain head's row). The share
is over backends that were busy (``state = 'active'``) at the sampled instants; the other wait
events (``IO``/``WALSync``: commit flushes, ``LWLock``, ``Client``, none = on CPU) say what else
the busy backends were doing.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from typing import Any

import sqlalchemy as sa

_SAMPLE = sa.text(
    "SELECT state, wait_event_type, wait_event FROM pg_stat_activity "
    "WHERE datname = :db AND pid <> pg_backend_pid() AND backend_type = 'client backend'"
)


class LockWaitSampler:
    def __init__(self, database_url: str, *, interval: float = 0.02) -> None:
        self.engine = sa.create_engine(database_url, pool_size=1)
        self.database = sa.engine.make_url(database_url).database
        self.interval = interval
        self.samples = 0
        self.active = 0
        self.waits: Counter[str] = Counter()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="lock-wait-sampler", daemon=True)

    def __enter__(self) -> LockWaitSampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(5)
        self.engine.dispose()

    def _run(self) -> None:
        with self.engine.connect() as conn:
            while not self._stop.is_set():
                rows = conn.execute(_SAMPLE, {"db": self.database}).all()
                conn.rollback()  # each sample its own snapshot of pg_stat_activity
                self.samples += 1
                for row in rows:
                    if row.state == "active":
                        self.active += 1
                        self.waits[
                            f"{row.wait_event_type}:{row.wait_event}" if row.wait_event_type else "CPU"
                        ] += 1
                time.sleep(self.interval)

    def figures(self) -> dict[str, Any]:
        locked = sum(n for kind, n in self.waits.items() if kind.startswith("Lock:"))
        return {
            "samples": self.samples,
            "active_backend_samples": self.active,
            "lock_wait_backend_samples": locked,
            "lock_wait_share": locked / self.active if self.active else 0.0,
            "wait_events": dict(self.waits.most_common(8)),
        }
