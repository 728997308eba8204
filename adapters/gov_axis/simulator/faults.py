"""Failure injection for tests and benchmarks: 5xx for the next N calls, slow answers, down/up.

Faults apply to the axis's faces (REST and SOAP, WSDL included), never to the ``/_sim`` admin API.
"""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field
from starlette.types import ASGIApp, Receive, Scope, Send

from .store import AxisStore

ADMIN_PREFIX = "/_sim"


class FaultSettings(BaseModel):
    """Body of ``POST /_sim/faults``; omitted fields keep their current value."""

    fail_next: int | None = Field(default=None, ge=0, description="answer the next N calls with fail_status")
    fail_status: int | None = Field(default=None, ge=500, le=599)
    delay_seconds: float | None = Field(default=None, ge=0, le=600)
    delay_next: int | None = Field(
        default=None, ge=0, description="delay only the next N calls; 0 = every call while delay_seconds > 0"
    )
    down: bool | None = None


class FaultState:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.clear()

    def clear(self) -> None:
        with self._lock:
            self.fail_next, self.fail_status = 0, 503
            self.delay_seconds, self.delay_next = 0.0, 0
            self.down = False
            self.injected = 0

    def update(self, settings: FaultSettings) -> None:
        with self._lock:
            for name, value in settings.model_dump(exclude_none=True).items():
                setattr(self, name, value)

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "fail_next": self.fail_next,
                "fail_status": self.fail_status,
                "delay_seconds": self.delay_seconds,
                "delay_next": self.delay_next,
                "down": self.down,
                "injected": self.injected,
            }

    def next_call(self) -> tuple[float, int | None, str]:
        """Consume this call's faults: (delay, status to answer or None, reason)."""
        with self._lock:
            delay = 0.0
            if self.delay_seconds > 0:
                delay = self.delay_seconds
                if self.delay_next > 0:
                    self.delay_next -= 1
                    if self.delay_next == 0:
                        self.delay_seconds = 0.0
            if self.down:
                self.injected += 1
                return delay, 503, "down"
            if self.fail_next > 0:
                self.fail_next -= 1
                self.injected += 1
                return delay, self.fail_status, "injected"
            return delay, None, ""


class FaultMiddleware:
    """Pure ASGI middleware applying :class:`FaultState` to every non-admin HTTP request."""

    def __init__(self, app: ASGIApp, faults: FaultState) -> None:
        self.app = app
        self.faults = faults

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(ADMIN_PREFIX):
            await self.app(scope, receive, send)
            return
        delay, status, reason = self.faults.next_call()
        if delay:
            await asyncio.sleep(delay)
        if status is None:
            await self.app(scope, receive, send)
            return
        body = json.dumps({"error": f"simulated fault ({reason})"}).encode()
        headers = [(b"content-type", b"application/json"), (b"x-sim-fault", reason.encode())]
        if reason == "down":
            headers.append((b"retry-after", b"1"))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def admin_router(store: AxisStore, faults: FaultState) -> APIRouter:
    router = APIRouter(prefix=ADMIN_PREFIX, tags=["simulator admin"])

    @router.post("/faults")
    async def set_faults(settings: FaultSettings) -> dict[str, Any]:
        faults.update(settings)
        return faults.snapshot()

    @router.get("/faults")
    async def get_faults() -> dict[str, Any]:
        return faults.snapshot()

    @router.delete("/faults")
    async def clear_faults() -> dict[str, Any]:
        faults.clear()
        return faults.snapshot()

    @router.post("/down")
    async def go_down() -> dict[str, Any]:
        faults.update(FaultSettings(down=True))
        return faults.snapshot()

    @router.post("/up")
    async def go_up() -> dict[str, Any]:
        faults.update(FaultSettings(down=False))
        return faults.snapshot()

    @router.get("/state")
    async def state() -> dict[str, Any]:
        return {**store.state(), "faults": faults.snapshot()}

    @router.post("/reset")
    async def reset() -> dict[str, Any]:
        store.reset()
        faults.clear()
        return {"status": "reset"}

    return router
