"""The status poller: payments with no callback after ``query_after_seconds`` are asked about at their
gateway (VNPAY querydr, the payment platform's transaction detail) and resolved either way.

* paid, for the requested amount → a ``payment.confirmation`` (paid);
* failed → a ``payment.confirmation`` (failed);
* still pending, or unknown to the gateway (the citizen never opened the payment page): left pending
  until the payment's expiry plus ``expire_grace_seconds``, then a ``payment.confirmation`` (expired);
* paid for another amount → no message, the payment is marked disputed, an event and an alert;
* the gateway cannot answer → an event (once per spell of failures), asked again at the next poll.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from hub.problems import Problem
from hub.spi import Poller

from .gateways import GatewayError, PayPlatformGateway, VnpayGateway
from .mapping import PaymentRecord
from .service import Payments

log = logging.getLogger("adapters.bank")


class PaymentStatusPoller(Poller):
    name = "bank-payment-status"

    def __init__(
        self,
        payments: Payments,
        gateways: dict[str, VnpayGateway | PayPlatformGateway],
        *,
        query_after_seconds: float,
        expire_grace_seconds: float,
        interval_seconds: float,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.payments = payments
        self.gateways = gateways
        self.query_after = timedelta(seconds=query_after_seconds)
        self.grace = timedelta(seconds=expire_grace_seconds)
        self.interval_seconds = interval_seconds
        self.clock = clock

    def poll_once(self) -> int:
        """Query every payment pending too long; return how many were resolved."""
        now = self.clock()
        resolved = 0
        for record in self.payments.store.pending():
            if now - datetime.fromisoformat(record.created_at) < self.query_after:
                continue
            gateway = self.gateways.get(record.gateway)
            if gateway is None:
                continue
            try:
                resolved += self._settle(record, gateway, now)
            except Problem as problem:  # the intake refused the confirmation: visible, tried again
                log.error("confirmation of %s refused: %s", record.reference, problem)
                self.payments.query_failed(record, f"confirmation refused: {problem}")
        return resolved

    def _settle(
        self, record: PaymentRecord, gateway: VnpayGateway | PayPlatformGateway, now: datetime
    ) -> int:
        try:
            answer = gateway.query(record, now)
        except GatewayError as exc:
            self.payments.query_failed(record, exc.reason)
            return 0
        if answer.status in ("paid", "failed"):
            self.payments.settle(record, answer, source="status query")
            return 1
        if now > datetime.fromisoformat(record.expires_at) + self.grace:
            self.payments.expire(record, answer, source="status query: expired")
            return 1
        return 0
