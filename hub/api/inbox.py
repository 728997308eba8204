"""`/v1/inbox`: agencies that pull (route adapter `inbox`) list what awaits them and acknowledge it."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request

from hub.api.auth import current_participant
from hub.api.models import Delivery, Inbox
from hub.api.views import delivery_view
from hub.participants import Participant

router = APIRouter(prefix="/v1/inbox", tags=["inbox"])


@router.get("", response_model=Inbox)
def list_inbox(
    request: Request,
    limit: int = Query(default=50, ge=1, le=500),
    participant: Participant = Depends(current_participant),
) -> dict[str, Any]:
    """What this participant has to pull, oldest first; fetch each document, then acknowledge it."""
    items = request.app.state.hub.ledger.inbox(participant.id, limit=limit)
    return {
        "items": [
            {
                "delivery_id": item.delivery.id,
                "message_id": item.delivery.message_id,
                "type": item.doctype,
                "sender": item.sender,
                "correlation_key": item.correlation_key,
                "content_type": item.content_type,
                "document_url": f"/v1/messages/{item.delivery.message_id}/document",
                "signature": item.signature,
            }
            for item in items
        ]
    }


@router.post("/{delivery_id}/ack", response_model=Delivery)
def acknowledge(
    delivery_id: str, request: Request, participant: Participant = Depends(current_participant)
) -> dict[str, Any]:
    """The participant has taken the document: its delivery becomes `delivered` (idempotent)."""
    runtime = request.app.state.runtime
    before = runtime.hub.ledger.get_delivery(delivery_id)
    delivery = runtime.hub.ledger.acknowledge_inbox(delivery_id, participant.id)
    message = runtime.hub.ledger.get_message(delivery.message_id)
    if before is not None and before.state != "delivered" and message is not None:
        runtime.engine.announce(message, delivery)  # adapters observe it like any delivery
    return delivery_view(delivery)
