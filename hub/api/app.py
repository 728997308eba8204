"""Application factory: wires the context, the intake and the routers together."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from hub.api import messages, meta
from hub.api.errors import install_error_handlers
from hub.context import HubContext
from hub.intake import Intake
from hub.settings import Settings
from hub.startup_checks import check_production_safety


def create_app(settings: Settings | None = None, *, context: HubContext | None = None) -> FastAPI:
    hub = context or HubContext(settings or Settings())
    check_production_safety(hub)
    hub.warm_up()

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        if context is None:
            hub.close()

    app = FastAPI(
        title="lienthong",
        summary="The province's interoperability hub (trục liên thông)",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.state.hub = hub
    app.state.intake = Intake(hub)
    install_error_handlers(app)
    app.include_router(messages.router)
    app.include_router(meta.router)
    return app
