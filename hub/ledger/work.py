"""Delivery work in the ledger: claiming deliveries under a lease, recording outcomes, operator
requeues, the pull inbox, dossier timelines and adapters' persisted state.

The deliveries table is the truth about what remains to be done. A worker *claims* a delivery
(``queued``/``retrying`` and due, or ``delivering`` with an expired lease — its worker died) by moving
it to ``delivering`` under a lease; it records the outcome before it acknowledges anything to a queue.
Every change appends its event to the log in the same transaction.

:class:`DeliveryWork` is one object the :class:`hub.ledger.Ledger` holds: it takes the engines and the
event log it needs and nothing else.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from hub.ledger.groupcommit import GroupCommitter
from hub.ledger.log import EventLog, PendingEvent
from hub.ledger.models import adapter_state, deliveries, events, messages
from hub.ledger.records import (
    DeliveryRecord,
    EventRecord,
    MessageRecord,
    delivery_record,
    event_record,
    message_record,
)
from hub.problems import Problem

LEASES = "lienthong.leases"  # adapter_state rows holding leases: value = owner, updated_at = expiry
INBOX_ADAPTER = "inbox"  # deliveries the recipient pulls itself (GET /v1/inbox); no worker touches them
Outcome = Literal["delivered", "retrying", "dead"]


def _now() -> datetime:
    return datetime.now(UTC)


# Built once: the hot path's statements, so a claim or an outcome does not rebuild (and re-key for
# the compiled cache) its SQL expression each time. The SET clause is whatever the parameters name.
_UPDATE_DELIVERY = sa.update(deliveries).where(deliveries.c.id == sa.bindparam("b_id"))
# An outcome: the row moves out of `delivering` only if it is still there (else the outcome is stale),
# and the statement hands back the row it changed, so no SELECT ... FOR UPDATE goes before it.
_FINISH_DELIVERY = (
    sa.update(deliveries)
    .where(deliveries.c.id == sa.bindparam("b_id"), deliveries.c.state == "delivering")
    .returning(*deliveries.c)
)
# A document up to this size comes with its claim; a larger one is read when its attempt starts, so a
# claimed batch waiting for threads does not hold several big documents in memory at once.
INLINE_DOCUMENT_BYTES = 1024 * 1024
# What an attempt needs of its message, read by the claim's own statement (not two reads per attempt).
_MESSAGE_FOR_ATTEMPT = (
    messages.c.doctype.label("m_doctype"),
    messages.c.sender.label("m_sender"),
    messages.c.submitted_by.label("m_submitted_by"),
    messages.c.correlation_key.label("m_correlation_key"),
    # the delivered bytes (`original` when `document` is empty: stored once), when small enough
    sa.case(
        (
            sa.and_(
                sa.func.length(messages.c.document) == 0,
                sa.func.length(messages.c.original) <= INLINE_DOCUMENT_BYTES,
            ),
            messages.c.original,
        ),
        (
            sa.and_(
                sa.func.length(messages.c.document) > 0,
                sa.func.length(messages.c.document) <= INLINE_DOCUMENT_BYTES,
            ),
            messages.c.document,
        ),
        else_=sa.null(),
    ).label("m_document"),
    messages.c.content_type.label("m_content_type"),
    messages.c.signature.label("m_signature"),
)
_WITH_MESSAGE = deliveries.outerjoin(messages, messages.c.id == deliveries.c.message_id)
_CLAIMABLE = sa.and_(
    sa.or_(
        sa.and_(
            deliveries.c.state.in_(("queued", "retrying")),
            deliveries.c.next_attempt_at <= sa.bindparam("now"),
        ),
        sa.and_(deliveries.c.state == "delivering", deliveries.c.lease_until < sa.bindparam("now")),
    ),
    deliveries.c.adapter.is_not(None),
    deliveries.c.adapter != INBOX_ADAPTER,
)
_CLAIM_DUE = (
    sa.select(deliveries, *_MESSAGE_FOR_ATTEMPT)
    .select_from(_WITH_MESSAGE)
    .where(_CLAIMABLE, deliveries.c.adapter.in_(sa.bindparam("adapters", expanding=True)))
    .order_by(deliveries.c.next_attempt_at)
    .limit(sa.bindparam("limit"))
    .with_for_update(skip_locked=True, of=deliveries)
)
# The deliveries queue tickets name (one, or a packed RabbitMQ message's), claimed in one statement.
_CLAIM_NAMED = (
    sa.select(deliveries, *_MESSAGE_FOR_ATTEMPT)
    .select_from(_WITH_MESSAGE)
    .where(deliveries.c.id.in_(sa.bindparam("delivery_ids", expanding=True)), _CLAIMABLE)
    .with_for_update(skip_locked=True, of=deliveries)
)

# Adapters' state is read and written on their delivery path (gov_axis keeps each DocId): built once too.
_STATE_KEY = sa.and_(
    adapter_state.c.adapter == sa.bindparam("b_adapter"), adapter_state.c.key == sa.bindparam("b_key")
)
_GET_STATE = sa.select(adapter_state.c.value).where(_STATE_KEY)


def _upsert_state(dialect: str) -> Any:
    """INSERT … ON CONFLICT (adapter, key) DO UPDATE, in the ledger's dialect: one statement sets a
    value whether or not the key exists."""
    insert = sqlite_insert if dialect == "sqlite" else postgresql_insert
    statement = insert(adapter_state)
    return statement.on_conflict_do_update(
        index_elements=[adapter_state.c.adapter, adapter_state.c.key],
        set_={"value": statement.excluded.value, "updated_at": statement.excluded.updated_at},
    )


@dataclass(frozen=True)
class _StateWrite:
    adapter: str
    key: str
    value: str


@dataclass(frozen=True)
class _AttemptOutcome:
    delivery_id: str
    outcome: Outcome
    next_attempt_at: datetime | None
    error: str | None
    peer_reference: str | None
    data: dict[str, Any] | None


@dataclass(frozen=True)
class AttemptMessage:
    """What an attempt needs of the message it delivers: the fields an adapter and the adapters'
    observers are given, and the bytes to deliver (the document as the hub accepted or signed it;
    None when it is larger than INLINE_DOCUMENT_BYTES: read it when the attempt starts)."""

    id: str
    doctype: str
    sender: str
    submitted_by: str
    correlation_key: str | None
    document: bytes | None
    content_type: str
    signature: str | None


@dataclass(frozen=True)
class Claim:
    """A claimed delivery (now ``delivering`` under the claimer's lease) with its message, read in the
    claim's statement; `message` is None only if the message row is missing."""

    delivery: DeliveryRecord
    message: AttemptMessage | None


@dataclass(frozen=True)
class InboxItem:
    delivery: DeliveryRecord
    doctype: str
    sender: str
    correlation_key: str | None
    content_type: str
    signature: str | None


@dataclass(frozen=True)
class Timeline:
    correlation_key: str
    messages: tuple[MessageRecord, ...]
    events: tuple[EventRecord, ...]


class DeliveryWork:
    """Claims, outcomes, requeues, the inbox, timelines and adapters' state, on the ledger's engines."""

    def __init__(self, engine: sa.Engine, reader: sa.Engine, log: EventLog) -> None:
        self._engine = engine
        self._reader = reader
        self._log = log
        # Outcomes recorded by several workers at once share one transaction (group commit).
        # Adapters' state writes share them too (gov_axis keeps each DocId the moment the axis answers,
        # before its outcome is recorded): one committer for both, so that one delivery's DocId and
        # another's outcome go in one transaction — on SQLite every transaction takes the write lock
        # that intake in the other process needs as well.
        self._upsert_state = _upsert_state(engine.dialect.name)
        self._outcomes: GroupCommitter[_AttemptOutcome | _StateWrite, DeliveryRecord | None] = GroupCommitter(
            self._write_outcomes
        )

    def _append(self, conn: sa.Connection, pending: Sequence[PendingEvent]) -> list[EventRecord]:
        return self._log.append(conn, pending)

    @staticmethod
    def _event(kind: str, message_id: str, delivery_id: str, data: dict[str, Any]) -> PendingEvent:
        return PendingEvent(kind, message_id, delivery_id, data)

    # -- claiming ----------------------------------------------------------------------------------

    def _claimable(self, now: datetime) -> sa.ColumnElement[bool]:
        due = sa.and_(deliveries.c.state.in_(("queued", "retrying")), deliveries.c.next_attempt_at <= now)
        orphaned = sa.and_(deliveries.c.state == "delivering", deliveries.c.lease_until < now)
        return sa.and_(
            sa.or_(due, orphaned),
            deliveries.c.adapter.is_not(None),
            deliveries.c.adapter != INBOX_ADAPTER,
        )

    def _claim_rows(
        self, conn: sa.Connection, rows: Iterable[Any], owner: str, lease_seconds: float, now: datetime
    ) -> list[DeliveryRecord]:
        claimed: list[DeliveryRecord] = []
        pending = []
        updates = []
        lease_until = now + timedelta(seconds=lease_seconds)
        for row in rows:
            changes = {
                "state": "delivering",
                "attempts": row.attempts + 1,
                "lease_owner": owner,
                "lease_until": lease_until,
                "updated_at": now,
            }
            updates.append({"b_id": row.id, **changes})
            data = {
                "recipient": row.recipient,
                "adapter": row.adapter,
                "attempt": row.attempts + 1,
                "worker": owner,
            }
            if row.state == "delivering":
                data["reclaimed_from"] = row.lease_owner  # its worker died or hung past the lease
            pending.append(self._event("delivery.delivering", row.message_id, row.id, data))
            claimed.append(delivery_record({**row._mapping, **changes}))
        if updates:
            conn.execute(_UPDATE_DELIVERY, updates)  # one executemany for the whole batch
            self._append(conn, pending)
        return claimed

    @staticmethod
    def _with_messages(rows: Sequence[Any], claimed: Sequence[DeliveryRecord]) -> list[Claim]:
        return [
            Claim(
                delivery,
                None
                if row.m_doctype is None  # the outer join found no message
                else AttemptMessage(
                    id=delivery.message_id,
                    doctype=row.m_doctype,
                    sender=row.m_sender,
                    submitted_by=row.m_submitted_by,
                    correlation_key=row.m_correlation_key,
                    document=None if row.m_document is None else bytes(row.m_document),
                    content_type=row.m_content_type,
                    signature=row.m_signature,
                ),
            )
            for row, delivery in zip(rows, claimed, strict=True)
        ]

    def claim_attempts(
        self,
        owner: str,
        *,
        lease_seconds: float,
        limit: int,
        adapters: Sequence[str],
        now: datetime | None = None,
    ) -> list[Claim]:
        """Claim up to `limit` due deliveries of `adapters` with what their attempts need (embedded
        mode): one statement reads the deliveries and their messages, one updates them all."""
        now = now or _now()
        with self._engine.begin() as conn:
            rows = conn.execute(_CLAIM_DUE, {"now": now, "adapters": list(adapters), "limit": limit}).all()
            return self._with_messages(rows, self._claim_rows(conn, rows, owner, lease_seconds, now))

    def claim_attempt(
        self, delivery_id: str, owner: str, *, lease_seconds: float, now: datetime | None = None
    ) -> Claim | None:
        """Claim the delivery a queue ticket names, with its message; None when it is not due."""
        claimed = self.claim_named([delivery_id], owner, lease_seconds=lease_seconds, now=now)
        return claimed[0] if claimed else None

    def claim_named(
        self, delivery_ids: Sequence[str], owner: str, *, lease_seconds: float, now: datetime | None = None
    ) -> list[Claim]:
        """Claim the deliveries several queue tickets name, with their messages, in one transaction
        (one statement reads them, one updates them), in the order named. The rules are those of
        :meth:`claim_attempt` for each: one not due (already delivered, claimed by a live lease, a
        retry not yet due, unknown) or locked by another claimer at this moment is left out."""
        wanted = list(dict.fromkeys(delivery_ids))  # a repeated id is claimed once
        if not wanted:
            return []
        now = now or _now()
        with self._engine.begin() as conn:
            rank = {delivery_id: i for i, delivery_id in enumerate(wanted)}
            found = conn.execute(_CLAIM_NAMED, {"now": now, "delivery_ids": wanted}).all()
            rows = sorted(found, key=lambda row: rank[row.id])
            return self._with_messages(rows, self._claim_rows(conn, rows, owner, lease_seconds, now))

    def renew_leases(
        self, delivery_ids: Sequence[str], owner: str, *, lease_seconds: float, now: datetime | None = None
    ) -> set[str]:
        """Extend `owner`'s lease on claimed deliveries it has not attempted yet (a packed message's
        later tickets, while the earlier ones are delivered); the ids it still holds. One it no longer
        holds (its lease ran out and another worker reclaimed it, an operator acted) is left out."""
        if not delivery_ids:
            return set()
        now = now or _now()
        held = (
            sa.update(deliveries)
            .where(
                deliveries.c.id.in_(list(delivery_ids)),
                deliveries.c.state == "delivering",
                deliveries.c.lease_owner == owner,
            )
            .values(lease_until=now + timedelta(seconds=lease_seconds))
            .returning(deliveries.c.id)
        )
        with self._engine.begin() as conn:
            return set(conn.execute(held).scalars())

    def claim_due(
        self,
        owner: str,
        *,
        lease_seconds: float,
        limit: int = 16,
        adapters: Sequence[str] | None = None,
        now: datetime | None = None,
    ) -> list[DeliveryRecord]:
        """Claim up to `limit` due deliveries (embedded mode: the ledger is the queue)."""
        now = now or _now()
        with self._engine.begin() as conn:
            if adapters is None:
                query = sa.select(deliveries).where(self._claimable(now))
                query = (
                    query.order_by(deliveries.c.next_attempt_at)
                    .limit(limit)
                    .with_for_update(skip_locked=True)
                )
                rows = conn.execute(query).all()
            else:
                params = {"now": now, "adapters": list(adapters), "limit": limit}
                rows = conn.execute(_CLAIM_DUE, params).all()
            return self._claim_rows(conn, rows, owner, lease_seconds, now)

    def claim_delivery(
        self, delivery_id: str, owner: str, *, lease_seconds: float, now: datetime | None = None
    ) -> DeliveryRecord | None:
        """Claim one delivery named by a queue ticket; None when it is not due (a duplicate ticket)."""
        now = now or _now()
        query = (
            sa.select(deliveries)
            .where(deliveries.c.id == delivery_id, self._claimable(now))
            .with_for_update(skip_locked=True)
        )
        with self._engine.begin() as conn:
            rows = conn.execute(query).all()
            claimed = self._claim_rows(conn, rows, owner, lease_seconds, now)
        return claimed[0] if claimed else None

    def finish_attempt(
        self,
        delivery_id: str,
        outcome: Outcome,
        *,
        next_attempt_at: datetime | None = None,
        error: str | None = None,
        peer_reference: str | None = None,
        data: dict[str, Any] | None = None,
    ) -> DeliveryRecord | None:
        """Record an attempt's outcome. None if the delivery is no longer in flight (stale outcome).

        Outcomes recorded by several workers at once share one transaction (group commit).
        """
        attempt = _AttemptOutcome(delivery_id, outcome, next_attempt_at, error, peer_reference, data)
        return self._outcomes.submit(attempt)

    def _write_outcomes(
        self, batch: Sequence[_AttemptOutcome | _StateWrite]
    ) -> list[DeliveryRecord | BaseException | None]:
        """Record a batch of outcomes and state writes in one transaction; should it fail, each is
        recorded alone, so that only a faulty one fails."""
        try:
            with self._engine.begin() as conn:
                return self._write_batch(conn, batch)
        except Exception:
            if len(batch) == 1:
                raise
        results: list[DeliveryRecord | BaseException | None] = []
        for item in batch:
            try:
                with self._engine.begin() as conn:
                    results.extend(self._write_batch(conn, [item]))
            except Exception as error:
                results.append(error)
        return results

    def _write_batch(
        self, conn: sa.Connection, batch: Sequence[_AttemptOutcome | _StateWrite]
    ) -> list[DeliveryRecord | BaseException | None]:
        states = [item for item in batch if isinstance(item, _StateWrite)]
        if states:
            now = _now()
            latest = {(w.adapter, w.key): w.value for w in states}  # in order: the last write wins
            rows = [
                {"adapter": adapter, "key": key, "value": value, "updated_at": now}
                for (adapter, key), value in latest.items()
            ]
            conn.execute(self._upsert_state, rows)
        pending: list[PendingEvent] = []
        recorded = [
            None if isinstance(item, _StateWrite) else self._record_outcome(conn, item, pending)
            for item in batch
        ]
        self._append(conn, pending)  # the batch's events in one statement
        return list(recorded)

    def _record_outcome(
        self, conn: sa.Connection, attempt: _AttemptOutcome, pending: list[PendingEvent]
    ) -> DeliveryRecord | None:
        """Move the delivery out of ``delivering`` and add its event to `pending`; None when it is no
        longer in flight (a stale outcome: another worker reclaimed it, or an operator acted)."""
        now = _now()
        outcome, error, peer_reference = attempt.outcome, attempt.error, attempt.peer_reference
        changes: dict[str, Any] = {
            "state": outcome,
            "updated_at": now,
            "lease_owner": None,
            "lease_until": None,
            "next_attempt_at": attempt.next_attempt_at if outcome == "retrying" else None,
        }
        if error is not None or outcome == "delivered":
            changes["last_error"] = error
        if peer_reference is not None:
            changes["peer_reference"] = peer_reference
        row = conn.execute(_FINISH_DELIVERY, {"b_id": attempt.delivery_id, **changes}).one_or_none()
        if row is None:
            return None
        event_data = {  # the ledger's own keys last: `verify` recomputes the row from them
            **(attempt.data or {}),
            "recipient": row.recipient,
            "adapter": row.adapter,
            "attempt": row.attempts,
        }
        if error is not None:
            event_data["error"] = error
        if peer_reference is not None:
            event_data["peer_reference"] = peer_reference
        if outcome == "retrying":
            event_data["next_attempt_at"] = attempt.next_attempt_at
        pending.append(self._event(f"delivery.{outcome}", row.message_id, attempt.delivery_id, event_data))
        return delivery_record(row._mapping)

    def stale_deliveries(self, *, due_before: datetime, limit: int = 500) -> list[DeliveryRecord]:
        """Deliveries whose queue ticket should long have been handled (for the AMQP sweeper)."""
        now = _now()
        stale = sa.or_(
            sa.and_(
                deliveries.c.state.in_(("queued", "retrying")), deliveries.c.next_attempt_at <= due_before
            ),
            sa.and_(deliveries.c.state == "delivering", deliveries.c.lease_until < now),
        )
        query = (
            sa.select(deliveries)
            .where(stale, deliveries.c.adapter.is_not(None), deliveries.c.adapter != INBOX_ADAPTER)
            .order_by(deliveries.c.next_attempt_at)
            .limit(limit)
        )
        with self._reader.connect() as conn:
            return [delivery_record(r._mapping) for r in conn.execute(query)]

    # -- operators ---------------------------------------------------------------------------------

    def get_delivery(self, delivery_id: str) -> DeliveryRecord | None:
        with self._reader.connect() as conn:
            row = conn.execute(sa.select(deliveries).where(deliveries.c.id == delivery_id)).one_or_none()
        return delivery_record(row._mapping) if row else None

    def list_deliveries(
        self,
        *,
        state: str | None = None,
        recipient: str | None = None,
        adapter: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[DeliveryRecord]:
        """Deliveries, most recently changed first."""
        query = sa.select(deliveries)
        for column, value in ((deliveries.c.state, state), (deliveries.c.recipient, recipient)):
            if value is not None:
                query = query.where(column == value)
        if adapter is not None:
            query = query.where(deliveries.c.adapter == adapter)
        query = query.order_by(deliveries.c.updated_at.desc(), deliveries.c.id).limit(limit).offset(offset)
        with self._reader.connect() as conn:
            return [delivery_record(r._mapping) for r in conn.execute(query)]

    def requeue(self, delivery_id: str, *, by: str, reason: str = "operator retry") -> DeliveryRecord:
        """An operator sends a dead (or retrying) delivery again now, with a fresh attempt budget."""
        now = _now()
        with self._engine.begin() as conn:
            row = conn.execute(
                sa.select(deliveries).where(deliveries.c.id == delivery_id).with_for_update()
            ).one_or_none()
            if row is None:
                raise Problem("not-found", f"no delivery {delivery_id}")
            if row.state not in ("dead", "retrying"):
                raise Problem(
                    "conflict",
                    f"delivery {delivery_id} is {row.state}; only dead or retrying ones are retried",
                )
            changes = {"state": "queued", "attempts": 0, "next_attempt_at": now, "updated_at": now}
            conn.execute(sa.update(deliveries).where(deliveries.c.id == delivery_id).values(**changes))
            data = {
                "recipient": row.recipient,
                "from": row.state,
                "by": by,
                "reason": reason,
                "previous_attempts": row.attempts,
            }
            self._append(conn, [self._event("delivery.queued", row.message_id, delivery_id, data)])
        return delivery_record({**row._mapping, **changes})

    # -- pull inbox --------------------------------------------------------------------------------

    def inbox(self, recipient: str, *, limit: int = 50) -> list[InboxItem]:
        """What `recipient` has to pull: its inbox deliveries not yet acknowledged, oldest first."""
        query = (
            sa.select(
                deliveries,
                messages.c.doctype,
                messages.c.sender,
                messages.c.correlation_key,
                messages.c.content_type,
                messages.c.signature,
            )
            .join(messages, messages.c.id == deliveries.c.message_id)
            .where(
                deliveries.c.recipient == recipient,
                deliveries.c.adapter == INBOX_ADAPTER,
                deliveries.c.state == "queued",
            )
            .order_by(deliveries.c.created_at, deliveries.c.id)
            .limit(limit)
        )
        with self._reader.connect() as conn:
            rows = conn.execute(query).all()
        return [
            InboxItem(
                delivery=delivery_record(r._mapping),
                doctype=r.doctype,
                sender=r.sender,
                correlation_key=r.correlation_key,
                content_type=r.content_type,
                signature=r.signature,
            )
            for r in rows
        ]

    def acknowledge_inbox(self, delivery_id: str, recipient: str) -> DeliveryRecord:
        """The recipient confirms it took an inbox delivery; acknowledging twice is harmless."""
        now = _now()
        with self._engine.begin() as conn:
            row = conn.execute(
                sa.select(deliveries).where(deliveries.c.id == delivery_id).with_for_update()
            ).one_or_none()
            if row is None or row.recipient != recipient or row.adapter != INBOX_ADAPTER:
                raise Problem("not-found", f"no inbox delivery {delivery_id} for {recipient}")
            if row.state == "delivered":
                return delivery_record(row._mapping)
            changes = {
                "state": "delivered",
                "attempts": row.attempts + 1,
                "updated_at": now,
                "next_attempt_at": None,
            }
            conn.execute(sa.update(deliveries).where(deliveries.c.id == delivery_id).values(**changes))
            data = {
                "recipient": recipient,
                "adapter": INBOX_ADAPTER,
                "attempt": changes["attempts"],
                "acknowledged_by": recipient,
            }
            self._append(conn, [self._event("delivery.delivered", row.message_id, delivery_id, data)])
        return delivery_record({**row._mapping, **changes})

    # -- timelines ---------------------------------------------------------------------------------

    def timeline(self, correlation_key: str, *, limit: int = 500) -> Timeline:
        """Every message about one dossier or document, with deliveries, and their events in order."""
        with self._reader.connect() as conn:
            message_rows = (
                conn.execute(
                    sa.select(messages.c.id)
                    .where(messages.c.correlation_key == correlation_key)
                    .order_by(messages.c.received_at)
                    .limit(limit)
                )
                .scalars()
                .all()
            )
            records = []
            for message_id in message_rows:
                row = conn.execute(
                    sa.select(messages, sa.func.length(messages.c.original).label("size")).where(
                        messages.c.id == message_id
                    )
                ).one()
                delivery_rows = conn.execute(
                    sa.select(deliveries)
                    .where(deliveries.c.message_id == message_id)
                    .order_by(deliveries.c.created_at)
                ).all()
                records.append(
                    message_record(row._mapping, tuple(delivery_record(d._mapping) for d in delivery_rows))
                )
            event_rows = (
                conn.execute(
                    sa.select(events).where(events.c.message_id.in_(list(message_rows))).order_by(events.c.id)
                ).all()
                if message_rows
                else []
            )
        return Timeline(correlation_key, tuple(records), tuple(event_record(e._mapping) for e in event_rows))

    # -- adapters' persisted state -----------------------------------------------------------------

    def get_state(self, adapter: str, key: str) -> str | None:
        with self._reader.connect() as conn:
            return conn.execute(_GET_STATE, {"b_adapter": adapter, "b_key": key}).scalar_one_or_none()

    def set_state(self, adapter: str, key: str, value: str) -> None:
        """Set a value, durably, before returning; it shares a commit with other threads' state
        writes and delivery outcomes (group commit)."""
        self._outcomes.submit(_StateWrite(adapter, key, value))

    def compare_and_set_state(self, adapter: str, key: str, expected: str | None, value: str) -> bool:
        """Set a value only if it is still `expected` (None: absent); False when someone else won."""
        now = _now()
        if expected is None:
            try:
                with self._engine.begin() as conn:
                    conn.execute(
                        sa.insert(adapter_state).values(adapter=adapter, key=key, value=value, updated_at=now)
                    )
                return True
            except sa.exc.IntegrityError:
                return False
        with self._engine.begin() as conn:
            updated = conn.execute(
                sa.update(adapter_state)
                .where(
                    adapter_state.c.adapter == adapter,
                    adapter_state.c.key == key,
                    adapter_state.c.value == expected,
                )
                .values(value=value, updated_at=now)
            ).rowcount
        return bool(updated)

    def hold_lease(self, name: str, owner: str, *, seconds: float) -> bool:
        """Take or renew a named lease (e.g. one poller across all processes); True while `owner` holds it."""
        now = _now()
        until = now + timedelta(seconds=seconds)
        row = adapter_state.c
        with self._engine.begin() as conn:
            renewed = conn.execute(
                sa.update(adapter_state)
                .where(
                    row.adapter == LEASES, row.key == name, sa.or_(row.value == owner, row.updated_at < now)
                )
                .values(value=owner, updated_at=until)
            ).rowcount
        if renewed:
            return True
        try:
            with self._engine.begin() as conn:
                conn.execute(
                    sa.insert(adapter_state).values(adapter=LEASES, key=name, value=owner, updated_at=until)
                )
            return True
        except sa.exc.IntegrityError:  # someone else holds it, or took it a moment ago
            return False

    def release_leases(self, owner: str) -> None:
        """Give up every lease `owner` holds (a clean shutdown: others need not wait for expiry)."""
        with self._engine.begin() as conn:
            conn.execute(
                sa.update(adapter_state)
                .where(adapter_state.c.adapter == LEASES, adapter_state.c.value == owner)
                .values(updated_at=_now() - timedelta(seconds=1))
            )
