"""A document its sender signed is stored once; the events' indexes leave out what nobody looks up.

- ``messages.document`` is empty when the delivered bytes are ``original`` itself (a sender-signed
  document, delivered unchanged): existing rows whose two columns are equal are emptied. Readers
  (``Ledger.get_document``, ``verify``) take ``original`` for an empty ``document``. An empty value
  rather than NULL keeps the column NOT NULL, which SQLite could only drop by rebuilding ``messages``
  (every document copied, and ``deliveries`` rebuilt for its foreign key).
- ``uq_events_seq``, ``ix_events_message_id`` and ``ix_events_delivery_id`` become partial (without
  their NULLs), ``ix_events_kind_id`` leaves out the kinds every message writes
  (:data:`hub.ledger.models.BULK_EVENT_KINDS`): fewer B-tree pages touched per commit.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The predicate as this revision defines it (not imported: a later change of the constant must not
# change what this revision did).
NOT_BULK_KIND = (
    "kind NOT IN ('message.received', 'message.accepted', 'delivery.queued', 'delivery.delivering', "
    "'delivery.delivered', 'delivery.retrying')"
)
PARTIAL = {
    "uq_events_seq": (["seq"], True, "seq IS NOT NULL"),
    "ix_events_message_id": (["message_id"], False, "message_id IS NOT NULL"),
    "ix_events_delivery_id": (["delivery_id"], False, "delivery_id IS NOT NULL"),
    "ix_events_kind_id": (["kind", "id"], False, NOT_BULK_KIND),
}

_messages = sa.table("messages", sa.column("original", sa.LargeBinary), sa.column("document", sa.LargeBinary))


def upgrade() -> None:
    op.execute(_messages.update().where(_messages.c.document == _messages.c.original).values(document=b""))
    for name, (columns, unique, where) in PARTIAL.items():
        op.drop_index(name, table_name="events")
        op.create_index(
            name,
            "events",
            columns,
            unique=unique,
            sqlite_where=sa.text(where),
            postgresql_where=sa.text(where),
        )


def downgrade() -> None:
    for name, (columns, unique, _where) in PARTIAL.items():
        op.drop_index(name, table_name="events")
        op.create_index(name, "events", columns, unique=unique)
    op.execute(
        _messages.update()
        .where(sa.func.length(_messages.c.document) == 0)
        .values(document=_messages.c.original)
    )
