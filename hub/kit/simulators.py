"""Simulators for tests: an outside system's simulator (an ASGI app registered under the
``lienthong.simulators`` entry-point group) started on a free loopback port."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from importlib.metadata import entry_points
from typing import Any

from hub.servers import RunningServer, free_port, run_in_thread

SIMULATOR_ENTRY_POINTS = "lienthong.simulators"

__all__ = ["free_port", "running_simulator", "simulator_app"]


def simulator_app(name: str) -> Any:
    """A fresh ASGI app of the simulator registered as `name`; LookupError if none is."""
    for entry in entry_points(group=SIMULATOR_ENTRY_POINTS):
        if entry.name == name:
            return entry.load()()
    raise LookupError(f"no simulator {name!r} is registered under {SIMULATOR_ENTRY_POINTS}")


@contextlib.contextmanager
def running_simulator(name_or_app: str | Any) -> Iterator[RunningServer]:
    """The simulator (a registered name, or an ASGI app) running on a free port until the block ends."""
    app = simulator_app(name_or_app) if isinstance(name_or_app, str) else name_or_app
    server = run_in_thread(app)
    try:
        yield server
    finally:
        server.stop()
