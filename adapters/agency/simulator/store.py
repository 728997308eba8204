"""What the simulated agency systems received: every delivery, duplicates dropped by hub message id."""

from __future__ import annotations

import base64
import hashlib
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any


@dataclass(frozen=True)
class Received:
    """One delivery that reached an agency system (a webhook call answered 2xx, or a pulled document)."""

    seq: int
    participant: str
    message_id: str
    reference: str
    duplicate: bool
    via: str  # "webhook" or "pull"
    headers: dict[str, str]
    body: bytes
    received_at: datetime

    @property
    def body_sha256(self) -> str:
        return hashlib.sha256(self.body).hexdigest()

    def to_dict(self) -> dict[str, Any]:
        try:
            text: str | None = self.body.decode("utf-8")
        except UnicodeDecodeError:
            text = None
        return {
            "seq": self.seq,
            "participant": self.participant,
            "message_id": self.message_id,
            "reference": self.reference,
            "duplicate": self.duplicate,
            "via": self.via,
            "headers": self.headers,
            "body_sha256": self.body_sha256,
            "body_size": len(self.body),
            "body_base64": base64.b64encode(self.body).decode("ascii"),
            "body_text": text,
            "received_at": self.received_at.isoformat(),
        }


@dataclass
class Inbox:
    """Thread-safe record of deliveries for every simulated participant."""

    reference_prefix: str = "VBDEN"
    _items: list[Received] = field(default_factory=list)
    _references: dict[tuple[str, str], str] = field(default_factory=dict)
    _counters: dict[str, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def record(
        self, participant: str, message_id: str, headers: dict[str, str], body: bytes, *, via: str = "webhook"
    ) -> Received:
        """Record one arrival; a repeat of (participant, message id) keeps the first reference."""
        with self._lock:
            key = (participant, message_id)
            reference = self._references.get(key)
            duplicate = reference is not None
            if reference is None:
                number = self._counters.get(participant, 0) + 1
                self._counters[participant] = number
                reference = f"{self.reference_prefix}-{participant}-{number:06d}"
                self._references[key] = reference
            item = Received(
                seq=len(self._items) + 1,
                participant=participant,
                message_id=message_id,
                reference=reference,
                duplicate=duplicate,
                via=via,
                headers=headers,
                body=body,
                received_at=datetime.now(UTC),
            )
            self._items.append(item)
            return item

    def items(self, participant: str | None = None, *, include_duplicates: bool = True) -> list[Received]:
        with self._lock:
            return [
                item
                for item in self._items
                if (participant is None or item.participant == participant)
                and (include_duplicates or not item.duplicate)
            ]

    def counts(self) -> dict[str, dict[str, int]]:
        """participant → {"unique": n, "duplicates": n}."""
        result: dict[str, dict[str, int]] = {}
        with self._lock:
            for item in self._items:
                entry = result.setdefault(item.participant, {"unique": 0, "duplicates": 0})
                entry["duplicates" if item.duplicate else "unique"] += 1
        return result

    def reset(self) -> None:
        with self._lock:
            self._items.clear()
            self._references.clear()
            self._counters.clear()
