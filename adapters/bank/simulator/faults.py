"""Fault injection for the gateway endpoints (never for the ``/_sim`` admin API).

* ``fail_next``: the next N calls answer ``fail_status`` (5xx) without being processed;
* ``delay_seconds``: every call is held that long before it is processed (a slow gateway);
* ``down``: every call answers 503 until cleared.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

ADMIN_PREFIX = "/_sim"


class FaultSettings(BaseModel):
    fail_next: int = Field(default=0, ge=0)
    fail_status: int = Field(default=503, ge=500, le=599)
    delay_seconds: float = Field(default=0.0, ge=0, le=120)
    down: bool = False


class Faults:
    """Thread-safe fault switches plus a count of the gateway calls seen and refused."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._settings = FaultSettings()
        self.calls = 0
        self.refused = 0

    def configure(self, settings: FaultSettings) -> None:
        with self._lock:
            self._settings = settings.model_copy()

    def reset(self) -> None:
        with self._lock:
            self._settings = FaultSettings()
            self.calls = 0
            self.refused = 0

    def take(self) -> tuple[float, int | None]:
        """Account for one gateway call: its delay and, if it must fail, the status to answer."""
        with self._lock:
            self.calls += 1
            settings = self._settings
            status: int | None = None
            if settings.down:
                status = 503
            elif settings.fail_next > 0:
                settings.fail_next -= 1
                status = settings.fail_status
            if status is not None:
                self.refused += 1
            return settings.delay_seconds, status

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {**self._settings.model_dump(), "calls": self.calls, "refused": self.refused}


def install_faults(app: FastAPI, faults: Faults) -> None:
    """Route every non-admin request through ``faults``."""

    @app.middleware("http")
    async def inject_faults(request: Request, call_next: Any) -> Any:
        if request.url.path.startswith(ADMIN_PREFIX):
            return await call_next(request)
        delay, status = faults.take()
        if delay:
            await asyncio.sleep(delay)
        if status is not None:
            return JSONResponse({"error": "simulated gateway fault", "status": status}, status_code=status)
        return await call_next(request)
