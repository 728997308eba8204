"""Authentication at the HTTP door: bearer token → participant."""

from __future__ import annotations

from fastapi import Request

from hub.ledger import MessageRecord
from hub.participants import Participant
from hub.problems import Problem

# The dependencies are `async def` on purpose: a token check is a hash and a dict lookup, and FastAPI
# runs a plain `def` dependency on its thread pool, a thread hand-off per request (~10 % of intake's
# CPU in the profiles, bench/FINDINGS.md).


def _authenticated(request: Request) -> Participant:
    return request.app.state.hub.participants.authenticate(request.headers.get("authorization"))


async def current_participant(request: Request) -> Participant:
    """FastAPI dependency: the participant owning the request's bearer token (401 otherwise)."""
    return _authenticated(request)


async def current_operator(request: Request) -> Participant:
    """FastAPI dependency: an authenticated operator (403 for any other participant)."""
    participant = _authenticated(request)
    if participant.kind != "operator":
        raise Problem("forbidden-operator", f"{participant.id} is not an operator")
    return participant


def is_party_to(participant: Participant, message: MessageRecord) -> bool:
    """A participant sees a message it sent, submitted or receives (operators: see deliveries API)."""
    return participant.id in {message.sender, message.submitted_by, *message.recipients}
