"""Inbound from VNPost: the tracking feed poller and the overdue watch.

The feed is read page by page from a persisted cursor (``lastId``). Each event becomes an
``ems.tracking`` message submitted as ``vnpost`` to the agency that placed the order; the cursor is
stored only after the events before it were submitted, so a restart neither loses nor repeats
(a repeat would be dropped by intake's natural key anyway). The overdue watch raises, as the hub
itself, one ``ems.tracking`` alert (state ``overdue``) per order and kind of deadline missed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from hub.problems import Problem
from hub.spi import HubServices, Poller

from .client import VNPostClient, VNPostError
from .mapping import (
    MappingError,
    OrderRecord,
    due_alerts,
    entry_id,
    feed_entries,
    overdue_document,
    peer_text,
    tracking_document,
)
from .options import PostEmsOptions
from .orders import ADAPTER, OrderBook

log = logging.getLogger("adapters.post_ems")

ZERO_ID = "0" * 24
JSON = "application/json"
PARTNER_ID = "vnpost"
HUB_ID = "lienthong"


PARCEL_STALLED = "parcel-stalled"  # the operators' alert (alert.parcel-stalled) beside the agency's


def stalled_condition(record: OrderRecord, kind: str) -> str:
    """The name of one order's missed deadline, as an alert condition (raised once, resolved once)."""
    return f"{record.customer_code}/{record.order_number}/{kind}"


class TrackingPoller(Poller):
    """Reads one CustomerCode's tracking feed."""

    def __init__(
        self,
        customer_code: str,
        options: PostEmsOptions,
        client: VNPostClient,
        book: OrderBook,
        hub: HubServices,
    ) -> None:
        self.name = f"{ADAPTER}-tracking-{customer_code}"
        self.interval_seconds = options.tracking_interval_seconds
        self.customer_code = customer_code
        self._options = options
        self._client = client
        self._book = book
        self._hub = hub

    def poll_once(self) -> int:
        """Read pages until the feed is exhausted (or max_pages_per_poll); the count of events handled."""
        handled = 0
        for _ in range(self._options.max_pages_per_poll):
            try:
                entries = self._page(self._book.cursor(self.customer_code, ZERO_ID))
            except VNPostError as exc:
                log.warning("VNPost tracking feed of %s: %s", self.customer_code, exc.reason)
                return handled
            for entry in entries:
                self._handle(entry)
                self._book.set_cursor(self.customer_code, entry_id(entry))
                handled += 1
            if len(entries) < self._options.page_size:
                break
        return handled

    def _page(self, last_id: str) -> list[dict[str, Any]]:
        response = self._client.tracking(self.customer_code, last_id, self._options.page_size)
        if response.status_code != 200:
            raise VNPostError(
                f"HTTP {response.status_code}: {peer_text(response.text)}",
                retryable=response.status_code >= 500,
            )
        try:
            entries = feed_entries(response.content)
            for entry in entries:
                entry_id(entry)
        except MappingError as exc:
            raise VNPostError(str(exc), retryable=True) from exc
        return entries

    def _handle(self, entry: dict[str, Any]) -> None:
        """Submit one event to the agency that placed the order (raises only when the hub cannot take it
        now, so that the cursor stays before it)."""
        order_number = str(entry.get("OrderNumber") or "")
        record = self._book.get(self.customer_code, order_number)
        if record is None:
            self._skip(
                "tracking-unknown-order", entry, "no order placed through the hub has this OrderNumber"
            )
            return
        status_code = entry.get("StatusCode")
        state = self._options.state_of(status_code) if isinstance(status_code, int) else None
        if state is None:
            state = self._options.unmapped_state
            self._hub.record_event(
                ADAPTER,
                "tracking-unmapped-status",
                {"order_number": order_number, "status_code": status_code, "as_state": state},
                message_id=record.message_id,
            )
        try:
            body = tracking_document(entry, record, state, utc_offset_hours=self._options.utc_offset_hours)
        except MappingError as exc:
            self._skip("tracking-unreadable", entry, str(exc), message_id=record.message_id)
            return
        try:
            result = self._hub.submit(body, content_type=JSON, as_participant=PARTNER_ID)
        except Problem as exc:
            if exc.status >= 500:
                raise  # the hub cannot take it now: the cursor stays before this event
            # A refusal is about this document and will not change by asking again: keep the evidence
            # and go on, rather than block the whole feed behind it.
            self._skip("tracking-refused", entry, f"{exc.slug}: {exc.detail}", message_id=record.message_id)
            return
        if result.duplicate:
            log.info("tracking event %s of %s was already submitted", entry_id(entry), order_number)
        self._book.update(self.customer_code, order_number, lambda r: self._advance(r, entry, state))
        for kind in record.alerts:  # the parcel moved: its stalled-parcel alerts clear
            self._hub.resolve_alert(
                ADAPTER,
                PARCEL_STALLED,
                stalled_condition(record, kind),
                {"order_number": order_number, "state": state, "event": entry_id(entry)},
            )
        if self._is_closed(state):
            self._book.unwatch(self.customer_code, order_number)

    def _is_closed(self, state: str) -> bool:
        return state in self._options.closed_states

    def _advance(self, record: OrderRecord, entry: dict[str, Any], state: str) -> OrderRecord:
        return replace(
            record,
            status_code=entry.get("StatusCode") if isinstance(entry.get("StatusCode"), int) else None,
            state=state,
            item_code=record.item_code or (str(entry.get("ItemCode")) if entry.get("ItemCode") else None),
            picked_up=record.picked_up or state in self._options.picked_up_states,
            closed=record.closed or self._is_closed(state),
        )

    def _skip(self, kind: str, entry: dict[str, Any], why: str, *, message_id: str | None = None) -> None:
        log.warning("VNPost tracking event %s skipped: %s", entry.get("_id"), why)
        self._hub.record_event(
            ADAPTER,
            kind,
            {"customer_code": self.customer_code, "event": entry, "reason": why},
            message_id=message_id,
        )


class OverduePoller(Poller):
    """Raises the overdue alerts of every watched order whose pickup or delivery deadline passed."""

    def __init__(
        self,
        options: PostEmsOptions,
        book: OrderBook,
        hub: HubServices,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.name = f"{ADAPTER}-overdue"
        self.interval_seconds = options.overdue_interval_seconds
        self._options = options
        self._book = book
        self._hub = hub
        self._clock = clock

    def poll_once(self) -> int:
        raised = 0
        for client in self._options.clients:
            for order_number in self._book.watched(client.customer_code):
                raised += self._check(client.customer_code, order_number)
        return raised

    def _check(self, customer_code: str, order_number: str) -> int:
        record = self._book.get(customer_code, order_number)
        if record is None or record.closed or record.cancel_requested:
            self._book.unwatch(customer_code, order_number)
            return 0
        now = self._clock()
        raised = 0
        for kind, deadline in due_alerts(
            record,
            now=now,
            pickup_deadline=self._options.pickup_deadline_seconds,
            delivery_deadline=self._options.delivery_deadline_seconds,
        ):
            body = overdue_document(
                record,
                kind,
                deadline_seconds=deadline,
                now=now,
                utc_offset_hours=self._options.utc_offset_hours,
                hub_id=HUB_ID,
            )
            try:
                self._hub.submit(body, content_type=JSON, as_participant=HUB_ID)
            except Problem as exc:
                log.error("overdue alert for %s refused: %s", order_number, exc.detail)
                self._hub.record_event(
                    ADAPTER,
                    "overdue-refused",
                    {"order_number": order_number, "kind": kind, "reason": f"{exc.slug}: {exc.detail}"},
                    message_id=record.message_id,
                )

            self._hub.raise_alert(
                ADAPTER,
                PARCEL_STALLED,
                {
                    "order_number": order_number,
                    "item_code": record.item_code,
                    "dossier_number": record.dossier_number,
                    "agency": record.agency,
                    "deadline": kind,
                    "last_state": record.state,
                },
                message_id=record.message_id,
                condition=stalled_condition(record, kind),
            )

            def add_alert(r: OrderRecord, k: str = kind) -> OrderRecord:
                return replace(r, alerts=(*r.alerts, k))

            record = self._book.update(customer_code, order_number, add_alert) or record
            raised += 1
        if set(record.alerts) >= {"pickup", "delivery"} or (record.picked_up and "delivery" in record.alerts):
            self._book.unwatch(customer_code, order_number)  # nothing more can fall due
        return raised
