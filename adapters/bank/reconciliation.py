"""Daily reconciliation (đối soát): what the gateways say of a day's payments against what the hub
confirmed.

For every payment created that day (Vietnam time) the gateway is asked again — VNPAY querydr, the payment
platform's transaction detail — and the answer is compared with the hub's state:

* ``paid-not-confirmed``: paid at the gateway, the hub has not confirmed it paid;
* ``confirmed-not-paid``: the hub confirmed it paid, the gateway does not say paid;
* ``amount-mismatch``: the gateway holds another amount paid than the one requested;
* ``duplicate-payment``: the hub confirmed a further payment for an already paid request;
* ``query-failed``: the gateway could not be asked (the day is not reconciled for that payment).

Each discrepancy is recorded (``adapter.reconciliation-discrepancy``) and raised as an alert
(``alert.payment-discrepancy``) once per day and payment; the day's report is kept in the adapter's
state (``reconciliation:<date>``) for the console page and the CSV. A reconciliation only reports:
correcting money is an operator's decision (refund, reopen).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from hub.spi import Poller

from .gateways import GatewayError, PayPlatformGateway, StatusAnswer, VnpayGateway
from .mapping import PaymentRecord
from .service import Payments
from .store import ADAPTER
from .vnpay_wire import VNP_TZ

COLUMNS: tuple[str, ...] = (
    "date",
    "gateway",
    "reference",
    "dossier_number",
    "request_id",
    "agency",
    "amount",
    "hub_status",
    "gateway_status",
    "gateway_amount",
    "discrepancy",
)


@dataclass(frozen=True)
class Line:
    """One payment of the day, as the hub and the gateway see it."""

    date: str
    gateway: str
    reference: str
    dossier_number: str
    request_id: str
    agency: str
    amount: int
    hub_status: str
    gateway_status: str
    gateway_amount: int | None
    discrepancy: str  # "" when both agree

    def row(self) -> list[Any]:
        return [getattr(self, name) for name in COLUMNS]


def classify(record: PaymentRecord, answer: StatusAnswer | None) -> str:
    """The discrepancy between the hub's record and the gateway's answer ("" when none)."""
    if answer is None:
        return "query-failed"
    hub_paid = record.status == "paid"
    if answer.status == "paid" and answer.amount != record.amount:
        return "amount-mismatch"
    if answer.status == "paid" and not hub_paid:
        return "paid-not-confirmed"
    if hub_paid and answer.status != "paid":
        return "confirmed-not-paid"
    if any(key.startswith("duplicate-payment") for key in record.confirmations):
        return "duplicate-payment"
    return ""


class Reconciliation:
    def __init__(
        self,
        payments: Payments,
        gateways: Mapping[str, VnpayGateway | PayPlatformGateway],
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.payments = payments
        self.gateways = gateways
        self.clock = clock

    def run(self, day: date) -> list[Line]:
        """Reconcile `day`: ask the gateways, compare, record and alert the new discrepancies."""
        hub = self.payments.hub
        before = {(line.reference, line.discrepancy) for line in self.report(day)}
        lines = []
        records = self.payments.store.of_day(day)
        for record in records:
            gateway = self.gateways.get(record.gateway)
            answer: StatusAnswer | None = None
            if gateway is not None:
                try:
                    answer = gateway.query(record, self.clock())
                except GatewayError:
                    answer = None
            lines.append(
                Line(
                    date=day.isoformat(),
                    gateway=record.gateway,
                    reference=record.reference,
                    dossier_number=record.dossier_number,
                    request_id=record.request_id,
                    agency=record.agency,
                    amount=record.amount,
                    hub_status=record.status,
                    gateway_status=answer.status if answer else "unknown",
                    gateway_amount=answer.amount if answer else None,
                    discrepancy=classify(record, answer),
                )
            )
        hub.set_state(ADAPTER, f"reconciliation:{day.isoformat()}", json.dumps([asdict(x) for x in lines]))
        for line, record in zip(lines, records, strict=True):
            if not line.discrepancy or (line.reference, line.discrepancy) in before:
                continue
            data = asdict(line)
            hub.record_event(ADAPTER, "reconciliation-discrepancy", data, message_id=record.message_id)
            hub.raise_alert(ADAPTER, "payment-discrepancy", data, message_id=record.message_id)
        if not lines:  # nothing was paid or asked that day: nothing to put on record
            return lines
        hub.record_event(
            ADAPTER,
            "reconciled",
            {
                "date": day.isoformat(),
                "payments": len(lines),
                "discrepancies": sum(1 for line in lines if line.discrepancy),
            },
        )
        return lines

    def report(self, day: date) -> list[Line]:
        """The last reconciliation of `day` (empty when it was never reconciled)."""
        text = self.payments.hub.get_state(ADAPTER, f"reconciliation:{day.isoformat()}")
        return [Line(**item) for item in json.loads(text)] if text else []


def to_csv(lines: Sequence[Line]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    writer.writerows(line.row() for line in lines)
    return buffer.getvalue()


def vietnam_today(now: datetime) -> date:
    return now.astimezone(VNP_TZ).date()


class DailyReconciliation(Poller):
    """Reconciles yesterday once a day, after ``at`` (Vietnam time). Runs as a poller, so the core's
    lease keeps it to one process; the days done are remembered in the adapter's state."""

    name = "bank-reconciliation"

    def __init__(
        self,
        reconciliation: Reconciliation,
        *,
        at: time,
        interval_seconds: float,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.reconciliation = reconciliation
        self.at = at
        self.interval_seconds = interval_seconds
        self.clock = clock

    def poll_once(self) -> int:
        now = self.clock().astimezone(VNP_TZ)
        if now.time() < self.at:
            return 0
        day = now.date() - timedelta(days=1)
        hub = self.reconciliation.payments.hub
        key = f"reconciled:{day.isoformat()}"
        if hub.get_state(ADAPTER, key) is not None:
            return 0
        lines = self.reconciliation.run(day)
        hub.set_state(ADAPTER, key, now.isoformat())
        return len(lines)
