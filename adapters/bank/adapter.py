"""The bank adapter: fee payments for dossiers through a VNPAY-style gateway (recipient ``bank.vnpay``)
or the national payment platform (recipient ``bank.payplatform``).

Outbound, a ``payment.request`` becomes a payment at the gateway; the agency gets the payment URL as the
delivery's detail and the gateway reference as its peer reference. Inbound, the gateway's callbacks
(:mod:`adapters.bank.callbacks`) and the status poller (:mod:`adapters.bank.poller`) turn the outcome
into one hub-signed ``payment.confirmation`` to the agency. Retries and dead letters are the core's.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from typing import ClassVar

import httpx
import typer
from fastapi import APIRouter

from hub.spi import (
    Adapter,
    AdapterOptions,
    Capabilities,
    Delivered,
    DeliveryResult,
    HubServices,
    IntakeDocument,
    OutboundMessage,
    PermanentFailure,
    Poller,
    Problem,
    Report,
    RetryableFailure,
)

from .callbacks import build_router
from .gateways import GatewayError, PayPlatformGateway, VnpayGateway
from .intake_checks import expired_request
from .mapping import MappingError, expiry, gateway_of, gateway_reference, new_record, parse_request
from .options import BankOptions
from .poller import PaymentStatusPoller
from .reconciliation import COLUMNS, DailyReconciliation, Reconciliation
from .service import Payments
from .store import PaymentStore

log = logging.getLogger("adapters.bank")


class BankAdapter(Adapter):
    """One adapter, two gateways; see docs/adapters/bank.md."""

    name: ClassVar[str] = "bank"
    Options: ClassVar[type[AdapterOptions]] = BankOptions
    capabilities: ClassVar[Capabilities] = Capabilities(
        acknowledges=True, deduplicates=True, receipt="callback", max_payload_bytes=256 * 1024
    )

    def __init__(
        self,
        options: AdapterOptions,
        hub: HubServices,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        if not isinstance(options, BankOptions):
            options = BankOptions.model_validate(options.model_dump())
        super().__init__(options, hub)
        self.options: BankOptions = options
        self.clock = clock
        self._client = httpx.Client(timeout=options.timeout_seconds, follow_redirects=False, trust_env=False)
        self.vnpay = VnpayGateway(options.vnpay, self._client) if options.vnpay else None
        self.payplatform = (
            PayPlatformGateway(options.payplatform, self._client) if options.payplatform else None
        )
        self.store = PaymentStore(hub)
        self.payments = Payments(hub, self.store)
        self.reconciliation = Reconciliation(self.payments, self._gateways(), clock)
        if options.development_secrets():
            log.warning(
                "bank adapter: development credentials in use: %s", ", ".join(options.development_secrets())
            )

    def _gateway(self, recipient: str) -> VnpayGateway | PayPlatformGateway | None:
        return {"vnpay": self.vnpay, "payplatform": self.payplatform}[gateway_of(recipient)]

    def check_intake(self, document: IntakeDocument) -> list[Problem]:
        return expired_request(document, self.clock())

    def deliver(self, message: OutboundMessage) -> DeliveryResult:
        """Create the payment at the gateway; Delivered(gateway reference, payment URL)."""
        if message.doctype != "payment.request":
            return PermanentFailure(
                reason=f"the bank adapter carries payment.request only, not {message.doctype}"
            )
        try:
            gateway_name = gateway_of(message.recipient)
            gateway = self._gateway(message.recipient)
            if gateway is None:
                return PermanentFailure(
                    reason=f"gateway {gateway_name} is not configured in the bank adapter"
                )
            request = parse_request(message.document, sender=message.sender)
            existing = self.store.get(gateway_name, gateway_reference(message.message_id))
            if existing is not None and existing.payment_url:  # a redelivery: the payment exists
                return Delivered(peer_reference=existing.transaction_ref, detail=existing.payment_url)
            now = self.clock()
            expires = expiry(request, now, gateway.options.payment_ttl_seconds)
            record = new_record(
                request, gateway=gateway_name, message_id=message.message_id, now=now, expires=expires
            )
        except MappingError as exc:
            return PermanentFailure(reason=str(exc))
        try:
            created = gateway.create(request, record)
        except GatewayError as exc:
            if exc.retryable:
                return RetryableFailure(reason=f"{gateway_name}: {exc.reason}")
            return PermanentFailure(reason=f"{gateway_name}: {exc.reason}")
        record.payment_url = created.payment_url
        if gateway_name == "payplatform":
            record.transaction_code = created.peer_reference
        self.store.put(record)
        return Delivered(peer_reference=record.transaction_ref, detail=record.payment_url)

    def routers(self) -> list[APIRouter]:
        return [build_router(self.vnpay, self.payplatform, self.payments)]

    def _gateways(self) -> dict[str, VnpayGateway | PayPlatformGateway]:
        gateways: dict[str, VnpayGateway | PayPlatformGateway] = {}
        if self.vnpay is not None:
            gateways["vnpay"] = self.vnpay
        if self.payplatform is not None:
            gateways["payplatform"] = self.payplatform
        return gateways

    def pollers(self) -> list[Poller]:
        pollers: list[Poller] = [
            PaymentStatusPoller(
                self.payments,
                self._gateways(),
                query_after_seconds=self.options.query_after_seconds,
                expire_grace_seconds=self.options.expire_grace_seconds,
                interval_seconds=self.options.query_interval_seconds,
                clock=self.clock,
            )
        ]
        if self.options.reconcile_daily_at is not None:
            pollers.append(
                DailyReconciliation(
                    self.reconciliation,
                    at=self.options.reconcile_daily_at,
                    interval_seconds=self.options.reconcile_check_interval_seconds,
                    clock=self.clock,
                )
            )
        return pollers

    def reports(self) -> list[Report]:
        return [
            Report(
                name="reconciliation",
                title="Đối soát thanh toán / Payment reconciliation",
                columns=COLUMNS,
                rows=self._reconciliation_rows,
                parameters=("date",),
                description="A day's payments as the hub and the gateways see them (Vietnam time); "
                "run by the daily schedule or `lienthong payments reconcile --date`.",
            )
        ]

    def _reconciliation_rows(self, params: Mapping[str, str]) -> list[list[object]]:
        try:
            day = date.fromisoformat(params.get("date") or "")
        except ValueError:
            raise Problem("invalid-request", "date must be YYYY-MM-DD") from None
        return [line.row() for line in self.reconciliation.report(day)]

    @classmethod
    def commands(cls, connect: Callable[[], Adapter]) -> typer.Typer:
        from .commands import payments_commands

        return payments_commands(connect)

    def development_secrets(self) -> list[str]:
        return self.options.development_secrets()

    def peer_urls(self) -> list[str]:
        """The gateways' APIs the hub calls; not the payment page or the return page, which are the
        citizen's browser's destinations."""
        urls = []
        if self.options.vnpay:
            urls.append(self.options.vnpay.api_url)
        if self.options.payplatform:
            urls.append(self.options.payplatform.base_url)
        return urls

    def close(self) -> None:
        self._client.close()
