"""A broker outage costs intake little: the publish circuit breaker (hub/queue/breaker.py).

The outage is simulated on the test's own vhost (its user's permissions revoked, its connections
closed): the shared RabbitMQ is never stopped.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from adapters.agency.simulator import create_app as create_agency_simulator
from hub.queue import QueueUnavailable
from hub.queue.breaker import PublishBreaker
from hub.servers import RunningServer, run_in_thread
from tests.conftest import BrokerVhost
from tests.deliverytest import make_config, wait_for
from tests.hubtest import RunningHub, running_hub
from tests.test_intake_api import AGENCY, fresh_document

WEBHOOK_AGENCY = "000.00.00.H41"


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_the_breaker_opens_on_failure_skips_while_open_and_closes_after_a_good_trial(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = Clock()
    breaker = PublishBreaker(cooldown=2.0, max_cooldown=5.0, clock=clock)
    calls: list[str] = []
    broker_up = False

    def publish(ticket: str) -> None:
        calls.append(ticket)
        if not broker_up:
            raise QueueUnavailable("no broker")

    with caplog.at_level(logging.INFO, logger="hub.queue"):
        assert breaker.call(publish, "a") is False and breaker.state == "open"
        assert [breaker.call(publish, t) for t in "bcd"] == [False] * 3
        assert calls == ["a"], "while open, nothing is tried"
        clock.now = 2.0
        assert breaker.call(publish, "e") is False, "the half-open trial fails"
        assert breaker.state == "open"
        clock.now = 5.9
        assert breaker.call(publish, "f") is False and calls == ["a", "e"], "the cooldown doubled (4 s)"
        broker_up = True
        clock.now = 6.0
        assert breaker.call(publish, "g") is True and breaker.state == "closed"
        assert breaker.call(publish, "h") is True
    assert calls == ["a", "e", "g", "h"]
    changes = [r.getMessage().split(":")[0] for r in caplog.records]
    assert changes == [  # one line per change of state, none per skipped ticket
        "queue breaker open",
        "queue breaker half-open",
        "queue breaker open",
        "queue breaker half-open",
        "queue breaker closed",
    ]


@pytest.fixture
def agency_sim() -> Iterator[RunningServer]:
    with run_in_thread(create_agency_simulator()) as server:
        yield server


def _post_all(hub: RunningHub, numbers: range, threads: int = 4) -> tuple[list[int], float]:
    """POST a fresh document per number from `threads` clients; the statuses and the wall time."""

    def post(number: int) -> int:
        return hub.post(fresh_document(number), as_=AGENCY).status_code

    began = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        statuses = list(pool.map(post, numbers))
    return statuses, time.perf_counter() - began


def test_intake_keeps_half_its_rate_through_a_broker_outage_and_the_sweeper_catches_up(
    agency_sim: RunningServer, tmp_path: Path, amqp_vhost: BrokerVhost, caplog: pytest.LogCaptureFixture
) -> None:
    from hub.queue.amqp import AmqpWorkQueue

    prefix = f"lt-test-{uuid.uuid4().hex[:8]}"
    config = make_config(tmp_path / "config", webhook_base=agency_sim.base_url)
    settings: dict[str, object] = {
        "queue_url": amqp_vhost.url,
        "queue_prefix": prefix,
        "workers": 2,
        "sweep_interval_seconds": 0.5,
    }
    base = uuid.uuid4().int % 10**5 * 10
    count = 60
    try:
        with running_hub(tmp_path, config_dir=config, **settings) as hub:
            hub.post(fresh_document(base + 1), as_=AGENCY)  # warm: connections and caches
            normal, normal_s = _post_all(hub, range(base + 2, base + 2 + count))
            with caplog.at_level(logging.INFO, logger="hub.queue"), amqp_vhost.outage():
                first = hub.post(fresh_document(base + 100), as_=AGENCY)  # opens the breaker
                during, during_s = _post_all(hub, range(base + 101, base + 101 + count))
            assert first.status_code == 202 and set(normal) == set(during) == {202}
            normal_rate, outage_rate = count / normal_s, count / during_s
            assert outage_rate >= 0.5 * normal_rate, (normal_rate, outage_rate)
            opened = [r for r in caplog.records if r.getMessage().startswith("queue breaker open")]
            assert len(opened) == 1, "one log line when the breaker opens, none per document"

            wait_for(
                lambda: _delivered(hub) >= 2 * count + 2,
                timeout=60,
                what="the sweeper to republish what the outage left without a ticket",
            )
            assert hub.app.state.runtime.engine.breaker.state == "closed"
    finally:
        queue = AmqpWorkQueue(amqp_vhost.url, prefix=prefix)
        queue.delete_topology()
        queue.close()


def _delivered(hub: RunningHub) -> int:
    ledger = hub.app.state.runtime.hub.ledger
    return len(ledger.list_deliveries(state="delivered", recipient=WEBHOOK_AGENCY, limit=1000))
