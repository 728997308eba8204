"""What goes into the ledger and what comes out of it: plain, immutable dataclasses, and the
constructors that build them from database rows (the one place that knows both shapes)."""

from __future__ import annotations

import json
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
    """One event. ``id`` is its identity; ``seq`` its position in the log (1-based), None until the
    sequencer has placed it. ``leaf_hash`` is the hex RFC 9162 leaf hash of its entry.
    ``prev_hash``/``hash`` are the v1 chain's, for events recorded before ledger v2."""

    id: int
    seq: int | None
    at: datetime
    kind: str
    message_id: str | None
    delivery_id: str | None
    data: dict[str, Any]
    leaf_hash: str
    prev_hash: str | None = None
    hash: str | None = None


@dataclass(frozen=True, kw_only=True)
class CheckpointRecord:
    """A signed tree head: the log's first ``tree_size`` entries have root ``root_hash`` (hex).

    ``note`` is the C2SP signed note (hub's signature), ``cosignatures`` the witnesses' signature
    lines, ``timestamp`` an RFC 3161 TimeStampResp (DER) over the note's text, if a TSA is set."""

    tree_size: int
    root_hash: str
    note: str
    cosignatures: str
    timestamp: bytes | None
    created_at: datetime

    @property
    def signed_note(self) -> str:
        """The note with every signature: the hub's, then the witnesses'."""
        return self.note + self.cosignatures


@dataclass(frozen=True)
class Fault:
    """One thing ``verify`` found wrong. ``kind`` is a stable code (see :mod:`hub.ledger.verify`);
    ``seq`` the log position concerned, if any; ``subject`` the message, delivery or checkpoint."""

    kind: str
    seq: int | None
    detail: str
    subject: str | None = None

    def __str__(self) -> str:
        where = f"#{self.seq} " if self.seq is not None else ""
        return f"{where}{self.kind}: {self.detail}"


@dataclass(frozen=True)
class ChainReport:
    """Outcome of ``Ledger.verify_chain``: every fault found (or, with ``first``, the first one).

    ``first_bad_seq`` and ``reason`` describe the first fault (``"<code>: <sentence>"``), as in v1.
    """

    ok: bool
    events_checked: int
    first_bad_seq: int | None = None
    reason: str | None = None
    faults: tuple[Fault, ...] = ()

    @classmethod
    def of(cls, events_checked: int, faults: Sequence[Fault]) -> ChainReport:
        if not faults:
            return cls(True, events_checked)
        first = faults[0]
        return cls(False, events_checked, first.seq, f"{first.kind}: {first.detail}", tuple(faults))


class DuplicateMessage(Exception):
    """The message collides with one already recorded; ``existing`` is that one.

    ``key`` says which unique key collided: ``"natural_key"`` or ``"idempotency_key"``.
    """

    def __init__(self, existing: MessageRecord, key: str) -> None:
        super().__init__(f"duplicate of message {existing.id} by {key}")
        self.existing = existing
        self.key = key


# -- constructors from rows (mappings of column name → value) ----------------------------------------


def message_record(row: Mapping[Any, Any], delivery_records: tuple[DeliveryRecord, ...]) -> MessageRecord:
    """A MessageRecord from a ``messages`` row that carries ``size`` (len(original)) instead of bytes."""
    return MessageRecord(
        id=row["id"],
        doctype=row["doctype"],
        sender=row["sender"],
        submitted_by=row["submitted_by"],
        recipients=tuple(row["recipients"]),
        correlation_key=row["correlation_key"],
        natural_key=row["natural_key"],
        idempotency_key=row["idempotency_key"],
        digest=row["digest"],
        document_digest=row["document_digest"],
        content_type=row["content_type"],
        signature=row["signature"],
        signer=row["signer"],
        state=row["state"],
        warnings=tuple(row["warnings"]),
        received_at=row["received_at"],
        accepted_at=row["accepted_at"],
        size=int(row["size"]),
        deliveries=delivery_records,
    )


def delivery_record(row: Mapping[Any, Any]) -> DeliveryRecord:
    return DeliveryRecord(
        id=row["id"],
        message_id=row["message_id"],
        recipient=row["recipient"],
        adapter=row["adapter"],
        state=row["state"],
        attempts=int(row["attempts"]),
        next_attempt_at=row["next_attempt_at"],
        last_error=row["last_error"],
        peer_reference=row["peer_reference"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def event_record(row: Mapping[Any, Any]) -> EventRecord:
    return EventRecord(
        id=int(row["id"]),
        seq=None if row["seq"] is None else int(row["seq"]),
        at=row["at"],
        kind=row["kind"],
        message_id=row["message_id"],
        delivery_id=row["delivery_id"],
        data=json.loads(row["data"]),
        leaf_hash=row["leaf_hash"],
        prev_hash=row["prev_hash"],
        hash=row["hash"],
    )


def checkpoint_record(row: Mapping[Any, Any]) -> CheckpointRecord:
    return CheckpointRecord(
        tree_size=int(row["tree_size"]),
        root_hash=row["root_hash"],
        note=row["note"],
        cosignatures=row["cosignatures"] or "",
        timestamp=bytes(row["timestamp"]) if row["timestamp"] is not None else None,
        created_at=row["created_at"],
    )
