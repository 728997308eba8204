"""The HTTP face of the agency-system simulator: ``POST /webhook/{participant_id}`` and ``/_sim`` admin."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from .behaviour import Behaviours
from .config import SimulatorConfig
from .store import Inbox

MESSAGE_ID_HEADER = "x-lienthong-message-id"
JWS_HEADER = "x-jws-signature"


@dataclass
class Simulator:
    """The simulator's parts, reachable as ``app.state.sim``."""

    config: SimulatorConfig
    inbox: Inbox
    behaviours: Behaviours = field(default_factory=Behaviours)
    calls: Counter[int] = field(default_factory=Counter)

    def reset(self) -> None:
        self.inbox.reset()
        self.behaviours.clear()
        self.calls.clear()

    def serves(self, participant: str) -> bool:
        return self.config.participants is None or participant in self.config.participants


class Scope(BaseModel):
    participant: str | None = Field(default=None, description="one agency system; omitted = all of them")


class FailNextRequest(Scope):
    count: int = Field(default=1, ge=1)
    status: int = Field(default=503, ge=400, le=599)
    retry_after: int | None = Field(default=None, ge=0, description="seconds, sent as Retry-After")


class DownRequest(Scope):
    retry_after: int | None = Field(default=None, ge=0)


class AlwaysFailRequest(Scope):
    status: int | None = Field(ge=400, le=599, description="null stops it")


class SlowRequest(Scope):
    seconds: float = Field(ge=0, le=300, description="0 stops it")
    count: int | None = Field(default=None, ge=1, description="how many calls; omitted = every call")


def _is_json(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))


def _refuse(status: int, error: str, message: str, retry_after: int | None = None) -> JSONResponse:
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
    return JSONResponse({"error": error, "message": message}, status, headers=headers)


def create_app(config: SimulatorConfig | None = None) -> FastAPI:
    """A fresh simulator (its own state) playing the agency systems of `config`."""
    config = config or SimulatorConfig()
    sim = Simulator(config=config, inbox=Inbox(reference_prefix=config.reference_prefix))
    app = FastAPI(title="lienthong agency-system simulator", version="1")
    app.state.sim = sim

    @app.post("/webhook/{participant_id}")
    async def webhook(participant_id: str, request: Request) -> JSONResponse:
        """Receive one delivery; repeats of a hub message id are answered again, not recorded twice."""
        answer = await _serve(sim, participant_id, request)
        sim.calls[answer.status_code] += 1
        return answer

    @app.get("/_sim/received")
    def received(
        participant: str | None = Query(default=None), include_duplicates: bool = Query(default=True)
    ) -> dict[str, Any]:
        items = sim.inbox.items(participant, include_duplicates=include_duplicates)
        return {"items": [item.to_dict() for item in items]}

    @app.get("/_sim/state")
    def state() -> dict[str, Any]:
        return {
            "participants": config.participants,
            "behaviours": sim.behaviours.to_dict(),
            "received": sim.inbox.counts(),
            "answers": {str(status): n for status, n in sorted(sim.calls.items())},
        }

    @app.post("/_sim/reset")
    def reset() -> dict[str, str]:
        sim.reset()
        return {"status": "reset"}

    @app.post("/_sim/fail-next")
    def fail_next(body: FailNextRequest) -> dict[str, Any]:
        sim.behaviours.update(
            body.participant, fail_next=body.count, fail_status=body.status, retry_after=body.retry_after
        )
        return sim.behaviours.to_dict()

    @app.post("/_sim/down")
    def down(body: DownRequest | None = None) -> dict[str, Any]:
        body = body or DownRequest()
        sim.behaviours.update(body.participant, down=True, retry_after=body.retry_after)
        return sim.behaviours.to_dict()

    @app.post("/_sim/up")
    def up(body: Scope | None = None) -> dict[str, Any]:
        sim.behaviours.update((body or Scope()).participant, down=False)
        return sim.behaviours.to_dict()

    @app.post("/_sim/always-fail")
    def always_fail(body: AlwaysFailRequest) -> dict[str, Any]:
        sim.behaviours.update(body.participant, always_status=body.status)
        return sim.behaviours.to_dict()

    @app.post("/_sim/slow")
    def slow(body: SlowRequest) -> dict[str, Any]:
        sim.behaviours.update(body.participant, slow_seconds=body.seconds, slow_calls=body.count)
        return sim.behaviours.to_dict()

    @app.post("/_sim/clear")
    def clear(body: Scope | None = None) -> dict[str, Any]:
        """Back to normal behaviour (what was received is kept)."""
        sim.behaviours.clear((body or Scope()).participant)
        return sim.behaviours.to_dict()

    return app


async def _serve(sim: Simulator, participant: str, request: Request) -> JSONResponse:
    if not sim.serves(participant):
        return _refuse(404, "unknown_participant", f"no agency system {participant!r} here")
    decision = sim.behaviours.take(participant)
    if decision.delay:
        await asyncio.sleep(decision.delay)
    if decision.status is not None:
        return _refuse(decision.status, "unavailable", decision.why or "failure", decision.retry_after)
    expected = sim.config.tokens.get(participant)
    if expected is not None:
        given = request.headers.get("authorization", "")
        if not hmac.compare_digest(given.encode(), f"Bearer {expected}".encode()):
            return _refuse(401, "unauthorized", "missing or wrong bearer token")
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > sim.config.max_body_bytes:
        return _refuse(413, "too_large", f"the body exceeds {sim.config.max_body_bytes} bytes")
    body = await request.body()
    if len(body) > sim.config.max_body_bytes:
        return _refuse(413, "too_large", f"the body exceeds {sim.config.max_body_bytes} bytes")
    digest_problem = _content_digest_problem(request.headers.get("content-digest"), body)
    if digest_problem:  # a truncated or altered body: never recorded, so its message id is not "seen"
        return _refuse(400, "content_digest_mismatch", digest_problem)
    message_id = request.headers.get(MESSAGE_ID_HEADER)
    if not message_id:
        return _refuse(400, "missing_message_id", "X-Lienthong-Message-Id is required")
    if not body:
        return _refuse(400, "empty_body", "the delivery has no document")
    unsigned_json = _is_json(request.headers.get("content-type", "")) and not request.headers.get(JWS_HEADER)
    if unsigned_json and sim.config.require_signature_for_json:
        return _refuse(400, "missing_signature", "a JSON document must carry x-jws-signature")
    item = sim.inbox.record(participant, message_id, dict(request.headers), body)
    return JSONResponse({"reference": item.reference, "duplicate": item.duplicate})


_DIGESTS = {"sha-256": hashlib.sha256, "sha-512": hashlib.sha512}


def _content_digest_problem(header: str | None, body: bytes) -> str | None:
    """RFC 9530 §2: ``Content-Digest`` is a dictionary of algorithm → :base64 digest:; check every
    algorithm we know, ignore those we do not (as the RFC allows); None when nothing contradicts."""
    if not header:
        return None
    for member in header.split(","):
        name, _, value = member.strip().partition("=")
        algorithm = _DIGESTS.get(name.strip().lower())
        if algorithm is None:
            continue
        value = value.strip()
        if not (value.startswith(":") and value.endswith(":") and len(value) >= 2):
            return f"Content-Digest {name} is not a byte sequence"
        try:
            expected = base64.b64decode(value[1:-1], validate=True)
        except ValueError:
            return f"Content-Digest {name} is not base64"
        if not hmac.compare_digest(expected, algorithm(body).digest()):
            return f"the body ({len(body)} bytes) does not match its Content-Digest {name}"
    return None
