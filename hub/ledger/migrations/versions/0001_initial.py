"""The ledger: messages, deliveries, the hash-chained event log and its head.

Revision ID: 0001
Revises:
Create Date: 2025-01-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

GENESIS_HASH = "0" * 64
_SEQ = sa.BigInteger().with_variant(sa.Integer, "sqlite")
_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "messages",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("doctype", sa.String(100), nullable=False),
        sa.Column("sender", sa.String(100), nullable=False),
        sa.Column("submitted_by", sa.String(100), nullable=False),
        sa.Column("recipients", sa.JSON, nullable=False),
        sa.Column("correlation_key", sa.String(255), nullable=True),
        sa.Column("natural_key", sa.String(255), nullable=True),
        sa.Column("idempotency_key", sa.String(255), nullable=True),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("original", sa.LargeBinary, nullable=False),
        sa.Column("document", sa.LargeBinary, nullable=False),
        sa.Column("document_digest", sa.String(64), nullable=False),
        sa.Column("content_type", sa.String(100), nullable=False),
        sa.Column("signature", sa.Text, nullable=True),
        sa.Column("signer", sa.String(100), nullable=True),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("warnings", sa.JSON, nullable=False),
        sa.Column("received_at", _TS, nullable=False),
        sa.Column("accepted_at", _TS, nullable=True),
    )
    op.create_index("ix_messages_correlation_key", "messages", ["correlation_key"])
    op.create_index(
        "uq_messages_natural_key",
        "messages",
        ["sender", "doctype", "natural_key"],
        unique=True,
        sqlite_where=sa.text("natural_key IS NOT NULL"),
        postgresql_where=sa.text("natural_key IS NOT NULL"),
    )
    op.create_index(
        "uq_messages_idempotency_key",
        "messages",
        ["submitted_by", "idempotency_key"],
        unique=True,
        sqlite_where=sa.text("idempotency_key IS NOT NULL"),
        postgresql_where=sa.text("idempotency_key IS NOT NULL"),
    )

    op.create_table(
        "deliveries",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("message_id", sa.String(36), sa.ForeignKey("messages.id"), nullable=False),
        sa.Column("recipient", sa.String(100), nullable=False),
        sa.Column("adapter", sa.String(100), nullable=True),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", _TS, nullable=True),
        sa.Column("last_error", sa.Text, nullable=True),
        sa.Column("peer_reference", sa.String(255), nullable=True),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
    )
    op.create_index("ix_deliveries_message_id", "deliveries", ["message_id"])
    op.create_index("ix_deliveries_state_next_attempt_at", "deliveries", ["state", "next_attempt_at"])

    op.create_table(
        "events",
        sa.Column("seq", _SEQ, primary_key=True, autoincrement=False),
        sa.Column("at", _TS, nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("message_id", sa.String(36), nullable=True),
        sa.Column("delivery_id", sa.String(36), nullable=True),
        sa.Column("data", sa.Text, nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    )
    op.create_index("ix_events_message_id", "events", ["message_id"])
    op.create_index("ix_events_delivery_id", "events", ["delivery_id"])

    chain_head = op.create_table(
        "chain_head",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("seq", _SEQ, nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.CheckConstraint("id = 1", name="ck_chain_head_single_row"),
    )
    op.bulk_insert(chain_head, [{"id": 1, "seq": 0, "hash": GENESIS_HASH}])


def downgrade() -> None:
    op.drop_table("chain_head")
    op.drop_index("ix_events_delivery_id", table_name="events")
    op.drop_index("ix_events_message_id", table_name="events")
    op.drop_table("events")
    op.drop_index("ix_deliveries_state_next_attempt_at", table_name="deliveries")
    op.drop_index("ix_deliveries_message_id", table_name="deliveries")
    op.drop_table("deliveries")
    op.drop_index("uq_messages_idempotency_key", table_name="messages")
    op.drop_index("uq_messages_natural_key", table_name="messages")
    op.drop_index("ix_messages_correlation_key", table_name="messages")
    op.drop_table("messages")
