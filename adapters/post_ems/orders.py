"""The orders the adapter placed, kept in the hub's adapter state (durable, shared by its processes).

Keys (adapter ``post_ems``):
- ``order:<CustomerCode>:<OrderNumber>`` → an :class:`OrderRecord` as JSON (who placed it, the flow,
  the dossier, VNPost's item code, the last state, which overdue alerts were raised);
- ``open:<CustomerCode>`` → JSON list of the OrderNumbers still watched for deadlines;
- ``cursor:<CustomerCode>`` → the tracking feed's last submitted ``_id``.

Read-modify-write of a record or of an open list happens under one lock per process; the SPI has no
compare-and-set, so two hub processes updating the same order at the same instant could lose one
update of a record (see docs/adapters/post-ems.md).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import replace

from hub.spi import HubServices

from .mapping import OrderRecord

ADAPTER = "post_ems"


class OrderBook:
    def __init__(self, hub: HubServices) -> None:
        self._hub = hub
        self._lock = threading.RLock()

    @staticmethod
    def _key(customer_code: str, order_number: str) -> str:
        return f"order:{customer_code}:{order_number}"

    def get(self, customer_code: str, order_number: str) -> OrderRecord | None:
        text = self._hub.get_state(ADAPTER, self._key(customer_code, order_number))
        return OrderRecord.from_json(text) if text else None

    def put(self, record: OrderRecord) -> None:
        self._hub.set_state(ADAPTER, self._key(record.customer_code, record.order_number), record.to_json())

    def update(
        self, customer_code: str, order_number: str, change: Callable[[OrderRecord], OrderRecord]
    ) -> OrderRecord | None:
        """Apply `change` to the stored record (None when there is no record)."""
        with self._lock:
            record = self.get(customer_code, order_number)
            if record is None:
                return None
            changed = change(record)
            if changed != record:
                self.put(changed)
            return changed

    def claim(self, wanted: OrderRecord) -> OrderRecord:
        """The record for this order: `wanted` stored if there is none yet, else the one already there
        (the caller compares who placed it)."""
        with self._lock:
            existing = self.get(wanted.customer_code, wanted.order_number)
            if existing is not None:
                return existing
            self.put(wanted)
            return wanted

    def confirm(self, customer_code: str, order_number: str, item_code: str | None, now: float) -> None:
        """VNPost confirmed the order: remember its item code and when, and watch its deadlines."""
        with self._lock:
            record = self.update(
                customer_code,
                order_number,
                lambda r: replace(
                    r,
                    item_code=r.item_code or item_code,
                    placed_at=r.placed_at if r.placed_at is not None else now,
                ),
            )
            if record is not None and not (record.closed or record.cancel_requested):
                self._edit_open(customer_code, lambda numbers: numbers | {order_number})

    def unwatch(self, customer_code: str, order_number: str) -> None:
        with self._lock:
            self._edit_open(customer_code, lambda numbers: numbers - {order_number})

    def watched(self, customer_code: str) -> list[str]:
        text = self._hub.get_state(ADAPTER, f"open:{customer_code}")
        return sorted(json.loads(text)) if text else []

    def _edit_open(self, customer_code: str, change: Callable[[set[str]], set[str]]) -> None:
        before = set(self.watched(customer_code))
        after = change(before)
        if after != before:
            self._hub.set_state(ADAPTER, f"open:{customer_code}", json.dumps(sorted(after)))

    def cursor(self, customer_code: str, default: str) -> str:
        return self._hub.get_state(ADAPTER, f"cursor:{customer_code}") or default

    def set_cursor(self, customer_code: str, last_id: str) -> None:
        self._hub.set_state(ADAPTER, f"cursor:{customer_code}", last_id)
