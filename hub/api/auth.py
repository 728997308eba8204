"""Authentication at the HTTP door: a TLS client certificate or a bearer token → participant.

A request over mutual TLS (hub.tls puts the client certificate in the ASGI TLS extension) is
authenticated by its certificate, checked by the trust store like a signer's; a bearer token sent
beside it must name the same participant. Without a certificate, the bearer token decides — unless
``LIENTHONG_REQUIRE_CLIENT_CERTIFICATE`` is set, and then a certificate is required.
"""

from __future__ import annotations

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from hub.ledger import MessageRecord
from hub.participants import Participant
from hub.problems import Problem
from hub.tls import client_certificate

# Declares the bearer scheme on every operation that needs a token (the OpenAPI's `security`); the
# token itself is checked below, so a missing one is our 401 problem, not FastAPI's 403.
bearer = HTTPBearer(auto_error=False, scheme_name="bearer")

# The dependencies are `async def` on purpose: a token check is a hash and a dict lookup, and FastAPI
# runs a plain `def` dependency on its thread pool, a thread hand-off per request (~10 % of intake's
# CPU in the profiles, bench/FINDINGS.md).


def authenticate(request: Request) -> Participant:
    """The participant of the request: its TLS client certificate (mutual TLS), or its bearer token."""
    hub = request.app.state.hub
    authorization = request.headers.get("authorization")
    certificate = client_certificate(request.scope)
    if certificate is None:
        if hub.settings.require_client_certificate:
            raise Problem("unauthenticated", "a TLS client certificate is required (mutual TLS)")
        return hub.participants.authenticate(authorization)
    try:
        participant_id = hub.trust.identify(certificate)
    except Problem as refused:
        raise Problem("unauthenticated", f"the TLS client certificate is refused: {refused.detail}") from None
    participant = hub.participants.get(participant_id)
    if participant is None:
        raise Problem("unauthenticated", f"the TLS client certificate names {participant_id}, no participant")
    if authorization and hub.participants.authenticate(authorization).id != participant.id:
        raise Problem(
            "unauthenticated", "the bearer token and the TLS client certificate name different participants"
        )
    return participant


async def current_participant(
    request: Request, _credentials: HTTPAuthorizationCredentials | None = Depends(bearer)
) -> Participant:
    """FastAPI dependency: the authenticated participant (401 otherwise)."""
    return authenticate(request)


async def current_operator(participant: Participant = Depends(current_participant)) -> Participant:
    """FastAPI dependency: an authenticated operator (403 for any other participant)."""
    if participant.kind != "operator":
        raise Problem("forbidden-operator", f"{participant.id} is not an operator")
    return participant


def is_party_to(participant: Participant, message: MessageRecord) -> bool:
    """A participant sees a message it sent, submitted or receives (operators: see deliveries API)."""
    return participant.id in {message.sender, message.submitted_by, *message.recipients}
