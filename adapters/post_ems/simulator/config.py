"""Configuration of the VNPost simulator: clients, token lifetime, time compression, step delays."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from .codes import OrderState, Scenario


class ClientCredentials(BaseModel):
    """One API client: the key and secret of the token call and the CustomerCode they act for."""

    model_config = ConfigDict(frozen=True)

    key: str = Field(min_length=1)
    secret: str = Field(min_length=1)
    customer_code: str = Field(min_length=1)


class StepDelays(BaseModel):
    """Simulated seconds an order waits in a state before its scenario moves it on."""

    accepted: float = Field(default=2 * 3600, ge=0, description="accepted → picked up")
    picked_up: float = Field(default=4 * 3600, ge=0, description="picked up → in transit")
    in_transit: float = Field(default=24 * 3600, ge=0, description="in transit → delivered / failed")
    delivery_failed: float = Field(default=48 * 3600, ge=0, description="failed → returned")

    def after(self, state: OrderState) -> float:
        return float(getattr(self, state.value, 0.0))


DEFAULT_CLIENT = ClientCredentials(
    key="lienthong-dev", secret="lienthong-dev-secret", customer_code="LIENTHONG"
)


class SimulatorConfig(BaseModel):
    """Everything the simulator can be told at start-up (the admin API changes the rest at run time)."""

    clients: list[ClientCredentials] = Field(default_factory=lambda: [DEFAULT_CLIENT])
    token_ttl_seconds: float = Field(default=3600, gt=0, description="lifetime of an access token (real s)")
    time_scale: float = Field(
        default=1.0,
        ge=0,
        description="simulated seconds per real second; 0 freezes orders (only the admin API moves them)",
    )
    delays: StepDelays = Field(default_factory=StepDelays)
    default_scenario: Scenario = Scenario.DELIVERED
    default_page_size: int = Field(default=100, ge=1)
    max_page_size: int = Field(default=1000, ge=1)
    item_prefix: str = Field(default="EL", pattern=r"^[A-Z]{2}$", description="S10 service indicator")
    first_item_serial: int = Field(default=10_000_001, ge=1, le=99_999_999)

    def real_delay(self, state: OrderState) -> float | None:
        """Real seconds before an order leaves `state` by itself; None when time is frozen."""
        if self.time_scale == 0:
            return None
        return self.delays.after(state) / self.time_scale
