"""The simulated post office: orders, their lifecycle over (compressible) time, and the tracking feed.

Time moves lazily: every call first applies the transitions that have fallen due, in the order of
their due time, each stamped with its due time as EventTime. Nothing runs in the background, so the
simulator is deterministic under the admin clock and a frozen time scale.
"""

from __future__ import annotations

import bisect
import heapq
import itertools
import threading
from dataclasses import dataclass, field, replace
from typing import Any

from .clock import Clock
from .codes import (
    SCENARIO_PATHS,
    STATUS_BY_STATE,
    TERMINAL_STATES,
    TRANSITIONS,
    OrderState,
    Scenario,
)
from .config import SimulatorConfig
from .ids import ObjectIdSequence, item_code

OrderKey = tuple[str, str]  # (CustomerCode, OrderNumber)


class OrderNotFound(LookupError):
    pass


class TransitionNotAllowed(ValueError):
    pass


@dataclass
class Order:
    customer_code: str
    order_number: str
    item_code: str
    fields: dict[str, Any]
    scenario: Scenario
    state: OrderState
    state_since: float
    created_at: float
    history: list[dict[str, Any]] = field(default_factory=list)
    next_due: float | None = None
    duplicate_requests: int = 0
    duplicate_mismatches: int = 0
    version: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "CustomerCode": self.customer_code,
            "OrderNumber": self.order_number,
            "ItemCode": self.item_code,
            "state": self.state.value,
            "StatusCode": STATUS_BY_STATE[self.state].code,
            "scenario": self.scenario.value,
            "created_at": self.created_at,
            "next_due": self.next_due,
            "duplicate_requests": self.duplicate_requests,
            "duplicate_mismatches": self.duplicate_mismatches,
            "history": list(self.history),
            "order": dict(self.fields),
        }


@dataclass(frozen=True)
class TrackingEvent:
    oid: str
    customer_code: str
    order_number: str
    event_time_ms: int
    pos_id: str
    item_code: str
    status_code: int
    status_message: str
    notes: str
    duplicate_of: str | None = None

    def to_doc(self) -> dict[str, Any]:
        """The event as the feed's ``rh:doc`` entry."""
        return {
            "_id": {"$oid": self.oid},
            "CustomerCode": self.customer_code,
            "OrderNumber": self.order_number,
            "EventTime": self.event_time_ms,
            "POSID": self.pos_id,
            "ItemCode": self.item_code,
            "StatusCode": self.status_code,
            "StatusMessage": self.status_message,
            "Notes": self.notes,
        }


def _pos_id(province: Any, district: Any) -> str:
    """A six-digit post office code derived from the province and district codes of an address."""
    digits = "".join(ch for ch in f"{province}{district}" if ch.isdigit())
    return (digits + "000000")[:6]


class PostOffice:
    """All orders and tracking events of the simulator; thread-safe."""

    def __init__(self, config: SimulatorConfig, clock: Clock) -> None:
        self._config = config
        self._clock = clock
        self._ids = ObjectIdSequence()  # kept across resets: ids never go back
        self._lock = threading.RLock()
        self.reset()

    # ---- admin ---------------------------------------------------------------------------------

    def reset(self) -> None:
        with self._lock:
            self._orders: dict[OrderKey, Order] = {}
            self._events: list[TrackingEvent] = []
            self._events_by_customer: dict[str, list[TrackingEvent]] = {}
            self._due: list[tuple[float, int, OrderKey, int]] = []
            self._seq = itertools.count()
            self._preset_scenarios: dict[OrderKey, Scenario] = {}
            self._next_serial = self._config.first_item_serial
            self._duplicate_next = 0

    def duplicate_next_events(self, count: int) -> None:
        """Fault: each of the next `count` events is emitted twice, the copy under a new _id."""
        with self._lock:
            self._duplicate_next += count

    def clear_duplicates(self) -> None:
        with self._lock:
            self._duplicate_next = 0

    @property
    def pending_duplicates(self) -> int:
        return self._duplicate_next

    def set_scenario(self, customer_code: str, order_number: str, scenario: Scenario) -> Order | None:
        """Set the scenario of an order, or preset it for an order not created yet (returns None)."""
        with self._lock:
            self._tick()
            order = self._orders.get((customer_code, order_number))
            if order is None:
                self._preset_scenarios[(customer_code, order_number)] = scenario
                return None
            order.scenario = scenario
            self._schedule(order)
            self._tick()
            return order

    def advance(self, customer_code: str, order_number: str, to: OrderState | None = None) -> Order:
        """Move an order one step now: to `to`, or along its scenario when `to` is None."""
        with self._lock:
            self._tick()
            order = self._get(customer_code, order_number)
            target = to or self._scenario_next(order)
            if target is None:
                raise TransitionNotAllowed(
                    f"order {order_number} in state {order.state} has no next step"
                    f" in scenario {order.scenario}"
                )
            self._transition(order, target, self._clock.now(), notes="")
            return order

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            self._tick()
            return {
                "orders": [o.to_dict() for o in self._orders.values()],
                "events": len(self._events),
                "last_event_id": self._events[-1].oid if self._events else None,
                "preset_scenarios": [
                    {"CustomerCode": c, "OrderNumber": n, "scenario": s.value}
                    for (c, n), s in self._preset_scenarios.items()
                ],
            }

    def get_order(self, customer_code: str, order_number: str) -> Order:
        with self._lock:
            self._tick()
            return self._get(customer_code, order_number)

    # ---- the API -------------------------------------------------------------------------------

    def create_order(self, customer_code: str, fields: dict[str, Any]) -> tuple[Order, bool]:
        """Create an order, or return the existing one for the same (CustomerCode, OrderNumber).

        The boolean is True when the order was created by this call.
        """
        with self._lock:
            self._tick()
            key = (customer_code, str(fields["OrderNumber"]))
            existing = self._orders.get(key)
            if existing is not None:
                existing.duplicate_requests += 1
                if existing.fields != fields:
                    existing.duplicate_mismatches += 1
                return existing, False
            now = self._clock.now()
            serial = self._next_serial
            self._next_serial = serial + 1 if serial < 99_999_999 else 1
            order = Order(
                customer_code=customer_code,
                order_number=key[1],
                item_code=item_code(self._config.item_prefix, serial),
                fields=dict(fields),
                scenario=self._preset_scenarios.pop(key, self._config.default_scenario),
                state=OrderState.ACCEPTED,
                state_since=now,
                created_at=now,
            )
            self._orders[key] = order
            self._record(order, OrderState.ACCEPTED, now, notes="")
            self._schedule(order)
            return order, True

    def cancel(self, customer_code: str, order_number: str) -> tuple[Order, bool]:
        """Cancel an order that is not delivered, returned or cancelled yet; cancelling a cancelled
        order again changes nothing (the boolean says whether this call cancelled it)."""
        with self._lock:
            self._tick()
            order = self._get(customer_code, order_number)
            if order.state is OrderState.CANCELLED:
                return order, False
            self._transition(
                order, OrderState.CANCELLED, self._clock.now(), "Hủy theo yêu cầu của khách hàng"
            )
            return order, True

    def feed(self, customer_code: str, last_id: str, page_size: int) -> tuple[list[TrackingEvent], int]:
        """The customer's events after `last_id` (ids compare as equal-length hex): one page and the
        count of all remaining ones, this page included."""
        with self._lock:
            self._tick()
            events = self._events_by_customer.get(customer_code, [])
            start = bisect.bisect_right(events, last_id, key=lambda e: e.oid)
            return events[start : start + page_size], len(events) - start

    # ---- lifecycle -----------------------------------------------------------------------------

    def _get(self, customer_code: str, order_number: str) -> Order:
        order = self._orders.get((customer_code, order_number))
        if order is None:
            raise OrderNotFound(f"no order {order_number} for customer {customer_code}")
        return order

    def _scenario_next(self, order: Order) -> OrderState | None:
        path = SCENARIO_PATHS[order.scenario]
        if order.state not in path:
            return None
        index = path.index(order.state)
        return path[index + 1] if index + 1 < len(path) else None

    def _schedule(self, order: Order) -> None:
        """(Re)compute when the order's scenario moves it on by itself."""
        order.version += 1
        order.next_due = None
        if order.state in TERMINAL_STATES or self._scenario_next(order) is None:
            return
        delay = self._config.real_delay(order.state)
        if delay is None:
            return
        order.next_due = order.state_since + delay
        heapq.heappush(
            self._due,
            (order.next_due, next(self._seq), (order.customer_code, order.order_number), order.version),
        )

    def _tick(self) -> None:
        """Apply every scenario step that has fallen due, oldest first."""
        now = self._clock.now()
        while self._due and self._due[0][0] <= now:
            due, _, key, version = heapq.heappop(self._due)
            order = self._orders.get(key)
            if order is None or order.version != version:
                continue  # rescheduled or reset since
            target = self._scenario_next(order)
            if target is not None:
                self._transition(order, target, due, notes="")

    def _transition(self, order: Order, target: OrderState, at: float, notes: str) -> None:
        if target not in TRANSITIONS[order.state]:
            raise TransitionNotAllowed(f"order {order.order_number} cannot go from {order.state} to {target}")
        order.state = target
        order.state_since = at
        self._record(order, target, at, notes)
        self._schedule(order)

    def _record(self, order: Order, state: OrderState, at: float, notes: str) -> None:
        status = STATUS_BY_STATE[state]
        order.history.append({"state": state.value, "StatusCode": status.code, "at": at})
        event = TrackingEvent(
            oid=self._ids.next(at),
            customer_code=order.customer_code,
            order_number=order.order_number,
            event_time_ms=int(at * 1000),
            pos_id=self._pos_for(order, state),
            item_code=order.item_code,
            status_code=status.code,
            status_message=status.message,
            notes=notes or self._default_notes(order, state),
        )
        self._append(event)
        if self._duplicate_next > 0:
            self._duplicate_next -= 1
            self._append(replace(event, oid=self._ids.next(at), duplicate_of=event.oid))

    def _append(self, event: TrackingEvent) -> None:
        self._events.append(event)
        self._events_by_customer.setdefault(event.customer_code, []).append(event)

    @staticmethod
    def _pos_for(order: Order, state: OrderState) -> str:
        f = order.fields
        if state in (OrderState.DELIVERED, OrderState.DELIVERY_FAILED):
            return _pos_id(f.get("ReceiverProvince", ""), f.get("ReceiverDistrict", ""))
        return _pos_id(f.get("SenderProvince", ""), f.get("SenderDistrict", ""))

    @staticmethod
    def _default_notes(order: Order, state: OrderState) -> str:
        if state is OrderState.DELIVERED:
            return f"Người nhận: {order.fields.get('ReceiverName', '')}"
        if state is OrderState.DELIVERY_FAILED:
            return "Không liên lạc được người nhận"
        if state is OrderState.RETURNED:
            return f"Chuyển hoàn cho: {order.fields.get('SenderName', '')}"
        return ""
