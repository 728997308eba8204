"""`lienthong serve --processes N`: several API processes on one port (PostgreSQL only)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
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


def test_two_processes_share_the_port_and_accept_documents(tmp_path: Path, postgres_url: str) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIENTHONG_")}
    env.update(LIENTHONG_DATABASE_URL=postgres_url, LIENTHONG_DATA_DIR=str(tmp_path), LIENTHONG_WORKERS="0")
    log = (tmp_path / "serve.log").open("wb")
    serve = subprocess.Popen(
        [LIENTHONG, "serve", "--port", str(port), "--processes", "2"], env=env, stdout=log, stderr=log
    )
    try:
        base = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=base, timeout=30, trust_env=False) as client:
            deadline = time.monotonic() + 90
            while True:
                try:
                    if client.get("/healthz").status_code < 500:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, (tmp_path / "serve.log").read_text()
                time.sleep(0.2)
            assert len(_api_processes(serve.pid)) == 2, "two API processes under the one serve"
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
    finally:
        serve.send_signal(signal.SIGTERM)
        try:
            serve.wait(30)
        except subprocess.TimeoutExpired:
            serve.kill()
            pytest.fail("serve --processes did not stop on SIGTERM")
        log.close()
