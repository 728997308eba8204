"""Mapping between hub documents and VNPost's wire format, without I/O.

- An ``ems.order`` document → what to ask VNPost (:func:`parse_order`).
- VNPost's ``{Status, Message}`` answer → a delivery result (:func:`interpret_answer`).
- A tracking feed entry → an ``ems.tracking`` document (:func:`tracking_document`), whose event id is
  derived from the event's content, so that a repeat the feed emits under a new ``_id`` maps to the
  same natural key and the hub's intake drops it.
- An order past its deadline → the hub's own ``ems.tracking`` alert (:func:`overdue_document`).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Literal

from hub.spi import Delivered, DeliveryResult, PermanentFailure, RetryableFailure

PEER_TEXT_LIMIT = 300
OverdueKind = Literal["pickup", "delivery"]


class MappingError(ValueError):
    """The document or the peer's answer cannot be mapped; retrying the same thing will not help."""


@dataclass(frozen=True)
class OrderRequest:
    """What an ``ems.order`` document asks of VNPost."""

    action: Literal["create", "cancel"]
    flow: Literal["collect", "return"]
    dossier_number: str
    customer_code: str
    order_number: str
    order: dict[str, Any]  # VNPost's own fields, sent as they are


@dataclass(frozen=True)
class OrderRecord:
    """What the adapter remembers of an order it placed (persisted as JSON in the hub's state)."""

    customer_code: str
    order_number: str
    dossier_number: str
    flow: str
    agency: str  # who placed it: tracking events and alerts go there
    message_id: str
    item_code: str | None = None
    placed_at: float | None = None  # epoch seconds (hub clock) when VNPost confirmed the order
    status_code: int | None = None
    state: str | None = None
    picked_up: bool = False
    closed: bool = False
    cancel_requested: bool = False
    alerts: tuple[str, ...] = ()

    def to_json(self) -> str:
        data = self.__dict__ | {"alerts": list(self.alerts)}
        return json.dumps(data, ensure_ascii=False, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> OrderRecord:
        data = json.loads(text)
        data["alerts"] = tuple(data.get("alerts") or ())
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})


def parse_order(document: bytes) -> OrderRequest:
    """The request in a (schema-valid) ``ems.order`` document; MappingError if it is not one."""
    try:
        data = json.loads(document)
    except (ValueError, UnicodeDecodeError) as exc:
        raise MappingError(f"ems.order is not JSON: {exc}") from exc
    if not isinstance(data, dict) or data.get("type") != "ems.order":
        raise MappingError("not an ems.order document")
    order = data.get("order")
    if not isinstance(order, dict):
        raise MappingError("ems.order has no order object")
    action = data.get("action", "create")
    flow = data.get("flow")
    if action not in ("create", "cancel") or flow not in ("collect", "return"):
        raise MappingError(f"ems.order with action {action!r} and flow {flow!r} is not understood")
    customer_code, order_number = order.get("CustomerCode"), order.get("OrderNumber")
    dossier = data.get("dossier_number")
    if not (
        isinstance(customer_code, str)
        and customer_code
        and isinstance(order_number, str)
        and order_number
        and isinstance(dossier, str)
        and dossier
    ):
        raise MappingError("ems.order needs dossier_number, order.CustomerCode and order.OrderNumber")
    return OrderRequest(action, flow, dossier, customer_code, order_number, order)


def peer_text(text: str, limit: int = PEER_TEXT_LIMIT) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def interpret_answer(
    http_status: int,
    body: bytes,
    *,
    ok: Collection[str] = ("100",),
    retryable: Collection[str] = (),
) -> DeliveryResult:
    """VNPost answers business outcomes as HTTP 200 + ``{Status, Message}``: read ``Status``.

    ``ItemCode`` (create) is the peer reference. A 5xx/408/429 or a 2xx that is not the expected
    JSON (a proxy's page) is worth retrying; any other HTTP error is permanent.
    """
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        data = None
    if http_status >= 500 or http_status in (408, 429):
        return RetryableFailure(reason=f"VNPost HTTP {http_status}: {peer_text(_words(data, body))}")
    if not isinstance(data, dict) or "Status" not in data:
        text = (
            f"VNPost HTTP {http_status} without a {{Status, Message}} answer: {peer_text(_words(data, body))}"
        )
        return RetryableFailure(reason=text) if http_status < 300 else PermanentFailure(reason=text)
    status, message = str(data.get("Status")), peer_text(str(data.get("Message") or ""))
    if status in ok and 200 <= http_status < 300:
        item_code = data.get("ItemCode")
        return Delivered(peer_reference=str(item_code) if item_code else None, detail=message or None)
    reason = f"VNPost Status {status}: {message}" if message else f"VNPost Status {status}"
    if status in retryable:
        return RetryableFailure(reason=reason)
    return PermanentFailure(reason=reason)


def _words(data: Any, body: bytes) -> str:
    if isinstance(data, dict):
        found = [str(data[k]) for k in ("Message", "message", "error", "error_description") if data.get(k)]
        if found:
            return ": ".join(found)
    return body.decode("utf-8", "replace")


def event_key(entry: Mapping[str, Any]) -> str:
    """A 24-hex id of a feed event derived from what it says (not from its ``_id``): a repeat under a
    new ``_id`` gets the same key."""
    content = "|".join(
        str(entry.get(name, ""))
        for name in ("CustomerCode", "OrderNumber", "ItemCode", "StatusCode", "EventTime")
    )
    return hashlib.sha256(content.encode("utf-8")).hexdigest()[:24]


def overdue_key(record: OrderRecord, kind: OverdueKind) -> str:
    """The id of the one overdue alert of this order and kind."""
    content = f"overdue|{kind}|{record.customer_code}|{record.order_number}|{record.message_id}"
    return hashlib.sha256(content.encode("utf-8")).hexdigest()[:24]


def iso_time(epoch_seconds: float, utc_offset_hours: float) -> str:
    zone = timezone(timedelta(hours=utc_offset_hours))
    return datetime.fromtimestamp(epoch_seconds, zone).isoformat(timespec="milliseconds")


def feed_entries(body: bytes) -> list[dict[str, Any]]:
    """The events of one tracking feed page; MappingError when the page is not the expected shape."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise MappingError(f"tracking page is not JSON: {exc}") from exc
    docs = (data.get("_embedded") or {}).get("rh:doc") if isinstance(data, dict) else None
    if not isinstance(docs, list) or not all(isinstance(d, dict) for d in docs):
        raise MappingError("tracking page has no _embedded.rh:doc list")
    return docs


def entry_id(entry: Mapping[str, Any]) -> str:
    """The feed's own cursor id of an event (``_id.$oid``)."""
    oid = entry.get("_id")
    value = oid.get("$oid") if isinstance(oid, dict) else oid
    if not isinstance(value, str) or len(value) != 24:
        raise MappingError(f"tracking event without a usable _id: {oid!r}")
    return value.lower()


def tracking_document(
    entry: Mapping[str, Any], record: OrderRecord, state: str, *, utc_offset_hours: float
) -> bytes:
    """The ``ems.tracking`` document (sender vnpost) for one feed event of `record`'s order."""
    try:
        status_code = int(entry["StatusCode"])
        event_time = iso_time(int(entry["EventTime"]) / 1000, utc_offset_hours)
    except (KeyError, TypeError, ValueError, OverflowError, OSError) as exc:
        raise MappingError(f"tracking event without a usable StatusCode or EventTime: {exc}") from exc
    event: dict[str, Any] = {
        "id": event_key(entry),
        "item_code": str(entry.get("ItemCode") or record.item_code or ""),
        "status_code": status_code,
        "event_time": event_time,
    }
    for source, target in (("StatusMessage", "status_message"), ("POSID", "pos_id"), ("Notes", "notes")):
        if entry.get(source) not in (None, ""):
            event[target] = str(entry[source])
    document = {
        "type": "ems.tracking",
        "sender": "vnpost",
        "recipients": [record.agency],
        "dossier_number": record.dossier_number,
        "state": state,
        "event": event,
    }
    return json.dumps(document, ensure_ascii=False).encode("utf-8")


def overdue_document(
    record: OrderRecord,
    kind: OverdueKind,
    *,
    deadline_seconds: float,
    now: float,
    utc_offset_hours: float,
    hub_id: str = "lienthong",
) -> bytes:
    """The hub's own ``ems.tracking`` alert (state overdue) for an order that missed a deadline."""
    what = "picked up" if kind == "pickup" else "delivered"
    hours = deadline_seconds / 3600
    message = (
        f"overdue {kind}: order {record.order_number} ({record.item_code}) not {what} "
        f"within {hours:g} h of being placed"
    )
    last = (
        f"last VNPost status {record.status_code} ({record.state})"
        if record.status_code
        else "no VNPost event"
    )
    event = {
        "id": overdue_key(record, kind),
        "item_code": record.item_code or (re.sub(r"[^A-Za-z0-9]", "", record.order_number)[:32] or "NONE"),
        "status_code": record.status_code or 0,
        "status_message": message,
        "event_time": iso_time(now, utc_offset_hours),
        "notes": f"overdue:{kind}; {last}",
    }
    document = {
        "type": "ems.tracking",
        "sender": hub_id,
        "recipients": [record.agency],
        "dossier_number": record.dossier_number,
        "state": "overdue",
        "event": event,
    }
    return json.dumps(document, ensure_ascii=False).encode("utf-8")


def due_alerts(
    record: OrderRecord, *, now: float, pickup_deadline: float, delivery_deadline: float
) -> list[tuple[OverdueKind, float]]:
    """The overdue alerts `record` should raise now (kind, deadline), none twice."""
    if record.placed_at is None or record.closed or record.cancel_requested:
        return []
    due: list[tuple[OverdueKind, float]] = []
    age = now - record.placed_at
    if not record.picked_up and age >= pickup_deadline and "pickup" not in record.alerts:
        due.append(("pickup", pickup_deadline))
    if age >= delivery_deadline and "delivery" not in record.alerts:
        due.append(("delivery", delivery_deadline))
    return due
