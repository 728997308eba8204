"""The shapes of the API's answers, as Pydantic models: they are the OpenAPI's response schemas.

The routers build plain dicts (hub.api.views); naming a model here as an operation's response model
makes FastAPI check the dict against it and publish its schema, so the published contract and the
real answers cannot drift apart (tests/test_openapi.py validates real answers against the schema).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from hub.problems import PROBLEM_TYPES

DeliveryState = Literal["queued", "delivering", "delivered", "retrying", "dead"]


class Links(BaseModel):
    self: str
    document: str
    receipt: str


class Delivery(BaseModel):
    """One recipient's delivery of a message."""

    id: str
    message_id: str
    recipient: str
    adapter: str | None
    state: DeliveryState
    attempts: int = Field(description="attempts in the current round (an operator's retry starts a new one)")
    attempts_total: int | None = Field(
        default=None,
        description="every attempt, across operator retries (in a message's or a timeline's view)",
    )
    next_attempt_at: str | None = Field(description="ISO 8601; when the next attempt is due")
    last_error: str | None = Field(description="the peer's words or the transport error of the last attempt")
    peer_reference: str | None = Field(description="the id the receiving system gave the document")
    updated_at: str | None


class Event(BaseModel):
    """One event of the ledger's log."""

    id: int = Field(description="recording order")
    seq: int | None = Field(
        description="position in the ledger's Merkle log; null until the sequencer placed it"
    )
    at: str | None
    kind: str
    message_id: str | None
    delivery_id: str | None
    data: dict[str, Any]


class Accepted(BaseModel):
    """The answer to a submitted document (202; 200 for a duplicate, naming the original)."""

    id: str
    state: str
    type: str | None
    duplicate: bool
    warnings: list[str]
    links: Links


class Replayed(BaseModel):
    id: str
    state: str
    type: str | None
    replay_of: str
    links: Links


class MessageDetail(BaseModel):
    """Everything about one message: what it is, its deliveries and every event recorded about it."""

    id: str
    type: str | None
    state: str
    sender: str | None
    submitted_by: str
    recipients: list[str]
    correlation_key: str | None
    digest: str
    document_digest: str | None
    signer: str | None
    warnings: list[str]
    received_at: str | None
    accepted_at: str | None
    deliveries: list[Delivery]
    events: list[Event]
    links: Links


class MessageSummary(BaseModel):
    id: str
    type: str | None
    state: str
    sender: str | None
    recipients: list[str]
    correlation_key: str | None
    received_at: str | None
    deliveries: list[Delivery]


class Timeline(BaseModel):
    correlation_key: str
    messages: list[MessageSummary]
    events: list[Event]


class InboxItem(BaseModel):
    delivery_id: str
    message_id: str
    type: str | None
    sender: str | None
    correlation_key: str | None
    content_type: str
    document_url: str
    signature: str | None = Field(description="the detached JWS of a JSON document, if any")


class Inbox(BaseModel):
    items: list[InboxItem]


class DeliveryPage(BaseModel):
    items: list[Delivery]
    limit: int
    offset: int


class RetryFilter(BaseModel):
    """Which deliveries to send again: every one matching all the given fields."""

    model_config = ConfigDict(extra="forbid")

    state: Literal["dead", "retrying"] = "dead"
    recipient: str | None = None
    adapter: str | None = None
    limit: int = Field(default=100, ge=1, le=1000, description="at most this many, most recent first")


class Retried(BaseModel):
    retried: list[Delivery]
    count: int


class Check(BaseModel):
    ok: bool
    detail: str


class Ready(BaseModel):
    status: Literal["ready"]
    checks: dict[str, Check]


class Peer(BaseModel):
    """An outside system an adapter calls, as last checked (reported, never part of readiness)."""

    adapter: str
    url: str
    ok: bool
    detail: str
    down_since: str | None


class DeliveryStatus(BaseModel):
    """Where this hub's delivery runs: in the `serve` process's threads, or in its child process
    (`state` running, starting, down while it waits to be restarted, stopped)."""

    mode: Literal["threads", "process"]
    workers: int
    state: Literal["starting", "running", "down", "stopped"] | None = None
    pid: int | None = None
    restarts: int | None = None


class Health(BaseModel):
    status: Literal["ok"]
    peers: list[Peer]
    delivery: DeliveryStatus


class ProblemTypeInfo(BaseModel):
    type: str
    title: str
    status: int


class SchemaInfo(BaseModel):
    type: str
    format: str
    media_type: str
    url: str


class ProblemDetails(BaseModel):
    """RFC 9457 problem details. `type` is one of the catalogue at GET /problems (a stable slug)."""

    type: str = Field(
        description="/problems/<slug>; slugs: " + ", ".join(sorted(PROBLEM_TYPES)),
        examples=["/problems/schema-invalid"],
    )
    title: str
    status: int
    detail: str
    instance: str | None = None
    errors: list[dict[str, Any]] | None = Field(
        default=None, description="each finding (e.g. every schema error) with its location"
    )

    model_config = ConfigDict(extra="allow")
