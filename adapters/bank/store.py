"""The adapter's memory of payments, kept in the hub's adapter state (durable, shared by processes).

One key per payment (``payment:<gateway>:<reference>`` → :class:`PaymentRecord` as JSON), one index
of the payments still pending (``pending`` → JSON list of ``<gateway>:<reference>``), which the status
poller walks, and one index per day the payments were created (``day:<YYYY-MM-DD>``, Vietnam time), which
the daily reconciliation walks. Changes are serialised by a lock within the process.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime

from hub.spi import HubServices

from .mapping import Gateway, PaymentRecord
from .vnpay_wire import VNP_TZ

ADAPTER = "bank"
PENDING_KEY = "pending"


def _key(gateway: str, reference: str) -> str:
    return f"payment:{gateway}:{reference}"


def _day_key(day: date) -> str:
    return f"day:{day.isoformat()}"


def day_of(record: PaymentRecord) -> date:
    """The (Vietnam) day a payment was created: the day whose reconciliation covers it."""
    return datetime.fromisoformat(record.created_at).astimezone(VNP_TZ).date()


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
            key = _key(record.gateway, record.reference)
            if self._hub.get_state(ADAPTER, key) is None:
                self._add_to_day(record)
            self._hub.set_state(ADAPTER, key, record.to_json())
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

    def of_day(self, day: date) -> list[PaymentRecord]:
        """Every payment created on `day` (Vietnam time), in creation order."""
        text = self._hub.get_state(ADAPTER, _day_key(day))
        records = []
        for entry in json.loads(text) if text else []:
            gateway, _, reference = entry.partition(":")
            record = self.get(gateway, reference)
            if record is not None:
                records.append(record)
        return records

    def _add_to_day(self, record: PaymentRecord) -> None:
        key = _day_key(day_of(record))
        text = self._hub.get_state(ADAPTER, key)
        entries = list(json.loads(text)) if text else []
        entries.append(f"{record.gateway}:{record.reference}")
        self._hub.set_state(ADAPTER, key, json.dumps(entries))

    def _pending_index(self) -> list[str]:
        text = self._hub.get_state(ADAPTER, PENDING_KEY)
        return list(json.loads(text)) if text else []
