"""The RabbitMQ work queue against the real broker: round trips, requeue, poison, kill -9 of a
consumer, delayed retries, a broker restart, and an unreachable broker."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest
from kombu import Connection, Exchange, Producer

from hub.queue import QueueUnavailable, Ticket
from hub.queue.amqp import (
    DELIVERY_HEADER,
    REASON_HEADER,
    TICKETS_HEADER,
    TICKETS_PER_MESSAGE,
    AmqpWorkQueue,
    bucket_for,
    decode_ticket,
    decode_tickets,
)
from hub.queue.breaker import PublishBreaker
from hub.queue.publisher import TicketPublisher
from hub.servers import free_port
from tests.conftest import BrokerVhost

pytestmark = pytest.mark.rabbitmq

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def make_queue(amqp_url: str) -> Iterator[Callable[..., AmqpWorkQueue]]:
    """Queues under a prefix unique to the test; their topology is deleted afterwards."""
    prefix = f"t-{uuid.uuid4().hex[:10]}"
    made: list[AmqpWorkQueue] = []

    def make(**kwargs: object) -> AmqpWorkQueue:
        q = AmqpWorkQueue(amqp_url, prefix=prefix, **kwargs)  # type: ignore[arg-type]
        made.append(q)
        return q

    yield make
    for q in made:
        q.close()
    if made:
        made[0].delete_topology()


def tickets(n: int, tag: str = "d") -> list[Ticket]:
    return [Ticket(delivery_id=f"{tag}-{i}", message_id=f"m-{i}", adapter="agency") for i in range(n)]


class Collector:
    """Runs `consume` in a thread and records what the handler saw."""

    def __init__(
        self, q: AmqpWorkQueue, *, prefetch: int = 8, before: Callable[[Ticket], None] | None = None
    ) -> None:
        self.q = q
        self.seen: list[Ticket] = []
        self.stop = threading.Event()
        self._changed = threading.Condition()
        self._before = before
        self.thread = threading.Thread(
            target=q.consume,
            args=(self._handle,),
            kwargs={"stop": self.stop, "prefetch": prefetch},
            daemon=True,
        )

    def _handle(self, ticket: Ticket) -> None:
        if self._before is not None:
            self._before(ticket)
        with self._changed:
            self.seen.append(ticket)
            self._changed.notify_all()

    def ids(self) -> set[str]:
        with self._changed:
            return {t.delivery_id for t in self.seen}

    def wait_for(self, wanted: set[str], timeout: float = 30.0) -> set[str]:
        deadline = time.monotonic() + timeout
        with self._changed:
            while not wanted <= {t.delivery_id for t in self.seen}:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._changed.wait(left)
            return {t.delivery_id for t in self.seen}

    def __enter__(self) -> Collector:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(timeout=15)
        assert not self.thread.is_alive(), "consume did not return after stop was set"


def raw_get(amqp_url: str, queue_name: str) -> object:
    """One message straight from a queue (basic.get, acked), or None."""
    with Connection(amqp_url) as conn:
        channel = conn.channel()
        message = channel.basic_get(queue_name, no_ack=True)
        if message is None:
            return None
        return channel.message_to_python(message)


def eventually(check: Callable[[], bool], timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.1)
    return check()


# -- pure parts ---------------------------------------------------------------------------------


def test_bucket_choice() -> None:
    assert bucket_for(0.2) == 1
    assert bucket_for(1) == 1
    assert bucket_for(1.5) == 5
    assert bucket_for(7) == 30
    assert bucket_for(121) == 600
    assert bucket_for(86_400) == 3600


def test_decode_ticket_refuses_non_tickets() -> None:
    good = decode_ticket(b'{"delivery_id":"d","message_id":"m","adapter":"a","attempt":2,"new":1}')
    assert good == Ticket("d", "m", "a", 2)
    for body in (
        b"not json",
        b"[1]",
        b'{"delivery_id":"d"}',
        b"\xff\xfe",
        b'{"delivery_id":"d","message_id":"m","adapter":"a","attempt":-1}',
        b'{"delivery_id":"d","message_id":"m","adapter":"a","attempt":true}',
    ):
        with pytest.raises(ValueError):
            decode_ticket(body)


def test_decode_tickets_reads_one_or_several_and_refuses_the_rest() -> None:
    one = b'{"delivery_id":"d","message_id":"m","adapter":"a"}'
    assert decode_tickets(one) == [Ticket("d", "m", "a")]
    several = (
        b'[{"delivery_id":"d1","message_id":"m","adapter":"a"},'
        b'{"delivery_id":"d2","message_id":"m","adapter":"b","attempt":1}]'
    )
    assert decode_tickets(several) == [Ticket("d1", "m", "a"), Ticket("d2", "m", "b", 1)]
    for body in (
        b"[]",
        b'[{"delivery_id":"d1","message_id":"m","adapter":"a"},{"delivery_id":"d2"}]',
        b"[1]",
    ):
        with pytest.raises(ValueError):
            decode_tickets(body)
    with pytest.raises(ValueError):
        decode_ticket(several)  # one ticket expected


# -- against the broker -------------------------------------------------------------------------


def test_message_is_persistent_with_ids(make_queue: Callable[..., AmqpWorkQueue], amqp_url: str) -> None:
    q = make_queue()
    ticket = Ticket("dlv-1", "msg-1", "gov-axis", attempt=3)
    q.publish([ticket])
    assert q.depth() == 1
    message = raw_get(amqp_url, f"{q.prefix}.tickets")
    assert message is not None
    assert message.properties["delivery_mode"] == 2  # type: ignore[attr-defined]
    assert message.properties["message_id"] == "dlv-1"  # type: ignore[attr-defined]
    assert message.headers[DELIVERY_HEADER] == "dlv-1"  # type: ignore[attr-defined]
    assert message.content_type == "application/json"  # type: ignore[attr-defined]
    assert decode_ticket(message.body) == ticket  # type: ignore[attr-defined]


def test_round_trip_from_many_threads_loses_nothing(make_queue: Callable[..., AmqpWorkQueue]) -> None:
    q = make_queue(pool_size=3)
    batches = [tickets(25, tag=f"b{k}") for k in range(8)]
    errors: list[BaseException] = []

    def publish(batch: list[Ticket]) -> None:
        try:
            q.publish(batch)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=publish, args=(b,)) for b in batches]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert q.depth() == 200
    wanted = {t.delivery_id for b in batches for t in b}
    with Collector(q) as c:
        got = c.wait_for(wanted)
    assert got == wanted
    assert {t.delivery_id: t for t in c.seen}["b3-7"] == Ticket("b3-7", "m-7", "agency", 0)
    assert q.depth() == 0


def test_a_large_batch_is_confirmed_whole_and_the_channel_goes_on(
    make_queue: Callable[..., AmqpWorkQueue],
) -> None:
    """A batch's confirms are awaited together (the broker acks several at once): all of it is there
    when publish returns, and the next batch on the same channel is confirmed as well."""
    q = make_queue(pool_size=1)
    big, more = tickets(1000, tag="big"), tickets(3, tag="more")
    q.publish(big)
    assert q.depth() == 1000
    q.publish(more)
    assert q.depth() == 1003
    wanted = {t.delivery_id for t in big + more}
    with Collector(q) as c:
        assert c.wait_for(wanted) == wanted


def test_a_deleted_queue_is_declared_again_and_the_returned_batch_republished(
    make_queue: Callable[..., AmqpWorkQueue], amqp_url: str
) -> None:
    q = make_queue()
    q.publish(tickets(2, tag="first"))
    with Connection(amqp_url) as conn:  # an operator deletes the main queue: tickets become unroutable
        conn.channel().queue_delete(f"{q.prefix}.tickets")
    q.publish(tickets(5, tag="after"))  # returned by the broker, then published again on a new connection
    assert q.depth() == 5


def test_the_background_publisher_gets_every_ticket_to_the_broker_in_batches(
    make_queue: Callable[..., AmqpWorkQueue],
) -> None:
    q = make_queue()
    publisher = TicketPublisher(q, PublishBreaker())
    sent = [Ticket(f"bg-{i}", f"m-{i}", "agency") for i in range(300)]
    for ticket in sent:  # as 300 requests would, one ticket each
        publisher.submit([ticket])
    assert publisher.flush(30)
    assert publisher.published == 300 and publisher.left_to_sweeper == 0
    assert publisher.batches < 300, "tickets that gathered meanwhile go out together"
    assert q.depth() < 300 // 2, "several tickets to a message"
    publisher.close()
    wanted = {t.delivery_id for t in sent}
    with Collector(q) as c:
        assert c.wait_for(wanted) == wanted
    assert len(c.seen) == 300


def test_tickets_published_together_share_messages_and_each_is_handled_once(
    make_queue: Callable[..., AmqpWorkQueue], amqp_url: str
) -> None:
    q = make_queue()
    sent = tickets(2 * TICKETS_PER_MESSAGE + 3, tag="tog")
    q.publish_together(sent)
    assert q.depth() == 3
    message = raw_get(amqp_url, f"{q.prefix}.tickets")
    assert message is not None
    assert message.properties["delivery_mode"] == 2  # type: ignore[attr-defined]
    assert message.headers[TICKETS_HEADER] == TICKETS_PER_MESSAGE  # type: ignore[attr-defined]
    assert decode_tickets(message.body) == sent[:TICKETS_PER_MESSAGE]  # type: ignore[attr-defined]
    with Collector(q) as c:
        rest = {t.delivery_id for t in sent[TICKETS_PER_MESSAGE:]}
        assert c.wait_for(rest) == rest
    assert sorted(t.delivery_id for t in c.seen) == sorted(rest)
    assert q.depth() == 0
    q.publish_together(sent[:1])  # a lone ticket: a message as `publish` makes it
    lone = raw_get(amqp_url, f"{q.prefix}.tickets")
    assert lone is not None and lone.headers[DELIVERY_HEADER] == "tog-0"  # type: ignore[attr-defined]
    assert decode_ticket(lone.body) == sent[0]  # type: ignore[attr-defined]


def test_a_failed_ticket_of_a_shared_message_goes_on_alone(make_queue: Callable[..., AmqpWorkQueue]) -> None:
    """The others are acked with the message; only the failed one is published again, alone."""
    q = make_queue()
    failed: list[str] = []

    def fail_once(ticket: Ticket) -> None:
        if ticket.delivery_id == "d-1" and not failed:
            failed.append(ticket.delivery_id)
            raise RuntimeError("ledger hiccup")

    q.publish_together(tickets(3))
    with Collector(q, before=fail_once) as c:
        assert c.wait_for({"d-0", "d-1", "d-2"}) == {"d-0", "d-1", "d-2"}
        assert eventually(lambda: q.depth() == 0)
    assert sorted(t.delivery_id for t in c.seen) == ["d-0", "d-1", "d-2"]
    assert failed == ["d-1"]
    assert q.dead_depth() == 0


def test_a_shared_message_failing_whole_is_requeued_then_dead_lettered(
    make_queue: Callable[..., AmqpWorkQueue], amqp_url: str
) -> None:
    q = make_queue(delivery_limit=2)
    calls: list[str] = []

    def always_fail(ticket: Ticket) -> None:
        calls.append(ticket.delivery_id)
        raise RuntimeError("the ledger is away")

    q.publish_together(tickets(2, tag="cursed"))
    with Collector(q, before=always_fail):
        assert eventually(lambda: q.dead_depth() == 1)
    assert sorted(calls) == sorted(["cursed-0", "cursed-1"] * 3)  # the first delivery and two requeues
    assert q.depth() == 0
    dead = raw_get(amqp_url, f"{q.prefix}.dead")
    assert dead is not None
    assert decode_tickets(dead.body) == tickets(2, tag="cursed")  # type: ignore[attr-defined]


def test_a_shared_message_goes_to_handle_many_together_and_its_failed_ticket_on_alone(
    make_queue: Callable[..., AmqpWorkQueue],
) -> None:
    """With `handle_many`, a packed message's tickets are handed over in one call (the worker claims
    them together); what it returns as failed comes back alone, to `handle`; raising fails them all
    (the message is requeued and handed over together again)."""
    q = make_queue()
    lock = threading.Lock()
    together: list[list[str]] = []
    alone: list[str] = []

    def handle(ticket: Ticket) -> None:
        with lock:
            alone.append(ticket.delivery_id)

    def handle_many(batch: Sequence[Ticket]) -> list[Ticket]:
        with lock:
            together.append([t.delivery_id for t in batch])
            first = len(together) == 1
        if first:
            raise RuntimeError("the ledger is away for a moment")
        return [t for t in batch if t.delivery_id == "d-1"] if len(together) == 2 else []

    q.publish_together(tickets(3))
    stop = threading.Event()
    thread = threading.Thread(
        target=q.consume, args=(handle,), kwargs={"stop": stop, "handle_many": handle_many}, daemon=True
    )
    thread.start()
    try:
        assert eventually(lambda: alone == ["d-1"] and q.depth() == 0)
    finally:
        stop.set()
        thread.join(15)
    assert together == [["d-0", "d-1", "d-2"]] * 2, "requeued whole, then handed over together again"
    assert alone == ["d-1"]
    assert q.dead_depth() == 0


def test_handler_failure_requeues(make_queue: Callable[..., AmqpWorkQueue]) -> None:
    q = make_queue()
    failed: list[str] = []

    def fail_once(ticket: Ticket) -> None:
        if ticket.delivery_id not in failed:
            failed.append(ticket.delivery_id)
            raise RuntimeError("ledger hiccup")

    q.publish(tickets(3))
    with Collector(q, before=fail_once) as c:
        got = c.wait_for({"d-0", "d-1", "d-2"})
    assert got == {"d-0", "d-1", "d-2"}
    assert sorted(failed) == ["d-0", "d-1", "d-2"]
    assert q.depth() == 0
    assert q.dead_depth() == 0


def test_ticket_failing_forever_is_dead_lettered_at_the_delivery_limit(
    make_queue: Callable[..., AmqpWorkQueue], amqp_url: str
) -> None:
    q = make_queue(delivery_limit=2)
    calls: list[str] = []

    def always_fail(ticket: Ticket) -> None:
        calls.append(ticket.delivery_id)
        raise RuntimeError("crashes the worker every time")

    q.publish(tickets(1, tag="cursed"))
    with Collector(q, before=always_fail):
        assert eventually(lambda: q.dead_depth() == 1)
    assert len(calls) == 3  # the first delivery and two requeues
    assert set(calls) == {"cursed-0"}
    assert q.depth() == 0
    dead = raw_get(amqp_url, f"{q.prefix}.dead")
    assert dead is not None
    assert decode_ticket(dead.body) == tickets(1, tag="cursed")[0]  # type: ignore[attr-defined]


def test_poison_body_goes_to_dead_letters(make_queue: Callable[..., AmqpWorkQueue], amqp_url: str) -> None:
    q = make_queue()
    q.depth()  # declares the topology
    with Connection(amqp_url) as conn:
        Producer(conn.channel()).publish(
            b"{not a ticket",
            exchange=Exchange(f"{q.prefix}.tickets", type="direct"),
            routing_key="ticket",
            content_type="application/json",
            content_encoding="utf-8",
            delivery_mode=2,
        )
    q.publish(tickets(1, tag="good"))
    with Collector(q) as c:
        c.wait_for({"good-0"})
        assert eventually(lambda: q.dead_depth() == 1)
    assert c.ids() == {"good-0"}
    dead = raw_get(amqp_url, f"{q.prefix}.dead")
    assert dead is not None
    body = dead.body  # type: ignore[attr-defined]
    assert (body.encode() if isinstance(body, str) else body) == b"{not a ticket"
    assert q.depth() == 0


def test_publish_dead_carries_reason(make_queue: Callable[..., AmqpWorkQueue], amqp_url: str) -> None:
    q = make_queue()
    q.publish_dead(Ticket("dlv-9", "msg-9", "vnpost", attempt=7), "permanent: unknown recipient")
    assert q.dead_depth() == 1
    assert q.depth() == 0
    dead = raw_get(amqp_url, f"{q.prefix}.dead")
    assert dead is not None
    assert dead.headers[REASON_HEADER] == "permanent: unknown recipient"  # type: ignore[attr-defined]
    assert decode_ticket(dead.body) == Ticket("dlv-9", "msg-9", "vnpost", 7)  # type: ignore[attr-defined]


CHILD = textwrap.dedent(
    """
    import sys, threading, time
    from hub.queue.amqp import AmqpWorkQueue

    def handle(ticket):
        print(ticket.delivery_id, flush=True)
        time.sleep(3600)

    AmqpWorkQueue(sys.argv[1], prefix=sys.argv[2]).consume(handle, stop=threading.Event(), prefetch=5)
    """
)


def test_consumer_killed_holding_tickets_loses_nothing(
    make_queue: Callable[..., AmqpWorkQueue], amqp_url: str
) -> None:
    q = make_queue()
    all_ids = {t.delivery_id for t in tickets(20)}
    q.publish(tickets(20))
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, amqp_url, q.prefix],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        assert child.stdout is not None
        held = child.stdout.readline().strip()
        assert held in all_ids
        # The child holds `held` in its handler and more unacknowledged in its prefetch window.
        assert eventually(lambda: q.depth() == 15)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=10)
    with Collector(q) as c:
        got = c.wait_for(all_ids)
    assert got == all_ids
    assert held in got


def test_consumer_killed_holding_shared_messages_loses_nothing(
    make_queue: Callable[..., AmqpWorkQueue], amqp_url: str
) -> None:
    """Killed in the middle of a message's tickets: the whole message comes back (the claim in the
    ledger drops the ones already done)."""
    q = make_queue()
    sent = tickets(3 * TICKETS_PER_MESSAGE, tag="held")
    all_ids = {t.delivery_id for t in sent}
    q.publish_together(sent)
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, amqp_url, q.prefix],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        assert child.stdout is not None
        held = child.stdout.readline().strip()
        assert held in all_ids
        assert eventually(lambda: q.depth() == 0)  # all three messages unacknowledged in the child
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=10)
    with Collector(q) as c:
        got = c.wait_for(all_ids)
    assert got == all_ids
    assert held in got


def test_retry_arrives_after_its_delay(make_queue: Callable[..., AmqpWorkQueue], amqp_url: str) -> None:
    q = make_queue()
    published = time.monotonic()
    q.publish_retry(Ticket("late", "m", "bank.vnpay", attempt=1), 1.0)
    assert q.depth() == 0
    assert q.waiting() == 1
    arrived: list[float] = []
    with Collector(q, before=lambda t: arrived.append(time.monotonic())) as c:
        got = c.wait_for({"late"}, timeout=15)
    assert got == {"late"}
    assert arrived[0] - published >= 0.9
    assert c.seen[0] == Ticket("late", "m", "bank.vnpay", attempt=1)
    assert q.waiting() == 0


def test_retry_uses_the_right_bucket(make_queue: Callable[..., AmqpWorkQueue], amqp_url: str) -> None:
    q = make_queue()
    q.publish_retry(Ticket("later", "m", "vnpost"), 7)
    q.publish_retry(Ticket("much-later", "m", "vnpost"), 99_999)
    q.publish_retry(Ticket("now", "m", "vnpost"), 0)
    assert q.depth() == 1
    with Connection(amqp_url) as conn:
        channel = conn.channel()
        assert channel.queue_declare(f"{q.prefix}.wait.30s", passive=True).message_count == 1
        assert channel.queue_declare(f"{q.prefix}.wait.1h", passive=True).message_count == 1
        assert channel.queue_declare(f"{q.prefix}.wait.5s", passive=True).message_count == 0


def test_broker_outage_loses_nothing(amqp_vhost: BrokerVhost) -> None:
    """The broker goes away (for this test's own vhost) while a consumer holds a ticket unacked."""
    q = AmqpWorkQueue(amqp_vhost.url, prefix="outage")
    try:
        first = tickets(100, tag="before")
        q.publish(first)
        gate = threading.Event()
        # The consumer takes one ticket and blocks in its handler until the outage is over.
        with Collector(q, before=lambda t: gate.wait(120)) as c:
            try:
                assert eventually(lambda: q.depth() < 100)
                with amqp_vhost.outage(), pytest.raises(QueueUnavailable):
                    q.publish(tickets(1, tag="during"))
                # Everything queued, and everything the blocked consumer held unacknowledged, is back.
                assert eventually(lambda: q.depth() == 100, timeout=30)
            finally:
                gate.set()
            after = tickets(10, tag="after")
            q.publish(after)  # the pooled publishing connection was closed by the outage: it reconnects
            wanted = {t.delivery_id for t in first + after}
            got = c.wait_for(wanted, timeout=60)
        assert got == wanted
        assert q.depth() == 0
    finally:
        q.close()


def test_unreachable_broker() -> None:
    url = f"amqp://guest:guest@127.0.0.1:{free_port()}//"
    q = AmqpWorkQueue(url, prefix="nowhere")
    with pytest.raises(QueueUnavailable):
        q.publish(tickets(1))
    with pytest.raises(QueueUnavailable):
        q.publish_retry(tickets(1)[0], 5)
    with pytest.raises(QueueUnavailable):
        q.depth()
    # A consumer keeps trying to connect and still returns promptly once told to stop.
    stop = threading.Event()
    thread = threading.Thread(target=q.consume, args=(lambda t: None,), kwargs={"stop": stop})
    thread.start()
    time.sleep(0.5)
    assert thread.is_alive()
    stop.set()
    thread.join(timeout=15)
    assert not thread.is_alive()
    q.close()
