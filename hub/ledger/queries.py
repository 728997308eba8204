"""Read-only questions operators ask of the ledger: the exchange log paged by keyset, throughput per
time bucket, queue figures for metrics, and events of a kind (alerts, operators' actions).

Every query reads a bounded number of rows through an index (migration 0003): the exchange log
never loads a large ledger whole, and the metrics gauges cost a handful of aggregate queries.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from hub.ledger.models import (
    BULK_EVENT_KINDS,
    MESSAGE_STATES,
    NOT_BULK_KIND,
    checkpoints,
    deliveries,
    events,
    messages,
)
from hub.ledger.records import EventRecord, MessageRecord, delivery_record, event_record, message_record
from hub.ledger.work import INBOX_ADAPTER

UNDELIVERED_STATES = ("queued", "delivering", "retrying")


@dataclass(frozen=True)
class MessageFilter:
    """What the exchange log is narrowed to; every field is optional.

    ``participant`` matches sender, submitter or recipient; ``state`` is a message state
    (``accepted`` …) or a delivery state (messages with at least one delivery in it); ``adapter``
    matches messages with a delivery through it.
    """

    since: datetime | None = None
    until: datetime | None = None
    participant: str | None = None
    doctype: str | None = None
    state: str | None = None
    adapter: str | None = None
    correlation_key: str | None = None


@dataclass(frozen=True)
class MessagePage:
    items: tuple[MessageRecord, ...]
    next_cursor: str | None  # opaque; pass back as `after` for the next (older) page


@dataclass(frozen=True)
class Bucket:
    """Activity in one time bucket: messages received by type, delivery outcomes by adapter."""

    start: datetime
    end: datetime
    by_type: dict[str, int] = field(default_factory=dict)
    outcomes: dict[tuple[str, str], int] = field(default_factory=dict)  # (adapter, state) → count

    @property
    def received(self) -> int:
        return sum(self.by_type.values())

    @property
    def failed(self) -> int:
        return sum(n for (_, state), n in self.outcomes.items() if state in ("dead", "retrying"))


@dataclass(frozen=True)
class QueueFigures:
    """Figures cheap enough to compute on every metrics scrape."""

    deliveries_by_state: dict[tuple[str, str], int]  # (adapter, state) → count
    oldest_undelivered_by_adapter: dict[str, datetime]  # adapter → when its oldest undelivered was made
    ledger_events: int  # the highest event id: events recorded so far (ids may skip after a rollback)
    unsequenced_events: int = 0  # events the sequencer has not placed yet (stays near zero when it runs)
    tree_size: int = 0  # events covered by the latest signed checkpoint

    def depth(self) -> int:
        return sum(n for (_, state), n in self.deliveries_by_state.items() if state in UNDELIVERED_STATES)

    # The hub's pushes and the agencies' pull inboxes are told apart: a commune that does not pull over
    # a weekend must neither hide a truly stuck push nor set off the age alarms itself.

    def oldest_pushed_age(self, now: datetime | None = None) -> float:
        """Seconds the oldest undelivered delivery the hub pushes has waited (0 when none)."""
        pushed = [m for a, m in self.oldest_undelivered_by_adapter.items() if a != INBOX_ADAPTER]
        return _age(min(pushed, default=None), now)

    def oldest_in_inbox_age(self, now: datetime | None = None) -> float:
        """Seconds the oldest document waiting in a pull inbox has waited (0 when none)."""
        return _age(self.oldest_undelivered_by_adapter.get(INBOX_ADAPTER), now)

    def age_by_adapter(self, now: datetime | None = None) -> dict[str, float]:
        return {a: _age(m, now) for a, m in sorted(self.oldest_undelivered_by_adapter.items())}


def _age(moment: datetime | None, now: datetime | None) -> float:
    if moment is None:
        return 0.0
    return max(0.0, ((now or datetime.now(UTC)) - moment).total_seconds())


def encode_cursor(received_at: datetime, message_id: str) -> str:
    raw = json.dumps([received_at.isoformat(), message_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    """The (received_at, id) a cursor stands for; ValueError for anything else."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        moment, message_id = json.loads(raw)
        return datetime.fromisoformat(moment), str(message_id)
    except (ValueError, TypeError) as error:
        raise ValueError(f"not a cursor: {cursor!r}") from error


class LedgerQueries:
    """Read-only questions, on the ledger's reader engine; one object the Ledger holds."""

    def __init__(self, reader: sa.Engine) -> None:
        self._reader = reader

    # -- the exchange log --------------------------------------------------------------------------

    def search_messages(
        self, filters: MessageFilter | None = None, *, after: str | None = None, limit: int = 50
    ) -> MessagePage:
        """Messages newest first, `limit` at a time; `after` is the previous page's `next_cursor`."""
        f = filters or MessageFilter()
        columns = [c for c in messages.c if c.name not in ("original", "document")]
        query = sa.select(*columns, sa.func.length(messages.c.original).label("size"))
        query = query.where(*self._message_conditions(f))
        if after:
            moment, last_id = decode_cursor(after)
            query = query.where(
                sa.or_(
                    messages.c.received_at < moment,
                    sa.and_(messages.c.received_at == moment, messages.c.id < last_id),
                )
            )
        query = query.order_by(messages.c.received_at.desc(), messages.c.id.desc()).limit(limit + 1)
        with self._reader.connect() as conn:
            rows = conn.execute(query).all()
            more = len(rows) > limit
            rows = rows[:limit]
            ids = [r.id for r in rows]
            by_message: dict[str, list[Any]] = {i: [] for i in ids}
            if ids:
                for d in conn.execute(
                    sa.select(deliveries)
                    .where(deliveries.c.message_id.in_(ids))
                    .order_by(deliveries.c.created_at, deliveries.c.recipient)
                ):
                    by_message[d.message_id].append(delivery_record(d._mapping))
        items = tuple(message_record(r._mapping, tuple(by_message[r.id])) for r in rows)
        cursor = encode_cursor(rows[-1].received_at, rows[-1].id) if more and rows else None
        return MessagePage(items, cursor)

    @staticmethod
    def _message_conditions(f: MessageFilter) -> list[sa.ColumnElement[bool]]:
        conditions: list[sa.ColumnElement[bool]] = []
        if f.since is not None:
            conditions.append(messages.c.received_at >= f.since)
        if f.until is not None:
            conditions.append(messages.c.received_at < f.until)
        if f.doctype:
            conditions.append(messages.c.doctype == f.doctype)
        if f.correlation_key:
            conditions.append(messages.c.correlation_key == f.correlation_key)
        if f.participant:
            to_participant = sa.select(deliveries.c.message_id).where(deliveries.c.recipient == f.participant)
            conditions.append(
                sa.or_(
                    messages.c.sender == f.participant,
                    messages.c.submitted_by == f.participant,
                    messages.c.id.in_(to_participant),
                )
            )
        if f.state in MESSAGE_STATES:
            conditions.append(messages.c.state == f.state)
        elif f.state:
            conditions.append(
                messages.c.id.in_(sa.select(deliveries.c.message_id).where(deliveries.c.state == f.state))
            )
        if f.adapter:
            conditions.append(
                messages.c.id.in_(sa.select(deliveries.c.message_id).where(deliveries.c.adapter == f.adapter))
            )
        return conditions

    # -- overview ----------------------------------------------------------------------------------

    def throughput(self, *, until: datetime | None = None, bucket: timedelta, count: int) -> list[Bucket]:
        """`count` consecutive buckets ending at `until`: one small indexed query per bucket and kind."""
        end = until or datetime.now(UTC)
        start = end - bucket * count
        result = []
        with self._reader.connect() as conn:
            for i in range(count):
                low, high = start + bucket * i, start + bucket * (i + 1)
                by_type = conn.execute(
                    sa.select(messages.c.doctype, sa.func.count())
                    .where(messages.c.received_at >= low, messages.c.received_at < high)
                    .group_by(messages.c.doctype)
                ).all()
                outcomes = conn.execute(
                    sa.select(deliveries.c.adapter, deliveries.c.state, sa.func.count())
                    .where(
                        deliveries.c.state.in_(("delivered", "dead", "retrying")),
                        deliveries.c.updated_at >= low,
                        deliveries.c.updated_at < high,
                    )
                    .group_by(deliveries.c.adapter, deliveries.c.state)
                ).all()
                result.append(
                    Bucket(
                        low,
                        high,
                        {t: int(n) for t, n in by_type},
                        {(a or "-", s): int(n) for a, s, n in outcomes},
                    )
                )
        return result

    def queue_figures(self) -> QueueFigures:
        """Deliveries by adapter and state, the oldest undelivered one, the number of ledger events."""
        with self._reader.connect() as conn:
            counts = conn.execute(
                sa.select(deliveries.c.adapter, deliveries.c.state, sa.func.count()).group_by(
                    deliveries.c.adapter, deliveries.c.state
                )
            ).all()
            oldest_rows = conn.execute(
                sa.select(deliveries.c.adapter, sa.func.min(deliveries.c.created_at))
                .where(deliveries.c.state.in_(UNDELIVERED_STATES))
                .group_by(deliveries.c.adapter)
            ).all()
            size = conn.execute(sa.select(sa.func.max(events.c.id))).scalar_one_or_none()
            unsequenced = conn.execute(sa.select(sa.func.count()).where(events.c.seq.is_(None))).scalar_one()
            tree_size = conn.execute(sa.select(sa.func.max(checkpoints.c.tree_size))).scalar_one_or_none()
        oldest: dict[str, datetime] = {}
        for adapter, moment in oldest_rows:
            if moment is None:
                continue
            if isinstance(moment, str):  # SQLite returns an aggregate's datetime as text
                moment = datetime.fromisoformat(moment)
            oldest[adapter or "-"] = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
        return QueueFigures(
            {(a or "-", s): int(n) for a, s, n in counts},
            oldest,
            int(size or 0),
            int(unsequenced or 0),
            int(tree_size or 0),
        )

    # -- events of a kind --------------------------------------------------------------------------

    def events_of_kinds(
        self,
        kinds: Sequence[str],
        *,
        prefix: str | None = None,
        limit: int = 50,
        after_id: int | None = None,
    ) -> list[EventRecord]:
        """Events whose kind is one of `kinds` or starts with `prefix`: the newest first, or with
        `after_id` the oldest after that event id first (for a reader that follows the log)."""
        match: list[sa.ColumnElement[bool]] = [events.c.kind.in_(list(kinds))] if kinds else []
        if prefix:
            match.append(events.c.kind.startswith(prefix, autoescape=True))
        if not match:
            return []
        query = sa.select(events).where(sa.or_(*match))
        asks_bulk = any(kind in BULK_EVENT_KINDS for kind in kinds) or any(
            prefix and kind.startswith(prefix) for kind in BULK_EVENT_KINDS
        )
        if not asks_bulk:  # implied by what is asked; named so that ix_events_kind_id (partial) serves
            query = query.where(sa.text(NOT_BULK_KIND))
        if after_id is not None:
            query = query.where(events.c.id > after_id).order_by(events.c.id)
        else:
            query = query.order_by(events.c.id.desc())
        with self._reader.connect() as conn:
            return [event_record(r._mapping) for r in conn.execute(query.limit(limit))]
