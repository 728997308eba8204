"""Authentication at the HTTP door: bearer token → participant."""

from __future__ import annotations

from fastapi import Request

from hub.participants import Participant


def current_participant(request: Request) -> Participant:
    """FastAPI dependency: the participant owning the request's bearer token (401 otherwise)."""
    return request.app.state.hub.participants.authenticate(request.headers.get("authorization"))
