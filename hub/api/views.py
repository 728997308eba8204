"""JSON views of ledger records shared by the API's routers."""

from __future__ import annotations

from typing import Any

from hub.ledger import DeliveryRecord, EventRecord, MessageRecord


def iso(moment: Any) -> str | None:
    return moment.isoformat() if moment is not None else None


def delivery_view(delivery: DeliveryRecord) -> dict[str, Any]:
    return {
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


def message_summary(message: MessageRecord) -> dict[str, Any]:
    return {
        "id": message.id,
        "type": message.doctype,
        "state": message.state,
        "sender": message.sender,
        "recipients": list(message.recipients),
        "correlation_key": message.correlation_key,
        "received_at": iso(message.received_at),
        "deliveries": [delivery_view(d) for d in message.deliveries],
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
        "deliveries": [delivery_view(d) for d in message.deliveries],
        "events": [event_view(e) for e in events],
    }
