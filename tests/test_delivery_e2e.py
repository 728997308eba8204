"""Delivery end to end: from POST /v1/messages to the agency system's webhook, through outages,
dead letters, operator retries, a SIGKILLed worker, and the scaled-out mode on the machine's real
PostgreSQL and RabbitMQ (including a broker restart in the middle of a run)."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from adapters.agency.simulator import create_app as create_agency_simulator
from bench.documents import edxml_set
from hub.cli import app as cli_app
from hub.ledger.work import INLINE_DOCUMENT_BYTES
from hub.servers import RunningServer, run_in_thread
from tests.conftest import BrokerVhost
from tests.deliverytest import make_config, wait_for
from tests.hubtest import RunningHub, running_hub
from tests.test_intake_api import AGENCY, fresh_document, json_example

WEBHOOK_AGENCY = "000.00.00.H41"
LIENTHONG = str(Path(sys.executable).with_name("lienthong"))


@pytest.fixture(scope="module")
def agency_sim() -> Iterator[RunningServer]:
    with run_in_thread(create_agency_simulator()) as server:
        yield server


@pytest.fixture
def sim(agency_sim: RunningServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=agency_sim.base_url, timeout=10) as client:
        client.post("/_sim/clear", json={})
        yield client
        client.post("/_sim/clear", json={})


@pytest.fixture(scope="module")
def hub(agency_sim: RunningServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningHub]:
    base = tmp_path_factory.mktemp("hub")
    config = make_config(base / "config", webhook_base=agency_sim.base_url)
    with running_hub(base, config_dir=config, workers=2, poll_interval_seconds=0.1) as running:
        yield running


def webhook_delivery(hub: RunningHub, message_id: str) -> dict[str, Any]:
    message = hub.get(f"/v1/messages/{message_id}", as_=AGENCY).json()
    return next(d for d in message["deliveries"] if d["recipient"] == WEBHOOK_AGENCY)


def wait_state(hub: RunningHub, message_id: str, state: str, timeout: float = 30) -> dict[str, Any]:
    return wait_for(
        lambda: (d := webhook_delivery(hub, message_id))["state"] == state and d,
        timeout=timeout,
        what=f"the delivery of {message_id} to become {state}",
    )


def received(sim: httpx.Client, message_id: str, *, include_duplicates: bool = True) -> list[dict[str, Any]]:
    params = {"participant": WEBHOOK_AGENCY, "include_duplicates": str(include_duplicates).lower()}
    return [
        i for i in sim.get("/_sim/received", params=params).json()["items"] if i["message_id"] == message_id
    ]


def kinds(hub: RunningHub, message_id: str) -> list[str]:
    return [e["kind"] for e in hub.get(f"/v1/messages/{message_id}", as_=AGENCY).json()["events"]]


# -- embedded mode -----------------------------------------------------------------------------------


def test_a_document_reaches_the_agency_webhook_byte_for_byte(hub: RunningHub, sim: httpx.Client) -> None:
    message_id = hub.post(fresh_document(), as_=AGENCY).json()["id"]
    delivery = wait_state(hub, message_id, "delivered")
    assert delivery["attempts"] == 1 and delivery["peer_reference"]

    document = hub.get(f"/v1/messages/{message_id}/document", as_=AGENCY).content
    (item,) = received(sim, message_id)
    assert item["body_sha256"] == hashlib.sha256(document).hexdigest()
    headers = {k.lower(): v for k, v in item["headers"].items()}
    assert headers["x-lienthong-message-id"] == message_id
    assert delivery["peer_reference"] == item["reference"]


def test_a_document_too_big_to_come_with_its_claim_is_read_at_its_attempt_and_delivered_whole(
    hub: RunningHub, sim: httpx.Client
) -> None:
    """A claim carries documents up to INLINE_DOCUMENT_BYTES; a larger one is read when its turn comes."""
    [document] = edxml_set(
        "inline", 1, 2 * INLINE_DOCUMENT_BYTES, first_serial=uuid.uuid4().int % 10**6
    ).bodies
    assert len(document) > INLINE_DOCUMENT_BYTES
    answer = hub.post(document, as_=AGENCY)
    assert answer.status_code == 202, answer.text[:300]
    message_id = answer.json()["id"]
    delivery = wait_state(hub, message_id, "delivered")
    assert delivery["attempts"] == 1
    (item,) = received(sim, message_id)
    assert item["body_sha256"] == hashlib.sha256(document).hexdigest()


def test_a_document_its_sender_signed_is_stored_once_and_delivered_as_sent(
    hub: RunningHub, sim: httpx.Client
) -> None:
    """The ledger keeps a sender-signed document once (as `original`); the claim must carry those bytes."""
    [document] = edxml_set("signed-once", 1, 5000, first_serial=uuid.uuid4().int % 10**6).bodies
    assert len(document) < INLINE_DOCUMENT_BYTES
    answer = hub.post(document, as_=AGENCY)
    assert answer.status_code == 202, answer.text[:300]
    message_id = answer.json()["id"]
    wait_state(hub, message_id, "delivered")
    (item,) = received(sim, message_id)
    assert item["body_sha256"] == hashlib.sha256(document).hexdigest()
    assert hub.get(f"/v1/messages/{message_id}/document", as_=AGENCY).content == document


def test_a_json_document_arrives_with_its_detached_signature(hub: RunningHub, sim: httpx.Client) -> None:
    body = json_example("payment.confirmation", recipients=[WEBHOOK_AGENCY])
    sender = json.loads(body)["sender"]
    message_id = hub.post(body, as_=sender, content_type="application/json").json()["id"]
    wait_for(lambda: received(sim, message_id), what="the JSON delivery")
    (item,) = received(sim, message_id)
    signature = hub.get(f"/v1/messages/{message_id}/document", as_=sender).headers["x-jws-signature"]
    assert {k.lower(): v for k, v in item["headers"].items()}["x-jws-signature"] == signature
    assert item["body_sha256"] == hashlib.sha256(body).hexdigest()


def test_a_receiver_down_for_a_while_is_retried_then_delivered(hub: RunningHub, sim: httpx.Client) -> None:
    sim.post("/_sim/fail-next", json={"participant": WEBHOOK_AGENCY, "count": 2, "status": 503})
    message_id = hub.post(fresh_document(), as_=AGENCY).json()["id"]
    delivery = wait_state(hub, message_id, "delivered")
    assert delivery["attempts"] == 3
    events = hub.get(f"/v1/messages/{message_id}", as_=AGENCY).json()["events"]
    retries = [e for e in events if e["kind"] == "delivery.retrying"]
    assert len(retries) == 2 and all("503" in e["data"]["error"] for e in retries)
    assert all(e["data"]["next_attempt_at"] for e in retries)


def test_an_always_failing_receiver_goes_dead_then_an_operator_retry_delivers(
    hub: RunningHub, sim: httpx.Client
) -> None:
    sim.post("/_sim/always-fail", json={"participant": WEBHOOK_AGENCY, "status": 500})
    message_id = hub.post(fresh_document(), as_=AGENCY).json()["id"]
    dead = wait_state(hub, message_id, "dead")
    assert dead["attempts"] == 3 and "500" in dead["last_error"]  # max_attempts of the test config

    listed = hub.get("/v1/deliveries?state=dead", as_="operator").json()["items"]
    assert dead["id"] in {d["id"] for d in listed}

    sim.post("/_sim/clear", json={})
    retry = hub.client.post(
        f"/v1/deliveries/{dead['id']}/retry", headers={"Authorization": "Bearer dev-token-operator"}
    )
    assert retry.status_code == 202 and retry.json()["state"] == "queued"
    wait_state(hub, message_id, "delivered")
    events = hub.get(f"/v1/messages/{message_id}", as_=AGENCY).json()["events"]
    requeued = [e for e in events if e["kind"] == "delivery.queued" and e["data"].get("by") == "operator"]
    assert requeued and requeued[0]["data"]["previous_attempts"] == 3


def test_a_permanent_refusal_is_dead_at_once_and_the_cli_can_retry_it(
    hub: RunningHub, sim: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    sim.post("/_sim/always-fail", json={"participant": WEBHOOK_AGENCY, "status": 400})
    message_id = hub.post(fresh_document(), as_=AGENCY).json()["id"]
    dead = wait_state(hub, message_id, "dead")
    assert dead["attempts"] == 1, "a 4xx answer is final: no retries"

    monkeypatch.setenv("LIENTHONG_DATA_DIR", str(hub.settings.data_dir))
    monkeypatch.setenv("LIENTHONG_CONFIG_DIR", str(hub.settings.config_dir))
    runner = CliRunner()
    listed = runner.invoke(cli_app, ["deliveries", "list", "--state", "dead", "--json"])
    assert listed.exit_code == 0 and dead["id"] in listed.stdout
    sim.post("/_sim/clear", json={})
    retried = runner.invoke(cli_app, ["deliveries", "retry", dead["id"]])
    assert retried.exit_code == 0, retried.output
    wait_state(hub, message_id, "delivered")
    again = runner.invoke(cli_app, ["deliveries", "retry", dead["id"]])
    assert again.exit_code == 1 and "conflict" in again.output


def test_the_timeline_shows_deliveries_with_their_states(hub: RunningHub, sim: httpx.Client) -> None:
    data = fresh_document()
    message_id = hub.post(data, as_=AGENCY).json()["id"]
    wait_state(hub, message_id, "delivered")
    key = hub.get(f"/v1/messages/{message_id}", as_=AGENCY).json()["correlation_key"]
    timeline = hub.get(f"/v1/timeline/{key}", as_=AGENCY).json()
    (message,) = [m for m in timeline["messages"] if m["id"] == message_id]
    assert {d["recipient"]: d["state"] for d in message["deliveries"]}[WEBHOOK_AGENCY] == "delivered"
    assert "delivery.delivered" in [e["kind"] for e in timeline["events"]]


def test_an_operator_replays_a_message_whose_delivery_died(
    hub: RunningHub, sim: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    sim.post("/_sim/always-fail", json={"participant": WEBHOOK_AGENCY, "status": 400})
    original = hub.post(fresh_document(), as_=AGENCY).json()["id"]
    wait_state(hub, original, "dead")
    sim.post("/_sim/clear", json={})

    operator = {"Authorization": "Bearer dev-token-operator"}
    refused = hub.client.post(
        f"/v1/messages/{original}/replay", headers={"Authorization": f"Bearer dev-token-{AGENCY}"}
    )
    assert refused.status_code == 403
    replayed = hub.client.post(f"/v1/messages/{original}/replay", headers=operator)
    assert replayed.status_code == 202 and replayed.json()["replay_of"] == original
    replay_id = replayed.json()["id"]
    assert replay_id != original
    wait_state(hub, replay_id, "delivered")
    assert webhook_delivery(hub, original)["state"] == "dead", "the original keeps its own history"
    assert "message.replayed" in kinds(hub, original)
    received_event = next(
        e
        for e in hub.get(f"/v1/messages/{replay_id}", as_=AGENCY).json()["events"]
        if e["kind"] == "message.received"
    )
    assert (
        received_event["data"]["replay_of"] == original
        and received_event["data"]["replayed_by"] == "operator"
    )

    monkeypatch.setenv("LIENTHONG_DATA_DIR", str(hub.settings.data_dir))
    monkeypatch.setenv("LIENTHONG_CONFIG_DIR", str(hub.settings.config_dir))
    result = CliRunner().invoke(cli_app, ["replay", original])
    assert result.exit_code == 0, result.output
    wait_state(hub, result.stdout.strip(), "delivered")
    assert CliRunner().invoke(cli_app, ["replay", "no-such-message"]).exit_code == 1


# -- a worker killed with SIGKILL --------------------------------------------------------------------


def worker_env(data_dir: Path, config_dir: Path, **settings: object) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIENTHONG_")}
    env.update({"LIENTHONG_DATA_DIR": str(data_dir), "LIENTHONG_CONFIG_DIR": str(config_dir)})
    env.update({f"LIENTHONG_{k.upper()}": str(v) for k, v in settings.items()})
    return env


def start_worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [LIENTHONG, "worker", "--no-pollers"], env=env, stdout=out, stderr=subprocess.STDOUT
        )


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_a_worker_killed_mid_delivery_loses_nothing(
    agency_sim: RunningServer, sim: httpx.Client, tmp_path: Path
) -> None:
    config = make_config(
        tmp_path / "config", webhook_base=agency_sim.base_url, agency_retry={"max_attempts": 8}
    )
    settings = {"workers": 2, "lease_seconds": 2, "poll_interval_seconds": 0.1}
    env = worker_env(tmp_path, config, **settings)
    sim.post("/_sim/slow", json={"participant": WEBHOOK_AGENCY, "seconds": 0.5})
    with running_hub(tmp_path, config_dir=config, workers=0) as api:  # API only: the worker is a process
        ids = [api.post(fresh_document(), as_=AGENCY).json()["id"] for _ in range(8)]
        first = start_worker(env, tmp_path / "worker-1.log")
        try:
            wait_for(lambda: any(received(sim, i) for i in ids), what="the first worker to start delivering")
            first.send_signal(signal.SIGKILL)  # in the middle of the run, with deliveries in flight
            first.wait(10)
        finally:
            stop(first)
        delivered_before = sum(webhook_delivery(api, i)["state"] == "delivered" for i in ids)
        assert delivered_before < len(ids), "the kill must happen mid-run for this test to mean anything"
        second = start_worker(env, tmp_path / "worker-2.log")
        try:
            for message_id in ids:
                wait_state(api, message_id, "delivered", timeout=60)
        finally:
            stop(second)
        for message_id in ids:
            assert len(received(sim, message_id, include_duplicates=False)) == 1, "the receiver drops repeats"
        reclaimed = [
            e
            for i in ids
            for e in api.get(f"/v1/messages/{i}", as_=AGENCY).json()["events"]
            if e["kind"] == "delivery.delivering" and "reclaimed_from" in e["data"]
        ]
        assert reclaimed, "a delivery in flight at the kill was reclaimed after its lease expired"


# -- scale-out: PostgreSQL ledger, RabbitMQ queue, several worker processes --------------------------


def test_scaled_out_on_postgresql_and_rabbitmq_survives_a_worker_kill_and_a_broker_outage(
    agency_sim: RunningServer, sim: httpx.Client, tmp_path: Path, postgres_url: str, amqp_vhost: BrokerVhost
) -> None:
    from hub.queue.amqp import AmqpWorkQueue

    prefix = f"lt-test-{uuid.uuid4().hex[:8]}"
    config = make_config(
        tmp_path / "config", webhook_base=agency_sim.base_url, agency_retry={"max_attempts": 10}
    )
    settings: dict[str, object] = {
        "database_url": postgres_url,
        "queue_url": amqp_vhost.url,
        "queue_prefix": prefix,
        "workers": 2,
        "lease_seconds": 3,
        "sweep_interval_seconds": 1,
    }
    env = worker_env(tmp_path, config, **settings)
    sim.post("/_sim/slow", json={"participant": WEBHOOK_AGENCY, "seconds": 0.2})
    workers = [start_worker(env, tmp_path / f"worker-{n}.log") for n in range(2)]
    try:
        with running_hub(tmp_path, config_dir=config, **{**settings, "workers": 0}) as api:
            ids = [api.post(fresh_document(), as_=AGENCY).json()["id"] for _ in range(10)]
            wait_for(lambda: any(received(sim, i) for i in ids), what="workers to start delivering")
            workers[0].send_signal(signal.SIGKILL)
            workers[0].wait(10)

            with amqp_vhost.outage():  # queued tickets stay in their queues; publishes meanwhile fail
                during = [api.post(fresh_document(), as_=AGENCY) for _ in range(5)]
            assert all(r.status_code == 202 for r in during), "intake goes on while the broker is down"
            ids += [r.json()["id"] for r in during]
            ids += [api.post(fresh_document(), as_=AGENCY).json()["id"] for _ in range(5)]
            workers.append(start_worker(env, tmp_path / "worker-3.log"))

            for message_id in ids:
                wait_state(api, message_id, "delivered", timeout=120)
            for message_id in ids:
                assert len(received(sim, message_id, include_duplicates=False)) == 1
            adapters = {
                d["adapter"]
                for i in ids
                for d in api.get(f"/v1/messages/{i}", as_=AGENCY).json()["deliveries"]
            }
            assert adapters == {"agency", "inbox"}
    finally:
        for process in workers:
            stop(process)
        queue = AmqpWorkQueue(amqp_vhost.url, prefix=prefix)
        queue.delete_topology()
        queue.close()
    result = CliRunner().invoke(cli_app, ["ledger", "verify"], env={"LIENTHONG_DATABASE_URL": postgres_url})
    assert result.exit_code == 0, result.output


def test_a_scaled_out_worker_claims_a_packed_message_together_and_a_kill_mid_batch_loses_nothing(
    agency_sim: RunningServer, sim: httpx.Client, tmp_path: Path, postgres_url: str, amqp_url: str
) -> None:
    """One RabbitMQ message carries ten tickets: two not due (already delivered; under another
    worker's live lease), eight due. A `lienthong worker` claims the eight together, then is killed
    with SIGKILL after its first delivery; the next worker drops the whole message when it comes back
    (the dead worker's leases still run), then delivers each of the rest once its lease expires (the
    sweeper). Every due delivery reaches the peer, none of the others does."""
    from hub.ledger import Ledger
    from hub.queue import Ticket
    from hub.queue.amqp import AmqpWorkQueue

    prefix = f"lt-test-{uuid.uuid4().hex[:8]}"
    config = make_config(
        tmp_path / "config", webhook_base=agency_sim.base_url, agency_retry={"max_attempts": 10}
    )
    settings: dict[str, object] = {
        "database_url": postgres_url,
        "queue_url": amqp_url,
        "queue_prefix": prefix,
        "workers": 1,
        "lease_seconds": 3,
        "sweep_interval_seconds": 1,
    }
    env = worker_env(tmp_path, config, **settings)
    queue = AmqpWorkQueue(amqp_url, prefix=prefix)
    ledger = Ledger(postgres_url)
    workers: list[subprocess.Popen[bytes]] = []
    # API only, no queue: the test publishes the one packed message itself
    with running_hub(tmp_path, config_dir=config, database_url=postgres_url, workers=0) as api:
        try:
            ids = [api.post(fresh_document(), as_=AGENCY).json()["id"] for _ in range(10)]
            webhook = [webhook_delivery(api, i) for i in ids]
            done, elsewhere = webhook[0]["id"], webhook[1]["id"]
            assert ledger.work.claim_attempt(done, "w-before", lease_seconds=60) is not None
            ledger.work.finish_attempt(done, "delivered")
            assert ledger.work.claim_attempt(elsewhere, "w-elsewhere", lease_seconds=600) is not None
            queue.publish_together(
                [Ticket(d["id"], i, "agency", d["attempts"]) for d, i in zip(webhook, ids, strict=True)]
            )
            assert queue.depth() == 1, "the ten tickets travel in one message"

            sim.post("/_sim/slow", json={"participant": WEBHOOK_AGENCY, "seconds": 0.4})
            workers.append(start_worker(env, tmp_path / "worker-1.log"))
            due = ids[2:]
            wait_for(lambda: any(received(sim, i) for i in due), what="the first worker to start delivering")
            workers[0].send_signal(signal.SIGKILL)  # mid-batch: the rest of the eight claimed, undelivered
            workers[0].wait(10)
            claimed = [webhook_delivery(api, i) for i in due]
            assert sum(d["state"] == "delivered" for d in claimed) < len(due), "killed mid-batch"
            assert all(d["state"] in ("delivering", "delivered") for d in claimed), "claimed together"

            workers.append(start_worker(env, tmp_path / "worker-2.log"))
            for message_id in due:
                wait_state(api, message_id, "delivered", timeout=90)
            for message_id in due:
                assert len(received(sim, message_id, include_duplicates=False)) == 1
            assert received(sim, ids[0]) == [] and received(sim, ids[1]) == [], "not due: dropped"
            assert webhook_delivery(api, ids[1])["state"] == "delivering", "the other worker's lease stands"
            assert webhook_delivery(api, ids[0])["attempts"] == 1
            reclaimed = [
                e
                for i in due
                for e in api.get(f"/v1/messages/{i}", as_=AGENCY).json()["events"]
                if e["kind"] == "delivery.delivering" and "reclaimed_from" in e["data"]
            ]
            assert reclaimed, "what the killed worker held came back after its lease"
        finally:
            for process in workers:
                stop(process)
            ledger.dispose()
            queue.delete_topology()
            queue.close()
    result = CliRunner().invoke(cli_app, ["ledger", "verify"], env={"LIENTHONG_DATABASE_URL": postgres_url})
    assert result.exit_code == 0, result.output


def test_a_packed_message_delivered_in_turn_past_its_lease_keeps_its_claims(
    agency_sim: RunningServer, sim: httpx.Client, tmp_path: Path, postgres_url: str, amqp_url: str
) -> None:
    """A slow peer: eight tickets of one message, claimed together and delivered in turn, take longer
    than the lease. The worker renews the leases of those still waiting, so the sweeper never hands
    one of them to another consumer: each is attempted once, none is reclaimed."""
    from hub.queue import Ticket
    from hub.queue.amqp import AmqpWorkQueue

    prefix = f"lt-test-{uuid.uuid4().hex[:8]}"
    config = make_config(tmp_path / "config", webhook_base=agency_sim.base_url)
    settings: dict[str, object] = {
        "database_url": postgres_url,
        "queue_url": amqp_url,
        "queue_prefix": prefix,
        "workers": 2,
        "lease_seconds": 1,
        "sweep_interval_seconds": 0.5,
    }
    env = worker_env(tmp_path, config, **settings)
    sim.post("/_sim/slow", json={"participant": WEBHOOK_AGENCY, "seconds": 0.4})
    queue = AmqpWorkQueue(amqp_url, prefix=prefix)
    worker: subprocess.Popen[bytes] | None = None
    try:  # API only, no queue: the test publishes the one packed message itself
        with running_hub(tmp_path, config_dir=config, database_url=postgres_url, workers=0) as api:
            ids = [api.post(fresh_document(), as_=AGENCY).json()["id"] for _ in range(8)]
            webhook = [webhook_delivery(api, i) for i in ids]
            queue.publish_together([Ticket(d["id"], i, "agency") for d, i in zip(webhook, ids, strict=True)])
            assert queue.depth() == 1
            worker = start_worker(env, tmp_path / "worker.log")
            for message_id in ids:
                wait_state(api, message_id, "delivered", timeout=60)
            deliveries = [webhook_delivery(api, i) for i in ids]
            assert [d["attempts"] for d in deliveries] == [1] * len(ids)
            events = [e for i in ids for e in api.get(f"/v1/messages/{i}", as_=AGENCY).json()["events"]]
            assert not [e for e in events if "reclaimed_from" in e["data"]]
            assert sum(len(received(sim, i)) for i in ids) == len(ids), "each sent once"
    finally:
        if worker is not None:
            stop(worker)
        queue.delete_topology()
        queue.close()
