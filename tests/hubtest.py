"""Helpers for tests that drive a real hub over HTTP on loopback."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import sqlalchemy as sa
from fastapi import FastAPI

from hub.api import create_app
from hub.devpki import dev_token
from hub.servers import RunningServer, run_in_thread
from hub.settings import PROJECT_ROOT, Settings

FIXTURES = PROJECT_ROOT / "tests" / "fixtures"
SAMPLES = PROJECT_ROOT / "tests" / "fixtures" / "samples-edxml"  # the real packets, quirks included
EXAMPLES = PROJECT_ROOT / "schemas" / "examples"
DEV_CERTS = PROJECT_ROOT / "certs" / "dev"


def auth(participant: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {dev_token(participant)}"}


@dataclass
class RunningHub:
    server: RunningServer
    settings: Settings
    client: httpx.Client
    app: FastAPI  # app.state.runtime reaches the engine, the adapters and the core's services

    @property
    def url(self) -> str:
        return self.server.base_url

    def post(
        self, body: bytes, *, as_: str, content_type: str = "application/xml", **headers: str
    ) -> httpx.Response:
        return self.client.post(
            "/v1/messages", content=body, headers={**auth(as_), "Content-Type": content_type, **headers}
        )

    def get(self, path: str, *, as_: str) -> httpx.Response:
        return self.client.get(path, headers=auth(as_))

    def wait_sequenced(self, timeout: float = 15.0) -> int:
        """Wait until the hub's sequencer has placed every event and signed a checkpoint of them all."""
        ledger = self.app.state.runtime.hub.ledger
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            latest = ledger.latest_checkpoint()
            if ledger.log.unsequenced() == 0 and latest is not None:
                with ledger.engine.connect() as conn:
                    placed = conn.execute(sa.text("SELECT count(*) FROM events")).scalar()
                if latest.tree_size == placed:
                    return latest.tree_size
            time.sleep(0.05)
        raise AssertionError("the sequencer did not place every event in time")


def ledger_counts(hub: RunningHub) -> tuple[int, int]:
    """(messages, refusal events), straight from the ledger's database."""
    engine = sa.create_engine(hub.settings.effective_database_url)
    with engine.connect() as conn:
        messages = conn.execute(sa.text("SELECT count(*) FROM messages")).scalar_one()
        refused = conn.execute(
            sa.text("SELECT count(*) FROM events WHERE kind = 'message.refused'")
        ).scalar_one()
    engine.dispose()
    return messages, refused


@contextlib.contextmanager
def running_hub(data_dir: Path, **overrides: object) -> Iterator[RunningHub]:
    settings = Settings(data_dir=data_dir, **overrides)
    app = create_app(settings)
    server = run_in_thread(app)
    try:
        with httpx.Client(base_url=server.base_url, timeout=30) as client:
            yield RunningHub(server, settings, client, app)
    finally:
        server.stop()
