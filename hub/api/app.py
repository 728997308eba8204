"""Application factory: wires the runtime (context, intake, adapters, delivery engine) and the routers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline
from prometheus_client import CollectorRegistry

from hub.api import certificates, deliveries, inbox, ledger, messages, meta, schemas, timeline
from hub.api.errors import install_error_handlers
from hub.api.limits import RequestLimits
from hub.api.openapi import install_openapi
from hub.console.app import mount_console
from hub.context import HubContext
from hub.delivery_process import DeliveryProcess
from hub.metrics import DeliveryProcessCollector, LedgerCollector
from hub.peers import PeerCollector
from hub.runtime import Runtime
from hub.settings import Settings


def create_app(
    settings: Settings | None = None,
    *,
    context: HubContext | None = None,
    workers: int | None = None,
    pollers: bool = True,
    delivery_process: DeliveryProcess | None = None,
) -> FastAPI:
    """The hub's API. Delivery workers (`workers`, default from settings) and the adapters' pollers
    run inside the same process while the app runs; `workers=0` makes an API-only process. With
    `delivery_process`, they (and the sequencer) run in that child process instead, started and
    stopped with the app and woken by each recorded delivery (hub.delivery_process)."""
    runtime = Runtime.build(settings, context=context)
    if delivery_process is not None:
        runtime.intake.listeners.append(delivery_process.wake)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if delivery_process is None:
            runtime.start_workers(workers=workers, pollers=pollers)
        else:
            runtime.start_workers(workers=0, pollers=False, sequencer=False)
            delivery_process.start()
        try:
            yield
        finally:
            executor = getattr(app.state, "intake_executor", None)
            if executor is not None:  # hub.api.messages: every accepted document is recorded first
                executor.shutdown(wait=True)
                app.state.intake_executor = None
            if delivery_process is not None:
                delivery_process.stop()
            runtime.close()

    # FastAPIOffline serves /docs (Swagger UI) and /redoc from assets bundled in the package, not a
    # CDN: the docs work on a hub with no internet access (docs/api.md).
    app = FastAPIOffline(
        title="lienthong",
        summary="The province's interoperability hub (trục liên thông)",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.state.runtime = runtime
    app.state.hub = runtime.hub
    app.state.intake = runtime.intake
    app.state.peers = runtime.peers
    app.state.delivery_process = delivery_process
    app.state.metrics_registry = CollectorRegistry(auto_describe=False)
    app.state.metrics_registry.register(LedgerCollector(runtime.hub.ledger))
    app.state.metrics_registry.register(PeerCollector(runtime.peers))
    if delivery_process is not None:
        app.state.metrics_registry.register(DeliveryProcessCollector(delivery_process))
    settings = runtime.hub.settings
    app.add_middleware(
        RequestLimits,
        max_body_bytes=settings.max_body_bytes,
        max_form_bytes=settings.max_form_bytes,
        max_header_count=settings.max_header_count,
        max_header_bytes=settings.max_header_bytes,
    )
    install_error_handlers(app)
    for router in (
        messages.router,
        ledger.router,
        inbox.router,
        deliveries.router,
        timeline.router,
        schemas.router,
        meta.router,
        certificates.router,
    ):
        app.include_router(router)
    # The intake path first, served without FastAPI's dependency resolution (hub.api.messages).
    app.router.routes.insert(0, messages.intake_route)
    mount_console(app, runtime)
    for adapter in runtime.adapters:
        for router in adapter.routers():
            app.include_router(router, prefix=f"/adapters/{adapter.name}", tags=[f"adapter: {adapter.name}"])
    install_openapi(app)
    return app


def app_from_environment() -> FastAPI:
    """`serve --processes N`: each uvicorn process builds its app from LIENTHONG_* settings."""
    from hub.logging import configure_logging

    settings = Settings()
    configure_logging(settings.log_format, settings.log_level)
    return create_app(settings)
