"""The ledger's tables (SQLAlchemy Core). Names and columns are a public contract; the migrations in
``migrations/versions`` create exactly these, and ``tests/test_ledger.py`` checks they agree.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

MESSAGE_STATES = ("received", "accepted", "rejected")
DELIVERY_STATES = ("queued", "delivering", "delivered", "retrying", "dead")


class UTCDateTime(sa.TypeDecorator[datetime]):
    """Timezone-aware UTC in Python on every backend.

    PostgreSQL stores ``timestamptz``; SQLite has no time zones, so naive UTC is stored there.
    Microseconds survive the round trip on both, which the events' leaf hashes rely on.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("the ledger stores timezone-aware datetimes only")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        moment: datetime = value
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


metadata = sa.MetaData()

messages = sa.Table(
    "messages",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("doctype", sa.String(100), nullable=False),
    sa.Column("sender", sa.String(100), nullable=False),
    sa.Column("submitted_by", sa.String(100), nullable=False),
    sa.Column("recipients", sa.JSON, nullable=False),
    sa.Column("correlation_key", sa.String(255), nullable=True),
    sa.Column("natural_key", sa.String(255), nullable=True),
    sa.Column("idempotency_key", sa.String(255), nullable=True),
    sa.Column("digest", sa.String(64), nullable=False),
    sa.Column("document_digest", sa.String(64), nullable=False),
    sa.Column("content_type", sa.String(100), nullable=False),
    sa.Column("signature", sa.Text, nullable=True),
    sa.Column("signer", sa.String(100), nullable=True),
    sa.Column("state", sa.String(20), nullable=False),
    sa.Column("warnings", sa.JSON, nullable=False),
    sa.Column("received_at", UTCDateTime, nullable=False),
    sa.Column("accepted_at", UTCDateTime, nullable=True),
    # The documents last (revision 0006 on SQLite): a big one is written in place (hub.ledger.blobs),
    # which SQLite does without a copy only for a zeroblob followed by nothing but empty columns.
    sa.Column("original", sa.LargeBinary, nullable=False),
    # Empty when the delivered bytes are `original` itself (a document its sender signed): stored once.
    sa.Column("document", sa.LargeBinary, nullable=False),
    sa.Index("ix_messages_correlation_key", "correlation_key"),
    sa.Index("ix_messages_received_at_id", "received_at", "id"),
    sa.Index(
        "uq_messages_natural_key",
        "sender",
        "doctype",
        "natural_key",
        unique=True,
        sqlite_where=sa.text("natural_key IS NOT NULL"),
        postgresql_where=sa.text("natural_key IS NOT NULL"),
    ),
    sa.Index(
        "uq_messages_idempotency_key",
        "submitted_by",
        "idempotency_key",
        unique=True,
        sqlite_where=sa.text("idempotency_key IS NOT NULL"),
        postgresql_where=sa.text("idempotency_key IS NOT NULL"),
    ),
)

# The bytes as delivered: `document`, or `original` when `document` is empty (stored once).
# length() of a blob does not read it (SQLite keeps the size in the record header).
DELIVERED_DOCUMENT = sa.case(
    (sa.func.length(messages.c.document) == 0, messages.c.original), else_=messages.c.document
).label("document")

deliveries = sa.Table(
    "deliveries",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("message_id", sa.String(36), sa.ForeignKey("messages.id"), nullable=False),
    sa.Column("recipient", sa.String(100), nullable=False),
    sa.Column("adapter", sa.String(100), nullable=True),
    sa.Column("state", sa.String(20), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("next_attempt_at", UTCDateTime, nullable=True),
    sa.Column("last_error", sa.Text, nullable=True),
    sa.Column("peer_reference", sa.String(255), nullable=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Column("lease_owner", sa.String(100), nullable=True),
    sa.Column("lease_until", UTCDateTime, nullable=True),
    sa.Index("ix_deliveries_message_id", "message_id"),
    sa.Index("ix_deliveries_state_next_attempt_at", "state", "next_attempt_at"),
    sa.Index("ix_deliveries_recipient_state", "recipient", "state"),
    sa.Index("ix_deliveries_state_updated_at", "state", "updated_at"),
)

adapter_state = sa.Table(
    "adapter_state",
    metadata,
    sa.Column("adapter", sa.String(100), primary_key=True),
    sa.Column("key", sa.String(255), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)

# The kinds every message writes (intake, claims, outcomes). Nobody looks events up by these kinds
# (a message's events are found by message_id), so ix_events_kind_id leaves them out: intake then
# touches one B-tree page fewer per kind and commit. A query for other kinds names this predicate
# too (hub.ledger.queries), which is what lets SQLite and PostgreSQL use the partial index.
BULK_EVENT_KINDS = (
    "message.received",
    "message.accepted",
    "delivery.queued",
    "delivery.delivering",
    "delivery.delivered",
    "delivery.retrying",
)
NOT_BULK_KIND = "kind NOT IN ({})".format(", ".join(f"'{kind}'" for kind in BULK_EVENT_KINDS))

BIGINT = sa.BigInteger().with_variant(sa.Integer, "sqlite")  # SQLite's rowid alias must be INTEGER

events = sa.Table(
    "events",
    metadata,
    # The entry's identity, in commit order of its writer (not a position: no lock hands it out).
    sa.Column("id", BIGINT, primary_key=True, autoincrement=True),
    # Its position in the log (1-based; leaf index = seq - 1), assigned by the sequencer; null until then.
    sa.Column("seq", BIGINT, nullable=True),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Column("kind", sa.String(64), nullable=False),
    sa.Column("message_id", sa.String(36), nullable=True),
    sa.Column("delivery_id", sa.String(36), nullable=True),
    sa.Column("data", sa.Text, nullable=False),
    sa.Column("leaf_hash", sa.String(64), nullable=False),  # RFC 9162 leaf hash of the entry (hex)
    sa.Column("prev_hash", sa.String(64), nullable=True),  # the v1 hash chain (events before v2)
    sa.Column("hash", sa.String(64), nullable=True),
    # Partial indexes leave out the rows they would only hold as NULLs (the seq of unplaced events,
    # the delivery_id of message events, the message_id of refusals): fewer pages per commit.
    sa.Index(
        "uq_events_seq",
        "seq",
        unique=True,
        sqlite_where=sa.text("seq IS NOT NULL"),
        postgresql_where=sa.text("seq IS NOT NULL"),
    ),
    sa.Index(
        "ix_events_unsequenced",
        "id",
        sqlite_where=sa.text("seq IS NULL"),
        postgresql_where=sa.text("seq IS NULL"),
    ),
    sa.Index(
        "ix_events_message_id",
        "message_id",
        sqlite_where=sa.text("message_id IS NOT NULL"),
        postgresql_where=sa.text("message_id IS NOT NULL"),
    ),
    sa.Index(
        "ix_events_delivery_id",
        "delivery_id",
        sqlite_where=sa.text("delivery_id IS NOT NULL"),
        postgresql_where=sa.text("delivery_id IS NOT NULL"),
    ),
    sa.Index(
        "ix_events_kind_id",
        "kind",
        "id",
        sqlite_where=sa.text(NOT_BULK_KIND),
        postgresql_where=sa.text(NOT_BULK_KIND),
    ),
)

# The v1 chain's head, frozen by the migration to v2 (a fresh ledger keeps (1, 0, 64 zeros)).
chain_head = sa.Table(
    "chain_head",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("seq", BIGINT, nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
    sa.CheckConstraint("id = 1", name="ck_chain_head_single_row"),
)

checkpoints = sa.Table(
    "checkpoints",
    metadata,
    sa.Column("tree_size", BIGINT, primary_key=True, autoincrement=False),
    sa.Column("root_hash", sa.String(64), nullable=False),  # hex
    sa.Column("note", sa.Text, nullable=False),  # the C2SP signed note, signed by the hub
    sa.Column("cosignatures", sa.Text, nullable=False, default=""),  # witnesses' signature lines
    sa.Column("timestamp", sa.LargeBinary, nullable=True),  # RFC 3161 TimeStampResp (DER) over the note text
    sa.Column("created_at", UTCDateTime, nullable=False),
)
