"""Intake's tickets published off the request's thread, in batches.

A 202 means the message and its deliveries are committed in the ledger; the ticket only tells a
worker to look now. So a request need not wait for RabbitMQ's confirm: it hands its tickets to this
publisher and returns. One thread takes whatever has gathered meanwhile — waiting up to
:data:`LINGER_SECONDS` after the first ticket for more — and publishes it as one confirmed batch,
several tickets to a broker message (``WorkQueue.publish_together``; hub.queue.amqp awaits a batch's
confirms together) through the circuit breaker. RabbitMQ's work is per message, so the wait makes the
messages fuller: it delays a delivery's start by that much at most, never the 202.
A ticket that is never published — the breaker open, the broker failing, the process killed before
the thread got to it — is republished by the sweeper (hub.delivery) once its delivery is overdue, as
before; only the delay of such a delivery changes, never whether it happens.

Measured in bench/FINDINGS.md ("Scaled out: …"): the API process spent a confirmed round trip per
message in the request's thread.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence

from hub.queue import Ticket, WorkQueue
from hub.queue.breaker import PublishBreaker

log = logging.getLogger("hub.queue")

#: Tickets published in one confirmed batch at most.
MAX_BATCH = 500
#: How long the thread waits after a ticket arrives for more to share its messages (seconds).
LINGER_SECONDS = 0.05
#: Tickets waiting at most; beyond it new ones are left to the sweeper (memory stays bounded while
#: the broker is slow; while it is away the breaker skips them anyway).
MAX_PENDING = 50_000


class TicketPublisher:
    """Publishes tickets handed to :meth:`submit` from one background thread (started on first use)."""

    def __init__(
        self,
        queue: WorkQueue,
        breaker: PublishBreaker,
        *,
        max_batch: int = MAX_BATCH,
        max_pending: int = MAX_PENDING,
        linger: float = LINGER_SECONDS,
    ) -> None:
        self._queue = queue
        self._breaker = breaker
        self._max_batch = max_batch
        self._max_pending = max_pending
        self._linger = linger
        self._cond = threading.Condition()
        self._pending: list[Ticket] = []
        self._busy = False  # a batch is being published
        self._closed = False
        self._full = False
        self._thread: threading.Thread | None = None
        self.published = 0  # tickets the broker confirmed
        self.left_to_sweeper = 0  # tickets not published (breaker open, failure, overflow)
        self.batches = 0

    def submit(self, tickets: Sequence[Ticket]) -> None:
        """Queue tickets for publishing; never blocks on the broker."""
        if not tickets:
            return
        with self._cond:
            if self._closed:
                self.left_to_sweeper += len(tickets)
                return
            room = max(0, self._max_pending - len(self._pending))
            if room < len(tickets):
                if not self._full:  # one line when it fills up, none per ticket
                    log.warning(
                        "ticket publisher full (%d waiting): the sweeper catches up", len(self._pending)
                    )
                self._full = True
                self.left_to_sweeper += len(tickets) - room
                tickets = tickets[:room]
            else:
                self._full = False
            self._pending.extend(tickets)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="ticket-publisher", daemon=True)
                self._thread.start()
            self._cond.notify_all()  # the thread, not only a flush() waiting on the same condition

    def _take(self) -> list[Ticket]:
        batch, self._pending = self._pending[: self._max_batch], self._pending[self._max_batch :]
        return batch

    def _publish(self, batch: list[Ticket]) -> None:
        try:
            published = self._breaker.call(self._queue.publish_together, batch)
        except Exception:  # not QueueUnavailable (the breaker absorbs that): a bug; the sweeper covers it
            log.exception("publishing %d tickets failed", len(batch))
            published = False
        with self._cond:
            self.batches += 1
            if published:
                self.published += len(batch)
            else:
                self.left_to_sweeper += len(batch)

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._pending and not self._closed:
                    self._cond.wait()
                if not self._pending:  # closed and nothing left
                    return
                deadline = time.monotonic() + self._linger
                while (
                    not self._closed
                    and len(self._pending) < self._max_batch
                    and (left := deadline - time.monotonic()) > 0
                ):
                    self._cond.wait(left)
                batch = self._take()
                self._busy = True
            try:
                self._publish(batch)
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until everything submitted so far was published or given up; False on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._pending and not self._busy, timeout)

    def close(self, timeout: float = 5.0) -> None:
        """Publish what is pending (within `timeout`), then stop the thread. Later submits are left
        to the sweeper."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
            thread = self._thread
        if thread is not None:
            thread.join(timeout)
