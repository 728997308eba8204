"""Money rules: turning what a gateway vouches for into exactly the right ``payment.confirmation``.

Shared by the callback doors, the status poller and the reconciliation. Every decision is taken under
the store's lock, from the payment's current state and the gateway's vouched answer
(:class:`~adapters.bank.gateways.StatusAnswer`, whose fields are signed fields only):

============  =====================  =================================================================
hub state     gateway vouches        confirmation (and alert)
============  =====================  =================================================================
pending       paid, right amount     ``paid``
pending       failed                 ``failed``
pending       nothing, past expiry   ``expired`` + ``alert.payment-expired`` (the dossier waits)
paid          paid, same payment     none ("already confirmed")
paid          paid, another payment  ``duplicate-payment`` + ``alert.payment-duplicate``
failed/exp.   paid                   ``late-payment`` + ``alert.payment-late`` (refund or reopen);
                                     an expired one's ``alert.payment-expired`` resolves
paid          failed                 none; ``adapter.callback-conflict`` recorded
any           another amount paid    none; ``adapter.payment-disputed`` + ``alert.payment-disputed``
============  =====================  =================================================================

The confirmation enters the hub through the same intake as any document, sent as the gateway's
participant (``bank.vnpay`` / ``bank.payplatform``); its natural key (request id, transaction reference,
outcome, payment number) makes a repeat return the original message.

``alert.payment-expired`` is a condition (one per payment, raised once however many processes expire
it): it resolves when a late payment for the request is confirmed — the operator then acts on
``alert.payment-late`` instead. Nothing else clears it: a fee left unpaid stays an open question for
the agency until an operator acknowledges the alert.
"""

from __future__ import annotations

from typing import Any, Literal

from hub.spi import HubServices

from .gateways import StatusAnswer
from .mapping import GATEWAY_PARTICIPANTS, Outcome, PaymentRecord, PaymentStatus, confirmation_document
from .store import ADAPTER, PaymentStore

Resolution = Literal["confirmed", "already", "conflict", "disputed", "duplicate", "late", "ignored"]

PAYMENT_EXPIRED = "payment-expired"  # the operators' alert (alert.payment-expired)

#: Values derived from a gateway secret: never copied into a confirmation, evidence or a log line.
SECRET_DERIVED_FIELDS = frozenset({"vnp_SecureHash", "vnp_SecureHashType", "check_sum"})
EVIDENCE_FIELD_LIMIT = 60


def expired_condition(record: PaymentRecord) -> str:
    """The name of one payment's expiry, as an alert condition (raised once, resolved once)."""
    return f"{record.gateway}/{record.reference}"


def evidence_of(message: dict[str, Any]) -> dict[str, Any]:
    """A callback as evidence: its fields without the secret-derived ones, values cut to 500 chars."""
    kept: dict[str, Any] = {}
    for key, value in list(message.items())[:EVIDENCE_FIELD_LIMIT]:
        if key in SECRET_DERIVED_FIELDS:
            kept[key] = "(withheld: derived from the gateway secret)"
        elif value is None or isinstance(value, bool | int | float):
            kept[key] = value
        else:
            kept[key] = str(value)[:500]
    return kept


class Payments:
    def __init__(self, hub: HubServices, store: PaymentStore) -> None:
        self.hub = hub
        self.store = store

    # -- outcomes ------------------------------------------------------------------------------------
    def settle(self, record: PaymentRecord, answer: StatusAnswer, *, source: str) -> Resolution:
        """Apply what the gateway vouches for (paid or failed) to `record`; see the module's table.

        Raises Problem when the intake refuses the confirmation (the caller answers "try again")."""
        with self.store.locked():
            current = self.store.get(record.gateway, record.reference) or record
            if answer.status == "paid":
                if answer.amount != current.amount:
                    self._dispute(current, answer, source)
                    return "disputed"
                return self._paid(current, answer, source)
            if answer.status != "failed":
                return "ignored"
            if current.status == "pending":
                self._confirm(current, "failed", answer, status_after="failed")
                return "confirmed"
            if current.status == "paid":
                self._event(
                    current,
                    "callback-conflict",
                    {
                        "source": source,
                        "reason": "a failure reported for a payment already confirmed paid",
                        "gateway_fields": answer.fields,
                    },
                )
                return "conflict"
            return "already"

    def expire(self, record: PaymentRecord, answer: StatusAnswer, *, source: str) -> Resolution:
        """The payment's time ran out with nothing paid at the gateway: ``expired``, not ``failed``."""
        with self.store.locked():
            current = self.store.get(record.gateway, record.reference) or record
            if current.status != "pending":
                return "already"
            message_id = self._confirm(current, "expired", answer, status_after="expired")
            self.hub.raise_alert(
                ADAPTER,
                PAYMENT_EXPIRED,
                {
                    **self._facts(current),
                    "expires_at": current.expires_at,
                    "reason": "the fee was not paid before the request expired: the dossier waits on"
                    " the agency (a new payment request, or closing the dossier)",
                    "source": source,
                    "confirmation": message_id,
                },
                message_id=current.message_id,
                condition=expired_condition(current),
            )
            return "confirmed"

    def _paid(self, current: PaymentRecord, answer: StatusAnswer, source: str) -> Resolution:
        if current.status == "pending":
            self._confirm(current, "paid", answer, status_after="paid")
            current.payment_no = answer.payment_no
            self.store.put(current)
            return "confirmed"
        if current.status == "paid":
            if not answer.payment_no or answer.payment_no == current.payment_no:
                return "already"
            outcome: Outcome = "duplicate-payment"
            resolution: Resolution = "duplicate"
            alert, why = "payment-duplicate", "a second payment for a fee already paid"
        elif current.status in ("failed", "expired"):
            outcome, resolution = "late-payment", "late"
            alert = "payment-late"
            why = f"paid after the hub confirmed the request {current.status}: refund or reopen the dossier"
        else:  # disputed: the operator decides
            return "already"
        key = f"{outcome}:{answer.payment_no or '-'}"
        if key in current.confirmations:
            return "already"
        was = current.status
        message_id = self._confirm(current, outcome, answer, status_after="paid")
        if outcome == "late-payment":
            current.payment_no = current.payment_no or answer.payment_no
            self.store.put(current)
        if outcome == "late-payment" and was == "expired":  # the fee came after all: see alert.payment-late
            self.hub.resolve_alert(
                ADAPTER,
                PAYMENT_EXPIRED,
                expired_condition(current),
                {"reference": current.reference, "reason": "paid late", "confirmation": message_id},
            )
        self.hub.raise_alert(
            ADAPTER,
            alert,
            {
                **self._facts(current),
                "payment_no": answer.payment_no,
                "reason": why,
                "source": source,
                "confirmation": message_id,
            },
            message_id=current.message_id,
        )
        return resolution

    @staticmethod
    def _facts(record: PaymentRecord) -> dict[str, Any]:
        """What an operator needs in an alert about `record` to find the payment and the dossier."""
        return {
            "gateway": record.gateway,
            "reference": record.reference,
            "dossier_number": record.dossier_number,
            "request_id": record.request_id,
            "agency": record.agency,
            "amount": record.amount,
        }

    def _confirm(
        self,
        current: PaymentRecord,
        outcome: Outcome,
        answer: StatusAnswer,
        *,
        status_after: PaymentStatus,
    ) -> str:
        numbered = outcome in ("duplicate-payment", "late-payment")
        payment_no = (answer.payment_no or "-") if numbered else None
        body = confirmation_document(
            current,
            status=outcome,
            paid_at=answer.paid_at,
            gateway_fields=answer.fields,
            payment_no=payment_no,
        )
        result = self.hub.submit(
            body, content_type="application/json", as_participant=GATEWAY_PARTICIPANTS[current.gateway]
        )
        key = outcome if payment_no is None else f"{outcome}:{payment_no}"
        current.status = status_after
        current.confirmations.setdefault(key, result.message_id)
        current.query_error = ""
        self.store.put(current)
        return result.message_id

    # -- evidence ------------------------------------------------------------------------------------
    def refuse(
        self,
        gateway: str,
        reason: str,
        answer: Any,
        callback: dict[str, Any],
        record: PaymentRecord | None,
        *,
        query_answer: StatusAnswer | None = None,
    ) -> None:
        """Evidence of a callback that produced no message (forged, mismatched, unknown, contradicted)."""
        data: dict[str, Any] = {
            "gateway": gateway,
            "reason": reason,
            "answer": answer,
            "reference": record.reference if record else None,
            "callback": evidence_of(callback),
        }
        if query_answer is not None:
            data["query_answer"] = {"status": query_answer.status, "fields": query_answer.fields}
        self.hub.record_event(
            ADAPTER, "callback-refused", data, message_id=record.message_id if record else None
        )

    def _dispute(self, current: PaymentRecord, answer: StatusAnswer, source: str) -> None:
        """The gateway vouches for another amount: stop, record, alert, send nothing."""
        if current.status == "disputed":
            return
        current.status = "disputed"
        self.store.put(current)
        data = {
            "gateway": current.gateway,
            "reference": current.reference,
            "reason": f"the gateway reports {answer.amount} VND paid, the request was {current.amount} VND",
            "source": source,
            "gateway_fields": answer.fields,
        }
        self._event(current, "payment-disputed", data)
        self.hub.raise_alert(ADAPTER, "payment-disputed", data, message_id=current.message_id)

    def _event(self, record: PaymentRecord, kind: str, data: dict[str, Any]) -> None:
        self.hub.record_event(
            ADAPTER,
            kind,
            {"gateway": record.gateway, "reference": record.reference, **data},
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
        self._event(current, "status-query-failed", {"reason": reason})
