"""Identifiers the simulator hands out: MongoDB-style ObjectIds for feed events, S10 item codes."""

from __future__ import annotations

import os
import threading

_S10_WEIGHTS = (8, 6, 4, 2, 3, 5, 9, 7)
ZERO_OBJECT_ID = "0" * 24


class ObjectIdSequence:
    """24-hex-char ids laid out like a MongoDB ObjectId (4-byte seconds, 5 random bytes, 3-byte
    counter) and strictly increasing, even when the clock stands still or moves back."""

    def __init__(self) -> None:
        self._machine = int.from_bytes(os.urandom(5), "big")
        self._counter = int.from_bytes(os.urandom(2), "big")
        self._last = 0
        self._lock = threading.Lock()

    def next(self, epoch_seconds: float) -> str:
        with self._lock:
            self._counter = (self._counter + 1) % (1 << 24)
            candidate = (int(epoch_seconds) & 0xFFFFFFFF) << 64 | self._machine << 24 | self._counter
            self._last = max(candidate, self._last + 1)
            return f"{self._last:024x}"


def s10_check_digit(serial: int) -> int:
    """The UPU S10 check digit of an 8-digit serial number."""
    digits = f"{serial:08d}"
    total = sum(int(d) * w for d, w in zip(digits, _S10_WEIGHTS, strict=True))
    check = 11 - total % 11
    return {10: 0, 11: 5}.get(check, check)


def item_code(prefix: str, serial: int) -> str:
    """An S10 item code such as ``EL123456785VN``."""
    return f"{prefix}{serial:08d}{s10_check_digit(serial)}VN"
