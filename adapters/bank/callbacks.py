"""The callback doors: where the gateways tell the hub how a payment went.

* ``GET  /adapters/bank/vnpay/ipn`` — VNPAY's IPN; answer ``{"RspCode", "Message"}`` (HTTP 200):
  97 invalid checksum, 01 order not found, 04 invalid amount, 02 already confirmed, 00 confirmed,
  99 unknown error (VNPAY repeats the IPN).
* ``POST /adapters/bank/payplatform/paymentconfirm`` — the payment platform's callback; answer
  ``{"return_code": 0|-1, "return_msg"}``; 0 also for a repeat; HTTP 503 when the hub cannot record the
  outcome now (the platform repeats the callback).

Nothing else is trusted: a callback must verify with the gateway's key and match a payment the hub
created, for the amount it asked. Refusals produce no message and are recorded as evidence.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from adapters.bank.simulator.vnpay_protocol import IPN_ANSWERS, is_paid

from .gateways import PayPlatformGateway, VnpayGateway
from .mapping import payplatform_status, vnpay_amount, vnpay_paid_at
from .service import Payments

log = logging.getLogger("adapters.bank")


def vnpay_answer(code: str) -> dict[str, str]:
    return {"RspCode": code, "Message": IPN_ANSWERS[code]}


def handle_ipn(params: dict[str, str], gateway: VnpayGateway, payments: Payments) -> dict[str, str]:
    """Decide VNPAY's answer to one IPN (and confirm the payment when it holds)."""
    record = payments.store.get("vnpay", params.get("vnp_TxnRef", ""))
    if not gateway.verify(params) or params.get("vnp_TmnCode") != gateway.tmn_code:
        payments.refuse("vnpay", "invalid checksum", vnpay_answer("97"), params, record)
        return vnpay_answer("97")
    if record is None:
        payments.refuse("vnpay", "no payment with this vnp_TxnRef", vnpay_answer("01"), params, None)
        return vnpay_answer("01")
    stated = vnpay_amount(params)
    if stated != record.amount:
        reason = f"amount {params.get('vnp_Amount')!r} (×100) is not the requested {record.amount} VND"
        payments.refuse("vnpay", reason, vnpay_answer("04"), params, record)
        return vnpay_answer("04")
    status = "paid" if is_paid(params) else "failed"
    outcome = payments.resolve(
        record, status, paid_at=vnpay_paid_at(params), response=params, source="vnpay ipn"
    )
    return vnpay_answer("00" if outcome == "confirmed" else "02")


def platform_answer(code: int, message: str) -> dict[str, Any]:
    return {"return_code": code, "return_msg": message}


def handle_paymentconfirm(body: Any, gateway: PayPlatformGateway, payments: Payments) -> dict[str, Any]:
    """Decide the payment platform's answer to one callback (and confirm the payment when it holds)."""
    callback = body if isinstance(body, dict) else {"body": json.dumps(body)[:1000]}
    reference = str(callback.get("transaction_id", ""))
    record = payments.store.get("payplatform", reference) if reference else None
    if record is None:
        answer = platform_answer(-1, "transaction not found")
        payments.refuse("payplatform", "no payment with this transaction_id", answer, callback, None)
        return answer
    verdict = gateway.check_callback(callback, record)
    if verdict != "ok" or str(callback.get("client_id", gateway.client_id)) != gateway.client_id:
        reason = (
            f"amount {callback.get('trans_amount')!r} is not the requested {record.amount} VND"
            if verdict == "amount-mismatch"
            else "invalid check_sum"
        )
        answer = platform_answer(-1, reason)
        payments.refuse("payplatform", reason, answer, callback, record)
        return answer
    status = payplatform_status(callback.get("status"))
    if status == "pending":
        return platform_answer(0, "noted: still pending")
    outcome = payments.resolve(record, status, paid_at=None, response=callback, source="payplatform callback")
    return platform_answer(
        0, {"confirmed": "success", "already": "already confirmed"}.get(outcome, "ignored")
    )


def build_router(
    vnpay: VnpayGateway | None, platform: PayPlatformGateway | None, payments: Payments
) -> APIRouter:
    router = APIRouter()

    if vnpay is not None:

        @router.get("/vnpay/ipn")
        def vnpay_ipn(request: Request) -> JSONResponse:
            try:
                answer = handle_ipn(dict(request.query_params), vnpay, payments)
            except Exception:  # VNPAY's 99: it will repeat the IPN later
                log.exception("VNPAY IPN could not be handled")
                answer = vnpay_answer("99")
            return JSONResponse(answer)

    if platform is not None:

        @router.post("/payplatform/paymentconfirm")
        async def paymentconfirm(request: Request) -> JSONResponse:
            try:
                body: Any = await request.json()
            except ValueError:
                body = {"body": (await request.body()).decode("utf-8", "replace")[:1000]}
            try:
                answer = await run_in_threadpool(handle_paymentconfirm, body, platform, payments)
            except Exception:
                log.exception("payment platform callback could not be handled")
                return JSONResponse(platform_answer(-99, "temporary error; send again"), status_code=503)
            return JSONResponse(answer)

    return router
