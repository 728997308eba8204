"""Shared fixtures: the real PostgreSQL and RabbitMQ servers of the machine.

A test that needs a server asks for ``postgres_url`` or ``amqp_url``. When the server does not
answer, the test is skipped — unless ``LIENTHONG_REQUIRE_SERVICES=1`` (set by ``.ci/run``), which
turns a missing server into a failure so CI never silently skips them.
"""

from __future__ import annotations

import contextlib
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


class BrokerVhost:
    """A RabbitMQ vhost and user of one test's own, with an outage switch.

    ``outage()`` simulates the broker going away *for this test only*: the user loses its
    permissions on the vhost and every open connection of the user is closed, so publishes and
    consumers fail exactly as they would against a stopped broker, while other users of the shared
    server (other tests, other developers) see nothing. Queues and their messages stay, as they do
    across a real broker restart with persistent messages.
    """

    def __init__(self, base_url: str) -> None:
        suffix = uuid.uuid4().hex[:10]
        self.vhost = f"lt-test-{suffix}"
        self.user = f"lt-test-{suffix}"
        self.password = uuid.uuid4().hex
        parts = urlsplit(base_url)
        netloc = f"{self.user}:{self.password}@{parts.hostname or '127.0.0.1'}:{parts.port or 5672}"
        self.url = f"amqp://{netloc}/{self.vhost}"

    @staticmethod
    def _ctl(*args: str) -> None:
        import subprocess

        subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True, timeout=60)

    def create(self) -> None:
        self._ctl("add_vhost", self.vhost)
        self._ctl("add_user", self.user, self.password)
        self.grant()

    def grant(self) -> None:
        self._ctl("set_permissions", "-p", self.vhost, self.user, ".*", ".*", ".*")

    def outage_begins(self) -> None:
        self._ctl("clear_permissions", "-p", self.vhost, self.user)
        self._ctl("close_all_user_connections", self.user, "lienthong test: simulated broker outage")

    def outage_ends(self) -> None:
        self.grant()

    def outage(self) -> contextlib.AbstractContextManager[None]:
        """The broker is unreachable for this vhost's user inside the block, reachable after it."""

        @contextlib.contextmanager
        def block() -> Iterator[None]:
            self.outage_begins()
            try:
                yield
            finally:
                self.outage_ends()

        return block()

    def delete(self) -> None:
        for args in (("delete_vhost", self.vhost), ("delete_user", self.user)):
            with contextlib.suppress(Exception):  # already gone: nothing to clean
                self._ctl(*args)


@pytest.fixture
def amqp_vhost() -> Iterator[BrokerVhost]:
    """A private vhost and user on the shared RabbitMQ, deleted afterwards (see BrokerVhost)."""
    _need(AMQP_URL, 5672, "RabbitMQ")
    import shutil

    if shutil.which("rabbitmqctl") is None:
        message = "rabbitmqctl is needed to make a private vhost for a broker-outage test"
        if REQUIRE_SERVICES:
            pytest.fail(message)
        pytest.skip(message)
    vhost = BrokerVhost(AMQP_URL)
    vhost.create()
    try:
        yield vhost
    finally:
        vhost.delete()


SERVER_MARKERS = {"postgres_url": "postgres", "amqp_url": "rabbitmq", "amqp_vhost": "rabbitmq"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test that asks for a server's fixture carries that server's marker (`-m "not rabbitmq"`)."""
    for item in items:
        for fixture in getattr(item, "fixturenames", ()):
            if fixture in SERVER_MARKERS:
                item.add_marker(SERVER_MARKERS[fixture])
