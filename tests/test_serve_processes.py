"""`lienthong serve --processes N`: several API processes on one port (PostgreSQL only)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from hub.cli import app
from hub.servers import free_port
from tests.hubtest import auth
from tests.test_intake_api import AGENCY, fresh_document

LIENTHONG = str(Path(sys.executable).with_name("lienthong"))


def _api_processes(parent: int) -> list[int]:
    """Children of `parent` started by multiprocessing's spawn (uvicorn's workers), from /proc."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            cmdline = (stat.parent / "cmdline").read_bytes()
        except (OSError, ValueError, IndexError):
            continue
        if ppid == parent and b"spawn_main" in cmdline:
            found.append(int(stat.parent.name))
    return found


def test_several_processes_on_sqlite_are_refused(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["serve", "--processes", "2", "--data-dir", str(tmp_path)], env={"LIENTHONG_DATABASE_URL": ""}
    )
    assert result.exit_code == 1
    assert "--processes > 1 needs a PostgreSQL ledger" in result.output


@pytest.fixture
def two_processes(tmp_path: Path, postgres_url: str) -> Iterator[tuple[subprocess.Popen[bytes], str, Path]]:
    """`lienthong serve --processes 2 --workers 0` on PostgreSQL, once both processes answer."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIENTHONG_")}
    env.update(LIENTHONG_DATABASE_URL=postgres_url, LIENTHONG_DATA_DIR=str(tmp_path), LIENTHONG_WORKERS="0")
    log_path = tmp_path / "serve.log"
    log = log_path.open("wb")
    serve = subprocess.Popen(
        [LIENTHONG, "serve", "--port", str(port), "--processes", "2"], env=env, stdout=log, stderr=log
    )
    try:
        deadline = time.monotonic() + 90
        while log_path.read_text(errors="replace").count("Application startup complete") < 2:
            assert serve.poll() is None and time.monotonic() < deadline, log_path.read_text()
            time.sleep(0.2)
        yield serve, f"http://127.0.0.1:{port}", log_path
    finally:
        serve.send_signal(signal.SIGTERM)
        try:
            serve.wait(30)
        except subprocess.TimeoutExpired:
            serve.kill()
            pytest.fail("serve --processes did not stop on SIGTERM")
        finally:
            log.close()
        assert not _api_processes(serve.pid), "its API processes stopped with it"


def _established(pid: int, port: int) -> int:
    """How many established TCP connections to `port` process `pid` holds (its fds and /proc/net/tcp*)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            local_port = int(fields[1].rsplit(":", 1)[1], 16)
            if local_port == port and fields[3] == "01" and fields[9] in inodes:
                count += 1
    return count


def test_two_processes_share_the_port_and_accept_documents(
    two_processes: tuple[subprocess.Popen[bytes], str, Path],
) -> None:
    serve, base, _ = two_processes
    assert len(_api_processes(serve.pid)) == 2, "two API processes under the one serve"
    with httpx.Client(base_url=base, timeout=30, trust_env=False) as client:
        ids = set()
        for number in range(5):
            answer = client.post(
                "/v1/messages",
                content=fresh_document(700_000 + number + os.getpid() % 1000 * 10),
                headers={**auth(AGENCY), "Content-Type": "application/xml"},
            )
            assert answer.status_code == 202, answer.text
            ids.add(answer.json()["id"])
        for message_id in ids:
            assert client.get(f"/v1/messages/{message_id}", headers=auth(AGENCY)).status_code == 200


def test_kept_alive_connections_are_spread_over_the_processes(
    two_processes: tuple[subprocess.Popen[bytes], str, Path],
) -> None:
    """Each process listens on its own SO_REUSEPORT socket, so the kernel spreads connections: a client
    keeping 16 connections alive does not end up with all of them on one process (with one shared
    socket it could, and two processes then did the work of one)."""
    serve, base, _ = two_processes
    port = int(base.rsplit(":", 1)[1])
    clients = [httpx.Client(base_url=base, timeout=30, trust_env=False) for _ in range(16)]
    try:
        for client in clients:
            assert client.get("/healthz").status_code == 200
        held = {pid: _established(pid, port) for pid in _api_processes(serve.pid)}
        assert sum(held.values()) == 16, held
        assert all(count > 0 for count in held.values()), f"connections per process: {held}"
    finally:
        for client in clients:
            client.close()


def test_a_killed_process_is_replaced_and_the_port_keeps_answering(
    two_processes: tuple[subprocess.Popen[bytes], str, Path],
) -> None:
    serve, base, log = two_processes
    victim, survivor = _api_processes(serve.pid)
    os.kill(victim, signal.SIGKILL)
    deadline = time.monotonic() + 60
    with httpx.Client(base_url=base, timeout=30, trust_env=False) as client:
        while True:
            pids = _api_processes(serve.pid)
            if len(pids) == 2 and victim not in pids:
                break
            assert client.get("/healthz").status_code == 200, "the other process answers meanwhile"
            assert time.monotonic() < deadline, f"not replaced: {pids}"
            time.sleep(0.2)
        assert survivor in pids
        replacement = next(pid for pid in pids if pid != survivor)
        served = False  # once up, the replacement takes its share of new connections
        while not served:
            assert time.monotonic() < deadline, "the replacement never took a connection"
            with httpx.Client(base_url=base, timeout=30, trust_env=False) as fresh:
                assert fresh.get("/healthz").status_code == 200
                served = _established(replacement, int(base.rsplit(":", 1)[1])) > 0
    assert "API process(es) exited (code -9); restarting" in log.read_text(), "one line says so"


def test_a_port_another_program_holds_is_refused_at_once(tmp_path: Path, postgres_url: str) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(
            app,
            ["serve", "--port", str(port), "--processes", "2", "--workers", "0", "--data-dir", str(tmp_path)],
            env={"LIENTHONG_DATABASE_URL": postgres_url},
        )
    assert result.exit_code == 1, result.output
    assert f"cannot listen on 127.0.0.1:{port}" in result.output
