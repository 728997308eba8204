"""HubServices held in memory, for testing an adapter through its contract without a running hub.

Scoped like the core's own services when given the adapter's name: another adapter's name in a state
or evidence call raises PermissionError (and is kept in `violations`), and `submit` accepts only the
participants `submits_as` matches. Everything (state, evidence, directories, submissions) is kept in
plain attributes to assert on; subclass to give `submit` or `participant` other behaviour.
"""

from __future__ import annotations

import fnmatch
import uuid
from dataclasses import dataclass, field
from typing import Any

from hub.problems import Problem
from hub.spi import ParticipantInfo, SubmitResult


@dataclass(frozen=True)
class Submitted:
    """One document an adapter submitted."""

    body: bytes
    content_type: str
    as_participant: str
    idempotency_key: str | None
    message_id: str


@dataclass
class InMemoryHub:
    adapter: str | None = None  # None: not scoped (any name is accepted)
    submits_as: list[str] = field(default_factory=lambda: ["*"])
    participants: dict[str, ParticipantInfo] = field(default_factory=dict)
    state: dict[tuple[str, str], str] = field(default_factory=dict)
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    alerts: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    open_conditions: set[str] = field(default_factory=set)
    directories: dict[str, dict[str, str]] = field(default_factory=dict)
    documents: dict[str, bytes] = field(default_factory=dict)
    submitted: list[Submitted] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)

    def _own(self, adapter: str) -> str:
        if self.adapter is not None and adapter != self.adapter:
            self.violations.append(f"{self.adapter} acted as {adapter}")
            raise PermissionError(f"adapter {self.adapter!r} may not act in the name of {adapter!r}")
        return adapter

    def submit(
        self,
        body: bytes,
        *,
        content_type: str,
        as_participant: str,
        idempotency_key: str | None = None,
        jws_signature: str | None = None,
    ) -> SubmitResult:
        if not any(fnmatch.fnmatchcase(as_participant, p) for p in self.submits_as):
            self.violations.append(f"{self.adapter} submitted as {as_participant}")
            raise Problem("forbidden-submitter", f"adapter {self.adapter} may not submit as {as_participant}")
        for earlier in self.submitted:
            if idempotency_key and earlier.idempotency_key == idempotency_key:
                return SubmitResult(message_id=earlier.message_id, duplicate=True, state="accepted")
        item = Submitted(body, content_type, as_participant, idempotency_key, str(uuid.uuid4()))
        self.submitted.append(item)
        return SubmitResult(message_id=item.message_id, duplicate=False, state="accepted")

    def participant(self, participant_id: str) -> ParticipantInfo | None:
        return self.participants.get(participant_id)

    def document(self, message_id: str) -> tuple[bytes, str] | None:
        found = self.documents.get(message_id)
        return (found, "application/xml") if found is not None else None

    def set_directory(self, adapter: str, entries: dict[str, str]) -> None:
        self.directories[self._own(adapter)] = dict(entries)

    def record_event(
        self, adapter: str, kind: str, data: dict[str, Any], *, message_id: str | None = None
    ) -> None:
        self.events.append((kind, {**data, "adapter": self._own(adapter)}))

    def raise_alert(
        self,
        adapter: str,
        kind: str,
        data: dict[str, Any],
        *,
        message_id: str | None = None,
        condition: str | None = None,
    ) -> None:
        """Kept in `alerts`; with `condition`, once until :meth:`resolve_alert` (as the core does)."""
        if condition is not None:
            if condition in self.open_conditions:
                return
            self.open_conditions.add(condition)
        self.alerts.append((kind, {**data, "adapter": self._own(adapter)}))

    def resolve_alert(self, adapter: str, kind: str, condition: str, data: dict[str, Any]) -> None:
        if condition in self.open_conditions:
            self.open_conditions.discard(condition)
            self.alerts.append((f"{kind}:resolved", {**data, "adapter": self._own(adapter)}))

    def get_state(self, adapter: str, key: str) -> str | None:
        return self.state.get((self._own(adapter), key))

    def set_state(self, adapter: str, key: str, value: str) -> None:
        self.state[(self._own(adapter), key)] = value

    def compare_and_set_state(self, adapter: str, key: str, expected: str | None, value: str) -> bool:
        if self.state.get((self._own(adapter), key)) != expected:
            return False
        self.state[(adapter, key)] = value
        return True
