"""`lienthong serve` with its delivery in a child process (LIENTHONG_DELIVERY=process, the default):
the child delivers, is woken by intake, is restarted when it dies, stops with serve and never outlives
it (kill -9 of serve included)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from adapters.agency.simulator import create_app as create_agency_simulator
from hub.servers import RunningServer, free_port, run_in_thread
from tests.deliverytest import make_config, wait_for
from tests.hubtest import auth
from tests.test_intake_api import AGENCY, fresh_document

LIENTHONG = str(Path(sys.executable).with_name("lienthong"))
WEBHOOK_AGENCY = "000.00.00.H41"


@pytest.fixture(scope="module")
def agency_sim() -> Iterator[RunningServer]:
    with run_in_thread(create_agency_simulator()) as server:
        yield server


@dataclass
class Serve:
    process: subprocess.Popen[bytes]
    client: httpx.Client
    log: Path

    def health(self) -> dict[str, Any]:
        answer = self.client.get("/healthz")
        assert answer.status_code == 200, answer.text
        return dict(answer.json()["delivery"])

    def post(self) -> str:
        answer = self.client.post(
            "/v1/messages",
            content=fresh_document(),
            headers={**auth(AGENCY), "Content-Type": "application/xml"},
        )
        assert answer.status_code == 202, answer.text
        return str(answer.json()["id"])

    def state(self, message_id: str) -> str:
        message = self.client.get(f"/v1/messages/{message_id}", headers=auth(AGENCY)).json()
        return str(next(d for d in message["deliveries"] if d["recipient"] == WEBHOOK_AGENCY)["state"])

    def events(self, message_id: str) -> list[dict[str, Any]]:
        return list(self.client.get(f"/v1/messages/{message_id}", headers=auth(AGENCY)).json()["events"])


def alive(pid: int) -> bool:
    """The process exists and is not a zombie."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def parent_of(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


@pytest.fixture
def serve(agency_sim: RunningServer, tmp_path: Path) -> Iterator[Serve]:
    yield from start_serve(agency_sim, tmp_path)


def start_serve(
    agency_sim: RunningServer, tmp_path: Path, *extra: str, **settings: object
) -> Iterator[Serve]:
    config = make_config(tmp_path / "config", webhook_base=agency_sim.base_url)
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIENTHONG_")}
    # A long idle poll: a document delivered at once shows the child was woken by serve's pipe.
    env.update(
        LIENTHONG_CONFIG_DIR=str(config),
        LIENTHONG_WORKERS="2",
        LIENTHONG_LEASE_SECONDS="3",
        LIENTHONG_POLL_INTERVAL_SECONDS="30",
        LIENTHONG_LOG_FORMAT="text",
    )
    env.update({f"LIENTHONG_{k.upper()}": str(v) for k, v in settings.items()})
    port = free_port()
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [LIENTHONG, "serve", "--port", str(port), "--data-dir", str(tmp_path / "data"), *extra],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30, trust_env=False)

    def answering() -> bool:
        assert process.poll() is None, log.read_text()
        try:
            return client.get("/healthz").status_code == 200
        except httpx.TransportError:
            return False

    try:
        wait_for(answering, timeout=90, what="serve to answer")
        yield Serve(process, client, log)
    finally:
        client.close()
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def running_child(serve: Serve) -> int:
    delivery = wait_for(
        lambda: (d := serve.health())["state"] == "running" and d, timeout=30, what="a running child"
    )
    return int(delivery["pid"])


def test_a_document_posted_to_serve_is_delivered_by_its_delivery_process(serve: Serve) -> None:
    child = running_child(serve)
    assert child != serve.process.pid and parent_of(child) == serve.process.pid
    assert serve.health()["mode"] == "process" and serve.health()["workers"] == 2
    started = time.monotonic()
    message_id = serve.post()
    wait_for(lambda: serve.state(message_id) == "delivered", timeout=20, what="the delivery")
    assert time.monotonic() - started < 20, "woken by serve, not by its 30 s idle poll"
    delivering = [e for e in serve.events(message_id) if e["kind"] == "delivery.delivering"]
    assert delivering and all(f":{child}:" in e["data"]["worker"] for e in delivering), delivering
    metrics = serve.client.get("/metrics").text
    assert "lienthong_delivery_process_up 1.0" in metrics
    # the child's delivery counters, once each (serve's own, always zero, are left out)
    delivered = 'lienthong_delivery_attempts_total{adapter="agency",outcome="delivered"} 1.0'
    assert metrics.count(delivered) == 1, metrics
    types = [line.split()[2] for line in metrics.splitlines() if line.startswith("# TYPE ")]
    assert len(types) == len(set(types)), "no metric family twice"
    assert any(t.startswith("lienthong_delivery_attempts") for t in types)
    assert any(t.startswith("lienthong_intake") for t in types)


def test_a_killed_delivery_process_is_restarted_and_nothing_is_lost(serve: Serve) -> None:
    first = running_child(serve)
    os.kill(first, signal.SIGKILL)
    ids = [serve.post() for _ in range(5)]  # accepted while delivery is down
    restarted = wait_for(
        lambda: (d := serve.health())["pid"] not in (None, first) and d["state"] == "running" and d,
        timeout=30,
        what="serve to restart its delivery process",
    )
    assert restarted["restarts"] == 1
    for message_id in ids:
        wait_for(lambda m=message_id: serve.state(m) == "delivered", timeout=60, what=f"{message_id}")
    log = serve.log.read_text()
    assert log.count(f"delivery process {first} exited") == 1, log
    assert "delivery process running again" in log
    assert not alive(first)


def test_kill_9_of_serve_leaves_no_delivery_process(serve: Serve) -> None:
    child = running_child(serve)
    serve.process.send_signal(signal.SIGKILL)
    serve.process.wait(10)
    wait_for(lambda: not alive(child), timeout=30, what="the delivery process to stop after serve's kill -9")


def test_sigterm_stops_serve_and_its_delivery_process(serve: Serve) -> None:
    child = running_child(serve)
    serve.process.send_signal(signal.SIGTERM)
    assert serve.process.wait(30) in (0, -signal.SIGTERM)  # uvicorn re-raises the signal it handled
    assert "Application shutdown complete" in serve.log.read_text()
    assert not alive(child), "serve waited for its delivery process to stop"


def test_delivery_threads_keeps_delivery_in_serve(agency_sim: RunningServer, tmp_path: Path) -> None:
    running = start_serve(agency_sim, tmp_path, "--delivery", "threads", poll_interval_seconds=0.1)
    serve = next(running)
    try:
        threads = {"mode": "threads", "workers": 2, "state": None, "pid": None, "restarts": None}
        assert serve.health() == threads
        message_id = serve.post()
        wait_for(lambda: serve.state(message_id) == "delivered", timeout=20, what="the delivery")
        delivering = [e for e in serve.events(message_id) if e["kind"] == "delivery.delivering"]
        assert delivering and all(f":{serve.process.pid}:" in e["data"]["worker"] for e in delivering)
    finally:
        running.close()
