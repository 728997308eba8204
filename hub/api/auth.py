"""Authentication at the HTTP door: bearer token → participant."""

from __future__ import annotations

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from hub.ledger import MessageRecord
from hub.participants import Participant
from hub.problems import Problem

# Declares the bearer scheme on every operation that needs a token (the OpenAPI's `security`); the
# token itself is checked below, so a missing one is our 401 problem, not FastAPI's 403.
bearer = HTTPBearer(auto_error=False, scheme_name="bearer")


def current_participant(
    request: Request, _credentials: HTTPAuthorizationCredentials | None = Depends(bearer)
) -> Participant:
    """FastAPI dependency: the participant owning the request's bearer token (401 otherwise)."""
    return request.app.state.hub.participants.authenticate(request.headers.get("authorization"))


def current_operator(participant: Participant = Depends(current_participant)) -> Participant:
    """FastAPI dependency: an authenticated operator (403 for any other participant)."""
    if participant.kind != "operator":
        raise Problem("forbidden-operator", f"{participant.id} is not an operator")
    return participant


def is_party_to(participant: Participant, message: MessageRecord) -> bool:
    """A participant sees a message it sent, submitted or receives (operators: see deliveries API)."""
    return participant.id in {message.sender, message.submitted_by, *message.recipients}
