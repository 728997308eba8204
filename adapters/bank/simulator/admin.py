"""The ``/_sim`` admin API both gateways share: state, reset, faults, and the customer's outcome.

``POST /_sim/transactions/{reference}/{outcome}`` plays the customer at the gateway:

* ``pay``           — the customer pays; one callback;
* ``fail``          — the payment fails (VNPAY ``response_code`` such as 24 or 51); one callback;
* ``duplicate``     — the customer pays; the same callback is sent twice, one after the other;
* ``wrong-amount``  — the customer pays; the callback, correctly signed, states another amount;
* ``bad-checksum``  — the customer pays; the callback's checksum is made with a wrong key;
* ``silent``        — the customer pays; no callback at all (the merchant must ask for the status);
* ``pay-other-amount`` — the customer pays another amount (``amount``, in the gateway's unit); the
  gateway records it, and its callback and status answers state it, correctly signed;
* ``pay-again``     — VNPAY only: a transaction already paid is paid a second time (a new
  vnp_TransactionNo, a new IPN), as when a customer pays twice through two channels;
* ``reverse``       — the bank reverses a paid transaction (VNPAY transaction status 04, platform
  status 2); no callback: the merchant learns it when it asks (querydr, detail).
"""

from __future__ import annotations

from typing import Any, Literal, Protocol

from fastapi import FastAPI
from pydantic import BaseModel, Field

from adapters.bank.simulator.faults import Faults, FaultSettings

Outcome = Literal[
    "pay",
    "fail",
    "duplicate",
    "wrong-amount",
    "bad-checksum",
    "silent",
    "pay-other-amount",
    "pay-again",
    "reverse",
]
OUTCOMES: tuple[str, ...] = (
    "pay",
    "fail",
    "duplicate",
    "wrong-amount",
    "bad-checksum",
    "silent",
    "pay-other-amount",
    "pay-again",
    "reverse",
)


class OutcomeRequest(BaseModel):
    response_code: str | None = Field(default=None, description="VNPAY: vnp_ResponseCode of a failure")
    status: int | None = Field(default=None, description="payment platform: callback status of a failure")
    amount: int | None = Field(
        default=None, description="wrong-amount, pay-other-amount: the amount stated (gateway's unit)"
    )
    merchant: str | None = Field(default=None, description="tmn code or client id when references clash")
    wait: bool = Field(default=True, description="answer only once the callbacks are settled")
    wait_seconds: float = Field(default=30.0, ge=0, le=600)


class Simulator(Protocol):
    faults: Faults

    def state(self) -> dict[str, Any]: ...

    def reset(self) -> None: ...


def install_admin(app: FastAPI, simulator: Simulator) -> None:
    @app.get("/_sim/state")
    def sim_state() -> dict[str, Any]:
        return simulator.state()

    @app.post("/_sim/reset")
    def sim_reset() -> dict[str, Any]:
        simulator.reset()
        return {"reset": True}

    @app.post("/_sim/faults")
    def sim_faults(settings: FaultSettings) -> dict[str, Any]:
        simulator.faults.configure(settings)
        return simulator.faults.snapshot()
