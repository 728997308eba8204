"""Shared fixtures: the real PostgreSQL and RabbitMQ servers of the machine.

A test that needs a server asks for ``postgres_url`` or ``amqp_url``. When the server does not
answer, the test is skipped — unless ``LIENTHONG_REQUIRE_SERVICES=1`` (set by ``.ci/run``), which
turns a missing server into a failure so CI never silently skips them.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

POSTGRES_URL = os.environ.get(
    "LIENTHONG_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
AMQP_URL = os.environ.get("LIENTHONG_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672//")
REQUIRE_SERVICES = os.environ.get("LIENTHONG_REQUIRE_SERVICES") == "1"


def _answers(url: str, default_port: int) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or default_port), 2):
            return True
    except OSError:
        return False


def _need(url: str, port: int, what: str) -> None:
    if _answers(url, port):
        return
    message = f"{what} does not answer at {url}"
    if REQUIRE_SERVICES:
        pytest.fail(message + " (LIENTHONG_REQUIRE_SERVICES=1)")
    pytest.skip(message)


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test; dropped afterwards."""
    _need(POSTGRES_URL, 5432, "PostgreSQL")
    import sqlalchemy as sa

    name = f"lienthong_t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = POSTGRES_URL.rsplit("/", 1)[0] + "/" + name
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def amqp_url() -> str:
    """The RabbitMQ server's URL; tests name their own exchanges and queues uniquely."""
    _need(AMQP_URL, 5672, "RabbitMQ")
    return AMQP_URL
