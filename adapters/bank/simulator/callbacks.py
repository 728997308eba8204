"""Server-to-server callbacks from a gateway to a merchant, with retries and a record of every attempt.

A *delivery* is one notification (one IPN, one payment confirmation). It is attempted until the
merchant gives a valid answer (the gateway decides what is valid) or the retry policy is spent.
A *job* is a list of deliveries sent one after the other in a background thread (two for the
"duplicate" outcome). Every attempt is kept for ``/_sim/state`` and for the tests.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import httpx

from adapters.bank.simulator.config import RetryPolicy

#: Decides whether the merchant's answer (HTTP status, parsed JSON or None) ends the delivery.
AnswerCheck = Callable[[int, Any], bool]
DeliveryState = Literal["pending", "answered", "gave-up", "cancelled"]


@dataclass
class Attempt:
    number: int
    at: str
    status: int | None
    answer: Any
    error: str | None
    valid: bool


@dataclass
class Delivery:
    id: int
    kind: str
    reference: str
    method: Literal["GET", "POST"]
    url: str
    query: dict[str, str] | None = None
    body: dict[str, Any] | None = None
    state: DeliveryState = "pending"
    attempts: list[Attempt] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _parse_answer(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return response.text[:500]


class Outbox:
    """Runs delivery jobs in background threads; thread-safe; ``reset()`` cancels pending retries."""

    def __init__(self, policy: RetryPolicy, check: AnswerCheck) -> None:
        self._policy = policy
        self._check = check
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.deliveries: list[Delivery] = []

    def new_delivery(
        self,
        *,
        kind: str,
        reference: str,
        method: Literal["GET", "POST"],
        url: str,
        query: dict[str, str] | None = None,
        body: dict[str, Any] | None = None,
    ) -> Delivery:
        with self._lock:
            delivery = Delivery(next(self._ids), kind, reference, method, url, query, body)
            self.deliveries.append(delivery)
            return delivery

    def submit(self, deliveries: list[Delivery]) -> threading.Thread:
        """Send ``deliveries`` in order in a new thread (each one after the previous is settled)."""
        stop = self._stop
        thread = threading.Thread(
            target=self._run, args=(deliveries, stop), daemon=True, name="sim-callbacks"
        )
        with self._lock:
            self._threads = [t for t in self._threads if t.is_alive()]
            self._threads.append(thread)
        thread.start()
        return thread

    def snapshot(self, deliveries: list[Delivery] | None = None) -> list[dict[str, Any]]:
        """A consistent copy of ``deliveries`` (all of them by default)."""
        with self._lock:
            return [d.to_dict() for d in (self.deliveries if deliveries is None else deliveries)]

    def reset(self) -> None:
        with self._lock:
            self._stop.set()
            threads, self._threads = self._threads, []
            self._stop = threading.Event()
        for thread in threads:
            thread.join(self._policy.timeout_seconds + 1)
        with self._lock:
            self.deliveries = []

    def _run(self, deliveries: list[Delivery], stop: threading.Event) -> None:
        with httpx.Client(timeout=self._policy.timeout_seconds) as client:
            for delivery in deliveries:
                self._deliver(client, delivery, stop)

    def _deliver(self, client: httpx.Client, delivery: Delivery, stop: threading.Event) -> None:
        for number in range(1, self._policy.max_attempts + 1):
            if stop.is_set():
                self._settle(delivery, "cancelled")
                return
            attempt = self._attempt(client, delivery, number)
            with self._lock:
                delivery.attempts.append(attempt)
            if attempt.valid:
                self._settle(delivery, "answered")
                return
            if number < self._policy.max_attempts and stop.wait(self._policy.interval_seconds):
                self._settle(delivery, "cancelled")
                return
        self._settle(delivery, "gave-up")

    def _attempt(self, client: httpx.Client, delivery: Delivery, number: int) -> Attempt:
        at = datetime.now(UTC).isoformat()
        try:
            if delivery.method == "GET":
                response = client.get(delivery.url)
            else:
                response = client.post(delivery.url, json=delivery.body)
        except httpx.HTTPError as exc:
            return Attempt(number, at, None, None, f"{type(exc).__name__}: {exc}", False)
        answer = _parse_answer(response)
        return Attempt(
            number, at, response.status_code, answer, None, self._check(response.status_code, answer)
        )

    def _settle(self, delivery: Delivery, state: DeliveryState) -> None:
        with self._lock:
            delivery.state = state
