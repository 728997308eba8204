"""`serve`'s delivery in a child process (``LIENTHONG_DELIVERY=process``, the default of one `serve`).

Intake and delivery in one Python process share one GIL, so delivery can use at most what intake
leaves of one core. Here `serve` runs its delivery threads, the adapters' pollers, the alert watcher
and the ledger's sequencer in a child ``lienthong worker`` on the same ledger (SQLite's file, or the
same PostgreSQL database), and the two use two cores.

The child's stdin is a pipe from `serve`:

- each byte `serve` writes wakes the child's claimer (intake recorded a delivery), so a document
  does not wait for the child's idle poll;
- end of file means `serve` is gone (its exit, or kill -9: the kernel closes the pipe), and the child
  stops cleanly; no orphan is left delivering beside a restarted hub.

`serve` restarts a child that died, after a backoff (1 s doubling to 30 s, back to 1 s once a child
has run a while), and logs once per change of state (down, running again). Nothing is lost when the
child dies: its claimed deliveries are ``delivering`` under a lease and are claimed again after it.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import select
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass
from typing import Any

from pydantic import SecretStr

from hub.settings import Settings

log = logging.getLogger("hub.delivery")

FIRST_BACKOFF_SECONDS = 1.0
MAX_BACKOFF_SECONDS = 30.0
STABLE_SECONDS = 10.0  # a child that ran this long was healthy: the next restart waits the first backoff


def child_environment(settings: Settings, base: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of the child: `base` (default: this process's) with every setting that was set
    explicitly in `settings` (options of `serve`, `--data-dir`, `run`'s simulator URLs) as its
    ``LIENTHONG_*`` variable, so the child builds the same settings."""
    env = dict(os.environ if base is None else base)
    for name in sorted(settings.model_fields_set):
        value = getattr(settings, name)
        if value is None:
            env.pop(f"LIENTHONG_{name.upper()}", None)
            continue
        if isinstance(value, SecretStr):
            text = value.get_secret_value()
        elif isinstance(value, (list, dict)):
            text = json.dumps(value, default=str)
        else:
            text = str(value)
        env[f"LIENTHONG_{name.upper()}"] = text
    env["PYTHONUNBUFFERED"] = "1"
    return env


DELIVERY_FAMILIES = "lienthong_delivery_"  # what the delivery process counts (hub.metrics)


def only_families(text: bytes, prefix: str, *, keep: bool = True) -> bytes:
    """The lines of a Prometheus text whose metric name starts with `prefix` (or, `keep=False`, the
    others): to show the child's delivery families in `serve`'s /metrics without doubling any."""
    kept = []
    for line in text.splitlines(keepends=True):
        fields = line.split()
        name = fields[2] if line.startswith(b"#") and len(fields) > 2 else line.split(b"{")[0].split(b" ")[0]
        if name.decode(errors="replace").startswith(prefix) == keep:
            kept.append(line)
    return b"".join(kept)


def _port_of(line: bytes) -> int | None:
    fields = line.split()
    return int(fields[1]) if len(fields) > 1 and fields[1].isdigit() else None


@dataclass(frozen=True)
class ChildStatus:
    """What /healthz and /metrics say of the delivery process."""

    state: str  # "starting", "running", "down" (waiting to restart) or "stopped"
    pid: int | None
    restarts: int

    def as_dict(self) -> dict[str, Any]:
        return {"mode": "process", "state": self.state, "pid": self.pid, "restarts": self.restarts}


class DeliveryProcess:
    """Starts, watches, wakes, restarts and stops `serve`'s delivery child."""

    def __init__(self, settings: Settings, *, workers: int | None = None) -> None:
        self.settings = settings
        self.workers = settings.workers if workers is None else workers
        self._lock = threading.Lock()  # guards _child and its pipe (wake() writes from intake threads)
        self._child: subprocess.Popen[bytes] | None = None
        self._wake_fd: int | None = None
        self._ready_fd: int | None = None  # the child says it runs (see _spawn)
        self._metrics_port: int | None = None  # where the running child serves its delivery counters
        self._stopping = threading.Event()
        self._monitor: threading.Thread | None = None
        self._state = "stopped"
        self._restarts = 0

    def command(self, ready_fd: int) -> list[str]:
        return [
            sys.executable,
            "-m",
            "hub.cli",
            "worker",
            "--workers",
            str(self.workers),
            "--parent-pipe",
            "--ready-fd",
            str(ready_fd),
        ]

    def start(self) -> None:
        """Start the child and the thread that restarts it when it dies."""
        self._stopping.clear()
        self._state = "starting"
        self._spawn()
        self._monitor = threading.Thread(target=self._watch, name="delivery-process", daemon=True)
        self._monitor.start()

    def _spawn(self) -> None:
        """Start a child; it writes a line on `ready` once its workers run (or closes it by dying)."""
        ready, ready_end = os.pipe()
        try:
            child = subprocess.Popen(
                self.command(ready_end),
                stdin=subprocess.PIPE,
                env=child_environment(self.settings),
                close_fds=True,
                pass_fds=(ready_end,),
            )
        except BaseException:
            os.close(ready)
            raise
        finally:
            os.close(ready_end)
        assert child.stdin is not None
        fd = child.stdin.fileno()
        os.set_blocking(fd, False)
        with self._lock:
            self._child, self._wake_fd = child, fd
        if self._ready_fd is not None:
            os.close(self._ready_fd)
        self._ready_fd = ready

    def wake(self, *_: object) -> None:
        """Intake recorded deliveries: wake the child's claimer (never blocks; a full pipe already
        holds wake-ups enough, a dead child is restarted and claims everything due)."""
        with self._lock:
            if self._wake_fd is None:
                return
            # BlockingIOError (pipe full), BrokenPipeError (child gone)
            with contextlib.suppress(OSError):
                os.write(self._wake_fd, b"\x01")

    def _close_pipe(self) -> None:
        with self._lock:
            child, self._wake_fd = self._child, None
        if child is not None and child.stdin is not None:
            with contextlib.suppress(OSError):
                child.stdin.close()

    def _watch(self) -> None:
        backoff = FIRST_BACKOFF_SECONDS
        while not self._stopping.is_set():
            child, ready = self._child, self._ready_fd
            assert child is not None and ready is not None
            ready_at: float | None = None
            waiting_ready = True
            while child.poll() is None:
                if waiting_ready:
                    readable, _, _ = select.select([ready], [], [], 0.2)
                    if readable:
                        waiting_ready = False
                        line = os.read(ready, 64)  # "ready <metrics port>" (end of file: it is dying)
                        if line:
                            self._metrics_port = _port_of(line)
                            ready_at = time.monotonic()
                            if self._state == "down":
                                log.info(
                                    "delivery process running again (pid %d, %d restarts)",
                                    child.pid,
                                    self._restarts,
                                )
                            self._state = "running"
                elif self._stopping.wait(0.2):
                    return
                if ready_at is not None and time.monotonic() - ready_at >= STABLE_SECONDS:
                    backoff = FIRST_BACKOFF_SECONDS
                if self._stopping.is_set():
                    return
            if self._stopping.is_set():
                return
            self._close_pipe()
            if self._state != "down":
                log.warning(
                    "delivery process %d exited with code %s; restarting it (after %.0f s, doubling up"
                    " to %.0f s while it keeps failing)",
                    child.pid,
                    child.returncode,
                    backoff,
                    MAX_BACKOFF_SECONDS,
                )
                self._state = "down"
            if self._stopping.wait(backoff):
                return
            backoff = min(MAX_BACKOFF_SECONDS, 2 * backoff)
            try:
                self._spawn()
            except OSError:
                log.exception("could not start the delivery process; trying again")
                continue
            self._restarts += 1

    def metrics_text(self, timeout: float = 2.0) -> bytes:
        """The child's delivery counters and histograms (Prometheus text, the ``lienthong_delivery_*``
        families); empty while it is not running or does not answer."""
        port = self._metrics_port
        if port is None or self._state != "running":
            return b""
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=timeout) as answer:
                text: bytes = answer.read()
        except OSError:
            return b""
        return only_families(text, DELIVERY_FAMILIES)

    def status(self) -> ChildStatus:
        child = self._child
        alive = child is not None and child.poll() is None
        state = self._state if alive or self._state in ("down", "stopped") else "down"
        return ChildStatus(state, child.pid if alive and child else None, self._restarts)

    def stop(self, timeout: float = 30.0) -> None:
        """Stop the child: end of its pipe, then SIGTERM; it finishes the attempts under way. Killed
        if it does not stop within `timeout` (its deliveries are claimed again after their lease)."""
        self._stopping.set()
        if self._monitor is not None:
            self._monitor.join()
            self._monitor = None
        child = self._child
        self._close_pipe()
        if child is not None and child.poll() is None:
            child.terminate()
            try:
                child.wait(timeout)
            except subprocess.TimeoutExpired:
                log.warning("delivery process %d did not stop within %.0f s; killed", child.pid, timeout)
                child.kill()
                child.wait()
        if self._ready_fd is not None:
            os.close(self._ready_fd)
            self._ready_fd = None
        self._state = "stopped"
