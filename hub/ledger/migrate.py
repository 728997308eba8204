"""Alembic, run programmatically with the package's own scripts (no alembic.ini at the repo root)."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Engine

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
# Any constant; serialises concurrent `migrate()` calls from several processes on PostgreSQL.
_PG_MIGRATION_LOCK = 0x6C65646765


def alembic_config(connection: sa.Connection | None = None, url: str | None = None) -> Config:
    """An Alembic config pointing at ``hub/ledger/migrations``; pass a connection to run on it."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url is not None:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """The newest revision the package's migrations know."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to ``revision`` in one transaction."""
    with engine.begin() as conn:
        _lock(conn)
        command.upgrade(alembic_config(conn), revision)


def downgrade(engine: Engine, revision: str) -> None:
    """Take the schema back to ``revision`` (``"base"`` drops every ledger table)."""
    with engine.begin() as conn:
        _lock(conn)
        command.downgrade(alembic_config(conn), revision)


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def _lock(conn: sa.Connection) -> None:
    # SQLite: BEGIN IMMEDIATE (see engine.py) already excludes other writers.
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_MIGRATION_LOCK})
