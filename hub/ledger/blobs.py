"""Big values written in place on SQLite, without a copy of the whole value.

Binding a 10 MiB document to an INSERT costs two copies of it at once (sqlite3 binds it
``SQLITE_TRANSIENT``, then SQLite builds the row with the value in it), on top of the caller's own
bytes. Instead the row is inserted with ``zeroblob(n)`` in the value's place — which SQLite does not
materialise when every column after it is empty too, hence the documents last in ``messages``
(revision 0006) — and the value is then written into it through SQLite's incremental blob I/O
(``Connection.blobopen``), chunk by chunk from the caller's buffer, in the same transaction: the row
is committed with its content or not at all. PostgreSQL binds as before (see :func:`in_place`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from typing import Any

import sqlalchemy as sa

#: A value at least this big is written in place on SQLite (smaller ones are bound: two more
#: statements per message would cost more than the copies save).
IN_PLACE_BYTES = 256 * 1024
#: The size of each write into the blob: how much of the value SQLite handles at once.
CHUNK_BYTES = 1024 * 1024


def in_place(engine: sa.Engine) -> bool:
    """Whether big values are written in place on this engine's database (SQLite)."""
    return engine.dialect.name == "sqlite"


def placeholder(size_param: str) -> sa.ColumnElement[Any]:
    """The SQL for a value of the size given by the bound parameter ``size_param``, to fill later."""
    return sa.func.zeroblob(sa.bindparam(size_param, type_=sa.Integer))


def rowid_of(conn: sa.Connection, table: sa.Table, key: Any) -> int:
    """The SQLite rowid of ``table``'s row whose primary key is ``key``."""
    [primary] = table.primary_key.columns
    rowid: int = conn.execute(
        sa.select(sa.literal_column("rowid")).select_from(table).where(primary == key)
    ).scalar_one()
    return rowid


def fill(conn: sa.Connection, table: sa.Table, rowid: int, values: Mapping[str, bytes]) -> None:
    """Write ``values`` (column → bytes) into the placeholders of ``table``'s row ``rowid``, inserted
    on ``conn`` in its open transaction, each placeholder of its value's size."""
    for column, value in values.items():
        if not value:
            continue  # zeroblob(0) is the empty value already
        view = memoryview(value)
        with (
            _driver_errors(conn, f"write into {table.name}.{column}"),
            _open(conn, table, column, rowid) as blob,
        ):
            if len(blob) != len(view):
                raise ValueError(f"{table.name}.{column} holds {len(blob)} bytes, not {len(view)}")
            for start in range(0, len(view), CHUNK_BYTES):
                blob.write(view[start : start + CHUNK_BYTES])


def read(conn: sa.Connection, table: sa.Table, column: str, rowid: int) -> bytes:
    """The value of ``table.column`` in row ``rowid``, read straight into one ``bytes`` (a SELECT
    holds it twice at once: SQLite's copy of the value, then Python's)."""
    with (
        _driver_errors(conn, f"read from {table.name}.{column}"),
        _open(conn, table, column, rowid, True) as blob,
    ):
        value: bytes = blob.read()
    return value


def _open(conn: sa.Connection, table: sa.Table, column: str, rowid: int, readonly: bool = False) -> Any:
    sqlite = conn.connection.driver_connection
    assert sqlite is not None
    return sqlite.blobopen(table.name, column, rowid, readonly=readonly)


@contextlib.contextmanager
def _driver_errors(conn: sa.Connection, what: str) -> Iterator[None]:
    """The driver's errors raised as SQLAlchemy raises them for a statement (a full disk:
    ``sa.exc.OperationalError``), so callers tell storage trouble from the rest the same way."""
    dbapi_error = conn.dialect.loaded_dbapi.Error
    try:
        yield
    except dbapi_error as error:
        raise sa.exc.DBAPIError.instance(what, None, error, dbapi_error) from error
