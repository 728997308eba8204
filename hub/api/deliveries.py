"""`/v1/deliveries`: operators list deliveries (e.g. the dead ones) and send them again."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, Query, Request

from hub.api.auth import current_operator
from hub.api.views import delivery_view
from hub.participants import Participant
from hub.problems import Problem

# Beyond any real ledger, and within every database's integer range (an unbounded offset made SQLite
# raise OverflowError: a 500 schemathesis found).
MAX_OFFSET = 1_000_000_000

router = APIRouter(prefix="/v1/deliveries", tags=["deliveries (operators)"])
DeliveryState = Literal["queued", "delivering", "delivered", "retrying", "dead"]


@router.get("")
def list_deliveries(
    request: Request,
    state: DeliveryState | None = None,
    recipient: str | None = None,
    adapter: str | None = None,
    limit: int = Query(default=100, ge=1, le=1000),
    offset: int = Query(default=0, ge=0, le=MAX_OFFSET),
    operator: Participant = Depends(current_operator),
) -> dict[str, Any]:
    """Deliveries, most recently changed first (`?state=dead` for the dead ones)."""
    found = request.app.state.hub.ledger.list_deliveries(
        state=state, recipient=recipient, adapter=adapter, limit=limit, offset=offset
    )
    return {"items": [delivery_view(d) for d in found], "limit": limit, "offset": offset}


@router.get("/{delivery_id}")
def get_delivery(
    delivery_id: str, request: Request, operator: Participant = Depends(current_operator)
) -> dict[str, Any]:
    delivery = request.app.state.hub.ledger.get_delivery(delivery_id)
    if delivery is None:
        raise Problem("not-found", f"no delivery {delivery_id}")
    return delivery_view(delivery)


@router.post("/{delivery_id}/retry", status_code=202)
def retry_delivery(
    delivery_id: str, request: Request, operator: Participant = Depends(current_operator)
) -> dict[str, Any]:
    """Send a dead (or retrying) delivery again now, with a fresh attempt budget."""
    runtime = request.app.state.runtime
    delivery = runtime.hub.ledger.requeue(delivery_id, by=operator.id)
    runtime.engine.enqueue_deliveries([delivery])
    return delivery_view(delivery)
