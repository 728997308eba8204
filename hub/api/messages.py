"""`/v1/messages`: the intake door and what a participant may read back about its messages."""

from __future__ import annotations

import asyncio
import io
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from fastapi import APIRouter, Depends, Header, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.routing import Route

from hub.api.auth import authenticate, current_operator, current_participant, is_party_to
from hub.api.limits import INTAKE_PATH
from hub.api.models import Accepted, MessageDetail, Replayed
from hub.api.views import message_detail
from hub.intake import Submission
from hub.ledger import MessageRecord
from hub.participants import Participant
from hub.problems import Problem
from hub.receipts import signed_receipt

router = APIRouter(prefix="/v1/messages", tags=["messages"])

#: Intake runs on a pool of its own of this many threads, apart from Starlette's pool of 40 shared
#: with every other sync endpoint. Measured (3,000 signed 5 KB edXML over 16 connections, embedded):
#: 6 threads gave smaller group commits (114 KiB written per message), 32 no more throughput than
#: 16, which gave the best rate, CPU and bytes written (bench/FINDINGS.md).
INTAKE_THREADS = 16


def intake_executor(app: Any) -> ThreadPoolExecutor:
    """The app's intake threads, started on first use and shut down with the app (hub.api.app).

    A plain executor, not anyio's ``to_thread``: the hand-off runs once per document, and anyio's
    (cancel scope, capacity limiter, its worker queue) cost more of the event loop's GIL time
    (bench/FINDINGS.md, issue 14).
    """
    executor: ThreadPoolExecutor | None = getattr(app.state, "intake_executor", None)
    if executor is None:
        executor = app.state.intake_executor = ThreadPoolExecutor(INTAKE_THREADS, thread_name_prefix="intake")
    return executor


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


#: Headers the intake route reads, with their longest accepted value (documented in the OpenAPI).
IDEMPOTENCY_KEY_MAX = 200
JWS_SIGNATURE_MAX = 20000


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
    idempotency_key: str | None = Header(default=None, max_length=IDEMPOTENCY_KEY_MAX),
    x_jws_signature: str | None = Header(default=None, max_length=JWS_SIGNATURE_MAX),
) -> Response:
    """Submit a document. 202 with the message id once it is durably recorded."""
    # This declaration is what the OpenAPI describes; the app serves the path with `intake_route`
    # (below), which does the same without FastAPI's per-request dependency and header resolution.
    return await _accept(request, participant, idempotency_key, x_jws_signature)


def _header(request: Request, name: str, max_length: int) -> str | None:
    """A header as FastAPI's ``Header(max_length=…)`` reads it, with the same refusal when too long."""
    value = request.headers.get(name)
    if value is not None and len(value) > max_length:
        raise Problem(
            "invalid-request",
            "the request is malformed",
            errors=[
                {
                    "location": f"header/{name}",
                    "message": f"String should have at most {max_length} characters",
                }
            ],
        )
    return value


async def _intake_endpoint(request: Request) -> Response:
    """`POST /v1/messages` as the app serves it: authentication and the two headers read directly."""
    participant = authenticate(request)
    idempotency_key = _header(request, "idempotency-key", IDEMPOTENCY_KEY_MAX)
    jws_signature = _header(request, "x-jws-signature", JWS_SIGNATURE_MAX)
    return await _accept(request, participant, idempotency_key, jws_signature)


#: Served ahead of the routers (hub.api.app puts it first). Measured: FastAPI's dependency solving
#: (the bearer scheme, two header models) and its handler wrapping were ~5 % of a saturated intake's
#: GIL samples (bench/FINDINGS.md, issue 14).
intake_route = Route(INTAKE_PATH, _intake_endpoint, methods=["POST"], include_in_schema=False)


async def read_body(request: Request) -> bytes:
    """The request body as one ``bytes`` object, the only copy of it this process holds.

    Starlette's ``request.body()`` keeps the server's chunks in a list and joins them: twice the
    body at the join. Here each chunk is written into one growing buffer and dropped; ``getvalue()``
    of an unexported ``BytesIO`` hands over that buffer itself (CPython shrinks it in place), so
    the peak is the body once plus a chunk. Nothing is reserved from the declared Content-Length:
    a client that declares 32 MiB and sends a byte holds a byte (bench/FINDINGS.md, issue 14).
    """
    buffer = io.BytesIO()
    async for chunk in request.stream():
        buffer.write(chunk)
    return buffer.getvalue()


async def _accept(
    request: Request, participant: Participant, idempotency_key: str | None, jws_signature: str | None
) -> Response:
    body = await read_body(request)  # capped at max_body_bytes by hub.api.limits as it is read
    submission = Submission(
        body=body,
        content_type=request.headers.get("content-type"),
        submitted_by=participant,
        idempotency_key=idempotency_key,
        jws_signature=jws_signature,
    )
    app = request.app
    loop = asyncio.get_running_loop()
    result = await loop.run_in_executor(intake_executor(app), app.state.intake.submit, submission)
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
