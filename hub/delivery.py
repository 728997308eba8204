"""The delivery engine: attempts queued deliveries through their adapters and records every outcome.

At-least-once, with the ledger as the truth:
- a worker claims a delivery in the ledger (state ``delivering`` under a lease), calls the adapter,
  records the outcome (``delivered``, ``retrying`` with the next attempt time, or ``dead``) and only
  then acknowledges the queue ticket, if there is one;
- a worker that dies mid-delivery leaves a ``delivering`` row whose lease expires; the delivery is
  claimed again (the peer drops the repeat by hub message id);
- embedded mode (no broker): workers claim due deliveries straight from the ledger;
- AMQP mode: tickets from RabbitMQ name the delivery to claim; retries go through delayed queues,
  dead deliveries to the dead-letter exchange; a sweeper republishes any due delivery whose ticket
  was lost (broker down at publish time, a crash between commit and publish).
"""

from __future__ import annotations

import logging
import os
import random
import socket
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

from hub.adapters import AdapterSet
from hub.context import HubContext
from hub.ledger import DeliveryRecord, Ledger, MessageRecord
from hub.ledger.work import INBOX_ADAPTER, AttemptMessage, Claim
from hub.logging import message_context
from hub.metrics import observe_delivery
from hub.problems import Problem
from hub.queue import QueueUnavailable, Ticket, WorkQueue
from hub.queue.breaker import PublishBreaker
from hub.queue.publisher import TicketPublisher
from hub.spi import (
    Delivered,
    DeliveryOutcome,
    DeliveryResult,
    OutboundMessage,
    PermanentFailure,
    Poller,
    RetryableFailure,
    RetryPolicy,
)

log = logging.getLogger("hub.delivery")


def backoff_seconds(policy: RetryPolicy, attempt: int, rng: random.Random | None = None) -> float:
    """Delay before the attempt after `attempt` (1-based): exponential, capped, with ± jitter."""
    base = min(
        policy.max_delay_seconds, policy.initial_delay_seconds * policy.multiplier ** max(0, attempt - 1)
    )
    spread = base * policy.jitter
    return max(0.0, base + (rng or random).uniform(-spread, spread))


def new_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class DeliveryEngine:
    def __init__(
        self,
        hub: HubContext,
        adapters: AdapterSet,
        queue: WorkQueue | None = None,
        *,
        worker_id: str | None = None,
    ) -> None:
        self.hub = hub
        self.adapters = adapters
        self.queue = queue
        self.worker_id = worker_id or new_worker_id()
        self._wake = threading.Event()
        self._threads: list[threading.Thread] = []
        self._pool: ThreadPoolExecutor | None = None  # embedded: the threads a claimed batch runs on
        self.threads = 0  # delivery threads started (embedded) or consumers (AMQP)
        self.breaker = PublishBreaker()  # AMQP: while the broker is away, publish nothing
        # AMQP: intake's tickets go out from a background thread in confirmed batches (hub.queue.publisher)
        self.tickets = TicketPublisher(queue, self.breaker) if queue is not None else None

    # -- intake side -------------------------------------------------------------------------------

    def enqueue(self, message: MessageRecord) -> None:
        """Called after a message is recorded: wake the embedded workers, or publish tickets."""
        self.enqueue_deliveries(message.deliveries)

    def enqueue_deliveries(self, deliveries: Sequence[DeliveryRecord]) -> None:
        """Make queued deliveries known to workers. AMQP: the tickets are handed to the background
        publisher and this returns at once (the deliveries are already committed in the ledger); one
        that is not published (broker away, process killed) is caught up by the sweeper."""
        if self.tickets is None:
            self._wake.set()
            return
        self.tickets.submit(
            [
                Ticket(delivery_id=d.id, message_id=d.message_id, adapter=d.adapter or "", attempt=d.attempts)
                for d in deliveries
                if d.adapter and d.adapter != INBOX_ADAPTER
            ]
        )

    def wake(self) -> None:
        """Embedded: wake the claimer now (another process recorded deliveries: `serve`'s pipe)."""
        self._wake.set()

    def stop_publishing(self, timeout: float = 5.0) -> None:
        """At shutdown: publish the tickets still waiting (within `timeout`), then stop the publisher."""
        if self.tickets is not None:
            self.tickets.close(timeout)

    # -- one attempt -------------------------------------------------------------------------------

    def attempt(self, claim: Claim) -> str:
        """Deliver a claimed delivery once and record the outcome; returns the new state.

        The claim carries the message's fields and document (read with the claim), so an attempt
        reads nothing more from the ledger."""
        delivery, message = claim.delivery, claim.message
        adapter = self.adapters.get(delivery.adapter)
        document = None if message is None else message.document
        if message is not None and document is None:  # a large document: read now, not with the claim
            found = self.hub.ledger.get_document(message.id)
            document = None if found is None else found[0]
        if adapter is None or message is None or document is None:
            reason = f"adapter {delivery.adapter!r} is not installed in worker {self.worker_id}"
            if message is None or document is None:
                reason = f"message {delivery.message_id} is missing from the ledger"
            return self._record(delivery, RetryableFailure(reason), RetryPolicy(), message)
        outbound = OutboundMessage(
            message_id=message.id,
            delivery_id=delivery.id,
            doctype=message.doctype,
            sender=message.sender,
            recipient=delivery.recipient,
            correlation_key=message.correlation_key,
            document=document,
            content_type=message.content_type,
            signature=message.signature,
            attempt=delivery.attempts,
        )
        started = time.perf_counter()
        with message_context(message.id, delivery.id):
            try:
                result = adapter.deliver(outbound)
            except Exception as error:  # an adapter bug must not lose the delivery
                log.exception("adapter %s raised on delivery %s", adapter.name, delivery.id)
                result = RetryableFailure(f"adapter error: {type(error).__name__}: {error}")
            state = self._record(delivery, result, adapter.options.retry, message)
            # A line for each retry and each dead letter; a delivered one only at DEBUG: formatting a
            # JSON line was ~10 % of a worker's CPU per delivery, and the ledger's events and the
            # metrics already count every delivery.
            level = logging.DEBUG if state == "delivered" else logging.INFO
            if log.isEnabledFor(level):
                log.log(
                    level,
                    "delivery to %s via %s, attempt %d: %s",
                    delivery.recipient,
                    adapter.name,
                    delivery.attempts,
                    state,
                    extra={"outcome": state, "reason": getattr(result, "reason", None)},
                )
        observe_delivery(adapter.name, state, started)
        return state

    def _record(
        self,
        delivery: DeliveryRecord,
        result: DeliveryResult,
        policy: RetryPolicy,
        message: AttemptMessage | None,
    ) -> str:
        ledger = self.hub.ledger
        ticket = Ticket(delivery.id, delivery.message_id, delivery.adapter or "", delivery.attempts)
        if isinstance(result, Delivered):
            recorded = ledger.finish_attempt(
                delivery.id,
                "delivered",
                peer_reference=result.peer_reference,
                data={"detail": result.detail, **self._proves(delivery)},
            )
            if recorded is not None and message is not None:
                self.announce(message, recorded)
            return "delivered"
        if isinstance(result, PermanentFailure) or delivery.attempts >= policy.max_attempts:
            permanent = isinstance(result, PermanentFailure)
            recorded = ledger.finish_attempt(
                delivery.id,
                "dead",
                error=result.reason,
                data={"permanent": permanent, "max_attempts": policy.max_attempts},
            )
            if self.queue is not None:
                self._quietly(self.queue.publish_dead, ticket, result.reason)
            if recorded is not None and message is not None:
                self.announce(message, recorded)
            return "dead"
        delay = backoff_seconds(policy, delivery.attempts)
        if result.retry_after_seconds is not None:
            delay = max(delay, min(result.retry_after_seconds, policy.max_delay_seconds))
        next_at = datetime.now(UTC) + timedelta(seconds=delay)
        ledger.finish_attempt(delivery.id, "retrying", next_attempt_at=next_at, error=result.reason)
        if self.queue is not None:
            self._quietly(self.queue.publish_retry, ticket, delay)
        return "retrying"

    def _proves(self, delivery: DeliveryRecord) -> dict[str, object]:
        """What a delivery proves, from the adapter's declared capabilities: whether the peer said it took
        the message, whether its receipt is still to come (a callback), and whether a retried delivery
        may have reached a peer that does not drop repeats twice."""
        adapter = self.adapters.get(delivery.adapter)
        if adapter is None:
            return {}
        capabilities = adapter.capabilities
        proves: dict[str, object] = {
            "acknowledged": capabilities.acknowledges,
            "receipt": capabilities.receipt,
        }
        if delivery.attempts > 1 and not capabilities.deduplicates:
            proves["may_be_duplicated"] = True
        return proves

    def announce(self, message: MessageRecord | AttemptMessage, delivery: DeliveryRecord) -> None:
        """Tell every adapter that a delivery reached a final state (see Adapter.observe)."""
        if delivery.state not in ("delivered", "dead"):
            return
        outcome = DeliveryOutcome(
            message_id=message.id,
            delivery_id=delivery.id,
            doctype=message.doctype,
            sender=message.sender,
            submitted_by=message.submitted_by,
            recipient=delivery.recipient,
            adapter=delivery.adapter,
            correlation_key=message.correlation_key,
            state=delivery.state,  # type: ignore[arg-type]
            peer_reference=delivery.peer_reference,
            error=delivery.last_error,
        )
        for adapter in self.adapters:
            try:
                adapter.observe(outcome)
            except Exception:
                log.exception("adapter %s failed to observe delivery %s", adapter.name, delivery.id)

    def _quietly(self, publish: Callable[..., None], *args: Any) -> None:
        """Publish unless the broker is known to be away; the ledger holds the delivery either way
        and the sweeper republishes what was not published (see hub.queue.breaker)."""
        self.breaker.call(publish, *args)

    # -- workers -----------------------------------------------------------------------------------

    def handle_ticket(self, ticket: Ticket) -> None:
        """AMQP: claim the ticket's delivery (drops duplicates and early tickets) and attempt it."""
        claimed = self.hub.ledger.work.claim_attempt(
            ticket.delivery_id, self.worker_id, lease_seconds=self.hub.settings.lease_seconds
        )
        if claimed is not None:
            self.attempt(claimed)

    def handle_tickets(self, tickets: Sequence[Ticket]) -> list[Ticket]:
        """AMQP: the tickets of one packed message. Their deliveries are claimed together (one
        transaction; duplicates and early tickets dropped as by :meth:`handle_ticket`), then attempted
        in turn on this consumer's thread, their outcomes meeting other threads' in the group commit;
        the leases of those still waiting are renewed each time half the lease has gone by. Returns
        the tickets whose attempt raised (they go on alone); a failed claim raises (the whole message
        is then requeued, and the claim drops what was done when it comes back)."""
        work, lease = self.hub.ledger.work, self.hub.settings.lease_seconds
        claims = work.claim_named([t.delivery_id for t in tickets], self.worker_id, lease_seconds=lease)
        by_id = {t.delivery_id: t for t in tickets}
        failed: list[Ticket] = []
        renew_at = time.monotonic() + lease / 2
        held: set[str] | None = None  # None: every claim is still under the lease taken with it
        for index, claim in enumerate(claims):
            if time.monotonic() >= renew_at:
                # Slow peers: the later claims have waited half their lease; keep them ours, so that
                # the sweeper does not hand them to another worker while they wait their turn.
                rest = [c.delivery.id for c in claims[index:]]
                held = work.renew_leases(rest, self.worker_id, lease_seconds=lease)
                renew_at = time.monotonic() + lease / 2
            if held is not None and claim.delivery.id not in held:
                continue  # reclaimed by another worker meanwhile: that worker attempts it
            try:
                self.attempt(claim)
            except Exception:
                log.exception("delivery worker failed on %s; its ticket goes on alone", claim.delivery.id)
                failed.append(by_id[claim.delivery.id])
        return failed

    def run_once(self, limit: int = 16) -> int:
        """Embedded: claim and attempt what is due now; returns how many were attempted.

        A batch is attempted concurrently on the engine's threads once they run (see :meth:`start`),
        so one slow peer does not hold the others' deliveries; their outcomes meet in the ledger's
        group commit and are recorded together.
        """
        claimed = self._claim(limit)
        if self._pool is None or len(claimed) < 2:
            for claim in claimed:
                self.attempt(claim)
        else:
            list(self._pool.map(self.attempt, claimed))
        return len(claimed)

    def _claim(self, limit: int) -> list[Claim]:
        return self.hub.ledger.work.claim_attempts(
            self.worker_id,
            lease_seconds=self.hub.settings.lease_seconds,
            limit=limit,
            adapters=self.adapters.names(),
        )

    def sweep(self) -> int:
        """AMQP: republish deliveries that are long overdue (their ticket was lost)."""
        if self.queue is None:
            return 0
        grace = timedelta(seconds=2 * self.hub.settings.sweep_interval_seconds)
        stale = self.hub.ledger.stale_deliveries(due_before=datetime.now(UTC) - grace)
        tickets = [Ticket(d.id, d.message_id, d.adapter or "", d.attempts) for d in stale]
        if tickets:
            try:
                self.queue.publish(tickets)
            except QueueUnavailable as error:
                self.breaker.failed(error)
                raise
            self.breaker.succeeded()  # the broker is back: intake publishes again
            log.info("sweeper republished %d overdue deliveries", len(tickets))
        return len(tickets)

    def _embedded_loop(self, stop: threading.Event, threads: int) -> None:
        """Embedded: one claimer keeps the pool's `threads` busy. It claims as many due deliveries as
        there are free places (in flight or waiting for a thread, twice the threads) in one statement,
        once at least `threads` places are free, and hands each to the pool, where a slow peer holds
        only its own thread."""
        assert self._pool is not None
        # Twice the threads: while they deliver, the next batch is claimed and waits its turn, so a
        # claim usually takes several deliveries at once (one statement, one commit).
        capacity = 2 * threads
        free = threading.Semaphore(capacity)
        interval = self.hub.settings.poll_interval_seconds

        def attempt_then_free(claim: Claim) -> None:
            try:
                self.attempt(claim)
            except Exception:
                log.exception("delivery worker failed on %s; going on", claim.delivery.id)
            finally:
                free.release()

        while not stop.is_set():
            if not free.acquire(timeout=interval):
                continue
            slots = 1
            while slots < capacity and free.acquire(blocking=False):
                slots += 1
            # While every thread still has a delivery in hand (fewer than `threads` places free), wait
            # for more places: one claim (one statement, one commit) then takes several deliveries
            # instead of one each time one finishes, and no thread waits for it.
            while slots < threads and not stop.is_set() and free.acquire(timeout=interval):
                slots += 1
            try:
                claimed = self._claim(slots)
            except Exception:
                log.exception("delivery claimer failed; going on")
                claimed = []
            for _ in range(slots - len(claimed)):
                free.release()
            for claim in claimed:
                self._pool.submit(attempt_then_free, claim)
            if not claimed:
                self._wake.wait(interval)
                self._wake.clear()

    def _consume_loop(self, stop: threading.Event) -> None:
        assert self.queue is not None
        self.queue.consume(self.handle_ticket, stop=stop, prefetch=4, handle_many=self.handle_tickets)

    def _sweep_loop(self, stop: threading.Event) -> None:
        while not stop.wait(self.hub.settings.sweep_interval_seconds):
            try:
                self.sweep()
            except Exception:
                log.exception("sweeper failed; going on")

    def _poller_loop(self, adapter: str, poller: Poller, stop: threading.Event) -> None:
        """Run a poller while this process holds its lease (one process at a time runs it)."""
        lease = f"{adapter}:{poller.name}"
        lease_seconds = max(30.0, 3 * poller.interval_seconds)
        while not stop.is_set():
            try:
                if self.hub.ledger.hold_lease(lease, self.worker_id, seconds=lease_seconds):
                    poller.poll_once()
            except Exception:
                log.exception("poller %s failed; going on", lease)
            stop.wait(poller.interval_seconds)

    def start(self, stop: threading.Event, *, workers: int | None = None, pollers: bool = True) -> None:
        """Start worker threads (and the adapters' pollers); they end when `stop` is set."""
        count = self.hub.settings.workers if workers is None else workers
        self.threads = count
        targets: list[tuple[Callable[..., None], str, tuple[Any, ...]]] = []
        if self.queue is None and count:
            self._pool = ThreadPoolExecutor(count, thread_name_prefix="delivery")
            targets.append((self._embedded_loop, "delivery-claimer", (stop, count)))
        elif self.queue is not None:
            targets += [(self._consume_loop, f"delivery-{i}", (stop,)) for i in range(count)]
            if count:
                targets.append((self._sweep_loop, "delivery-sweeper", (stop,)))
        for target, name, args in targets:
            thread = threading.Thread(target=target, args=args, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)
        if pollers:
            for adapter in self.adapters:
                for poller in adapter.pollers():
                    thread = threading.Thread(
                        target=self._poller_loop,
                        args=(adapter.name, poller, stop),
                        name=f"poller-{adapter.name}-{poller.name}",
                        daemon=True,
                    )
                    thread.start()
                    self._threads.append(thread)

    def join(self, timeout: float = 10.0) -> None:
        self._wake.set()
        for thread in self._threads:
            thread.join(timeout)
        self._threads.clear()
        if self._pool is not None:  # the claimer has stopped: let the attempts under way finish
            self._pool.shutdown(wait=True)
            self._pool = None
        try:
            self.hub.ledger.release_leases(self.worker_id)
        except Exception:  # shutting down: the leases will simply expire
            log.exception("could not release the pollers' leases")


def retry_matching(
    ledger: Ledger,
    *,
    state: str = "dead",
    recipient: str | None = None,
    adapter: str | None = None,
    limit: int = 100,
    by: str,
) -> list[DeliveryRecord]:
    """An operator's bulk retry (API, console and CLI): requeue every `state` (dead or retrying)
    delivery matching the filter, most recent first, at most `limit`, each with a fresh attempt
    budget. One that changed state meanwhile (another operator, a worker) is skipped, not an error.
    The caller announces the requeued deliveries to its queue."""
    if state not in ("dead", "retrying"):
        raise Problem("invalid-request", f"only dead or retrying deliveries are retried, not {state!r}")
    found = ledger.list_deliveries(state=state, recipient=recipient, adapter=adapter, limit=limit)
    requeued = []
    for delivery in found:
        try:
            requeued.append(ledger.requeue(delivery.id, by=by, reason="operator bulk retry"))
        except Problem as problem:
            if problem.slug != "conflict":
                raise
    return requeued
