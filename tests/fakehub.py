"""HubServices held in memory, for testing an adapter through its contract without a running hub.

Subclass it in a test to give `submit` or `participant` the behaviour the test needs; everything else
(documents, directories, evidence, state with compare-and-set) is kept in plain attributes to assert on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hub.spi import ParticipantInfo, SubmitResult


@dataclass
class InMemoryHub:
    state: dict[tuple[str, str], str] = field(default_factory=dict)
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    alerts: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    directories: dict[str, dict[str, str]] = field(default_factory=dict)
    documents: dict[str, bytes] = field(default_factory=dict)

    def submit(self, body: bytes, *, content_type: str, as_participant: str, **_: Any) -> SubmitResult:
        raise AssertionError("this test's adapter was not expected to submit anything")

    def participant(self, participant_id: str) -> ParticipantInfo | None:
        return None

    def document(self, message_id: str) -> tuple[bytes, str] | None:
        found = self.documents.get(message_id)
        return (found, "application/xml") if found is not None else None

    def set_directory(self, adapter: str, entries: dict[str, str]) -> None:
        self.directories[adapter] = dict(entries)

    def record_event(
        self, adapter: str, kind: str, data: dict[str, Any], *, message_id: str | None = None
    ) -> None:
        self.events.append((kind, data))

    def raise_alert(
        self,
        adapter: str,
        kind: str,
        data: dict[str, Any],
        *,
        message_id: str | None = None,
        condition: str | None = None,
    ) -> None:
        self.alerts.append((kind, data))

    def resolve_alert(self, adapter: str, kind: str, condition: str, data: dict[str, Any]) -> None:
        self.alerts.append((f"{kind}:resolved", data))

    def get_state(self, adapter: str, key: str) -> str | None:
        return self.state.get((adapter, key))

    def set_state(self, adapter: str, key: str, value: str) -> None:
        self.state[(adapter, key)] = value

    def compare_and_set_state(self, adapter: str, key: str, expected: str | None, value: str) -> bool:
        if self.state.get((adapter, key)) != expected:
            return False
        self.state[(adapter, key)] = value
        return True
