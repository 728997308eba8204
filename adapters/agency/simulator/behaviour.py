"""Behaviour controls of the simulated agency systems: down, always failing, failing N calls, slow.

Each control applies to one participant's webhook or, without a participant, to all of them; a
participant's own control is looked at before the shared one.
"""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass
from typing import Any

ALL = "*"


@dataclass
class Behaviour:
    down: bool = False
    always_status: int | None = None
    fail_next: int = 0
    fail_status: int = 503
    retry_after: int | None = None
    slow_seconds: float = 0.0
    slow_calls: int | None = None  # None: every call while slow_seconds > 0

    def is_default(self) -> bool:
        return self == Behaviour()


@dataclass(frozen=True)
class Decision:
    """What to do with one webhook call: wait `delay`, then answer `status` (None = serve it)."""

    status: int | None = None
    delay: float = 0.0
    retry_after: int | None = None
    why: str | None = None


class Behaviours:
    """The controls in force, consumed call by call (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._scopes: dict[str, Behaviour] = {}

    def update(self, participant: str | None, **changes: Any) -> None:
        with self._lock:
            behaviour = self._scopes.setdefault(participant or ALL, Behaviour())
            for name, value in changes.items():
                setattr(behaviour, name, value)
            if behaviour.is_default():
                del self._scopes[participant or ALL]

    def clear(self, participant: str | None = None) -> None:
        with self._lock:
            if participant is None:
                self._scopes.clear()
            else:
                self._scopes.pop(participant, None)

    def take(self, participant: str) -> Decision:
        with self._lock:
            scopes = [b for b in (self._scopes.get(participant), self._scopes.get(ALL)) if b is not None]
            delay = 0.0
            for b in scopes:
                if b.slow_seconds > 0 and (b.slow_calls is None or b.slow_calls > 0):
                    delay = b.slow_seconds
                    if b.slow_calls is not None:
                        b.slow_calls -= 1
                    break
            for b in scopes:
                if b.down:
                    return Decision(503, delay, b.retry_after, "the agency system is down")
                if b.always_status is not None:
                    return Decision(b.always_status, delay, b.retry_after, "refusing every call")
                if b.fail_next > 0:
                    b.fail_next -= 1
                    return Decision(b.fail_status, delay, b.retry_after, "injected failure")
            return Decision(delay=delay)

    def to_dict(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            return {scope: asdict(b) for scope, b in self._scopes.items()}
