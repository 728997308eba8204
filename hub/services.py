"""The core's implementation of :class:`hub.spi.HubServices`: what adapters may ask of the hub."""

from __future__ import annotations

from typing import Any

from hub.alerts import raise_condition, record_alert, resolve_condition
from hub.context import HubContext
from hub.intake import Intake, Submission
from hub.problems import Problem
from hub.spi import ParticipantInfo, SubmitResult


class CoreServices:
    def __init__(self, hub: HubContext, intake: Intake) -> None:
        self.hub = hub
        self.intake = intake

    def submit(
        self,
        body: bytes,
        *,
        content_type: str,
        as_participant: str,
        idempotency_key: str | None = None,
        jws_signature: str | None = None,
    ) -> SubmitResult:
        participant = self.hub.participants.get(as_participant)
        if participant is None:
            raise Problem("unauthenticated", f"no participant {as_participant}")
        result = self.intake.submit(
            Submission(
                body=body,
                content_type=content_type,
                submitted_by=participant,
                idempotency_key=idempotency_key,
                jws_signature=jws_signature,
            )
        )
        return SubmitResult(
            message_id=result.message.id,
            duplicate=result.duplicate,
            state=result.message.state,
            warnings=list(result.message.warnings),
        )

    def participant(self, participant_id: str) -> ParticipantInfo | None:
        found = self.hub.participants.get(participant_id)
        if found is None:
            return None
        return ParticipantInfo(
            id=found.id,
            name=found.name,
            kind=found.kind,
            webhook_url=found.webhook_url,
            attributes=found.model_dump(exclude={"token_sha256"}),
        )

    def document(self, message_id: str) -> tuple[bytes, str] | None:
        found = self.hub.ledger.get_document(message_id)
        return (found[0], found[1]) if found else None

    def set_directory(self, adapter: str, entries: dict[str, str]) -> None:
        self.hub.directories.set(adapter, entries)

    def record_event(
        self, adapter: str, kind: str, data: dict[str, Any], *, message_id: str | None = None
    ) -> None:
        self.hub.ledger.append_event(
            f"adapter.{kind}", message_id=message_id, data={"adapter": adapter, **data}
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
        # The adapter's name is set after the adapter's data: an alert cannot claim another adapter.
        full = {**data, "adapter": adapter}
        if condition is None:
            record_alert(self.hub, f"alert.{kind}", full, message_id=message_id)
        else:
            raise_condition(self.hub, f"alert.{kind}", f"{adapter}:{condition}", full, message_id=message_id)

    def resolve_alert(self, adapter: str, kind: str, condition: str, data: dict[str, Any]) -> None:
        resolve_condition(self.hub, f"alert.{kind}", f"{adapter}:{condition}", {**data, "adapter": adapter})

    def get_state(self, adapter: str, key: str) -> str | None:
        return self.hub.ledger.get_state(adapter, key)

    def set_state(self, adapter: str, key: str, value: str) -> None:
        self.hub.ledger.set_state(adapter, key, value)

    def compare_and_set_state(self, adapter: str, key: str, expected: str | None, value: str) -> bool:
        return self.hub.ledger.compare_and_set_state(adapter, key, expected, value)
