"""Turning a verified gateway outcome into exactly one ``payment.confirmation``, and recording refusals.

Shared by the callback doors and the status poller. The confirmation enters the hub through the same
intake as any document, sent as the gateway's participant (``bank.vnpay`` / ``bank.payplatform``); its
natural key (request id, transaction reference, status) makes a repeat return the original message,
which is how a repeated callback is answered "already confirmed".
"""

from __future__ import annotations

from typing import Any, Literal

from hub.spi import HubServices

from .mapping import GATEWAY_PARTICIPANTS, PaymentRecord, confirmation_document
from .store import ADAPTER, PaymentStore

Resolution = Literal["confirmed", "already", "conflict"]


class Payments:
    def __init__(self, hub: HubServices, store: PaymentStore) -> None:
        self.hub = hub
        self.store = store

    def resolve(
        self,
        record: PaymentRecord,
        status: Literal["paid", "failed"],
        *,
        paid_at: str | None,
        response: dict[str, Any],
        source: str,
    ) -> Resolution:
        """Submit the confirmation of `record` (unless it contradicts a payment already confirmed).

        Raises Problem when the intake refuses the confirmation (the caller answers "try again")."""
        with self.store.locked():
            current = self.store.get(record.gateway, record.reference) or record
            if current.status == "paid" and status == "failed":
                self.hub.record_event(
                    ADAPTER,
                    "callback-conflict",
                    {
                        "gateway": current.gateway,
                        "reference": current.reference,
                        "source": source,
                        "reason": "a failure reported for a payment already confirmed paid",
                        "gateway_response": response,
                    },
                    message_id=current.message_id,
                )
                return "conflict"
            body = confirmation_document(current, status=status, paid_at=paid_at, gateway_response=response)
            result = self.hub.submit(
                body, content_type="application/json", as_participant=GATEWAY_PARTICIPANTS[current.gateway]
            )
            current.status = status
            current.confirmations.setdefault(status, result.message_id)
            current.query_error = ""
            self.store.put(current)
            return "already" if result.duplicate else "confirmed"

    def refuse(
        self, gateway: str, reason: str, answer: Any, callback: dict[str, Any], record: PaymentRecord | None
    ) -> None:
        """Evidence of a callback that produced no message (forged, mismatched, unknown)."""
        self.hub.record_event(
            ADAPTER,
            "callback-refused",
            {
                "gateway": gateway,
                "reason": reason,
                "answer": answer,
                "reference": record.reference if record else None,
                "callback": callback,
            },
            message_id=record.message_id if record else None,
        )

    def dispute(self, record: PaymentRecord, reason: str, response: dict[str, Any]) -> None:
        """The gateway contradicts the request (e.g. another amount paid): stop, record, send nothing."""
        with self.store.locked():
            current = self.store.get(record.gateway, record.reference) or record
            if current.status != "pending":
                return
            current.status = "disputed"
            self.store.put(current)
        self.hub.record_event(
            ADAPTER,
            "payment-disputed",
            {
                "gateway": record.gateway,
                "reference": record.reference,
                "reason": reason,
                "gateway_response": response,
            },
            message_id=record.message_id,
        )

    def query_failed(self, record: PaymentRecord, reason: str) -> None:
        """The status query failed: recorded once per spell of failures, tried again at the next poll."""
        with self.store.locked():
            current = self.store.get(record.gateway, record.reference) or record
            if current.status != "pending" or current.query_error == reason:
                return
            current.query_error = reason
            self.store.put(current)
        self.hub.record_event(
            ADAPTER,
            "status-query-failed",
            {"gateway": record.gateway, "reference": record.reference, "reason": reason},
            message_id=record.message_id,
        )
