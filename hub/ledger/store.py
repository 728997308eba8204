"""The ledger: messages with their exact bytes, deliveries, and the event log, composed.

:class:`Ledger` records messages, refusals and delivery changes itself, each in one transaction with
its events; concurrent recordings of messages share one (group commit: one durable commit for many
202s, see :mod:`hub.ledger.groupcommit`). It holds three parts and forwards their public methods:

- ``log`` (:class:`hub.ledger.log.EventLog`): append, sequence, checkpoints, proofs;
- ``work`` (:class:`hub.ledger.work.DeliveryWork`): claims, outcomes, inbox, timelines, leases;
- ``queries`` (:class:`hub.ledger.queries.LedgerQueries`): what the console and metrics ask.

No writer takes a lock shared with other writers: an event's leaf hash needs only its own content,
and positions in the log are handed out later by the sequencer.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from uuid6 import uuid7

from hub.ledger import blobs as _blobs
from hub.ledger import migrate as _migrate
from hub.ledger import verify as _verify
from hub.ledger.engine import create_ledger_engine, reader
from hub.ledger.groupcommit import GroupCommitter
from hub.ledger.log import EventLog, PendingEvent, PreparedEvents
from hub.ledger.models import DELIVERED_DOCUMENT, deliveries, events, messages
from hub.ledger.note import Checkpoint
from hub.ledger.queries import LedgerQueries
from hub.ledger.records import (
    ChainReport,
    DeliveryRecord,
    DuplicateMessage,
    EventRecord,
    MessageRecord,
    NewMessage,
    delivery_record,
    event_record,
    message_record,
)
from hub.ledger.work import DeliveryWork
from hub.problems import Problem

# Delivery states a delivery may move to from each state; "dead" → "queued" is an operator's requeue.
DELIVERY_TRANSITIONS: dict[str, frozenset[str]] = {
    "queued": frozenset({"delivering", "dead"}),
    "delivering": frozenset({"delivered", "retrying", "dead", "queued"}),
    "retrying": frozenset({"delivering", "dead", "queued"}),
    "dead": frozenset({"queued"}),
    "delivered": frozenset(),
}


class _Unset:
    def __repr__(self) -> str:
        return "UNSET"


UNSET: Any = _Unset()

# Kinds only the ledger itself writes: verify_chain trusts their data (digests) and recomputes the
# state rows from them, so nobody may append one around the row it describes.
RESERVED_KINDS = frozenset(
    {"message.received", "message.accepted", *(f"delivery.{state}" for state in DELIVERY_TRANSITIONS)}
)
MAX_RECORDED_ERRORS = 100


def utcnow() -> datetime:
    return datetime.now(UTC)


# Statements of the hot path, built once: SQLAlchemy then reuses their cache keys and compiled forms
# instead of rebuilding expressions on every message (a measurable share of intake's CPU, see
# docs/BENCHMARKS.md).
_INSERT_MESSAGE = sa.insert(messages)
# A big document on SQLite: placeholders of its size, filled in place (hub.ledger.blobs).
_INSERT_MESSAGE_IN_PLACE = sa.insert(messages).values(
    original=_blobs.placeholder("original_size"), document=_blobs.placeholder("document_size")
)
_INSERT_DELIVERIES = sa.insert(deliveries)
_MESSAGE_SUMMARY = sa.select(
    *(c for c in messages.c if c.name not in ("original", "document")),
    sa.func.length(messages.c.original).label("size"),
)
_DOCUMENT_BY_ID = sa.select(DELIVERED_DOCUMENT, messages.c.content_type, messages.c.signature).where(
    messages.c.id == sa.bindparam("id")
)
_ORIGINAL_BY_ID = sa.select(
    messages.c.original, messages.c.content_type, messages.c.signature, messages.c.signer
).where(messages.c.id == sa.bindparam("id"))
# On SQLite a big document is read in place (hub.ledger.blobs.read): these give its row and column
# instead of its bytes (NULL), which a SELECT would hold twice at once. length() of a column does
# not read the value.
_IN_PLACE = _blobs.IN_PLACE_BYTES
_STORED_ONCE = sa.func.length(messages.c.document) == 0
_DOCUMENT_OR_PLACE_BY_ID = sa.select(
    sa.case(
        (sa.func.length(messages.c.document) >= _IN_PLACE, sa.null()),
        (sa.and_(_STORED_ONCE, sa.func.length(messages.c.original) >= _IN_PLACE), sa.null()),
        else_=DELIVERED_DOCUMENT.element,
    ).label("document"),
    sa.case((_STORED_ONCE, "original"), else_="document").label("place"),
    sa.literal_column("rowid").label("rowid"),
    messages.c.content_type,
    messages.c.signature,
).where(messages.c.id == sa.bindparam("id"))
_ORIGINAL_OR_PLACE_BY_ID = sa.select(
    sa.case((sa.func.length(messages.c.original) >= _IN_PLACE, sa.null()), else_=messages.c.original).label(
        "original"
    ),
    sa.literal("original").label("place"),
    sa.literal_column("rowid").label("rowid"),
    messages.c.content_type,
    messages.c.signature,
    messages.c.signer,
).where(messages.c.id == sa.bindparam("id"))
_MESSAGE_BY_ID = _MESSAGE_SUMMARY.where(messages.c.id == sa.bindparam("id"))
_MESSAGE_BY_NATURAL_KEY = _MESSAGE_SUMMARY.where(
    messages.c.sender == sa.bindparam("sender"),
    messages.c.doctype == sa.bindparam("doctype"),
    messages.c.natural_key == sa.bindparam("natural_key"),
)
_MESSAGE_BY_IDEMPOTENCY_KEY = _MESSAGE_SUMMARY.where(
    messages.c.submitted_by == sa.bindparam("submitted_by"),
    messages.c.idempotency_key == sa.bindparam("idempotency_key"),
)
_DELIVERIES_OF = (
    sa.select(deliveries)
    .where(deliveries.c.message_id == sa.bindparam("message_id"))
    .order_by(deliveries.c.created_at, deliveries.c.recipient)
)


@dataclass(frozen=True)
class _PreparedMessage:
    """The rows and events of one message, ready for a (group) commit.

    ``in_place``: the message row is inserted with placeholders for its documents, which are then
    written into them (:mod:`hub.ledger.blobs`) — a big document on SQLite."""

    msg: NewMessage
    message_row: dict[str, Any]
    delivery_rows: list[dict[str, Any]]
    in_place: bool
    events: PreparedEvents  # its events, ready to insert (prepared before the transaction)

    def placeholder_row(self) -> dict[str, Any]:
        """The message row for :data:`_INSERT_MESSAGE_IN_PLACE`: the documents' sizes, not their bytes."""
        row = {k: v for k, v in self.message_row.items() if k not in ("original", "document")}
        row["original_size"] = len(self.message_row["original"])
        row["document_size"] = len(self.message_row["document"])
        return row


class _Forward:
    """A method of one of the Ledger's parts, offered on the Ledger itself (``ledger.claim_due``)."""

    def __init__(self, part: str) -> None:
        self.part = part
        self.name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, ledger: Any, owner: type | None = None) -> Any:
        if ledger is None:
            return self
        return getattr(getattr(ledger, self.part), self.name)


class Ledger:
    """The hub's record of truth, on SQLite (a file) or PostgreSQL, chosen by SQLAlchemy URL."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._engine = create_ledger_engine(url)
        self._in_place = _blobs.in_place(self._engine)
        self._document_by_id = _DOCUMENT_OR_PLACE_BY_ID if self._in_place else _DOCUMENT_BY_ID
        self._original_by_id = _ORIGINAL_OR_PLACE_BY_ID if self._in_place else _ORIGINAL_BY_ID
        # PostgreSQL over psycopg: a batch's transaction goes out as one pipeline (_write_pipelined)
        self._pipelines = self._engine.dialect.driver == "psycopg"
        self._reader = reader(self._engine)
        self.log = EventLog(self._engine, self._reader)
        self.work = DeliveryWork(self._engine, self._reader, self.log)
        self.queries = LedgerQueries(self._reader)
        # Concurrent record_message calls share one transaction and one durable commit.
        self._committer: GroupCommitter[_PreparedMessage, MessageRecord] = GroupCommitter(
            self._write_messages
        )

    # delivery work (hub.ledger.work)
    claim_due = _Forward("work")
    claim_delivery = _Forward("work")
    finish_attempt = _Forward("work")
    stale_deliveries = _Forward("work")
    get_delivery = _Forward("work")
    list_deliveries = _Forward("work")
    requeue = _Forward("work")
    inbox = _Forward("work")
    acknowledge_inbox = _Forward("work")
    timeline = _Forward("work")
    get_state = _Forward("work")
    set_state = _Forward("work")
    compare_and_set_state = _Forward("work")
    hold_lease = _Forward("work")
    release_leases = _Forward("work")
    # read models (hub.ledger.queries)
    search_messages = _Forward("queries")
    throughput = _Forward("queries")
    queue_figures = _Forward("queries")
    events_of_kinds = _Forward("queries")
    # the log (hub.ledger.log)
    latest_checkpoint = _Forward("log")

    @property
    def engine(self) -> sa.Engine:
        return self._engine

    def migrate(self) -> None:
        """Create or upgrade the schema (alembic upgrade head); safe to call from several processes."""
        _migrate.upgrade(self._engine, "head")

    def dispose(self) -> None:
        self._engine.dispose()

    # ------------------------------------------------------------------ writes

    def record_message(self, msg: NewMessage) -> MessageRecord:
        """Record an accepted message, one queued delivery per recipient, and their events.

        Raises :class:`DuplicateMessage` (with the message already recorded) when the natural key or
        the idempotency key is taken, including when another process won the race for it.
        """
        _check_digest("digest", msg.original, msg.digest)
        # A document its sender signed is delivered as received: stored once (`document` empty).
        stored_once = msg.document is msg.original or msg.document == msg.original
        if stored_once:
            if msg.document_digest.lower() != msg.digest.lower():
                raise ValueError("document_digest is not the SHA-256 of the bytes given")
        else:
            _check_digest("document_digest", msg.document, msg.document_digest)
        stored_document = b"" if stored_once else msg.document
        now = utcnow()
        received_at = msg.received_at or now
        recipients = list(dict.fromkeys(msg.recipients))
        warnings = list(msg.warnings)
        delivery_rows: list[dict[str, Any]] = [
            {
                "id": str(uuid7()),
                "message_id": msg.id,
                "recipient": recipient,
                "adapter": msg.adapters.get(recipient),
                "state": "queued",
                "attempts": 0,
                "next_attempt_at": now,
                "last_error": None,
                "peer_reference": None,
                "created_at": now,
                "updated_at": now,
            }
            for recipient in recipients
            if msg.deliver_to is None or recipient in msg.deliver_to
        ]
        message_row = {
            "id": msg.id,
            "doctype": msg.doctype,
            "sender": msg.sender,
            "submitted_by": msg.submitted_by,
            "recipients": recipients,
            "correlation_key": msg.correlation_key,
            "natural_key": msg.natural_key,
            "idempotency_key": msg.idempotency_key,
            "digest": msg.digest,
            "original": msg.original,
            "document": stored_document,
            "document_digest": msg.document_digest,
            "content_type": msg.content_type,
            "signature": msg.signature,
            "signer": msg.signer,
            "state": "accepted",
            "warnings": warnings,
            "received_at": received_at,
            "accepted_at": now,
        }
        pending = [
            PendingEvent(
                "message.received",
                msg.id,
                None,
                {
                    "digest": msg.digest,
                    "size": len(msg.original),
                    "content_type": msg.content_type,
                    "submitted_by": msg.submitted_by,
                    "received_at": received_at,
                    **({"replay_of": msg.replay_of, "replayed_by": msg.replayed_by} if msg.replay_of else {}),
                },
            ),
            PendingEvent(
                "message.accepted",
                msg.id,
                None,
                {
                    "digest": msg.digest,
                    "document_digest": msg.document_digest,
                    "doctype": msg.doctype,
                    "sender": msg.sender,
                    "recipients": recipients,
                    "correlation_key": msg.correlation_key,
                    "signer": msg.signer,
                    "signed_by_hub": not stored_once,
                    "warnings": len(warnings),
                },
            ),
            *(
                PendingEvent(
                    "delivery.queued",
                    msg.id,
                    row["id"],
                    {"recipient": row["recipient"], "adapter": row["adapter"]},
                )
                for row in delivery_rows
            ),
        ]
        if msg.replay_of:  # the original's own history says it was replayed, and as what
            pending.append(
                PendingEvent(
                    "message.replayed", msg.replay_of, None, {"replay": msg.id, "by": msg.replayed_by}
                )
            )
        size = len(msg.original) + len(stored_document)
        in_place = self._in_place and size >= _blobs.IN_PLACE_BYTES
        prepared = _PreparedMessage(msg, message_row, delivery_rows, in_place, EventLog.prepare(pending))
        return self._committer.submit(prepared, size=size)

    def _insert_message(self, conn: sa.Connection, p: _PreparedMessage) -> MessageRecord:
        self._insert_message_rows(conn, [p])
        if p.delivery_rows:
            conn.execute(_INSERT_DELIVERIES, p.delivery_rows)
        self.log.insert(conn, p.events)
        return _record_of(p)

    @staticmethod
    def _insert_message_rows(conn: sa.Connection, batch: Sequence[_PreparedMessage]) -> None:
        """The message rows of `batch`: small documents bound, big ones (SQLite) written in place."""
        bound = [p.message_row for p in batch if not p.in_place]
        if bound:
            conn.execute(_INSERT_MESSAGE, bound)
        placed = [p for p in batch if p.in_place]
        if placed:
            conn.execute(_INSERT_MESSAGE_IN_PLACE, [p.placeholder_row() for p in placed])
            for p in placed:
                documents = {name: p.message_row[name] for name in ("original", "document")}
                _blobs.fill(conn, messages, _blobs.rowid_of(conn, messages, p.msg.id), documents)

    def _write_pipelined(self, batch: Sequence[_PreparedMessage]) -> bool:
        """PostgreSQL over psycopg: write the batch with BEGIN, its inserts and COMMIT in one pipeline
        (one round trip instead of one per statement). False if that failed — a key taken, or anything
        else but a lost connection — and was rolled back: the caller writes the batch again the
        ordinary way, which tells a clash from an outage. A failed pipeline's connection is dropped,
        not pooled (psycopg leaves it in an aborted pipeline's state)."""
        with self._engine.connect() as conn:
            try:
                with conn.connection.driver_connection.pipeline(), conn.begin():  # type: ignore[union-attr]
                    self._insert_batch(conn, batch)
            except sa.exc.DBAPIError as error:
                if error.connection_invalidated:  # the server went away: perhaps after the COMMIT
                    raise
                conn.invalidate()
                return False
        return True

    def _insert_batch(self, conn: sa.Connection, batch: Sequence[_PreparedMessage]) -> None:
        self._insert_message_rows(conn, batch)
        delivery_rows = [row for p in batch for row in p.delivery_rows]
        if delivery_rows:
            conn.execute(_INSERT_DELIVERIES, delivery_rows)
        self.log.insert(conn, PreparedEvents.joined([p.events for p in batch]))

    def _write_messages(self, batch: Sequence[_PreparedMessage]) -> list[MessageRecord | BaseException]:
        """Record a batch of messages in one transaction (group commit, see hub.ledger.groupcommit).

        The batch is written with one multi-row insert per table (three statements, whatever its
        size; on PostgreSQL one round trip for all, see :meth:`_write_pipelined`). If a key is taken,
        that transaction rolls back and the batch is written again with each message under its own
        savepoint, so a duplicate rolls back alone and is answered with :class:`DuplicateMessage` once
        the batch (perhaps holding the original) is committed.
        """
        if self._pipelines and self._write_pipelined(batch):
            return [_record_of(p) for p in batch]
        try:
            with self._engine.begin() as conn:
                self._insert_batch(conn, batch)
            return [_record_of(p) for p in batch]
        except IntegrityError as clash:
            if len(batch) == 1:
                outcomes: list[MessageRecord | BaseException] = [clash]
            else:
                outcomes = self._write_one_by_one(batch)
        for i, (p, outcome) in enumerate(zip(batch, outcomes, strict=True)):
            if isinstance(outcome, IntegrityError):
                duplicate = self._find_duplicate(p.msg)
                outcomes[i] = DuplicateMessage(*duplicate) if duplicate else outcome
        return outcomes

    def _write_one_by_one(self, batch: Sequence[_PreparedMessage]) -> list[MessageRecord | BaseException]:
        """The batch again, each message under a savepoint: a clash rolls back that message alone."""
        outcomes: list[MessageRecord | BaseException] = []
        with self._engine.begin() as conn:
            for p in batch:
                try:
                    with conn.begin_nested():
                        outcomes.append(self._insert_message(conn, p))
                except IntegrityError as clash:
                    outcomes.append(clash)
        return outcomes

    def record_refusal(
        self,
        *,
        problem: str,
        detail: str,
        submitted_by: str | None,
        sender: str | None,
        doctype: str | None,
        digest: str | None,
        size: int,
        errors: list[Any] | None = None,
    ) -> int:
        """Append a ``message.refused`` event (no message row is kept); returns its event id."""
        errors = list(errors or [])
        data = {
            "problem": problem,
            "detail": detail,
            "submitted_by": submitted_by,
            "sender": sender,
            "doctype": doctype,
            "digest": digest,
            "size": size,
            "errors": errors[:MAX_RECORDED_ERRORS],
            "error_count": len(errors),
        }
        with self._engine.begin() as conn:
            (event,) = self.log.append(
                conn, [PendingEvent("message.refused", None, None, data)], with_ids=True
            )
        return event.id

    def append_event(
        self,
        kind: str,
        *,
        message_id: str | None = None,
        delivery_id: str | None = None,
        data: dict[str, Any] | None = None,
    ) -> EventRecord:
        """Append one event. With only ``delivery_id``, the delivery's message id is filled in."""
        if not kind or kind in RESERVED_KINDS:
            raise ValueError(f"event kind {kind!r} cannot be appended directly")
        with self._engine.begin() as conn:
            if delivery_id is not None and message_id is None:
                message_id = conn.execute(
                    sa.select(deliveries.c.message_id).where(deliveries.c.id == delivery_id)
                ).scalar_one_or_none()
            (event,) = self.log.append(
                conn, [PendingEvent(kind, message_id, delivery_id, data)], with_ids=True
            )
        return event

    def update_delivery(
        self,
        delivery_id: str,
        *,
        state: str,
        data: dict[str, Any] | None = None,
        adapter: str | None = UNSET,
        next_attempt_at: datetime | None = UNSET,
        last_error: str | None = UNSET,
        peer_reference: str | None = UNSET,
    ) -> DeliveryRecord:
        """Move a delivery to ``state`` and append ``delivery.<state>`` in the same transaction.

        Entering ``delivering`` counts an attempt. Fields left UNSET keep their value. A transition
        not in :data:`DELIVERY_TRANSITIONS` raises ``Problem("conflict")``; an unknown id
        ``Problem("not-found")``.
        """
        if state not in DELIVERY_TRANSITIONS:
            raise ValueError(f"unknown delivery state {state!r}")
        changes: dict[str, Any] = {
            name: value
            for name, value in (
                ("adapter", adapter),
                ("next_attempt_at", next_attempt_at),
                ("last_error", last_error),
                ("peer_reference", peer_reference),
            )
            if value is not UNSET
        }
        with self._engine.begin() as conn:
            row = conn.execute(
                sa.select(deliveries).where(deliveries.c.id == delivery_id).with_for_update()
            ).one_or_none()
            if row is None:
                raise Problem("not-found", f"no delivery {delivery_id}")
            if state not in DELIVERY_TRANSITIONS[row.state]:
                raise Problem("conflict", f"delivery {delivery_id} is {row.state}; it cannot become {state}")
            changes["state"] = state
            changes["updated_at"] = utcnow()
            if state == "delivering":
                changes["attempts"] = row.attempts + 1
            conn.execute(sa.update(deliveries).where(deliveries.c.id == delivery_id).values(**changes))
            updated = {**row._mapping, **changes}
            event_data = {  # the ledger's own keys last: `verify` recomputes the row from them
                **(data or {}),
                "recipient": row.recipient,
                "from": row.state,
                "attempts": updated["attempts"],
                **{k: v for k, v in changes.items() if k not in ("state", "updated_at", "attempts")},
            }
            self.log.append(
                conn, [PendingEvent(f"delivery.{state}", row.message_id, delivery_id, event_data)]
            )
        return delivery_record(updated)

    def due_deliveries(self, *, now: datetime | None = None, limit: int = 100) -> list[DeliveryRecord]:
        """Deliveries queued or retrying whose next attempt is due, oldest first (for re-enqueueing)."""
        now = now or utcnow()
        with self._reader.connect() as conn:
            rows = conn.execute(
                sa.select(deliveries)
                .where(deliveries.c.state.in_(("queued", "retrying")), deliveries.c.next_attempt_at <= now)
                .order_by(deliveries.c.next_attempt_at, deliveries.c.id)
                .limit(limit)
            ).all()
        return [delivery_record(r._mapping) for r in rows]

    # ------------------------------------------------------------------ reads

    def get_message(self, message_id: str) -> MessageRecord | None:
        """The message and its deliveries, without the bytes."""
        with self._reader.connect() as conn:
            return self._load_message(conn, _MESSAGE_BY_ID, {"id": message_id})

    def find_by_natural_key(self, sender: str, doctype: str, natural_key: str) -> MessageRecord | None:
        with self._reader.connect() as conn:
            return self._load_message(
                conn,
                _MESSAGE_BY_NATURAL_KEY,
                {"sender": sender, "doctype": doctype, "natural_key": natural_key},
            )

    def find_by_idempotency_key(self, submitted_by: str, key: str) -> MessageRecord | None:
        with self._reader.connect() as conn:
            return self._load_message(
                conn, _MESSAGE_BY_IDEMPOTENCY_KEY, {"submitted_by": submitted_by, "idempotency_key": key}
            )

    def get_document(self, message_id: str) -> tuple[bytes, str, str | None] | None:
        """``(document, content_type, signature)``: the bytes as they are delivered."""
        with self._reader.connect() as conn:
            row = conn.execute(self._document_by_id, {"id": message_id}).one_or_none()
            if row is None:
                return None
            document = row.document
            if document is None:  # big, on SQLite: read in place
                document = _blobs.read(conn, messages, row.place, row.rowid)
        return bytes(document), row.content_type, row.signature

    def get_original(self, message_id: str) -> tuple[bytes, str, str | None, str | None] | None:
        """``(original, content_type, signature, signer)``: the bytes exactly as received (for a replay)."""
        with self._reader.connect() as conn:
            row = conn.execute(self._original_by_id, {"id": message_id}).one_or_none()
            if row is None:
                return None
            original = row.original
            if original is None:  # big, on SQLite: read in place
                original = _blobs.read(conn, messages, row.place, row.rowid)
        return bytes(original), row.content_type, row.signature, row.signer

    def list_events(self, message_id: str) -> list[EventRecord]:
        """Events of the message and of its deliveries, in seq order."""
        of_deliveries = sa.select(deliveries.c.id).where(deliveries.c.message_id == message_id)
        with self._reader.connect() as conn:
            rows = conn.execute(
                sa.select(events)
                .where(sa.or_(events.c.message_id == message_id, events.c.delivery_id.in_(of_deliveries)))
                .order_by(events.c.id)
            ).all()
        return [event_record(row._mapping) for row in rows]

    def verify_chain(
        self,
        *,
        progress: Callable[[int, int], None] | None = None,
        batch_size: int = 1000,
        first: bool = False,
        key: _verify.KeyCheck | None = None,
        external: Sequence[Checkpoint] = (),
    ) -> ChainReport:
        """Re-check the log, its checkpoints (and ``external`` ones), the v1 chain, every accepted
        message's bytes and every state row; report every fault, or only the first (see :mod:`.verify`)."""
        with self._reader.connect() as conn:
            return _verify.verify_ledger(
                conn, batch_size=batch_size, progress=progress, first=first, key=key, external=external
            )

    # ------------------------------------------------------------------ helpers

    def _load_message(
        self, conn: sa.Connection, statement: sa.Select[Any], params: dict[str, Any]
    ) -> MessageRecord | None:
        row = conn.execute(statement, params).one_or_none()
        if row is None:
            return None
        delivery_rows = conn.execute(_DELIVERIES_OF, {"message_id": row.id}).all()
        return message_record(row._mapping, tuple(delivery_record(d._mapping) for d in delivery_rows))

    def _find_duplicate(self, msg: NewMessage) -> tuple[MessageRecord, str] | None:
        if msg.idempotency_key is not None:
            found = self.find_by_idempotency_key(msg.submitted_by, msg.idempotency_key)
            if found is not None:
                return found, "idempotency_key"
        if msg.natural_key is not None:
            found = self.find_by_natural_key(msg.sender, msg.doctype, msg.natural_key)
            if found is not None:
                return found, "natural_key"
        return None


def _record_of(p: _PreparedMessage) -> MessageRecord:
    return message_record(
        {**p.message_row, "size": len(p.msg.original)},
        tuple(delivery_record(row) for row in p.delivery_rows),
    )


def _check_digest(name: str, content: bytes, claimed: str) -> None:
    if hashlib.sha256(content).hexdigest() != claimed.lower():
        raise ValueError(f"{name} is not the SHA-256 of the bytes given")
