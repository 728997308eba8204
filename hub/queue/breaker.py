"""A circuit breaker for publishing tickets: while the broker is away, intake stops paying for it.

Every ticket's delivery is already durable in the ledger before it is published, and the sweeper
republishes due deliveries whose ticket was lost; so when RabbitMQ is unreachable the cheapest correct
thing is not to try. Without a breaker each 202 paid for several confirmed-publish attempts, their
back-off and a warning line (intake fell from 55–135 to ~10 messages/s during an outage).

States: *closed* (publish), *open* (skip publishing for `cooldown` seconds), *half-open* (one caller
tries; success closes, failure opens again with a doubled cooldown, up to `max_cooldown`). One log
line per change of state, none per skipped ticket. Hand-written: a dozen lines, and the libraries
(pybreaker, circuitbreaker) bring their own storage and listener machinery the hub does not need.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Literal

from hub.queue import QueueUnavailable

log = logging.getLogger("hub.queue")

State = Literal["closed", "open", "half-open"]


class PublishBreaker:
    def __init__(
        self,
        *,
        cooldown: float = 2.0,
        max_cooldown: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._initial = cooldown
        self._cooldown = cooldown
        self._max = max_cooldown
        self._clock = clock
        self._lock = threading.Lock()
        self._state: State = "closed"
        self._retry_at = 0.0
        self.skipped = 0  # tickets not published while open (the sweeper's work)

    @property
    def state(self) -> State:
        return self._state

    def _allowed(self) -> bool:
        """Whether this caller may publish; the first caller after the cooldown becomes the trial."""
        with self._lock:
            if self._state == "closed":
                return True
            if self._state == "open" and self._clock() >= self._retry_at:
                self._state = "half-open"
                log.info("queue breaker half-open: trying the broker again")
                return True
            self.skipped += 1
            return False

    def succeeded(self) -> None:
        with self._lock:
            if self._state != "closed":
                log.warning(
                    "queue breaker closed: the broker confirms again (%d tickets left to the sweeper)",
                    self.skipped,
                )
            self._state, self._cooldown, self.skipped = "closed", self._initial, 0

    def failed(self, error: BaseException) -> None:
        with self._lock:
            if self._state == "half-open":
                self._cooldown = min(self._max, 2 * self._cooldown)
            if self._state != "open":
                log.warning(
                    "queue breaker open: %s; no tickets published for %.0f s, the sweeper catches up",
                    error,
                    self._cooldown,
                )
            self._state = "open"
            self._retry_at = self._clock() + self._cooldown

    def call(self, publish: Callable[..., None], *args: object) -> bool:
        """Publish through the breaker; False when skipped or failed (QueueUnavailable is absorbed)."""
        if not self._allowed():
            return False
        try:
            publish(*args)
        except QueueUnavailable as error:
            self.failed(error)
            return False
        self.succeeded()
        return True
