"""The simulator's order states, tracking StatusCode table, answer codes and scenarios, as data.

VNPost's real StatusCode table is not public. These values are the simulator's own, documented in
docs/simulators/vnpost.md; the adapter maps them to hub delivery states through configuration, and
may read :data:`TRACKING_STATUS_CODES` to build its default mapping.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class OrderState(StrEnum):
    ACCEPTED = "accepted"
    PICKED_UP = "picked_up"
    IN_TRANSIT = "in_transit"
    DELIVERY_FAILED = "delivery_failed"
    DELIVERED = "delivered"
    RETURNED = "returned"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class TrackingStatus:
    code: int
    state: OrderState
    message: str
    """The StatusMessage the feed carries (Vietnamese, as VNPost writes it)."""
    english: str
    terminal: bool = False


TRACKING_STATUSES: tuple[TrackingStatus, ...] = (
    TrackingStatus(100, OrderState.ACCEPTED, "Đã tiếp nhận đơn hàng", "order accepted"),
    TrackingStatus(200, OrderState.PICKED_UP, "Đã thu gom", "picked up from the sender"),
    TrackingStatus(300, OrderState.IN_TRANSIT, "Đang vận chuyển", "in transit"),
    TrackingStatus(
        400,
        OrderState.DELIVERY_FAILED,
        "Phát không thành công",
        "delivery attempt failed (will retry or return)",
    ),
    TrackingStatus(500, OrderState.DELIVERED, "Phát thành công", "delivered", terminal=True),
    TrackingStatus(
        600, OrderState.RETURNED, "Đã chuyển hoàn cho người gửi", "returned to sender", terminal=True
    ),
    TrackingStatus(700, OrderState.CANCELLED, "Đã hủy đơn hàng", "cancelled", terminal=True),
)

TRACKING_STATUS_CODES: dict[int, OrderState] = {s.code: s.state for s in TRACKING_STATUSES}
"""StatusCode (int, as in the feed) → simulator order state."""

STATUS_BY_STATE: dict[OrderState, TrackingStatus] = {s.state: s for s in TRACKING_STATUSES}

TERMINAL_STATES: frozenset[OrderState] = frozenset(s.state for s in TRACKING_STATUSES if s.terminal)

# Legal transitions (manual advance may take any of them; scenarios follow one path).
TRANSITIONS: dict[OrderState, frozenset[OrderState]] = {
    OrderState.ACCEPTED: frozenset({OrderState.PICKED_UP, OrderState.CANCELLED}),
    OrderState.PICKED_UP: frozenset({OrderState.IN_TRANSIT, OrderState.CANCELLED}),
    OrderState.IN_TRANSIT: frozenset(
        {OrderState.DELIVERED, OrderState.DELIVERY_FAILED, OrderState.CANCELLED}
    ),
    OrderState.DELIVERY_FAILED: frozenset({OrderState.DELIVERED, OrderState.RETURNED, OrderState.CANCELLED}),
    OrderState.DELIVERED: frozenset(),
    OrderState.RETURNED: frozenset(),
    OrderState.CANCELLED: frozenset(),
}


class Scenario(StrEnum):
    """What happens to an order by itself as (simulated) time passes."""

    DELIVERED = "delivered"
    RETURNED = "returned"
    NEVER_PICKED_UP = "never_picked_up"
    STUCK_IN_TRANSIT = "stuck_in_transit"


SCENARIO_PATHS: dict[Scenario, tuple[OrderState, ...]] = {
    Scenario.DELIVERED: (
        OrderState.ACCEPTED,
        OrderState.PICKED_UP,
        OrderState.IN_TRANSIT,
        OrderState.DELIVERED,
    ),
    Scenario.RETURNED: (
        OrderState.ACCEPTED,
        OrderState.PICKED_UP,
        OrderState.IN_TRANSIT,
        OrderState.DELIVERY_FAILED,
        OrderState.RETURNED,
    ),
    Scenario.NEVER_PICKED_UP: (OrderState.ACCEPTED,),
    Scenario.STUCK_IN_TRANSIT: (OrderState.ACCEPTED, OrderState.PICKED_UP, OrderState.IN_TRANSIT),
}


class AnswerStatus(StrEnum):
    """The ``Status`` of the create and cancel answers (HTTP 200 in every case: read ``Status``)."""

    OK = "100"
    INVALID = "101"
    NOT_FOUND = "102"
    NOT_ALLOWED = "103"
    WRONG_CUSTOMER = "104"
