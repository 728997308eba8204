"""Options of the post_ems adapter (validated at start-up from config/adapters.yaml).

Client secrets are never plain values: each is ``env:NAME`` (read from the environment when the
adapter starts) or ``dev:VALUE`` (a development literal, which production mode refuses).
The StatusCode → hub state table and VNPost's answer codes are configuration, not code: VNPost's
real table is not public, so the defaults follow the simulator (docs/simulators/vnpost.md).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from hub.spi import AdapterOptions, SecretSpec, is_development_secret, resolve_secret

TrackingState = Literal["accepted", "picked_up", "in_transit", "delivered", "returned", "cancelled"]

#: The simulator's StatusCode table mapped to the hub's delivery states; a failed delivery attempt
#: (400) is still on its way (the parcel is retried or returned), so it reads as in transit.
DEFAULT_STATUS_STATES: dict[int, TrackingState] = {
    100: "accepted",
    200: "picked_up",
    300: "in_transit",
    400: "in_transit",
    500: "delivered",
    600: "returned",
    700: "cancelled",
}


class ClientOption(BaseModel):
    """One VNPost API client: the CustomerCode orders are placed under, and its credentials."""

    model_config = ConfigDict(extra="forbid")

    customer_code: str = Field(min_length=1, description="VNPost CustomerCode (orders carry it)")
    key: str = Field(min_length=1, description="client key of the token call")
    secret: SecretSpec = Field(description="client secret: 'env:VARIABLE' or 'dev:literal'")

    def resolve_secret(self) -> str:
        """The secret itself; raises ValueError for a variable that is not set."""
        return resolve_secret(self.secret, f"secret of VNPost client {self.customer_code!r}")

    @property
    def is_development(self) -> bool:
        return is_development_secret(self.secret)


def _dev_clients() -> list[ClientOption]:
    return [ClientOption(customer_code="LIENTHONG", key="lienthong-dev", secret="dev:lienthong-dev-secret")]


class PostEmsOptions(AdapterOptions):
    """`timeout_seconds` (inherited) bounds each whole VNPost request."""

    base_url: str = Field(default="http://127.0.0.1:8093", description="VNPost API root")
    token_path: str = "/token"
    order_path: str = "/api/order/post"
    cancel_path: str = "/api/order/cancel"
    tracking_path: str = "/api/tracking"
    connect_timeout_seconds: float = Field(default=5.0, gt=0)
    clients: list[ClientOption] = Field(default_factory=_dev_clients, min_length=1)
    token_refresh_margin_seconds: float = Field(
        default=60.0, ge=0, description="renew a token this long before VNPost says it expires"
    )
    answer_ok: list[str] = Field(
        default_factory=lambda: ["100"], description="order/cancel answer Status values meaning success"
    )
    answer_retryable: list[str] = Field(
        default_factory=list, description="answer Status values worth trying again (others are permanent)"
    )
    status_states: dict[int, TrackingState] = Field(
        default_factory=lambda: dict(DEFAULT_STATUS_STATES),
        description="tracking StatusCode → hub delivery state",
    )
    unmapped_state: TrackingState = Field(
        default="in_transit", description="state for a StatusCode missing from status_states (also logged)"
    )
    picked_up_states: list[TrackingState] = Field(
        default_factory=lambda: list[TrackingState](["picked_up", "in_transit", "delivered", "returned"]),
        description="states that prove the parcel was picked up",
    )
    closed_states: list[TrackingState] = Field(
        default_factory=lambda: list[TrackingState](["delivered", "returned", "cancelled"]),
        description="states after which nothing more is expected (no overdue alert)",
    )
    tracking_interval_seconds: float = Field(default=30.0, gt=0, description="how often the feed is read")
    page_size: int = Field(default=100, ge=1, le=1000, description="tracking feed page size")
    max_pages_per_poll: int = Field(default=20, ge=1)
    pickup_deadline_seconds: float = Field(
        default=2 * 86400, gt=0, description="no pickup this long after the order → overdue alert"
    )
    delivery_deadline_seconds: float = Field(
        default=10 * 86400, gt=0, description="not delivered this long after the order → overdue alert"
    )
    overdue_interval_seconds: float = Field(
        default=300.0, gt=0, description="how often deadlines are checked"
    )
    utc_offset_hours: float = Field(default=7.0, ge=-14, le=14, description="time zone of event times")

    @field_validator("base_url")
    @classmethod
    def _url(cls, url: str) -> str:
        if not url.startswith(("http://", "https://")):
            raise ValueError("base_url must be an http(s) URL")
        return url.rstrip("/")

    @model_validator(mode="after")
    def _distinct_clients(self) -> PostEmsOptions:
        codes = [c.customer_code for c in self.clients]
        if len(codes) != len(set(codes)):
            raise ValueError("each VNPost CustomerCode may be configured once")
        return self

    def state_of(self, status_code: int) -> TrackingState | None:
        """The hub state of a VNPost StatusCode, or None when the table does not name it."""
        return self.status_states.get(status_code)
