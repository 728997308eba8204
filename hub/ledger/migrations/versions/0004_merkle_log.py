"""Ledger v2: the event log becomes a Merkle log (RFC 9162) with signed checkpoints.

``events`` gets an ``id`` (its identity, handed out without a lock), a nullable ``seq`` (its position,
assigned later by the sequencer) and a ``leaf_hash``; ``prev_hash``/``hash`` stay for the events
recorded before, so the v1 chain remains verifiable. Old events become leaves in their order
(``id = seq``, leaf hash computed from their stored content). ``checkpoints`` holds signed tree heads.
``chain_head`` stays, frozen: the v1 chain's last event.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC
from typing import Any

import sqlalchemy as sa
from alembic import op

from hub.ledger.chain import GENESIS_HASH, entry_leaf_hash, entry_text, event_hash
from hub.ledger.models import UTCDateTime

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIGINT = sa.BigInteger().with_variant(sa.Integer, "sqlite")
BATCH = 2000
OLD_INDEXES = ("ix_events_message_id", "ix_events_delivery_id", "ix_events_kind_seq")
NEW_INDEXES = ("uq_events_seq", "ix_events_unsequenced", "ix_events_message_id", "ix_events_delivery_id")


def _create_v2_events() -> sa.Table:
    table = op.create_table(
        "events",
        sa.Column("id", BIGINT, primary_key=True, autoincrement=True),
        sa.Column("seq", BIGINT, nullable=True),
        sa.Column("at", UTCDateTime, nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("message_id", sa.String(36), nullable=True),
        sa.Column("delivery_id", sa.String(36), nullable=True),
        sa.Column("data", sa.Text, nullable=False),
        sa.Column("leaf_hash", sa.String(64), nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=True),
        sa.Column("hash", sa.String(64), nullable=True),
    )
    op.create_index("uq_events_seq", "events", ["seq"], unique=True)
    op.create_index(
        "ix_events_unsequenced",
        "events",
        ["id"],
        sqlite_where=sa.text("seq IS NULL"),
        postgresql_where=sa.text("seq IS NULL"),
    )
    op.create_index("ix_events_message_id", "events", ["message_id"])
    op.create_index("ix_events_delivery_id", "events", ["delivery_id"])
    op.create_index("ix_events_kind_id", "events", ["kind", "id"])
    assert table is not None
    return table


def upgrade() -> None:
    conn = op.get_bind()
    for name in OLD_INDEXES:
        op.drop_index(name, table_name="events")
    op.rename_table("events", "events_v1")
    _rename_primary_key(conn, "events_v1")
    new = _create_v2_events()
    old = sa.table(
        "events_v1",
        sa.column("seq", BIGINT),
        sa.column("at", UTCDateTime),
        sa.column("kind", sa.String),
        sa.column("message_id", sa.String),
        sa.column("delivery_id", sa.String),
        sa.column("data", sa.Text),
        sa.column("prev_hash", sa.String),
        sa.column("hash", sa.String),
    )
    last = 0
    while True:  # by key ranges: a large ledger is never held in memory whole
        rows = conn.execute(sa.select(old).where(old.c.seq > last).order_by(old.c.seq).limit(BATCH)).all()
        if not rows:
            break
        conn.execute(
            sa.insert(new),
            [
                {
                    "id": row.seq,
                    "seq": row.seq,
                    "at": row.at if row.at.tzinfo else row.at.replace(tzinfo=UTC),
                    "kind": row.kind,
                    "message_id": row.message_id,
                    "delivery_id": row.delivery_id,
                    "data": row.data,
                    "leaf_hash": _leaf(row),
                    "prev_hash": row.prev_hash,
                    "hash": row.hash,
                }
                for row in rows
            ],
        )
        last = int(rows[-1].seq)
    op.drop_table("events_v1")
    if conn.dialect.name == "postgresql":  # new ids continue after the migrated ones
        conn.execute(
            sa.text(
                "SELECT setval(pg_get_serial_sequence('events', 'id'), "
                "COALESCE(MAX(id), 0) + 1, false) FROM events"
            )
        )
    op.create_table(
        "checkpoints",
        sa.Column("tree_size", BIGINT, primary_key=True, autoincrement=False),
        sa.Column("root_hash", sa.String(64), nullable=False),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("cosignatures", sa.Text, nullable=False),
        sa.Column("timestamp", sa.LargeBinary, nullable=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
    )


def _rename_primary_key(conn: sa.Connection, table: str) -> None:
    """PostgreSQL names a primary key's index after the table; free the name for the new table."""
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text(f"ALTER INDEX events_pkey RENAME TO {table}_pkey"))


def _leaf(row: sa.Row[Any]) -> str:
    try:
        data = json.loads(row.data)
    except ValueError:  # a v1 event already damaged: its leaf covers the text as stored
        return entry_leaf_hash(row.data)
    at = row.at if row.at.tzinfo else row.at.replace(tzinfo=UTC)
    return entry_leaf_hash(
        entry_text(at=at, kind=row.kind, message_id=row.message_id, delivery_id=row.delivery_id, data=data)
    )


def downgrade() -> None:
    """Back to the v1 chain: every event, in log order (unplaced ones after, by id), is chained anew."""
    conn = op.get_bind()
    op.drop_table("checkpoints")
    for name in (*NEW_INDEXES, "ix_events_kind_id"):
        op.drop_index(name, table_name="events")
    op.rename_table("events", "events_v2")
    _rename_primary_key(conn, "events_v2")
    v1 = op.create_table(
        "events",
        sa.Column("seq", BIGINT, primary_key=True, autoincrement=False),
        sa.Column("at", UTCDateTime, nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("message_id", sa.String(36), nullable=True),
        sa.Column("delivery_id", sa.String(36), nullable=True),
        sa.Column("data", sa.Text, nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    )
    assert v1 is not None
    v2 = sa.table(
        "events_v2",
        sa.column("id", BIGINT),
        sa.column("seq", BIGINT),
        sa.column("at", UTCDateTime),
        sa.column("kind", sa.String),
        sa.column("message_id", sa.String),
        sa.column("delivery_id", sa.String),
        sa.column("data", sa.Text),
    )
    placed = sa.case((v2.c.seq.is_(None), 1), else_=0)
    seq, prev = 0, GENESIS_HASH
    rows = conn.execute(sa.select(v2).order_by(placed, v2.c.seq, v2.c.id)).all()
    for start in range(0, len(rows), BATCH):
        batch = []
        for row in rows[start : start + BATCH]:
            seq += 1
            at = row.at if row.at.tzinfo else row.at.replace(tzinfo=UTC)
            link = event_hash(
                prev,
                seq=seq,
                at=at,
                kind=row.kind,
                message_id=row.message_id,
                delivery_id=row.delivery_id,
                data=json.loads(row.data),
            )
            batch.append({**row._mapping, "seq": seq, "at": at, "prev_hash": prev, "hash": link})
            prev = link
        conn.execute(sa.insert(v1), [{k: v for k, v in r.items() if k != "id"} for r in batch])
    conn.execute(
        sa.text("UPDATE chain_head SET seq = :seq, hash = :hash WHERE id = 1"), {"seq": seq, "hash": prev}
    )
    op.drop_table("events_v2")
    op.create_index("ix_events_message_id", "events", ["message_id"])
    op.create_index("ix_events_delivery_id", "events", ["delivery_id"])
    op.create_index("ix_events_kind_seq", "events", ["kind", "seq"])
