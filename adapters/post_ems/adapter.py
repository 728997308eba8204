"""The post_ems adapter: ``ems.order`` to VNPost (create or cancel), and the tracking feed back.

deliver() only transports and reports what VNPost said; the core retries and dead-letters. The
OrderNumber is VNPost's idempotency key: a resend or a retry after a lost answer gets the existing
order back, never a second one.
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from typing import ClassVar

from hub.problems import Problem
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
    RetryableFailure,
)

from .client import VNPostClient, VNPostError
from .intake_checks import unknown_customer_code
from .mapping import MappingError, OrderRecord, OrderRequest, interpret_answer, parse_order
from .options import PostEmsOptions
from .orders import OrderBook
from .tracking import OverduePoller, TrackingPoller

log = logging.getLogger("adapters.post_ems")


class PostEmsAdapter(Adapter):
    """VNPost EMS: collect dossiers from citizens and return results to them, with tracking."""

    name: ClassVar[str] = "post_ems"
    Options: ClassVar[type[AdapterOptions]] = PostEmsOptions
    capabilities: ClassVar[Capabilities] = Capabilities(
        acknowledges=True,  # {Status, Message} answers whether VNPost took the order
        deduplicates=True,  # by OrderNumber: a repeat answers the existing order
        receipt="synchronous",
        max_payload_bytes=64 * 1024,
    )

    def __init__(self, options: AdapterOptions, hub: HubServices) -> None:
        if not isinstance(options, PostEmsOptions):
            options = PostEmsOptions.model_validate(options.model_dump())
        super().__init__(options, hub)
        self.options: PostEmsOptions = options
        self.client = VNPostClient(options)
        self.orders = OrderBook(hub)
        if self.development_secrets():
            log.warning("development VNPost secrets in use: %s", ", ".join(self.development_secrets()))

    # ---- outbound ------------------------------------------------------------------------------

    def check_intake(self, document: IntakeDocument) -> list[Problem]:
        return unknown_customer_code(document, [c.customer_code for c in self.options.clients])

    def deliver(self, message: OutboundMessage) -> DeliveryResult:
        """Create or cancel the order the ``ems.order`` document asks for."""
        if message.doctype != "ems.order":
            return PermanentFailure(
                reason=f"the post_ems adapter carries ems.order only, not {message.doctype}"
            )
        try:
            request = parse_order(message.document)
        except MappingError as exc:
            return PermanentFailure(reason=str(exc))
        if not self.client.knows(request.customer_code):
            return PermanentFailure(
                reason=f"CustomerCode {request.customer_code!r} has no VNPost credentials in this hub "
                f"(configured: {', '.join(c.customer_code for c in self.options.clients)})"
            )
        try:
            if request.action == "cancel":
                return self._cancel(message, request)
            return self._create(message, request)
        except VNPostError as exc:
            if exc.retryable:
                return RetryableFailure(reason=exc.reason)
            return PermanentFailure(reason=exc.reason)

    def _create(self, message: OutboundMessage, request: OrderRequest) -> DeliveryResult:
        wanted = OrderRecord(
            customer_code=request.customer_code,
            order_number=request.order_number,
            dossier_number=request.dossier_number,
            flow=request.flow,
            agency=message.sender,
            message_id=message.message_id,
        )
        # Remember who asked BEFORE asking: the accepted event may reach the feed before the answer
        # reaches us, and an order VNPost made while its answer was lost must still be tracked.
        record = self.orders.claim(wanted)
        mine = (record.agency, record.dossier_number, record.flow) == (
            wanted.agency,
            wanted.dossier_number,
            wanted.flow,
        )
        if not mine:
            return PermanentFailure(
                reason=f"OrderNumber {request.order_number} of CustomerCode {request.customer_code} "
                f"is already the {record.flow} order of dossier {record.dossier_number} "
                f"placed by {record.agency}; VNPost would answer that order: use another OrderNumber"
            )
        response = self.client.create(request.customer_code, request.order)
        result = interpret_answer(
            response.status_code,
            response.content,
            ok=self.options.answer_ok,
            retryable=self.options.answer_retryable,
        )
        if isinstance(result, Delivered):
            self.orders.confirm(
                request.customer_code, request.order_number, result.peer_reference, time.time()
            )
        return result

    def _cancel(self, message: OutboundMessage, request: OrderRequest) -> DeliveryResult:
        record = self.orders.get(request.customer_code, request.order_number)
        if record is not None and record.agency != message.sender:
            return PermanentFailure(
                reason=f"order {request.order_number} was placed by {record.agency}; "
                f"{message.sender} may not cancel it"
            )
        response = self.client.cancel(request.customer_code, request.order_number)
        result = interpret_answer(
            response.status_code,
            response.content,
            ok=self.options.answer_ok,
            retryable=self.options.answer_retryable,
        )
        if isinstance(result, Delivered):
            self.orders.update(
                request.customer_code, request.order_number, lambda r: replace(r, cancel_requested=True)
            )
            self.orders.unwatch(request.customer_code, request.order_number)
            reference = record.item_code if record and record.item_code else request.order_number
            return Delivered(peer_reference=reference, detail=result.detail)
        return result

    # ---- inbound -------------------------------------------------------------------------------

    def pollers(self) -> list[Poller]:
        trackers: list[Poller] = [
            TrackingPoller(c.customer_code, self.options, self.client, self.orders, self.hub)
            for c in self.options.clients
        ]
        return [*trackers, OverduePoller(self.options, self.orders, self.hub)]

    def development_secrets(self) -> list[str]:
        return [f"clients[{c.customer_code}].secret" for c in self.options.clients if c.is_development]

    def close(self) -> None:
        self.client.close()
