"""Alerts: a dead delivery, a peer down too long, a certificate expiring soon and a broken ledger
each become one alert event in the ledger, POSTed to the operators' webhook, and are not repeated."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI, Request

from hub.alerts import (
    CERTIFICATE_EXPIRING,
    DELIVERY_DEAD,
    LEDGER_BROKEN,
    PEER_DOWN,
    RESOLVED,
    AlertWatcher,
    condition_state,
)
from hub.intake import Submission
from hub.ledger import Ledger
from hub.ledger.models import events
from hub.peers import PeerWatch
from hub.runtime import Runtime
from hub.servers import RunningServer, free_port, run_in_thread
from hub.settings import Settings
from tests.deliverytest import make_config, wait_for
from tests.test_intake_api import AGENCY, fresh_document

LIENTHONG = Path(sys.executable).parent / "lienthong"


@pytest.fixture
def webhook() -> Iterator[tuple[RunningServer, list[dict[str, Any]]]]:
    received: list[dict[str, Any]] = []
    app = FastAPI()

    @app.post("/alerts")
    async def take(request: Request) -> dict[str, str]:
        received.append(await request.json())
        return {"ok": "yes"}

    with run_in_thread(app) as server:
        yield server, received


@pytest.fixture
def runtime(tmp_path: Path, webhook: tuple[RunningServer, list[dict[str, Any]]]) -> Iterator[Runtime]:
    server, _ = webhook
    dead_port = free_port()
    config = make_config(
        tmp_path / "config", webhook_base=f"http://127.0.0.1:{dead_port}", agency_retry={"max_attempts": 1}
    )
    settings = Settings(
        data_dir=tmp_path,
        config_dir=config,
        alert_webhook_url=f"{server.base_url}/alerts",
        alert_peer_down_seconds=0.2,
        alert_certificate_days=30,
        poll_interval_seconds=0.1,
    )
    built = Runtime.build(settings)
    yield built
    built.close()


def submission(runtime: Runtime) -> Submission:
    agency = runtime.hub.participants.get(AGENCY)
    assert agency is not None
    return Submission(body=fresh_document(), content_type="application/xml", submitted_by=agency)


def alert_kinds(runtime: Runtime) -> list[str]:
    return [e.kind for e in runtime.hub.ledger.events_of_kinds([], prefix="alert.", limit=100)]


def test_a_dead_delivery_raises_one_alert_posted_to_the_webhook(
    runtime: Runtime, webhook: tuple[RunningServer, list[dict[str, Any]]]
) -> None:
    _, received = webhook
    watcher = AlertWatcher(runtime.hub, PeerWatch({}))
    result = runtime.intake.submit(submission(runtime))
    checkpoint = runtime.sequencer.run_once()[-1]  # the ledger's checkpoint so far
    runtime.engine.run_once()
    dead = [d for d in runtime.hub.ledger.get_message(result.message.id).deliveries if d.state == "dead"]
    assert dead, "the webhook is unreachable and max_attempts is 1"
    raised = watcher.dead_deliveries()
    assert [a.kind for a in raised] == [DELIVERY_DEAD]
    assert raised[0].delivery_id == dead[0].id and raised[0].data["error"] == dead[0].last_error
    assert (
        received and received[-1]["kind"] == DELIVERY_DEAD and received[-1]["message_id"] == result.message.id
    )
    assert received[-1]["checkpoint"] == checkpoint.signed_note, (
        "whoever keeps alerts holds the log's history"
    )
    assert watcher.dead_deliveries() == [], "an alert is raised once"
    again = AlertWatcher(runtime.hub, PeerWatch({}))  # a restarted process remembers what it reported
    assert again.dead_deliveries() == []


def test_a_peer_down_longer_than_the_setting_raises_one_alert_and_resolves_once(
    runtime: Runtime, webhook: tuple[RunningServer, list[dict[str, Any]]]
) -> None:
    _, received = webhook
    url = f"http://127.0.0.1:{free_port()}"
    watcher = AlertWatcher(runtime.hub, PeerWatch({"post_ems": [url]}, cache_seconds=0))
    assert watcher.peers_down() == []  # just noticed: not down long enough yet
    time.sleep(0.3)
    raised = watcher.peers_down()
    assert [a.kind for a in raised] == [PEER_DOWN] and raised[0].data["url"] == url
    assert watcher.peers_down() == []
    # The peer answers again: the alert resolves by itself, once, and the webhook hears of it.
    port = int(url.rsplit(":", 1)[1])
    with run_in_thread(FastAPI(), port=port):
        watcher.peers_down()
        watcher.peers_down()
    resolved = runtime.hub.ledger.events_of_kinds([RESOLVED], limit=10)
    assert [(r.data["alert"], r.data["condition"], r.data["raised_event"]) for r in resolved] == [
        (PEER_DOWN, url, raised[0].id)
    ]
    assert condition_state(runtime.hub, PEER_DOWN, url) == "resolved"
    posted = [(p["kind"], p["data"].get("condition")) for p in received]
    assert posted == [(PEER_DOWN, url), (RESOLVED, url)], "one POST for the raise, one for the resolution"


def test_certificates_expiring_within_the_setting_raise_one_alert_each(runtime: Runtime) -> None:
    watcher = AlertWatcher(runtime.hub, PeerWatch({}))
    assert watcher.certificates() == []  # the development certificates last years
    runtime.hub.settings.alert_certificate_days = 365 * 30
    raised = watcher.certificates()
    assert {a.kind for a in raised} == {CERTIFICATE_EXPIRING}
    assert {a.data["role"] for a in raised} == {"hub", "trust anchor"}
    assert watcher.certificates() == []
    runtime.hub.settings.alert_certificate_days = 30  # e.g. the certificates were renewed
    watcher.certificates()
    resolved = runtime.hub.ledger.events_of_kinds([RESOLVED], limit=10)
    assert sorted(r.data["raised_event"] for r in resolved) == sorted(a.id for a in raised)


def test_a_broken_ledger_raises_an_alert(runtime: Runtime) -> None:
    runtime.hub.ledger.append_event("test.note", data={"n": 1})
    watcher = AlertWatcher(runtime.hub, PeerWatch({}))
    watcher.run_once(verify=True)
    assert LEDGER_BROKEN not in alert_kinds(runtime)
    with runtime.hub.ledger.engine.begin() as conn:
        conn.execute(sa.update(events).where(events.c.kind == "test.note").values(data='{"n": 2}'))
    raised = watcher.run_once(verify=True)
    assert LEDGER_BROKEN in [a.kind for a in raised]
    broken = runtime.hub.ledger.events_of_kinds([LEDGER_BROKEN], limit=1)[0]
    assert broken.data["reason"].startswith("edited")


def test_the_watcher_runs_in_the_hub_process(tmp_path: Path) -> None:
    config = make_config(
        tmp_path / "config", webhook_base=f"http://127.0.0.1:{free_port()}", agency_retry={"max_attempts": 1}
    )
    settings = Settings(
        data_dir=tmp_path, config_dir=config, alert_interval_seconds=0.2, poll_interval_seconds=0.1
    )
    built = Runtime.build(settings)
    built.start_workers(workers=1)
    try:
        built.intake.submit(submission(built))
        wait_for(lambda: DELIVERY_DEAD in alert_kinds(built), what="the watcher to raise the dead delivery")
    finally:
        built.close()


# -- many processes, one ledger --------------------------------------------------------------------


@pytest.fixture
def slow_webhook() -> Iterator[tuple[RunningServer, list[dict[str, Any]]]]:
    """An operators' webhook that takes 0.3 s to answer: the window in which two processes used to
    raise the same alert twice."""
    received: list[dict[str, Any]] = []
    app = FastAPI()

    @app.post("/alerts")
    def take(payload: dict[str, Any]) -> dict[str, str]:
        time.sleep(0.3)
        received.append(payload)
        return {"ok": "yes"}

    with run_in_thread(app) as server:
        yield server, received


def _serve(port: int, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [str(LIENTHONG), "serve", "--port", str(port)],
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        text=True,
    )


def test_two_serve_processes_raise_each_alert_once(
    tmp_path: Path, slow_webhook: tuple[RunningServer, list[dict[str, Any]]]
) -> None:
    server, received = slow_webhook
    config = make_config(
        tmp_path / "config", webhook_base=f"http://127.0.0.1:{free_port()}", agency_retry={"max_attempts": 1}
    )
    env = {
        "LIENTHONG_DATA_DIR": str(tmp_path / "data"),
        "LIENTHONG_CONFIG_DIR": str(config),
        "LIENTHONG_ALERT_WEBHOOK_URL": f"{server.base_url}/alerts",
        "LIENTHONG_ALERT_INTERVAL_SECONDS": "0.2",
        "LIENTHONG_ALERT_PEER_DOWN_SECONDS": "0.5",  # the simulators are not running: peers are down
        "LIENTHONG_POLL_INTERVAL_SECONDS": "0.1",
        "LIENTHONG_READINESS_CACHE_SECONDS": "0",
    }
    ports = [free_port(), free_port()]
    first = _serve(ports[0], env)
    try:
        wait_for(lambda: _ready(ports[0]), timeout=60, what="the first serve process")
        second = _serve(ports[1], env)  # after the first has created the ledger
        try:
            wait_for(lambda: _ready(ports[1]), timeout=60, what="the second serve process")
            headers = {"Content-Type": "application/xml", "Authorization": f"Bearer dev-token-{AGENCY}"}
            for n, port in enumerate(ports * 5):  # 10 documents, half through each process
                answer = httpx.post(
                    f"http://127.0.0.1:{port}/v1/messages", content=fresh_document(), headers=headers
                )
                assert answer.status_code == 202, (n, answer.text)
            ledger = Ledger(f"sqlite:///{tmp_path / 'data' / 'ledger.sqlite3'}")
            try:

                def dead_alerts() -> list[Any]:
                    return ledger.events_of_kinds([DELIVERY_DEAD], limit=100)

                wait_for(lambda: len(dead_alerts()) >= 10, timeout=60, what="ten dead-delivery alerts")
                wait_for(lambda: ledger.events_of_kinds([PEER_DOWN], limit=1), timeout=30, what="a peer down")
                time.sleep(2)  # several more looks by both processes: nothing new may come of them
                dead = dead_alerts()
                assert len(dead) == 10 and len({a.delivery_id for a in dead}) == 10
                peers = ledger.events_of_kinds([PEER_DOWN], limit=100)
                urls = [a.data["url"] for a in peers]
                assert sorted(urls) == sorted(set(urls)), "each peer's outage is raised once"
                everything = ledger.events_of_kinds([], prefix="alert.", limit=500)
                wait_for(lambda: len(received) >= len(everything), timeout=30, what="the webhook POSTs")
                posted = [p["event_id"] for p in received if p["kind"].startswith("alert.")]
                assert sorted(posted) == sorted(a.id for a in everything), "one POST per alert"
            finally:
                ledger.dispose()
        finally:
            second.terminate()
            second.wait(30)
    finally:
        first.terminate()
        first.wait(30)


def _ready(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False
