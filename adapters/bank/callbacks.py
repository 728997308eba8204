"""The callback doors: where the gateways tell the hub how a payment went.

* ``GET  /adapters/bank/vnpay/ipn`` — VNPAY's IPN; answer ``{"RspCode", "Message"}`` (HTTP 200):
  97 invalid checksum, 01 order not found, 04 invalid amount, 02 already confirmed, 00 confirmed,
  99 unknown error (VNPAY repeats the IPN).
* ``POST /adapters/bank/payplatform/paymentconfirm`` — the payment platform's callback; answer
  ``{"return_code": 0|-1, "return_msg"}``; 0 also for a repeat; HTTP 503 when the hub cannot record the
  outcome now (the platform repeats the callback).

A callback is a hint. ``paid`` is confirmed only when the gateway vouches for it through a channel
whose integrity covers the status: a VNPAY IPN whose hash (covering vnp_ResponseCode and
vnp_TransactionStatus) verifies; for the payment platform, whose callback checksum does not cover
``status``, the hub's own transaction-detail query. A callback the query contradicts is refused and
recorded (``adapter.callback-refused``, with the query's answer). Only the signed fields reach a
confirmation; no checksum leaves the hub.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from . import payplatform_wire as pp
from .gateways import GatewayError, PayPlatformGateway, VnpayGateway
from .service import Payments
from .vnpay_wire import IPN_ANSWERS

log = logging.getLogger("adapters.bank")


class TryAgain(Exception):
    """The outcome cannot be established now; the gateway should send the callback again."""


def vnpay_answer(code: str) -> dict[str, str]:
    return {"RspCode": code, "Message": IPN_ANSWERS[code]}


def handle_ipn(params: dict[str, str], gateway: VnpayGateway, payments: Payments) -> dict[str, str]:
    """Decide VNPAY's answer to one IPN (and confirm the payment when it holds)."""
    record = payments.store.get("vnpay", params.get("vnp_TxnRef", ""))
    if not gateway.verify(params):
        payments.refuse("vnpay", "invalid checksum", vnpay_answer("97"), params, record)
        return vnpay_answer("97")
    if record is None:
        payments.refuse("vnpay", "no payment with this vnp_TxnRef", vnpay_answer("01"), params, None)
        return vnpay_answer("01")
    vouched = gateway.vouched(params)
    if vouched.amount != record.amount:
        reason = f"amount {params.get('vnp_Amount')!r} (×100) is not the requested {record.amount} VND"
        payments.refuse("vnpay", reason, vnpay_answer("04"), params, record)
        return vnpay_answer("04")
    outcome = payments.settle(record, vouched, source="vnpay ipn")
    return vnpay_answer("00" if outcome in ("confirmed", "duplicate", "late") else "02")


def platform_answer(code: int, message: str) -> dict[str, Any]:
    return {"return_code": code, "return_msg": message}


def handle_paymentconfirm(body: Any, gateway: PayPlatformGateway, payments: Payments) -> dict[str, Any]:
    """Decide the payment platform's answer to one callback; the detail query decides the outcome."""
    callback = body if isinstance(body, dict) else {"body": json.dumps(body)[:1000]}
    reference = str(callback.get("transaction_id", ""))
    record = payments.store.get("payplatform", reference) if reference else None
    if record is None:
        answer = platform_answer(-1, "transaction not found")
        payments.refuse("payplatform", "no payment with this transaction_id", answer, callback, None)
        return answer
    verdict = gateway.check_callback(callback, record)
    if verdict != "ok":
        reason = (
            f"amount {callback.get('trans_amount')!r} is not the requested {record.amount} VND"
            if verdict == "amount-mismatch"
            else "invalid check_sum"
        )
        answer = platform_answer(-1, reason)
        payments.refuse("payplatform", reason, answer, callback, record)
        return answer
    claimed = pp.status_of(callback.get("status"))
    if claimed == "pending":
        return platform_answer(0, "noted: still pending")
    try:
        vouched = gateway.query(record, datetime.now(UTC))
    except GatewayError as exc:
        payments.query_failed(record, exc.reason)
        raise TryAgain(exc.reason) from None
    if vouched.status != claimed:
        answer = platform_answer(-1, f"the transaction detail says {vouched.status}, not {claimed}")
        reason = f"callback says {claimed}; the platform's transaction detail says {vouched.status}"
        payments.refuse("payplatform", reason, answer, callback, record, query_answer=vouched)
        return answer
    outcome = payments.settle(record, vouched, source="payplatform callback, checked by detail query")
    messages = {"confirmed": "success", "duplicate": "success", "late": "success"}
    return platform_answer(0, messages.get(outcome, "already confirmed"))


# The gateways' own answer formats, for the OpenAPI (callbacks never answer problem+json).
_VNPAY_ANSWER = {
    "type": "object",
    "properties": {"RspCode": {"type": "string"}, "Message": {"type": "string"}},
    "required": ["RspCode", "Message"],
}
_PLATFORM_ANSWER = {
    "type": "object",
    "properties": {"return_code": {"type": "integer"}, "return_msg": {"type": "string"}},
    "required": ["return_code", "return_msg"],
}


def build_router(
    vnpay: VnpayGateway | None, platform: PayPlatformGateway | None, payments: Payments
) -> APIRouter:
    router = APIRouter()

    if vnpay is not None:

        @router.get(
            "/vnpay/ipn", responses={200: {"content": {"application/json": {"schema": _VNPAY_ANSWER}}}}
        )
        def vnpay_ipn(request: Request) -> JSONResponse:
            try:
                answer = handle_ipn(dict(request.query_params), vnpay, payments)
            except Exception:  # VNPAY's 99: it will repeat the IPN later
                log.exception("VNPAY IPN could not be handled")
                answer = vnpay_answer("99")
            return JSONResponse(answer)

    if platform is not None:

        @router.post(
            "/payplatform/paymentconfirm",
            responses={
                200: {"content": {"application/json": {"schema": _PLATFORM_ANSWER}}},
                503: {
                    "description": "try again later",
                    "content": {"application/json": {"schema": _PLATFORM_ANSWER}},
                },
            },
        )
        async def paymentconfirm(request: Request) -> JSONResponse:
            try:
                body: Any = await request.json()
            except ValueError:
                body = {"body": (await request.body()).decode("utf-8", "replace")[:1000]}
            try:
                answer = await run_in_threadpool(handle_paymentconfirm, body, platform, payments)
            except TryAgain as exc:
                log.warning("payment platform callback deferred: %s", exc)
                return JSONResponse(platform_answer(-99, "temporary error; send again"), status_code=503)
            except Exception:
                log.exception("payment platform callback could not be handled")
                return JSONResponse(platform_answer(-99, "temporary error; send again"), status_code=503)
            return JSONResponse(answer)

    return router
