"""Indexes for the operations console and metrics: the exchange log pages by (received_at, id),
alerts and operator actions are found by event kind, recent delivery outcomes by (state, updated_at).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_messages_received_at_id", "messages", ["received_at", "id"])
    op.create_index("ix_events_kind_seq", "events", ["kind", "seq"])
    op.create_index("ix_deliveries_state_updated_at", "deliveries", ["state", "updated_at"])


def downgrade() -> None:
    op.drop_index("ix_deliveries_state_updated_at", table_name="deliveries")
    op.drop_index("ix_events_kind_seq", table_name="events")
    op.drop_index("ix_messages_received_at_id", table_name="messages")
