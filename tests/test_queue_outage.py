"""A broker outage costs intake little: the publish circuit breaker (hub/queue/breaker.py).

The outage is simulated on the test's own vhost (its user's permissions revoked, its connections
closed): the shared RabbitMQ is never stopped.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from adapters.agency.simulator import create_app as create_agency_simulator
from hub.queue import QueueUnavailable, Ticket
from hub.queue.breaker import PublishBreaker
from hub.queue.publisher import TicketPublisher
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


class SlowBroker:
    """The publishing side of a work queue whose confirms wait on a gate (a slow or stuck broker)."""

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.entered = threading.Event()
        self.up = True
        self.batches: list[list[str]] = []

    def publish_together(self, tickets: Sequence[Ticket]) -> None:  # what intake's publisher calls
        self.entered.set()
        self.gate.wait(30)
        if not self.up:
            raise QueueUnavailable("no broker")
        self.batches.append([t.delivery_id for t in tickets])


def _tickets(tag: str, n: int) -> list[Ticket]:
    return [Ticket(f"{tag}-{i}", f"m-{i}", "agency") for i in range(n)]


def test_intake_hands_tickets_over_without_waiting_and_what_gathers_goes_out_together() -> None:
    broker = SlowBroker()
    publisher = TicketPublisher(broker, PublishBreaker())
    publisher.submit(_tickets("first", 1))
    assert broker.entered.wait(10), "the publisher's thread is in publish, waiting for the confirm"
    for ticket in _tickets("during", 50):
        publisher.submit([ticket])  # returns although the broker has not confirmed anything
    assert broker.batches == [] and not publisher.flush(0.05)
    broker.gate.set()
    assert publisher.flush(10)
    assert broker.batches == [["first-0"], [f"during-{i}" for i in range(50)]]
    assert publisher.published == 51 and publisher.left_to_sweeper == 0
    publisher.close()


def test_tickets_arriving_one_by_one_wait_for_each_other_and_share_a_publish() -> None:
    """RabbitMQ's work is per message: the publisher lingers after a ticket so that the next ones
    go in the same call (and the same messages), instead of one publish per request."""
    broker = SlowBroker()
    broker.gate.set()
    publisher = TicketPublisher(broker, PublishBreaker(), linger=0.5)
    for ticket in _tickets("req", 5):  # five requests, 20 ms apart
        publisher.submit([ticket])
        time.sleep(0.02)
    assert publisher.flush(10)
    assert broker.batches == [[f"req-{i}" for i in range(5)]]
    publisher.close()


def test_the_publisher_leaves_to_the_sweeper_what_the_broker_does_not_take(
    caplog: pytest.LogCaptureFixture,
) -> None:
    broker = SlowBroker()
    broker.gate.set()
    broker.up = False
    breaker = PublishBreaker(cooldown=60)
    publisher = TicketPublisher(broker, breaker, max_pending=10)
    with caplog.at_level(logging.INFO, logger="hub.queue"):
        publisher.submit(_tickets("a", 3))
        assert publisher.flush(10)
        assert breaker.state == "open"
        publisher.submit(_tickets("b", 4))  # skipped while the breaker is open: no publish tried
        assert publisher.flush(10)
    assert broker.batches == [] and publisher.published == 0 and publisher.left_to_sweeper == 7
    opened = [r for r in caplog.records if r.getMessage().startswith("queue breaker open")]
    assert len(opened) == 1

    # Memory stays bounded while the broker is stuck: beyond max_pending, tickets go to the sweeper.
    stuck = SlowBroker()
    full = TicketPublisher(stuck, PublishBreaker(), max_pending=10)
    full.submit(_tickets("in-flight", 1))
    assert stuck.entered.wait(10)
    with caplog.at_level(logging.WARNING, logger="hub.queue"):
        caplog.clear()
        full.submit(_tickets("c", 8))
        full.submit(_tickets("d", 8))  # 2 fit
        full.submit(_tickets("e", 1))  # none fits
    assert full.left_to_sweeper == 7
    assert len([r for r in caplog.records if "ticket publisher full" in r.getMessage()]) == 1
    # Closing publishes what is pending (the broker answers again), then later tickets are refused.
    stuck.gate.set()
    full.close(10)
    assert stuck.batches == [["in-flight-0"], [*(f"c-{i}" for i in range(8)), "d-0", "d-1"]]
    full.submit(_tickets("late", 2))
    assert full.left_to_sweeper == 9 and full.published == 11


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
                # tickets go out from a background thread: on a busy machine its failed publish (and
                # the breaker's line) may come after the last 202, so wait for it within the outage
                wait_for(
                    lambda: any(r.getMessage().startswith("queue breaker open") for r in caplog.records),
                    timeout=30,
                    what="the ticket publisher to meet the outage and open the breaker",
                )
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
