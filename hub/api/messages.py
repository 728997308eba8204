"""`/v1/messages`: the intake door and what a participant may read back about its messages."""

from __future__ import annotations

from typing import Any

import anyio
from fastapi import APIRouter, Depends, Header, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from hub.api.auth import current_operator, current_participant, is_party_to
from hub.api.models import Accepted, MessageDetail, Replayed
from hub.api.views import message_detail
from hub.intake import Submission
from hub.ledger import MessageRecord
from hub.participants import Participant
from hub.problems import Problem
from hub.receipts import signed_receipt

router = APIRouter(prefix="/v1/messages", tags=["messages"])

#: Intake runs on at most this many threads at once, apart from Starlette's pool of 40 shared with
#: every other sync endpoint. Measured (3,000 signed 5 KB edXML over 16 connections, embedded):
#: 6 threads gave smaller group commits (114 KiB written per message), 32 no more throughput than
#: 16, which gave the best rate, CPU and bytes written (bench/FINDINGS.md).
INTAKE_THREADS = 16


def _intake_threads(request: Request) -> anyio.CapacityLimiter:
    """The app's intake limiter, made on first use inside its event loop (a limiter belongs to one)."""
    limiter: anyio.CapacityLimiter | None = getattr(request.app.state, "intake_limiter", None)
    if limiter is None:
        limiter = request.app.state.intake_limiter = anyio.CapacityLimiter(INTAKE_THREADS)
    return limiter


_DOCUMENT_BODY = {
    "requestBody": {
        "required": True,
        "description": "The document itself: edXML (application/xml) or a JSON document (application/json). "
        "A JSON document may carry a detached JWS (RFC 7797) in the x-jws-signature header.",
        "content": {
            "application/xml": {"schema": {"type": "string"}},
            "application/json": {"schema": {"type": "object"}},
        },
    }
}


def message_links(message_id: str) -> dict[str, str]:
    base = f"/v1/messages/{message_id}"
    return {
        "self": base,
        "document": f"{base}/document",
        "receipt": f"{base}/receipt",
        "proof": f"{base}/proof",
    }


def visible_message(request: Request, participant: Participant, message_id: str) -> MessageRecord:
    """The message if this participant sent, submitted or receives it; 404 otherwise (no leak)."""
    message = request.app.state.hub.ledger.get_message(message_id)
    if message is None or not is_party_to(participant, message):
        raise Problem("not-found", f"no message {message_id} visible to {participant.id}")
    return message


@router.post(
    "",
    status_code=202,
    openapi_extra=_DOCUMENT_BODY,
    response_model=Accepted,
    responses={
        202: {"description": "Recorded: the message id, its state and links"},
        200: {"model": Accepted, "description": "A duplicate: the original message is returned"},
    },
)
async def submit_message(
    request: Request,
    participant: Participant = Depends(current_participant),
    idempotency_key: str | None = Header(default=None, max_length=200),
    x_jws_signature: str | None = Header(default=None, max_length=20000),
) -> JSONResponse:
    """Submit a document. 202 with the message id once it is durably recorded."""
    body = await request.body()  # capped at max_body_bytes by hub.api.limits before it is read
    submission = Submission(
        body=body,
        content_type=request.headers.get("content-type"),
        submitted_by=participant,
        idempotency_key=idempotency_key,
        jws_signature=x_jws_signature,
    )
    result = await anyio.to_thread.run_sync(
        request.app.state.intake.submit, submission, limiter=_intake_threads(request)
    )
    message = result.message
    content = {
        "id": message.id,
        "state": message.state,
        "type": message.doctype,
        "duplicate": result.duplicate,
        "warnings": list(message.warnings),
        "links": message_links(message.id),
    }
    return JSONResponse(
        content,
        status_code=200 if result.duplicate else 202,
        headers={"Location": f"/v1/messages/{message.id}"},
    )


@router.get("/{message_id}", response_model=MessageDetail)
def get_message(
    message_id: str, request: Request, participant: Participant = Depends(current_participant)
) -> dict[str, Any]:
    """The message's state, its deliveries and every event recorded about it."""
    message = visible_message(request, participant, message_id)
    events = request.app.state.hub.ledger.list_events(message_id)
    return {**message_detail(message, events), "links": message_links(message.id)}


@router.get(
    "/{message_id}/document",
    response_class=Response,
    responses={
        200: {
            "description": "The document's bytes; a JSON document's detached JWS in x-jws-signature",
            "content": {
                "application/xml": {"schema": {"type": "string"}},
                "application/json": {"schema": {"type": "object"}},
            },
        }
    },
)
def get_document(
    message_id: str, request: Request, participant: Participant = Depends(current_participant)
) -> Response:
    """The bytes as they will be delivered (hub-signed unless the sender signed them)."""
    visible_message(request, participant, message_id)
    found = request.app.state.hub.ledger.get_document(message_id)
    if found is None:
        raise Problem("not-found", f"no document for message {message_id}")
    document, content_type, signature = found
    headers = {"x-jws-signature": signature} if signature else {}
    return Response(document, media_type=content_type, headers=headers)


@router.get(
    "/{message_id}/receipt",
    response_class=Response,
    responses={
        200: {
            "description": "The signed receipt; its detached JWS (RFC 7797) in x-jws-signature",
            "content": {"application/json": {"schema": {"type": "object"}}},
        }
    },
)
def get_receipt(
    message_id: str, request: Request, participant: Participant = Depends(current_participant)
) -> Response:
    """The hub's signed receipt (JSON, detached JWS in x-jws-signature)."""
    message = visible_message(request, participant, message_id)
    hub = request.app.state.hub
    body, signature = signed_receipt(message, hub.identity, hub.ledger.latest_checkpoint())
    return Response(body, media_type="application/json", headers={"x-jws-signature": signature})


@router.post("/{message_id}/replay", status_code=202, response_model=Replayed)
async def replay_message(
    message_id: str, request: Request, operator: Participant = Depends(current_operator)
) -> JSONResponse:
    """Operators: run the original document through the path again (today's routes and trust) as a
    new message linked to the original; its deliveries start afresh."""
    result = await run_in_threadpool(request.app.state.intake.replay, message_id, by=operator.id)
    message = result.message
    return JSONResponse(
        {
            "id": message.id,
            "state": message.state,
            "type": message.doctype,
            "replay_of": message_id,
            "links": message_links(message.id),
        },
        status_code=202,
        headers={"Location": f"/v1/messages/{message.id}"},
    )
