"""Each adapter's own view of the core: :class:`hub.spi.HubServices` scoped to one adapter.

Every adapter gets its own :class:`ScopedServices`, so it cannot reach another adapter's state, the
core's own state (poller leases, alert state, directories), write evidence in another's name, or
submit as a participant its configuration (``submits_as`` in config/adapters.yaml) does not list.
The SPI keeps its ``adapter`` arguments (SPI 1.x compatibility); a name other than the adapter's own
is a programming error and raises :class:`PermissionError` rather than silently reaching elsewhere.
"""

from __future__ import annotations

import fnmatch
from typing import Any

from hub.problems import Problem
from hub.services import CoreServices
from hub.spi import ParticipantInfo, SubmitResult

#: Keys of an adapter's namespace that the core writes itself (its published directory).
CORE_KEYS = frozenset({"directory"})


class ScopedServices:
    """HubServices for the adapter `name`, allowed to submit as the participants `submits_as` matches."""

    def __init__(self, core: CoreServices, name: str, submits_as: list[str]) -> None:
        self._core = core
        self.name = name
        self.submits_as = list(submits_as)

    def _own(self, adapter: str) -> str:
        if adapter != self.name:
            raise PermissionError(f"adapter {self.name!r} may not act in the name of {adapter!r}")
        return adapter

    def _own_key(self, adapter: str, key: str) -> str:
        self._own(adapter)
        if key in CORE_KEYS:
            raise PermissionError(f"state key {key!r} of adapter {self.name!r} is written by the core")
        return key

    def may_submit_as(self, participant: str) -> bool:
        return any(fnmatch.fnmatchcase(participant, pattern) for pattern in self.submits_as)

    def submit(
        self,
        body: bytes,
        *,
        content_type: str,
        as_participant: str,
        idempotency_key: str | None = None,
        jws_signature: str | None = None,
    ) -> SubmitResult:
        if not self.may_submit_as(as_participant):
            raise Problem(
                "forbidden-submitter",
                f"adapter {self.name} may not submit as {as_participant}"
                f" (submits_as: {', '.join(self.submits_as) or 'none'})",
            )
        return self._core.submit(
            body,
            content_type=content_type,
            as_participant=as_participant,
            idempotency_key=idempotency_key,
            jws_signature=jws_signature,
        )

    def participant(self, participant_id: str) -> ParticipantInfo | None:
        return self._core.participant(participant_id)

    def document(self, message_id: str) -> tuple[bytes, str] | None:
        return self._core.document(message_id)

    def set_directory(self, adapter: str, entries: dict[str, str]) -> None:
        self._core.set_directory(self._own(adapter), entries)

    def record_event(
        self, adapter: str, kind: str, data: dict[str, Any], *, message_id: str | None = None
    ) -> None:
        # The adapter's name is set by the core, after the adapter's data: it cannot be overridden.
        self._core.record_event(
            self._own(adapter), kind, {**data, "adapter": self.name}, message_id=message_id
        )

    def raise_alert(
        self,
        adapter: str,
        kind: str,
        data: dict[str, Any],
        *,
        message_id: str | None = None,
        condition: str | None = None,
    ) -> None:
        self._core.raise_alert(self._own(adapter), kind, data, message_id=message_id, condition=condition)

    def resolve_alert(self, adapter: str, kind: str, condition: str, data: dict[str, Any]) -> None:
        self._core.resolve_alert(self._own(adapter), kind, condition, data)

    def get_state(self, adapter: str, key: str) -> str | None:
        return self._core.get_state(self._own(adapter), key)

    def set_state(self, adapter: str, key: str, value: str) -> None:
        self._core.set_state(adapter, self._own_key(adapter, key), value)

    def compare_and_set_state(self, adapter: str, key: str, expected: str | None, value: str) -> bool:
        return self._core.compare_and_set_state(adapter, self._own_key(adapter, key), expected, value)
