"""Alerts: a dead delivery, a peer down too long, a certificate expiring soon and a broken ledger
each become one alert event in the ledger, POSTed to the operators' webhook, and are not repeated."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi import FastAPI, Request

from hub.alerts import CERTIFICATE_EXPIRING, DELIVERY_DEAD, LEDGER_BROKEN, PEER_DOWN, AlertWatcher
from hub.intake import Submission
from hub.ledger.models import events
from hub.peers import PeerWatch
from hub.runtime import Runtime
from hub.servers import RunningServer, free_port, run_in_thread
from hub.settings import Settings
from tests.deliverytest import make_config, wait_for
from tests.test_intake_api import AGENCY, fresh_document


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
    watcher = AlertWatcher(runtime, PeerWatch({}))
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
    again = AlertWatcher(runtime, PeerWatch({}))  # a restarted process remembers what it reported
    assert again.dead_deliveries() == []


def test_a_peer_down_longer_than_the_setting_raises_one_alert(runtime: Runtime) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    watcher = AlertWatcher(runtime, PeerWatch({"post_ems": [url]}, cache_seconds=0))
    assert watcher.peers_down() == []  # just noticed: not down long enough yet
    time.sleep(0.3)
    raised = watcher.peers_down()
    assert [a.kind for a in raised] == [PEER_DOWN] and raised[0].data["url"] == url
    assert watcher.peers_down() == []


def test_certificates_expiring_within_the_setting_raise_one_alert_each(runtime: Runtime) -> None:
    watcher = AlertWatcher(runtime, PeerWatch({}))
    assert watcher.certificates() == []  # the development certificates last years
    runtime.hub.settings.alert_certificate_days = 365 * 30
    raised = watcher.certificates()
    assert {a.kind for a in raised} == {CERTIFICATE_EXPIRING}
    assert {a.data["role"] for a in raised} == {"hub", "trust anchor"}
    assert watcher.certificates() == []


def test_a_broken_ledger_raises_an_alert(runtime: Runtime) -> None:
    runtime.hub.ledger.append_event("test.note", data={"n": 1})
    watcher = AlertWatcher(runtime, PeerWatch({}))
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
