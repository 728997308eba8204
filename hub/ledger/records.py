"""What goes into the ledger and what comes out of it: plain, immutable dataclasses."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True, kw_only=True)
class NewMessage:
    """A message the pipeline has checked and is about to record.

    ``id`` is a uuid4 string chosen by the caller; ``digest`` and ``document_digest`` are the hex
    SHA-256 of ``original`` and ``document`` (the ledger re-checks them). ``received_at`` defaults to
    the time of recording.
    """

    id: str
    doctype: str
    sender: str
    submitted_by: str
    recipients: Sequence[str]
    digest: str
    original: bytes
    document: bytes
    document_digest: str
    content_type: str
    correlation_key: str | None = None
    natural_key: str | None = None
    idempotency_key: str | None = None
    signature: str | None = None
    signer: str | None = None
    warnings: Sequence[Any] = ()
    received_at: datetime | None = None
    adapters: Mapping[str, str] = field(default_factory=dict)  # recipient → adapter chosen by routing
    deliver_to: Sequence[str] | None = None  # recipients that get a delivery (None: all of them)
    replay_of: str | None = None  # an operator's replay: the original message's id
    replayed_by: str | None = None


@dataclass(frozen=True, kw_only=True)
class DeliveryRecord:
    id: str
    message_id: str
    recipient: str
    adapter: str | None
    state: str
    attempts: int
    next_attempt_at: datetime | None
    last_error: str | None
    peer_reference: str | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, kw_only=True)
class MessageRecord:
    """A recorded message without its bytes (see ``Ledger.get_document``); ``size`` is len(original)."""

    id: str
    doctype: str
    sender: str
    submitted_by: str
    recipients: tuple[str, ...]
    correlation_key: str | None
    natural_key: str | None
    idempotency_key: str | None
    digest: str
    document_digest: str
    content_type: str
    signature: str | None
    signer: str | None
    state: str
    warnings: tuple[Any, ...]
    received_at: datetime
    accepted_at: datetime | None
    size: int
    deliveries: tuple[DeliveryRecord, ...] = field(default=())


@dataclass(frozen=True, kw_only=True)
class EventRecord:
    seq: int
    at: datetime
    kind: str
    message_id: str | None
    delivery_id: str | None
    data: dict[str, Any]
    prev_hash: str
    hash: str


@dataclass(frozen=True)
class ChainReport:
    """Outcome of ``Ledger.verify_chain``.

    ``reason`` starts with one of the codes in :mod:`hub.ledger.verify` (``edited``, ``deleted``,
    ``reordered``, ``message-altered``, ``message-missing``, ``head-mismatch``, ``forged-append``)
    followed by ": " and a sentence for a human.
    """

    ok: bool
    events_checked: int
    first_bad_seq: int | None = None
    reason: str | None = None


class DuplicateMessage(Exception):
    """The message collides with one already recorded; ``existing`` is that one.

    ``key`` says which unique key collided: ``"natural_key"`` or ``"idempotency_key"``.
    """

    def __init__(self, existing: MessageRecord, key: str) -> None:
        super().__init__(f"duplicate of message {existing.id} by {key}")
        self.existing = existing
        self.key = key
