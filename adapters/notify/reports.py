"""The notify adapter's inbound doors, mounted under /adapters/notify: the SMS gateway's delivery
reports (DLR) and opt-outs (a citizen's "TU CHOI" reply, forwarded by the gateway).

Both carry the callback token (`sms.callback_token`) as ``?token=``, compared in constant time; a DLR is
accepted only for an SMSID this hub sent, and recorded on the notice's message (so on the dossier's
timeline and in the console) as event ``adapter.sms.dlr``."""

from __future__ import annotations

import hmac
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from hub.spi import HubServices

from .book import ADAPTER, NotifyBook, mask

DELIVERED_STATES = {"DELIVERED", "DELIVRD", "5"}


# What the SMS gateway reads back (its own answer format), published in the hub's OpenAPI.
_GATEWAY_ANSWER: dict[int | str, dict[str, Any]] = {
    "200": {
        "description": "taken (CodeResult 100), or refused in the gateway's words",
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "properties": {"CodeResult": {"type": "string"}, "ErrorMessage": {"type": "string"}},
                    "required": ["CodeResult"],
                }
            }
        },
    }
}


def build_router(hub: HubServices, book: NotifyBook, token: Callable[[], str | None]) -> APIRouter:
    router = APIRouter()

    def authorised(given: str) -> bool:
        expected = token()
        return bool(expected) and hmac.compare_digest(given.encode(), (expected or "").encode())

    @router.post("/sms/dlr", responses=_GATEWAY_ANSWER)
    async def delivery_report(request: Request, token_: str = Query("", alias="token")) -> JSONResponse:
        if not authorised(token_):
            hub.record_event(ADAPTER, "sms.dlr.refused", {"why": "bad or missing token"})
            return JSONResponse({"CodeResult": "101", "ErrorMessage": "unauthorised"}, status_code=401)
        try:
            report: dict[str, Any] = await request.json()
        except ValueError:
            return JSONResponse({"CodeResult": "99", "ErrorMessage": "body is not JSON"}, status_code=400)
        sms_id = str(report.get("SMSID", ""))
        message_id = book.sms_message(sms_id) if sms_id else None
        if message_id is None:
            hub.record_event(ADAPTER, "sms.dlr.refused", {"why": "unknown SMSID", "sms_id": sms_id[:64]})
            return JSONResponse({"CodeResult": "102", "ErrorMessage": "unknown SMSID"}, status_code=404)
        status = str(report.get("Status", "")).upper()
        delivered = status in DELIVERED_STATES
        hub.record_event(
            ADAPTER,
            "sms.dlr",
            {
                "sms_id": sms_id,
                "status": "delivered" if delivered else "failed",
                "gateway_status": status[:40],
                "error": str(report.get("ErrorMessage") or report.get("ErrorCode") or "")[:200] or None,
                "phone": mask(str(report.get("Phone", ""))),
            },
            message_id=message_id,
        )
        return JSONResponse({"CodeResult": "100"})

    @router.post("/opt-out", responses=_GATEWAY_ANSWER)
    async def opt_out(request: Request, token_: str = Query("", alias="token")) -> JSONResponse:
        if not authorised(token_):
            return JSONResponse({"CodeResult": "101", "ErrorMessage": "unauthorised"}, status_code=401)
        try:
            contact = str((await request.json()).get("contact", "")).strip()
        except (ValueError, AttributeError):
            contact = ""
        if not contact:
            return JSONResponse({"CodeResult": "99", "ErrorMessage": "contact is required"}, status_code=400)
        book.opt_out(contact)
        hub.record_event(ADAPTER, "opt_out", {"contact": mask(contact)})
        return JSONResponse({"CodeResult": "100"})

    return router
