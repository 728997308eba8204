"""An SMS brandname gateway: POST /api/v1/sms/send (JSON: ApiKey, SecretKey, Brandname, Phone, Content,
IsUnicode, SmsType, RequestId, CallbackUrl) → {"CodeResult": "100", "SMSID": …} or an error code
with ErrorMessage; a repeated RequestId gets the first SMSID back (no second SMS). After accepting,
it posts a delivery report {SMSID, RequestId, Phone, Status: DELIVERED|FAILED, ErrorMessage} to the
CallbackUrl. Test controls under /_sim: state, faults (down / fail_next), per-phone DLR outcomes."""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass, field
from itertools import count
from typing import Any

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

PHONE = re.compile(r"^(\+?84|0)[1-9][0-9]{7,9}$")


class SmsGatewayConfig(BaseModel):
    api_key: str = "DEV-SMS-APIKEY"
    secret_key: str = "DEV-SMS-SECRET"
    brandnames: list[str] = Field(default_factory=lambda: ["LIENTHONG"])
    dlr_delay_seconds: float = 0.2


class Faults(BaseModel):
    down: bool = False  # every send answers 503
    fail_next: int = Field(default=0, ge=0)  # the next N sends answer 503


class DlrOutcome(BaseModel):
    phone: str
    status: str = "FAILED"
    error: str = "Thuê bao không liên lạc được"


@dataclass
class Sent:
    sms_id: str
    request_id: str
    phone: str
    content: str
    unicode: bool
    brandname: str
    callback_url: str
    dlr: dict[str, Any] | None = None


@dataclass
class Gateway:
    config: SmsGatewayConfig
    sent: list[Sent] = field(default_factory=list)
    by_request: dict[str, Sent] = field(default_factory=dict)
    faults: Faults = field(default_factory=Faults)
    dlr_outcomes: dict[str, DlrOutcome] = field(default_factory=dict)
    calls: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    ids: Any = field(default_factory=lambda: count(700001))


def _error(code: str, message: str, status: int = 200) -> JSONResponse:
    return JSONResponse({"CodeResult": code, "ErrorMessage": message}, status_code=status)


def _post_report(gateway: Gateway, sent: Sent) -> None:
    time.sleep(gateway.config.dlr_delay_seconds)
    outcome = gateway.dlr_outcomes.get(sent.phone)
    report = {
        "SMSID": sent.sms_id,
        "RequestId": sent.request_id,
        "Phone": sent.phone,
        "Status": outcome.status if outcome else "DELIVERED",
        "ErrorMessage": outcome.error if outcome else None,
    }
    try:
        answer = httpx.post(sent.callback_url, json=report, timeout=5)
        sent.dlr = {**report, "answered": answer.status_code}
    except httpx.HTTPError as error:
        sent.dlr = {**report, "answered": f"{type(error).__name__}"}


def create_sms_app(config: SmsGatewayConfig | None = None) -> FastAPI:
    gateway = Gateway(config or SmsGatewayConfig())
    app = FastAPI(title="lienthong SMS brandname gateway simulator", version="1")
    app.state.gateway = gateway

    @app.get("/")
    def index() -> dict[str, str]:
        return {"service": "SMS brandname gateway simulator", "send": "POST /api/v1/sms/send"}

    @app.post("/api/v1/sms/send")
    async def send(request: Request) -> JSONResponse:
        with gateway.lock:
            gateway.calls += 1
            if gateway.faults.down or gateway.faults.fail_next:
                gateway.faults.fail_next = max(0, gateway.faults.fail_next - 1)
                return _error("99", "Hệ thống đang bận", status=503)
        try:
            body = await request.json()
        except ValueError:
            return _error("99", "Dữ liệu không hợp lệ (not JSON)")
        if not isinstance(body, dict):
            return _error("99", "Dữ liệu không hợp lệ")
        if body.get("ApiKey") != gateway.config.api_key or body.get("SecretKey") != gateway.config.secret_key:
            return _error("101", "Sai ApiKey hoặc SecretKey")
        if body.get("Brandname") not in gateway.config.brandnames:
            return _error("104", f"Brandname {body.get('Brandname')!r} chưa được đăng ký")
        phone, content = str(body.get("Phone", "")), str(body.get("Content", ""))
        if not PHONE.match(phone):
            return _error("118", f"Số điện thoại không hợp lệ: {phone}")
        unicode = str(body.get("IsUnicode", "0")) == "1"
        if not content or (not unicode and not content.isascii()):
            return _error("119", "Nội dung trống hoặc có dấu khi IsUnicode=0")
        request_id = str(body.get("RequestId") or "")
        with gateway.lock:
            earlier = gateway.by_request.get(request_id) if request_id else None
            if earlier is not None:
                return JSONResponse({"CodeResult": "100", "SMSID": earlier.sms_id, "Duplicate": True})
            sent = Sent(
                sms_id=str(next(gateway.ids)),
                request_id=request_id,
                phone=phone,
                content=content,
                unicode=unicode,
                brandname=str(body["Brandname"]),
                callback_url=str(body.get("CallbackUrl") or ""),
            )
            gateway.sent.append(sent)
            if request_id:
                gateway.by_request[request_id] = sent
        if sent.callback_url:
            threading.Thread(target=_post_report, args=(gateway, sent), daemon=True).start()
        return JSONResponse({"CodeResult": "100", "SMSID": sent.sms_id})

    @app.get("/_sim/state")
    def state() -> dict[str, Any]:
        return {
            "calls": gateway.calls,
            "sent": [
                {
                    "sms_id": s.sms_id,
                    "request_id": s.request_id,
                    "phone": s.phone,
                    "content": s.content,
                    "unicode": s.unicode,
                    "brandname": s.brandname,
                    "dlr": s.dlr,
                }
                for s in gateway.sent
            ],
        }

    @app.post("/_sim/faults")
    def faults(body: Faults) -> dict[str, Any]:
        gateway.faults = body
        return body.model_dump()

    @app.post("/_sim/dlr-outcome")
    def dlr_outcome(body: DlrOutcome) -> dict[str, Any]:
        gateway.dlr_outcomes[body.phone] = body
        return body.model_dump()

    @app.post("/_sim/reset")
    def reset() -> dict[str, str]:
        with gateway.lock:
            gateway.sent.clear()
            gateway.by_request.clear()
            gateway.dlr_outcomes.clear()
            gateway.faults = Faults()
            gateway.calls = 0
        return {"status": "reset"}

    return app
