"""RabbitMQ work queue through kombu: persistent, confirmed tickets; delayed retries; dead letters.

Topology, every name under one prefix (``lienthong`` by default)::

    <prefix>.tickets   direct exchange
      ├─ "ticket"  → <prefix>.tickets   main queue (workers consume here)
      └─ "wait.Ns" → <prefix>.wait.Ns   retry buckets: x-message-ttl, then dead-lettered back
                                          to <prefix>.tickets with routing key "ticket"
    <prefix>.dead      fanout exchange → <prefix>.dead queue
                       (publish_dead, poison bodies, tickets past the delivery limit)

All queues are durable quorum queues; all messages are persistent and publisher-confirmed (a batch's
confirms awaited together). A message carries one ticket (a JSON object) or, published with
``publish_together``, up to :data:`TICKETS_PER_MESSAGE` of them (a JSON array): the broker's work is
per message (its quorum log, its confirm), so intake's tickets travel several to a message.
See docs/queue.md for the reasons.
"""

from __future__ import annotations

import json
import logging
import queue as stdqueue
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict
from threading import Event
from typing import Any

import amqp
from amqp.exceptions import MessageNacked
from kombu import Connection, Consumer, Exchange, Queue
from kombu.exceptions import OperationalError
from kombu.message import Message

from hub.queue import QueueUnavailable, Ticket

log = logging.getLogger(__name__)

#: Retry buckets (seconds): a retry waits in the smallest bucket ≥ its delay, capped at the largest.
RETRY_BUCKETS: tuple[int, ...] = (1, 5, 30, 120, 600, 3600)
#: A ticket delivered this many times without an ack (handler raised, consumer died) is dead-lettered.
DELIVERY_LIMIT = 20
MAIN_KEY = "ticket"
DELIVERY_HEADER = "x-lienthong-delivery-id"
TICKETS_HEADER = "x-lienthong-tickets"  # on a message carrying several tickets: how many
#: Tickets in one message at most (``publish_together``). A message's tickets are handled one after
#: another by the consumer that got it, so a small cap keeps a burst spread over the workers' threads.
TICKETS_PER_MESSAGE = 16
REASON_HEADER = "x-lienthong-reason"

_PUBLISH_ATTEMPTS = 3
_PUBLISH_BACKOFF = (0.2, 0.5)
_CONNECT_TIMEOUT = 3.0
_CONFIRM_TIMEOUT = 10.0
_DRAIN_TIMEOUT = 0.5
_RECONNECT_BACKOFF_MAX = 5.0


def bucket_for(delay_seconds: float) -> int:
    """The retry bucket (seconds) for a delay: the smallest ≥ it, capped at the largest."""
    for bucket in RETRY_BUCKETS:
        if delay_seconds <= bucket:
            return bucket
    return RETRY_BUCKETS[-1]


def _bucket_label(seconds: int) -> str:
    if seconds % 3600 == 0:
        return f"{seconds // 3600}h"
    if seconds % 60 == 0:
        return f"{seconds // 60}m"
    return f"{seconds}s"


def encode_ticket(ticket: Ticket) -> bytes:
    return json.dumps(asdict(ticket), separators=(",", ":"), sort_keys=True).encode()


def encode_tickets(tickets: Sequence[Ticket]) -> bytes:
    """The body of a message carrying several tickets: a JSON array of tickets."""
    return json.dumps([asdict(t) for t in tickets], separators=(",", ":"), sort_keys=True).encode()


def decode_ticket(body: bytes | str) -> Ticket:
    """Parse a message body; ValueError when it is not a ticket. Unknown keys are ignored."""
    return _ticket_of(_json_of(body))


def decode_tickets(body: bytes | str) -> list[Ticket]:
    """The tickets of a message body: one ticket (an object) or several (a non-empty array of them).
    ValueError when the body, or any ticket in it, is not one."""
    data = _json_of(body)
    if isinstance(data, list):
        if not data:
            raise ValueError("body is an empty array")
        return [_ticket_of(item) for item in data]
    return [_ticket_of(data)]


def _json_of(body: bytes | str) -> Any:
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValueError(f"body is not JSON: {exc}") from exc


def _ticket_of(data: Any) -> Ticket:
    if not isinstance(data, dict):
        raise ValueError("body is not a JSON object")
    fields: dict[str, Any] = {}
    for key in ("delivery_id", "message_id", "adapter"):
        value = data.get(key)
        if not isinstance(value, str) or not value:
            raise ValueError(f"{key!r} must be a non-empty string")
        fields[key] = value
    attempt = data.get("attempt", 0)
    if not isinstance(attempt, int) or isinstance(attempt, bool) or attempt < 0:
        raise ValueError("'attempt' must be a non-negative integer")
    return Ticket(attempt=attempt, **fields)


def _handle_all(
    tickets: Sequence[Ticket],
    handle: Callable[[Ticket], None],
    handle_many: Callable[[Sequence[Ticket]], Sequence[Ticket]] | None,
) -> list[Ticket]:
    """Hand a message's tickets to the handler(s); the tickets that failed."""
    if handle_many is not None and len(tickets) > 1:
        try:
            return list(handle_many(tickets))
        except Exception:
            log.exception("handler failed for %d deliveries of one message; requeued", len(tickets))
            return list(tickets)
    failed: list[Ticket] = []
    for ticket in tickets:
        try:
            handle(ticket)
        except Exception:
            log.exception("handler failed for delivery %s; requeued", ticket.delivery_id)
            failed.append(ticket)
    return failed


class _Topology:
    """The exchanges and queues of one prefix."""

    def __init__(self, prefix: str, delivery_limit: int) -> None:
        quorum = {"x-queue-type": "quorum"}
        self.exchange = Exchange(f"{prefix}.tickets", type="direct", durable=True)
        self.dead_exchange = Exchange(f"{prefix}.dead", type="fanout", durable=True)
        self.main = Queue(
            f"{prefix}.tickets",
            self.exchange,
            routing_key=MAIN_KEY,
            durable=True,
            queue_arguments={
                **quorum,
                "x-dead-letter-exchange": self.dead_exchange.name,
                "x-delivery-limit": delivery_limit,
            },
        )
        self.dead = Queue(
            f"{prefix}.dead", self.dead_exchange, routing_key="", durable=True, queue_arguments=dict(quorum)
        )
        self.waits: dict[int, Queue] = {}
        for seconds in RETRY_BUCKETS:
            label = _bucket_label(seconds)
            self.waits[seconds] = Queue(
                f"{prefix}.wait.{label}",
                self.exchange,
                routing_key=f"wait.{label}",
                durable=True,
                queue_arguments={
                    **quorum,
                    "x-message-ttl": seconds * 1000,
                    "x-dead-letter-exchange": self.exchange.name,
                    "x-dead-letter-routing-key": MAIN_KEY,
                },
            )

    @property
    def queues(self) -> list[Queue]:
        return [self.main, self.dead, *self.waits.values()]

    def declare(self, channel: Any) -> None:
        """Declare everything (idempotent): exchanges, queues and their bindings."""
        for q in self.queues:
            q.bind(channel).declare()


class _Publisher:
    """One connection and confirm-mode channel; used by one thread at a time (the pool guarantees it).

    A batch is published whole, then its confirms are awaited together (the broker acks several
    messages at once): one round trip per batch instead of one per message. py-amqp's channel is
    used directly; kombu's Producer waits for each confirm before the next publish.
    """

    def __init__(self, url: str, topology: _Topology) -> None:
        self._url = url
        self._topology = topology
        self._connection: Connection | None = None
        self._channel: Any = None
        self._published = 0  # delivery tags on this channel so far (they count from 1)
        self._unconfirmed: set[int] = set()
        self._nacked = False
        self._returned = False

    def _on_ack(self, delivery_tag: int, multiple: bool) -> None:
        if multiple:
            self._unconfirmed = {tag for tag in self._unconfirmed if tag > delivery_tag}
        else:
            self._unconfirmed.discard(delivery_tag)

    def _on_nack(self, delivery_tag: int, multiple: bool) -> None:
        self._nacked = True
        self._on_ack(delivery_tag, multiple)

    def _on_return(self, exc: Exception, exchange: str, routing_key: str, message: Any) -> None:
        self._returned = True
        log.warning("broker returned an unroutable ticket (%s/%s): %s", exchange, routing_key, exc)

    def _ready(self) -> Any:
        if self._channel is not None and self._connection is not None and self._connection.connected:
            return self._channel
        self.reset()
        connection = Connection(self._url, connect_timeout=_CONNECT_TIMEOUT, heartbeat=0)
        self._connection = connection
        connection.ensure_connection(max_retries=0)
        channel = connection.channel()
        self._topology.declare(channel)
        channel.confirm_select()
        channel.events["basic_ack"].add(self._on_ack)
        channel.events["basic_nack"].add(self._on_nack)
        channel.events["basic_return"].add(self._on_return)
        self._channel, self._published, self._unconfirmed = channel, 0, set()
        return channel

    def send(self, messages: Sequence[_Outgoing]) -> None:
        """Publish persistent messages and wait until the broker confirmed every one of them."""
        channel = self._ready()
        assert self._connection is not None
        self._nacked = self._returned = False
        for body, exchange, routing_key, headers, message_id in messages:
            message = amqp.Message(
                body,
                content_type="application/json",
                content_encoding="utf-8",
                application_headers=headers,
                delivery_mode=2,
                message_id=message_id,
            )
            channel.basic_publish(message, exchange=exchange.name, routing_key=routing_key, mandatory=True)
            self._published += 1
            self._unconfirmed.add(self._published)
        deadline = time.monotonic() + _CONFIRM_TIMEOUT
        while self._unconfirmed:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"RabbitMQ confirmed {len(messages) - len(self._unconfirmed)} of a batch")
            self._connection.drain_events(timeout=remaining)
        if self._nacked:
            raise MessageNacked()
        if self._returned:
            # The topology is gone (deleted by an operator?): declare it again on a new connection.
            self.reset()
            raise _Unroutable(f"{len(messages)} ticket(s)")

    def reset(self) -> None:
        connection, self._connection, self._channel = self._connection, None, None
        if connection is not None:
            try:
                connection.release()
            except Exception:  # the connection is already broken; nothing more to release
                log.debug("closing a broken publishing connection failed", exc_info=True)


#: One message to publish: body, exchange, routing key, headers, message id.
_Outgoing = tuple[bytes, Exchange, str, dict[str, Any], str]


class _Unroutable(Exception):
    """The broker returned a mandatory message: no queue was bound for it."""


class _Backoff:
    """Growing waits for reconnecting: 0.5, 1, 2, 4, 5, 5 … seconds."""

    def __init__(self) -> None:
        self._next = 0.5

    def reset(self) -> None:
        self._next = 0.5

    def next(self) -> float:
        value = self._next
        self._next = min(self._next * 2, _RECONNECT_BACKOFF_MAX)
        return value


class AmqpWorkQueue:
    """The RabbitMQ implementation of :class:`hub.queue.WorkQueue`.

    Publishing is thread-safe: each publishing thread borrows a connection from a small pool
    (``pool_size``), so concurrent publishers wait for their confirms in parallel.
    ``consume`` opens its own connection and may run in any thread. ``delivery_limit`` is a queue
    argument: every process sharing a prefix must use the same value (the broker refuses a
    redeclaration with another one).
    """

    def __init__(
        self, url: str, *, prefix: str = "lienthong", pool_size: int = 4, delivery_limit: int = DELIVERY_LIMIT
    ) -> None:
        self.url = url
        self.prefix = prefix
        self._topology = _Topology(prefix, delivery_limit)
        self._pool_size = pool_size
        self._idle: stdqueue.LifoQueue[_Publisher] = stdqueue.LifoQueue()
        self._all: list[_Publisher] = []
        self._lock = threading.Lock()
        probe = Connection(url)  # not connected: only asks the transport for its error classes
        self._publish_errors: tuple[type[BaseException], ...] = (
            OSError,
            OperationalError,
            MessageNacked,
            _Unroutable,
            *probe.connection_errors,
            *probe.channel_errors,
        )

    # -- publishing ---------------------------------------------------------------------------

    @contextmanager
    def _publisher(self) -> Iterator[_Publisher]:
        publisher: _Publisher | None = None
        try:
            publisher = self._idle.get_nowait()
        except stdqueue.Empty:
            with self._lock:
                if len(self._all) < self._pool_size:
                    publisher = _Publisher(self.url, self._topology)
                    self._all.append(publisher)
            if publisher is None:
                publisher = self._idle.get()
        try:
            yield publisher
        finally:
            with self._lock:
                pooled = publisher in self._all
            if pooled:
                self._idle.put(publisher)
            else:  # the queue was closed meanwhile
                publisher.reset()

    def _send_all(self, messages: Sequence[_Outgoing]) -> None:
        """Publish messages, confirmed; on a failure reconnect and publish them all again (a ticket
        may then arrive twice: the claim drops repeats), up to three attempts, then give up."""
        if not messages:
            return
        failures = 0
        with self._publisher() as publisher:
            while True:
                try:
                    publisher.send(messages)
                    return
                except self._publish_errors as exc:
                    publisher.reset()
                    failures += 1
                    if failures >= _PUBLISH_ATTEMPTS:
                        raise QueueUnavailable(
                            f"RabbitMQ did not confirm {len(messages)} ticket(s): {exc!r}"
                        ) from exc
                    log.warning("publishing to RabbitMQ failed (%r); retrying", exc)
                    Event().wait(_PUBLISH_BACKOFF[min(failures - 1, len(_PUBLISH_BACKOFF) - 1)])

    def _ticket_message(
        self, ticket: Ticket, exchange: Exchange, key: str, extra: dict[str, Any] | None = None
    ) -> _Outgoing:
        headers: dict[str, Any] = {DELIVERY_HEADER: ticket.delivery_id, **(extra or {})}
        return encode_ticket(ticket), exchange, key, headers, ticket.delivery_id

    def publish(self, tickets: Sequence[Ticket]) -> None:
        """Durably enqueue tickets; returns only after the broker confirmed every one."""
        topo = self._topology
        self._send_all([self._ticket_message(t, topo.exchange, MAIN_KEY) for t in tickets])

    def publish_together(self, tickets: Sequence[Ticket]) -> None:
        """Durably enqueue tickets up to :data:`TICKETS_PER_MESSAGE` to a message; returns only after
        the broker confirmed every message. A lone ticket goes as with :meth:`publish`."""
        topo = self._topology
        outgoing: list[_Outgoing] = []
        for start in range(0, len(tickets), TICKETS_PER_MESSAGE):
            chunk = tickets[start : start + TICKETS_PER_MESSAGE]
            if len(chunk) == 1:
                outgoing.append(self._ticket_message(chunk[0], topo.exchange, MAIN_KEY))
            else:
                headers: dict[str, Any] = {TICKETS_HEADER: len(chunk)}
                message_id = f"{chunk[0].delivery_id}+{len(chunk) - 1}"
                outgoing.append((encode_tickets(chunk), topo.exchange, MAIN_KEY, headers, message_id))
        self._send_all(outgoing)

    def publish_retry(self, ticket: Ticket, delay_seconds: float) -> None:
        """Park the ticket in a wait bucket; it returns to the main queue when its TTL expires.

        A delay of zero or less publishes straight to the main queue.
        """
        topo = self._topology
        if delay_seconds <= 0:
            self._send_all([self._ticket_message(ticket, topo.exchange, MAIN_KEY)])
            return
        wait = topo.waits[bucket_for(delay_seconds)]
        self._send_all([self._ticket_message(ticket, topo.exchange, wait.routing_key)])

    def publish_dead(self, ticket: Ticket, reason: str) -> None:
        """Publish a dead delivery to the dead-letter exchange, the reason in a header."""
        topo = self._topology
        self._send_all([self._ticket_message(ticket, topo.dead_exchange, "", {REASON_HEADER: reason})])

    # -- consuming ----------------------------------------------------------------------------

    def consume(
        self,
        handle: Callable[[Ticket], None],
        *,
        stop: Event,
        prefetch: int = 8,
        handle_many: Callable[[Sequence[Ticket]], Sequence[Ticket]] | None = None,
    ) -> None:
        """Call `handle` for each ticket until `stop` is set (returns within about half a second).

        Ack after `handle` returns; requeue when it raises; a body that is not a ticket is rejected
        without requeue (it goes to the dead-letter queue). The tickets of a message carrying several
        go to `handle_many` together when it is given (it returns the failed ones; raising fails them
        all), else to `handle` one after another; if some of them fail, those are published again one to a
        message (confirmed) and the message is acked — or, if that publish fails, the whole message is
        requeued (its other tickets then arrive again: the claim drops them). When the broker goes
        away, reconnect with backoff and go on.
        """
        backoff = _Backoff()
        failures = {"in_a_row": 0}

        def on_message(message: Message) -> None:
            try:
                tickets = decode_tickets(message.body)
            except ValueError as exc:
                log.error(
                    "poison message %s rejected to the dead-letter queue: %s",
                    message.properties.get("message_id"),
                    exc,
                )
                message.reject(requeue=False)
                return
            failed = _handle_all(tickets, handle, handle_many)
            if failed and len(failed) < len(tickets):
                try:  # the failed ones go on alone (each with its own delivery count); the rest is done
                    self.publish(failed)
                    failed = []
                except QueueUnavailable:
                    log.warning(
                        "could not republish %d failed ticket(s); the message is requeued", len(failed)
                    )
            if failed:
                message.requeue()
                failures["in_a_row"] += 1
                # A handler failing again and again usually means a sick dependency: slow down.
                stop.wait(min(0.05 * failures["in_a_row"], 1.0))
                return
            failures["in_a_row"] = 0
            message.ack()

        while not stop.is_set():
            connection = Connection(self.url, connect_timeout=_CONNECT_TIMEOUT, heartbeat=0)
            errors = (OSError, OperationalError, *connection.connection_errors, *connection.channel_errors)
            try:
                connection.ensure_connection(max_retries=0)
                channel = connection.channel()
                self._topology.declare(channel)
                consumer = Consumer(
                    channel,
                    queues=[self._topology.main],
                    on_message=on_message,
                    prefetch_count=prefetch,
                    no_ack=False,
                    auto_declare=False,
                )
                consumer.consume()
                backoff.reset()
                while not stop.is_set():
                    try:
                        connection.drain_events(timeout=_DRAIN_TIMEOUT)
                    except TimeoutError:
                        continue
            except errors as exc:
                wait = backoff.next()
                log.warning("RabbitMQ consumer lost its connection (%r); reconnecting in %.1f s", exc, wait)
                stop.wait(wait)
            finally:
                try:
                    connection.release()
                except Exception:
                    log.debug("closing the consumer connection failed", exc_info=True)

    # -- inspection and housekeeping ----------------------------------------------------------

    @contextmanager
    def _channel(self) -> Iterator[Any]:
        try:
            with Connection(self.url, connect_timeout=_CONNECT_TIMEOUT, heartbeat=0) as connection:
                connection.ensure_connection(max_retries=0)
                channel = connection.channel()
                yield channel
        except (OSError, OperationalError) as exc:
            raise QueueUnavailable(f"RabbitMQ is unreachable: {exc!r}") from exc

    def _count(self, q: Queue) -> int:
        with self._channel() as channel:
            self._topology.declare(channel)
            return int(channel.queue_declare(queue=q.name, passive=True).message_count)

    def depth(self) -> int:
        """Tickets ready in the main queue (not the unacknowledged ones, not the waiting retries)."""
        return self._count(self._topology.main)

    def dead_depth(self) -> int:
        """Messages in the dead-letter queue."""
        return self._count(self._topology.dead)

    def waiting(self) -> int:
        """Tickets parked in the retry buckets."""
        return sum(self._count(q) for q in self._topology.waits.values())

    def purge_all(self) -> None:
        """Drop every message of this prefix (tests and benchmarks only)."""
        with self._channel() as channel:
            self._topology.declare(channel)
            for q in self._topology.queues:
                channel.queue_purge(q.name)

    def delete_topology(self) -> None:
        """Delete this prefix's queues and exchanges (test clean-up)."""
        self.close()
        with self._channel() as channel:
            for q in self._topology.queues:
                channel.queue_delete(q.name)
            for exchange in (self._topology.exchange, self._topology.dead_exchange):
                channel.exchange_delete(exchange.name)

    def close(self) -> None:
        """Close the publishing connections (a running `consume` stops with its `stop` event)."""
        with self._lock:
            publishers, self._all = self._all, []
        for publisher in publishers:
            publisher.reset()
        # Closed publishers reconnect lazily if the queue is used again.
        while True:
            try:
                self._idle.get_nowait()
            except stdqueue.Empty:
                break
