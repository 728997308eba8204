"""The simulator's clock: wall time plus an offset the admin API can push forward."""

from __future__ import annotations

import threading
import time


class Clock:
    """`now()` in epoch seconds; `advance()` jumps it forward so tests need not wait."""

    def __init__(self) -> None:
        self._offset = 0.0
        self._lock = threading.Lock()

    def now(self) -> float:
        return time.time() + self._offset

    @property
    def offset(self) -> float:
        return self._offset

    def advance(self, seconds: float) -> float:
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        with self._lock:
            self._offset += seconds
            return self._offset

    def reset(self) -> None:
        with self._lock:
            self._offset = 0.0
