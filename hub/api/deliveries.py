"""`/v1/deliveries`: operators list deliveries (e.g. the dead ones) and send them again, one by one
or every one matching a filter."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from hub.api.auth import current_operator
from hub.api.models import Delivery, DeliveryPage, DeliveryState, Retried, RetryFilter
from hub.api.views import delivery_view
from hub.delivery import retry_matching
from hub.participants import Participant
from hub.problems import Problem

# Beyond any real ledger, and within every database's integer range (an unbounded offset made SQLite
# raise OverflowError: a 500 schemathesis found).
MAX_OFFSET = 1_000_000_000

router = APIRouter(prefix="/v1/deliveries", tags=["deliveries (operators)"])


@router.get("", response_model=DeliveryPage)
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


@router.post(
    "/retry",
    status_code=202,
    response_model=Retried,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/RetryFilter"}}},
        }
    },
)
async def retry_deliveries(
    request: Request, operator: Participant = Depends(current_operator)
) -> dict[str, Any]:
    """Send again now every dead (or retrying) delivery matching the filter, each with a fresh attempt
    budget: e.g. all of one recipient's after its system came back."""
    # The body is read only once the caller is known to be an operator (not before, as a declared
    # body parameter would be): nobody else makes the hub read anything.
    try:
        wanted = RetryFilter.model_validate_json(await request.body() or b"{}")
    except ValidationError as error:
        errors = [
            {"location": "/".join(map(str, e["loc"])), "message": e["msg"]}
            for e in error.errors(include_url=False)
        ]
        raise Problem("invalid-request", "the filter is malformed", errors=errors) from None
    engine = request.app.state.runtime.engine
    requeued = await run_in_threadpool(
        lambda: retry_matching(
            engine.hub.ledger,
            state=wanted.state,
            recipient=wanted.recipient,
            adapter=wanted.adapter,
            limit=wanted.limit,
            by=operator.id,
        )
    )
    await run_in_threadpool(engine.enqueue_deliveries, requeued)
    return {"retried": [delivery_view(d) for d in requeued], "count": len(requeued)}


@router.get("/{delivery_id}", response_model=Delivery)
def get_delivery(
    delivery_id: str, request: Request, operator: Participant = Depends(current_operator)
) -> dict[str, Any]:
    delivery = request.app.state.hub.ledger.get_delivery(delivery_id)
    if delivery is None:
        raise Problem("not-found", f"no delivery {delivery_id}")
    return delivery_view(delivery)


@router.post("/{delivery_id}/retry", status_code=202, response_model=Delivery)
def retry_delivery(
    delivery_id: str, request: Request, operator: Participant = Depends(current_operator)
) -> dict[str, Any]:
    """Send a dead (or retrying) delivery again now, with a fresh attempt budget."""
    runtime = request.app.state.runtime
    delivery = runtime.hub.ledger.requeue(delivery_id, by=operator.id)
    runtime.engine.enqueue_deliveries([delivery])
    return delivery_view(delivery)
