"""`/v1/timeline/{key}`: the whole story of one dossier or document across all adapters."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request

from hub.api.auth import current_participant, is_party_to
from hub.api.models import Timeline
from hub.api.views import event_view, message_summary
from hub.participants import Participant
from hub.problems import Problem

router = APIRouter(prefix="/v1/timeline", tags=["timeline"])


@router.get("/{correlation_key:path}", response_model=Timeline)
def get_timeline(
    correlation_key: str, request: Request, participant: Participant = Depends(current_participant)
) -> dict[str, Any]:
    """Every message about this dossier number or DocumentId, in order, with deliveries and events.

    Operators see everything; a participant sees the messages it sent, submitted or receives.
    """
    timeline = request.app.state.hub.ledger.timeline(correlation_key)
    visible = [m for m in timeline.messages if participant.kind == "operator" or is_party_to(participant, m)]
    if not visible:
        raise Problem("not-found", f"nothing about {correlation_key!r} is visible to {participant.id}")
    ids = {m.id for m in visible}
    events = [e for e in timeline.events if e.message_id in ids]
    return {
        "correlation_key": correlation_key,
        "messages": [message_summary(m, events) for m in visible],
        "events": [event_view(e) for e in events],
    }
