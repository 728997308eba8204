"""Running the hub: `serve` (HTTP API), `worker` (delivery workers only), `run` (development).

The three commands are as they were in the single-module CLI; the aliases below keep their bodies
unchanged.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from hub.cli.common import DataDir, make_settings, out, refuse
from hub.logging import configure_logging

app = typer.Typer()


class DeliveryMode(StrEnum):
    """Where `serve` runs its delivery (LIENTHONG_DELIVERY)."""

    process = "process"
    threads = "threads"


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Interface to listen on (default 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default 8080).")] = None,
    workers: Annotated[
        int | None, typer.Option(help="Delivery threads in this process (0: API only).")
    ] = None,
    processes: Annotated[
        int,
        typer.Option(
            min=1,
            help="API processes sharing the port (each with its delivery threads); > 1 needs PostgreSQL.",
        ),
    ] = 1,
    delivery: Annotated[
        DeliveryMode | None,
        typer.Option(
            help="process: delivery (with pollers and sequencer) in a child `lienthong worker` on the same"
            " ledger, so intake and delivery use two cores; threads: in this process."
            " Default LIENTHONG_DELIVERY (process). With --processes > 1: threads in each.",
        ),
    ] = None,
    data_dir: DataDir = None,
) -> None:
    """Run the hub's HTTP API (with delivery workers unless --workers 0)."""
    import os

    import uvicorn

    from hub.api import create_app
    from hub.simulator_refs import ConfigReferenceError
    from hub.startup_checks import StartupRefused

    overrides: dict[str, Any] = {}
    if host:
        overrides["host"] = host
    if port:
        overrides["port"] = port
    if workers is not None:
        overrides["workers"] = workers
    if delivery is not None:
        overrides["delivery"] = delivery.value
    settings = make_settings(data_dir, **overrides)
    configure_logging(settings.log_format, settings.log_level)
    if processes > 1 and settings.effective_database_url.startswith("sqlite"):
        raise refuse(
            "--processes > 1 needs a PostgreSQL ledger (LIENTHONG_DATABASE_URL): processes sharing one"
            " SQLite file wait on its lock and are no faster than one"
        )
    child = None
    if processes == 1 and settings.delivery == "process" and settings.workers > 0:
        from hub.delivery_process import DeliveryProcess

        child = DeliveryProcess(settings)
    try:
        # with several processes: checks and migrates once, here
        api = create_app(settings, delivery_process=child)
    except (StartupRefused, ConfigReferenceError) as refused:
        raise refuse(str(refused)) from None
    from hub.tls import uvicorn_tls_options

    tls = uvicorn_tls_options(settings)
    scheme = "https" if tls else "http"
    out.print(f"lienthong listening on {scheme}://{settings.host}:{settings.port} (docs at /docs)")
    options: dict[str, Any] = {
        "log_level": "info",
        "log_config": None,
        "access_log": settings.access_log,
        **tls,
    }
    if processes == 1:
        uvicorn.run(api, host=settings.host, port=settings.port, **options)
        return
    api.state.runtime.close()
    # Each process is started afresh and reads the same settings from the environment.
    from hub.api_processes import ApiProcesses
    from hub.delivery_process import child_environment

    os.environ.update(child_environment(settings))
    try:
        ApiProcesses(processes, settings.host, settings.port, options).run()
    except OSError as error:
        raise refuse(f"cannot listen on {settings.host}:{settings.port}: {error}") from None


@app.command()
def worker(
    workers: Annotated[int | None, typer.Option(help="Delivery threads (default from settings).")] = None,
    pollers: Annotated[bool, typer.Option(help="Run the adapters' pollers in this process.")] = True,
    parent_pipe: Annotated[
        bool,
        typer.Option(
            hidden=True,
            help="Started by `serve`: a byte on stdin wakes the claimer; end of stdin (serve gone) stops.",
        ),
    ] = False,
    ready_fd: Annotated[
        int | None,
        typer.Option(hidden=True, help="Started by `serve`: a line is written here once the workers run."),
    ] = None,
    data_dir: DataDir = None,
) -> None:
    """Run delivery workers (and pollers) without the HTTP API: for scale-out beside `serve`."""
    import signal
    import sys
    import threading

    from hub.runtime import Runtime
    from hub.simulator_refs import ConfigReferenceError
    from hub.startup_checks import StartupRefused

    settings = make_settings(data_dir)
    configure_logging(settings.log_format, settings.log_level)
    try:
        runtime = Runtime.build(settings)
    except (StartupRefused, ConfigReferenceError) as refused:
        raise refuse(str(refused)) from None
    stopped = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopped.set())
    runtime.start_workers(workers=workers, pollers=pollers)
    if parent_pipe:
        threading.Thread(
            target=_watch_parent, args=(sys.stdin.fileno(), runtime, stopped), name="parent-pipe", daemon=True
        ).start()
    if ready_fd is not None:  # serve's delivery process: serve's /metrics shows its delivery counters
        import os

        from prometheus_client import start_http_server

        from hub.metrics import REGISTRY

        metrics_server, _ = start_http_server(0, addr="127.0.0.1", registry=REGISTRY)
        os.write(ready_fd, f"ready {metrics_server.server_port}\n".encode())
        os.close(ready_fd)
    queue = runtime.hub.settings.queue_url if runtime.queue is not None else "embedded (ledger)"
    out.print(
        f"lienthong worker {runtime.engine.worker_id}: adapters {runtime.adapters.names()}, queue {queue}"
    )
    stopped.wait()
    runtime.close()


def _watch_parent(fd: int, runtime: Any, stopped: Any) -> None:
    """`serve`'s delivery process: each byte from `serve` wakes the claimer; end of file (`serve`
    exited or was killed: the kernel closed its end) stops this process (hub.delivery_process)."""
    import os

    while True:
        try:
            data = os.read(fd, 4096)
        except InterruptedError:
            continue
        except OSError:
            data = b""
        if not data:
            stopped.set()
            return
        runtime.engine.wake()


SIMULATOR_ENTRY_POINTS = "lienthong.simulators"


def _port_free(host: str, port: int) -> bool:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def _one_line(error: BaseException, config_dir: Path) -> str:
    """A configuration error as one line naming the file and the key."""
    from pydantic import ValidationError

    if isinstance(error, ValidationError):
        files = {
            "ParticipantsFile": "participants.yaml",
            "RoutesFile": "routes.yaml",
            "OperatorsFile": "operators.yaml",
            "Settings": "the LIENTHONG_* settings",
        }
        where = files.get(error.title, error.title)
        where = str(config_dir / where) if where.endswith(".yaml") else where
        first = error.errors(include_url=False)[0]
        key = ".".join(str(part) for part in first["loc"])
        more = f" (and {error.error_count() - 1} more)" if error.error_count() > 1 else ""
        return f"{where}: {key}: {first['msg']}{more}"
    return str(error).splitlines()[0] if str(error) else type(error).__name__


@app.command()
def run(
    port: Annotated[int, typer.Option(help="Port of the hub's API.")] = 8080,
    data_dir: DataDir = None,
) -> None:
    """Development: the hub (embedded SQLite ledger) plus the bundled simulators of outside systems.

    Simulators are found through the `lienthong.simulators` entry points (each names a callable that
    returns an ASGI app), so an integrator's own package can add one without touching the core. Their
    ports come from config/simulators.yaml; one that is busy (another `make run`) is replaced by a
    free port, and ``${simulator:NAME}`` in the configuration resolves to where each really listens.
    """
    import time
    from importlib.metadata import entry_points

    import yaml
    from pydantic import ValidationError

    from hub.adapters import AdapterConfigError
    from hub.api import create_app
    from hub.doctypes import DocTypeConfigError
    from hub.servers import run_in_thread
    from hub.simulator_refs import ConfigReferenceError, simulator_ports
    from hub.startup_checks import StartupRefused

    try:
        settings = make_settings(data_dir, port=port)
    except ValidationError as error:
        raise refuse(_one_line(error, Path("config"))) from None
    configure_logging(settings.log_format, settings.log_level)
    if not _port_free(settings.host, port):
        raise refuse(f"port {port} is busy (another hub?): choose another with --port")
    try:
        configured = simulator_ports(settings.simulators_file)
    except ConfigReferenceError as error:
        raise refuse(str(error)) from None
    servers = []
    lines = []
    urls: dict[str, str] = {}
    for entry in sorted(entry_points(group=SIMULATOR_ENTRY_POINTS), key=lambda e: e.name):
        wanted = configured.get(entry.name, 0)
        chosen = wanted if wanted and _port_free(settings.host, wanted) else 0
        simulator = run_in_thread(entry.load()(), host=settings.host, port=chosen)
        servers.append(simulator)
        urls[entry.name] = simulator.base_url
        note = f"  ({wanted} was busy)" if wanted and not chosen else ""
        lines.append(f"  simulator {entry.name:<20} {simulator.base_url}{note}")
    # ${simulator:NAME} in config/ resolves to where each simulator really listens
    settings = make_settings(data_dir, port=port, simulator_urls=urls)
    try:
        hub_server = run_in_thread(create_app(settings), host=settings.host, port=port)
    except (
        StartupRefused,
        AdapterConfigError,
        DocTypeConfigError,
        ValidationError,
        yaml.YAMLError,
        ValueError,
        OSError,
        RuntimeError,
    ) as refused:
        for server in servers:
            server.stop()
        raise refuse(_one_line(refused, settings.config_dir)) from None
    servers.insert(0, hub_server)
    base = hub_server.base_url
    out.print(f"[bold]lienthong[/bold] hub API {base}", highlight=False)
    out.print(f"  console     {base}/console   (development login: operator / dev-password-operator)")
    out.print(
        f"  API docs    {base}/docs  ·  {base}/redoc  ·  problem types {base}/problems", highlight=False
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
