"""Failure injection on the API doors (``/token`` and ``/api/...``); the admin doors never fail.

- error: the next N calls answer an HTTP 5xx;
- slow: the next N calls wait a while before being served;
- down: every call has its connection reset (no HTTP answer) until "up".
Token expiry and duplicate feed events are injected by the token store and the post office.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

FAULTY_PREFIXES = ("/token", "/api/")


class FaultKind(StrEnum):
    ERROR = "error"
    SLOW = "slow"
    EXPIRE_TOKENS = "expire_tokens"
    DUPLICATE_EVENTS = "duplicate_events"
    DOWN = "down"
    UP = "up"
    CLEAR = "clear"


@dataclass
class Faults:
    """The transport faults waiting to happen; counts go down as API calls consume them."""

    error_calls: int = 0
    error_status: int = 503
    slow_calls: int = 0
    slow_seconds: float = 0.0
    down: bool = False

    def __post_init__(self) -> None:
        self._lock = threading.Lock()

    def clear(self) -> None:
        with self._lock:
            self.error_calls, self.error_status = 0, 503
            self.slow_calls, self.slow_seconds = 0, 0.0
            self.down = False

    def take(self) -> tuple[int | None, float]:
        """For one API call: the injected error status (or None) and the delay to apply first."""
        with self._lock:
            if self.error_calls > 0:
                self.error_calls -= 1
                return self.error_status, 0.0
            if self.slow_calls > 0:
                self.slow_calls -= 1
                return None, self.slow_seconds
            return None, 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "error_calls": self.error_calls,
            "error_status": self.error_status,
            "slow_calls": self.slow_calls,
            "slow_seconds": self.slow_seconds,
            "down": self.down,
        }


def _transport_of(receive: Receive) -> Any:
    """uvicorn's connection transport (asyncio's or uvloop's), reached through its bound `receive`:
    an implementation detail of uvicorn's HTTP protocols; elsewhere "down" falls back to a 503."""
    cycle = getattr(receive, "__self__", None)
    transport = getattr(cycle, "transport", None)
    return transport if callable(getattr(transport, "abort", None)) else None


class FaultMiddleware:
    """Pure ASGI middleware, so that it sees uvicorn's own `receive` and can reset a connection."""

    def __init__(self, app: ASGIApp, faults: Faults) -> None:
        self.app = app
        self.faults = faults

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(FAULTY_PREFIXES):
            await self.app(scope, receive, send)
            return
        if self.faults.down:
            transport = _transport_of(receive)
            if transport is not None:
                transport.abort()  # connection reset: the caller gets no HTTP answer at all
                for _ in range(3):  # let uvicorn notice the disconnection before we return
                    await asyncio.sleep(0)
                return
            response = JSONResponse({"error": "service_unavailable"}, 503, headers={"Connection": "close"})
            await response(scope, receive, send)
            return
        status, delay = self.faults.take()
        if status is not None:
            body = {"error": "server_error", "error_description": f"injected fault (HTTP {status})"}
            await JSONResponse(body, status)(scope, receive, send)
            return
        if delay > 0:
            await asyncio.sleep(delay)
        await self.app(scope, receive, send)
