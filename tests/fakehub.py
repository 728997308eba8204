"""The repository's tests use the kit's in-memory hub (hub.kit.InMemoryHub), refusing submissions by
default: a test whose adapter must submit subclasses it and says what `submit` answers."""

from __future__ import annotations

from typing import Any

from hub.kit.memory import InMemoryHub as KitInMemoryHub
from hub.spi import SubmitResult


class InMemoryHub(KitInMemoryHub):
    def submit(self, body: bytes, *, content_type: str, as_participant: str, **_: Any) -> SubmitResult:
        raise AssertionError("this test's adapter was not expected to submit anything")
