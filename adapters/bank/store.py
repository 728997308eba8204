"""The adapter's memory of payments, kept in the hub's adapter state (durable, shared by processes).

One key per payment (``payment:<gateway>:<reference>`` → :class:`PaymentRecord` as JSON) and one index
of the payments still pending (``pending`` → JSON list of ``<gateway>:<reference>``), which the status
poller walks. Changes are serialised by a lock within the process.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from hub.spi import HubServices

from .mapping import Gateway, PaymentRecord

ADAPTER = "bank"
PENDING_KEY = "pending"


def _key(gateway: str, reference: str) -> str:
    return f"payment:{gateway}:{reference}"


class PaymentStore:
    def __init__(self, hub: HubServices) -> None:
        self._hub = hub
        self._lock = threading.RLock()

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the store while reading a record, deciding, and writing it back."""
        with self._lock:
            yield

    def get(self, gateway: Gateway | str, reference: str) -> PaymentRecord | None:
        text = self._hub.get_state(ADAPTER, _key(gateway, reference))
        return None if text is None else PaymentRecord.from_json(text)

    def put(self, record: PaymentRecord) -> None:
        """Write the record and keep the pending index in step with its status."""
        with self._lock:
            self._hub.set_state(ADAPTER, _key(record.gateway, record.reference), record.to_json())
            index = self._pending_index()
            entry = f"{record.gateway}:{record.reference}"
            if record.status == "pending" and entry not in index:
                index.append(entry)
            elif record.status != "pending" and entry in index:
                index.remove(entry)
            else:
                return
            self._hub.set_state(ADAPTER, PENDING_KEY, json.dumps(index))

    def pending(self) -> list[PaymentRecord]:
        """The payments still waiting for their outcome, oldest first."""
        records = []
        for entry in self._pending_index():
            gateway, _, reference = entry.partition(":")
            record = self.get(gateway, reference)
            if record is not None and record.status == "pending":
                records.append(record)
        return records

    def _pending_index(self) -> list[str]:
        text = self._hub.get_state(ADAPTER, PENDING_KEY)
        return list(json.loads(text)) if text else []
