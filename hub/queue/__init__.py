"""Work distribution for delivery workers.

The ledger's deliveries are the truth; a queue only tells workers which delivery to attempt. Two
kinds exist:

- embedded (default): no broker; workers claim due deliveries straight from the ledger (see
  :mod:`hub.delivery`), so a ``kill -9`` loses nothing — leases of a dead worker expire.
- AMQP (RabbitMQ through kombu, :mod:`hub.queue.amqp`): persistent tickets with publisher
  confirms, manual acknowledgement after the outcome is recorded, delayed retries, and a
  dead-letter exchange. A sweeper republishes any due delivery whose ticket went missing.

A ticket may arrive twice (at-least-once): the worker's claim in the ledger drops duplicates.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from threading import Event
from typing import Protocol


@dataclass(frozen=True)
class Ticket:
    """Attempt this delivery (the ledger says whether it is still due)."""

    delivery_id: str
    message_id: str
    adapter: str
    attempt: int = 0


class QueueUnavailable(RuntimeError):
    """The broker could not take or confirm a publish; the ledger's sweeper will catch up."""


class WorkQueue(Protocol):
    def publish(self, tickets: Sequence[Ticket]) -> None:
        """Durably enqueue tickets; returns only after the broker confirmed them."""
        ...

    def publish_together(self, tickets: Sequence[Ticket]) -> None:
        """As :meth:`publish`, but several tickets may share one broker message (cheaper for the
        broker); a consumer hands them to its handlers as :meth:`consume` says."""
        ...

    def publish_retry(self, ticket: Ticket, delay_seconds: float) -> None:
        """Enqueue a ticket that becomes visible to workers after about `delay_seconds`."""
        ...

    def publish_dead(self, ticket: Ticket, reason: str) -> None:
        """Publish a dead delivery to the dead-letter exchange (for operators and monitoring)."""
        ...

    def consume(
        self,
        handle: Callable[[Ticket], None],
        *,
        stop: Event,
        prefetch: int = 8,
        handle_many: Callable[[Sequence[Ticket]], Sequence[Ticket]] | None = None,
    ) -> None:
        """Call `handle` for each ticket until `stop` is set; ack after `handle` returns, requeue
        if it raises. With `handle_many`, the tickets of a message carrying several are given to it
        together; it returns those that failed (they go on alone) and raising fails them all.
        Reconnects when the broker goes away and comes back."""
        ...

    def depth(self) -> int:
        """Tickets waiting (ready) in the main queue."""
        ...

    def close(self) -> None: ...
