"""JSON views of ledger records shared by the API's routers."""

from __future__ import annotations

from typing import Any

from hub.ledger import DeliveryRecord, EventRecord, MessageRecord


def iso(moment: Any) -> str | None:
    return moment.isoformat() if moment is not None else None


def delivery_view(delivery: DeliveryRecord, events: list[EventRecord] | None = None) -> dict[str, Any]:
    """A delivery as the API shows it; given its message's events, also `attempts_total`."""
    view = {
        "id": delivery.id,
        "message_id": delivery.message_id,
        "recipient": delivery.recipient,
        "adapter": delivery.adapter,
        "state": delivery.state,
        "attempts": delivery.attempts,
        "next_attempt_at": iso(delivery.next_attempt_at),
        "last_error": delivery.last_error,
        "peer_reference": delivery.peer_reference,
        "updated_at": iso(delivery.updated_at),
    }
    if events is not None:
        view["attempts_total"] = attempts_total(delivery, events)
    return view


def attempts_total(delivery: DeliveryRecord, events: list[EventRecord]) -> int:
    """Every attempt of a delivery, those before each operator retry included.

    The row's `attempts` is the current round's count: an operator retry gives the delivery a fresh
    attempt budget and sets it back to 0 (the delivery engine and `ledger verify` rely on that). The
    ledger's retry event keeps the count it replaced (`previous_attempts`), so the total is the sum of
    those and the current round.
    """
    earlier = sum(
        int(e.data.get("previous_attempts", 0))
        for e in events
        if e.delivery_id == delivery.id and e.kind == "delivery.queued"
    )
    return earlier + delivery.attempts


def event_view(event: EventRecord) -> dict[str, Any]:
    return {
        "id": event.id,
        "seq": event.seq,  # position in the ledger's log; null until the sequencer has placed it
        "at": iso(event.at),
        "kind": event.kind,
        "message_id": event.message_id,
        "delivery_id": event.delivery_id,
        "data": event.data,
    }


def message_summary(message: MessageRecord, events: list[EventRecord] | None = None) -> dict[str, Any]:
    return {
        "id": message.id,
        "type": message.doctype,
        "state": message.state,
        "sender": message.sender,
        "recipients": list(message.recipients),
        "correlation_key": message.correlation_key,
        "received_at": iso(message.received_at),
        "deliveries": [delivery_view(d, events) for d in message.deliveries],
    }


def message_detail(message: MessageRecord, events: list[EventRecord]) -> dict[str, Any]:
    """Everything about one message: what it is, its deliveries and every event recorded about it."""
    return {
        "id": message.id,
        "type": message.doctype,
        "state": message.state,
        "sender": message.sender,
        "submitted_by": message.submitted_by,
        "recipients": list(message.recipients),
        "correlation_key": message.correlation_key,
        "digest": message.digest,
        "document_digest": message.document_digest,
        "signer": message.signer,
        "warnings": list(message.warnings),
        "received_at": iso(message.received_at),
        "accepted_at": iso(message.accepted_at),
        "deliveries": [delivery_view(d, events) for d in message.deliveries],
        "events": [event_view(e) for e in events],
    }
