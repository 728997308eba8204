"""Directories: recipients outside the hub that an adapter can reach (e.g. the national axis' organs).

An adapter publishes its directory (:meth:`hub.spi.HubServices.set_directory`); it is kept in the
ledger's adapter state, so every process sees it, and cached here for a few seconds so routing at
intake costs a dictionary lookup.
"""

from __future__ import annotations

import json
import threading
import time

from hub.ledger import Ledger

DIRECTORY_KEY = "directory"
CACHE_SECONDS = 10.0  # how long a process routes by the directory it read last


class Directories:
    def __init__(self, ledger: Ledger, *, ttl_seconds: float = CACHE_SECONDS) -> None:
        self._ledger = ledger
        self._ttl = ttl_seconds
        self._cache: dict[str, tuple[float, dict[str, str]]] = {}
        self._lock = threading.Lock()

    def set(self, adapter: str, entries: dict[str, str]) -> None:
        self._ledger.set_state(
            adapter, DIRECTORY_KEY, json.dumps(entries, sort_keys=True, ensure_ascii=False)
        )
        with self._lock:
            self._cache[adapter] = (time.monotonic(), dict(entries))

    def entries(self, adapter: str) -> dict[str, str]:
        with self._lock:
            cached = self._cache.get(adapter)
        if cached is not None and time.monotonic() - cached[0] < self._ttl:
            return cached[1]
        stored = self._ledger.get_state(adapter, DIRECTORY_KEY)
        entries = json.loads(stored) if stored else {}
        with self._lock:
            self._cache[adapter] = (time.monotonic(), entries)
        return entries

    def contains(self, adapter: str, recipient: str) -> bool:
        return recipient in self.entries(adapter)
