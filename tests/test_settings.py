"""Settings whose default depends on another setting (docs/operations.md, the settings table)."""

from __future__ import annotations

import pytest

from hub.settings import AMQP_DELIVERY_THREADS, EMBEDDED_DELIVERY_THREADS, Settings


def test_delivery_threads_follow_the_queue_unless_set(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("LIENTHONG_QUEUE_URL", "LIENTHONG_WORKERS"):
        monkeypatch.delenv(name, raising=False)
    assert (EMBEDDED_DELIVERY_THREADS, AMQP_DELIVERY_THREADS) == (32, 8)  # as the docs say
    assert Settings().workers == 32, "the ledger is the queue: threads claiming batches from it"
    monkeypatch.setenv("LIENTHONG_QUEUE_URL", "amqp://guest:guest@127.0.0.1:5672//")
    assert Settings().workers == 8, "RabbitMQ: consumers, each with its own connection"
    monkeypatch.setenv("LIENTHONG_WORKERS", "3")
    assert Settings().workers == 3, "a value that is set wins"
    assert Settings(workers=0).workers == 0
    monkeypatch.delenv("LIENTHONG_WORKERS")
    assert Settings(queue_url="embedded").workers == 32, "given directly, not from the environment"
