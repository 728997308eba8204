"""What the notify adapter remembers, in its own state namespace: contacts per dossier, which channels
of a notice were done, who opted out, recent sends per contact (rate limit), SMS id → notice."""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass
from typing import Any

from hub.spi import HubServices

ADAPTER = "notify"


@dataclass
class Contacts:
    name: str | None = None
    phone: str | None = None
    email: str | None = None

    def merged_over(self, older: Contacts) -> Contacts:
        return Contacts(self.name or older.name, self.phone or older.phone, self.email or older.email)


def contact_key(contact: str) -> str:
    """State keys hold a digest of a phone or address, not the personal datum itself."""
    return hashlib.sha256(contact.strip().lower().encode()).hexdigest()[:32]


def mask(contact: str) -> str:
    """For evidence and logs: 0912***678, h***@example.com."""
    if "@" in contact:
        local, _, domain = contact.partition("@")
        return f"{local[:1]}***@{domain}"
    return f"{contact[:4]}***{contact[-3:]}" if len(contact) > 7 else "***"


class NotifyBook:
    def __init__(self, hub: HubServices) -> None:
        self._hub = hub

    def _get(self, key: str) -> str | None:
        return self._hub.get_state(ADAPTER, key)

    def _set(self, key: str, value: str) -> None:
        self._hub.set_state(ADAPTER, key, value)

    # contacts learned from a dossier's documents
    def contacts(self, dossier: str) -> Contacts:
        text = self._get(f"contacts:{dossier}")
        return Contacts(**json.loads(text)) if text else Contacts()

    def learn(self, dossier: str, found: Contacts) -> None:
        self._set(f"contacts:{dossier}", json.dumps(asdict(found.merged_over(self.contacts(dossier)))))

    # channels of a notice already done (sent, or skipped for good)
    def done(self, message_id: str, channel: str) -> dict[str, Any] | None:
        text = self._get(f"done:{message_id}:{channel}")
        return json.loads(text) if text else None

    def mark_done(self, message_id: str, channel: str, outcome: dict[str, Any]) -> None:
        self._set(f"done:{message_id}:{channel}", json.dumps(outcome))

    # opt-out
    def opted_out(self, contact: str) -> bool:
        return self._get(f"optout:{contact_key(contact)}") == "1"

    def opt_out(self, contact: str) -> None:
        self._set(f"optout:{contact_key(contact)}", "1")

    # rate limit: the send times of one contact in the window, kept with compare-and-set
    def take_slot(
        self, contact: str, max_messages: int, per_seconds: float, now: float | None = None
    ) -> float:
        """0 when a send may go now (and it is counted), else the seconds until a slot frees."""
        now = time.time() if now is None else now
        key = f"sent:{contact_key(contact)}"
        for _ in range(20):
            text = self._get(key)
            recent = [t for t in (json.loads(text) if text else []) if t > now - per_seconds]
            if len(recent) >= max_messages:
                return max(1.0, min(recent) + per_seconds - now)
            if self._hub.compare_and_set_state(ADAPTER, key, text, json.dumps([*recent, now])):
                return 0.0
        return 1.0  # contended: try again shortly

    def release_slot(self, contact: str, taken_at: float) -> None:
        """Give back a slot whose send did not happen (the peer was down): retries must not use up the
        contact's allowance."""
        key = f"sent:{contact_key(contact)}"
        for _ in range(20):
            text = self._get(key)
            times = json.loads(text) if text else []
            if taken_at not in times:
                return
            times.remove(taken_at)
            if self._hub.compare_and_set_state(ADAPTER, key, text, json.dumps(times)):
                return

    # SMS ids, to accept only delivery reports of messages this hub sent
    def remember_sms(self, sms_id: str, message_id: str) -> None:
        self._set(f"sms:{sms_id}", message_id)

    def sms_message(self, sms_id: str) -> str | None:
        return self._get(f"sms:{sms_id}")
