"""`serve --processes N`: N API processes on one port, each with a listening socket of its own.

uvicorn's own workers share one listening socket: whichever process wakes first accepts, so a client
that keeps a few connections alive (an agency system, a bank, the benchmark's load generator) can end
up with all of them on one process, and N processes do the work of one (measured in
bench/FINDINGS.md: 370–446/s for two processes, one process's rate). Here every process binds the
port with ``SO_REUSEPORT``, and the kernel spreads incoming connections over the processes' sockets.
Linux lets only sockets of the same user join such a group, so no other account can take a share of
the port.

The parent starts the processes (multiprocessing's spawn: each builds its app afresh from the
``LIENTHONG_*`` environment), restarts one that dies — after a backoff, one log line per change —
and stops them all on SIGTERM or SIGINT.
"""

from __future__ import annotations

import logging
import multiprocessing
import signal
import socket
import threading
from multiprocessing.process import BaseProcess
from typing import Any

from hub.delivery_process import FIRST_BACKOFF_SECONDS, MAX_BACKOFF_SECONDS  # serve's one restart policy

log = logging.getLogger("hub.serve")

APP = "hub.api.app:app_from_environment"
BACKLOG = 2048  # uvicorn's default
STOP_SECONDS = 30.0  # a process still running this long after SIGTERM is killed


def reuse_port_socket(host: str, port: int, *, listen: bool = True) -> socket.socket:
    """A TCP socket bound to `host`:`port` with ``SO_REUSEPORT`` (listening unless `listen` is False)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
        if listen:
            sock.listen(BACKLOG)
    except OSError:
        sock.close()
        raise
    return sock


def _serve_one(host: str, port: int, options: dict[str, Any]) -> None:
    """One API process (spawned): its own socket on the shared port, then uvicorn until SIGTERM."""
    import uvicorn

    sock = reuse_port_socket(host, port)
    config = uvicorn.Config(APP, factory=True, host=host, port=port, **options)
    uvicorn.Server(config).run(sockets=[sock])


class ApiProcesses:
    """Starts, watches, restarts and stops the API processes of `serve --processes N`."""

    def __init__(self, count: int, host: str, port: int, options: dict[str, Any]) -> None:
        self.count, self.host, self.port, self.options = count, host, port, options
        self._context = multiprocessing.get_context("spawn")
        self._processes: list[BaseProcess] = []
        self._stopping = threading.Event()

    def _start_one(self) -> BaseProcess:
        process = self._context.Process(
            target=_serve_one, args=(self.host, self.port, self.options), name="lienthong-api"
        )
        process.start()
        return process

    def run(self) -> None:
        """Run until SIGTERM or SIGINT; refuses at once (OSError) if the port cannot be bound."""
        reuse_port_socket(self.host, self.port, listen=False).close()  # taken by someone else: fail now
        stops = (signal.SIGTERM, signal.SIGINT)
        previous = {sig: signal.signal(sig, lambda *_: self._stopping.set()) for sig in stops}
        try:
            self._processes = [self._start_one() for _ in range(self.count)]
            self._watch()
        finally:
            self._stop_all()
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _watch(self) -> None:
        backoff = FIRST_BACKOFF_SECONDS
        down = False
        while not self._stopping.wait(0.5):
            dead = [i for i, p in enumerate(self._processes) if not p.is_alive()]
            if not dead:
                if down:
                    log.info("all %d API processes running again", self.count)
                    down = False
                    backoff = FIRST_BACKOFF_SECONDS
                continue
            if not down:
                codes = ", ".join(str(self._processes[i].exitcode) for i in dead)
                log.warning(
                    "%d API process(es) exited (code %s); restarting after %.0f s, doubling up to %.0f s"
                    " while they keep failing",
                    len(dead),
                    codes,
                    backoff,
                    MAX_BACKOFF_SECONDS,
                )
                down = True
            if self._stopping.wait(backoff):
                return
            backoff = min(MAX_BACKOFF_SECONDS, 2 * backoff)
            for i in dead:
                self._processes[i] = self._start_one()

    def _stop_all(self) -> None:
        for process in self._processes:
            if process.is_alive():
                process.terminate()  # SIGTERM: uvicorn finishes the requests under way
        for process in self._processes:
            process.join(STOP_SECONDS)
            if process.is_alive():
                log.warning("API process %s did not stop within %.0f s; killed", process.pid, STOP_SECONDS)
                process.kill()
                process.join()
