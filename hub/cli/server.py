"""Running the hub: `serve` (HTTP API), `worker` (delivery workers only), `run` (development).

The three commands are as they were in the single-module CLI; the aliases below keep their bodies
unchanged.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from hub.cli.common import DataDir, out
from hub.cli.common import make_settings as _settings
from hub.cli.common import refuse as _refuse
from hub.logging import configure_logging

app = typer.Typer()


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Interface to listen on (default 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default 8080).")] = None,
    workers: Annotated[
        int | None, typer.Option(help="Delivery threads in this process (0: API only).")
    ] = None,
    data_dir: DataDir = None,
) -> None:
    """Run the hub's HTTP API (with delivery workers unless --workers 0)."""
    import uvicorn

    from hub.api import create_app
    from hub.startup_checks import StartupRefused

    overrides: dict[str, Any] = {}
    if host:
        overrides["host"] = host
    if port:
        overrides["port"] = port
    if workers is not None:
        overrides["workers"] = workers
    settings = _settings(data_dir, **overrides)
    configure_logging(settings.log_format, settings.log_level)
    try:
        api = create_app(settings)
    except StartupRefused as refused:
        raise _refuse(str(refused)) from None
    out.print(f"lienthong listening on http://{settings.host}:{settings.port} (docs at /docs)")
    uvicorn.run(api, host=settings.host, port=settings.port, log_level="info", log_config=None)


@app.command()
def worker(
    workers: Annotated[int | None, typer.Option(help="Delivery threads (default from settings).")] = None,
    pollers: Annotated[bool, typer.Option(help="Run the adapters' pollers in this process.")] = True,
    data_dir: DataDir = None,
) -> None:
    """Run delivery workers (and pollers) without the HTTP API: for scale-out beside `serve`."""
    import signal
    import threading

    from hub.runtime import Runtime
    from hub.startup_checks import StartupRefused

    settings = _settings(data_dir)
    configure_logging(settings.log_format, settings.log_level)
    try:
        runtime = Runtime.build(settings)
    except StartupRefused as refused:
        raise _refuse(str(refused)) from None
    stopped = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopped.set())
    runtime.start_workers(workers=workers, pollers=pollers)
    queue = runtime.hub.settings.queue_url if runtime.queue is not None else "embedded (ledger)"
    out.print(
        f"lienthong worker {runtime.engine.worker_id}: adapters {runtime.adapters.names()}, queue {queue}"
    )
    stopped.wait()
    runtime.close()


SIMULATOR_ENTRY_POINTS = "lienthong.simulators"


def _simulator_ports(path: Path) -> dict[str, int]:
    import yaml

    if not path.exists():
        return {}
    return {str(k): int(v) for k, v in (yaml.safe_load(path.read_text()) or {}).get("simulators", {}).items()}


@app.command()
def run(
    port: Annotated[int, typer.Option(help="Port of the hub's API.")] = 8080,
    data_dir: DataDir = None,
) -> None:
    """Development: the hub (embedded SQLite ledger) plus the bundled simulators of outside systems.

    Simulators are found through the `lienthong.simulators` entry points (each names a callable that
    returns an ASGI app), so an integrator's own package can add one without touching the core.
    """
    import time
    from importlib.metadata import entry_points

    from hub.api import create_app
    from hub.servers import run_in_thread
    from hub.startup_checks import StartupRefused

    settings = _settings(data_dir, port=port)
    configure_logging(settings.log_format, settings.log_level)
    servers = []
    ports = _simulator_ports(settings.config_dir / "simulators.yaml")
    lines = []
    for entry in sorted(entry_points(group=SIMULATOR_ENTRY_POINTS), key=lambda e: e.name):
        simulator = run_in_thread(entry.load()(), host=settings.host, port=ports.get(entry.name, 0))
        servers.append(simulator)
        lines.append(f"  simulator {entry.name:<20} {simulator.base_url}")
    try:
        hub_server = run_in_thread(create_app(settings), host=settings.host, port=port)
    except (StartupRefused, RuntimeError) as refused:
        for server in servers:
            server.stop()
        raise _refuse(str(refused)) from None
    servers.insert(0, hub_server)
    out.print(
        f"[bold]lienthong[/bold] hub API {hub_server.base_url}  (OpenAPI docs: {hub_server.base_url}/docs)"
    )
    out.print(f"  ledger: {settings.effective_database_url}   queue: {settings.queue_url}", highlight=False)
    for line in lines:
        out.print(line, highlight=False)
    out.print("Development tokens: 'Authorization: Bearer dev-token-<participant id>'. Ctrl-C stops.")
    try:
        while all(server.thread.is_alive() for server in servers):
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        for server in reversed(servers):
            server.stop()
