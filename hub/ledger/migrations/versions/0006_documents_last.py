"""SQLite: ``messages.original`` and ``messages.document`` become the table's last columns.

A big document is then written in place (:mod:`hub.ledger.blobs`): inserted as ``zeroblob(n)`` and
filled in chunks in the same transaction. SQLite keeps a zeroblob unmaterialised only when every
column after it is empty too; in the middle of the record (where revision 0001 put the two columns)
it builds the whole zero-filled value in memory, a copy of the document again (bench/FINDINGS.md,
issue 14). The columns are moved without rebuilding the table, which ``deliveries`` references
(``DROP TABLE`` would break that foreign key): each is added at the end, filled, and the old one
dropped. Every row is rewritten once — a one-off cost proportional to the ledger's documents.

PostgreSQL: nothing. A column's position does not matter there, and documents are bound as before.
The downgrade does nothing either: revision 0005's code reads and writes the columns by name.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = ("original", "document")  # in this order, last


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for name in COLUMNS:
        op.execute(f"ALTER TABLE messages ADD COLUMN {name}_last BLOB NOT NULL DEFAULT x''")
    op.execute("UPDATE messages SET " + ", ".join(f"{name}_last = {name}" for name in COLUMNS))
    for name in COLUMNS:
        op.execute(f"ALTER TABLE messages DROP COLUMN {name}")
        op.execute(f"ALTER TABLE messages RENAME COLUMN {name}_last TO {name}")


def downgrade() -> None:
    """Nothing to undo: the columns keep their names and contents, only their place changed."""
