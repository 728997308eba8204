"""``create_app(config)``: the whole simulated axis (REST face, SOAP face, admin API) as one FastAPI app."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from fastapi import FastAPI

from .config import AxisSimConfig, default_config
from .faults import FaultMiddleware, FaultState, admin_router
from .rest import rest_router
from .service import AxisService
from .soap import soap_router
from .store import AxisStore


def create_app(
    config: AxisSimConfig | None = None, *, clock: Callable[[], datetime] = lambda: datetime.now(UTC)
) -> FastAPI:
    """A new simulator with its own state; ``clock`` is the axis's notion of now (for freshness checks)."""
    config = config or default_config()
    store = AxisStore(config)
    service = AxisService(store)
    faults = FaultState()
    app = FastAPI(
        title="National document axis simulator (VXP)",
        version="1",
        docs_url="/_sim/docs",
        redoc_url=None,
        openapi_url="/_sim/openapi.json",
    )
    app.include_router(rest_router(service, clock))
    app.include_router(soap_router(service, clock))
    app.include_router(admin_router(store, faults))
    app.add_middleware(FaultMiddleware, faults=faults)
    app.state.store = store
    app.state.faults = faults
    return app
