"""The HTTP face of the VNPost simulator: the API (token, order, cancel, tracking) and ``/_sim`` admin."""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from fastapi import FastAPI, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from .clock import Clock
from .codes import TRACKING_STATUSES, AnswerStatus, OrderState, Scenario
from .config import ClientCredentials, SimulatorConfig
from .faults import FaultKind, FaultMiddleware, Faults
from .ids import ZERO_OBJECT_ID
from .store import OrderNotFound, PostOffice, TransitionNotAllowed
from .tokens import TokenStore
from .wire import check_order

_OBJECT_ID = re.compile(r"^[0-9a-fA-F]{24}$")


@dataclass
class Simulator:
    """The simulator's parts, reachable as ``app.state.sim``."""

    config: SimulatorConfig
    clock: Clock
    tokens: TokenStore
    post_office: PostOffice
    faults: Faults

    def reset(self) -> None:
        self.clock.reset()
        self.tokens.expire_all()
        self.post_office.reset()
        self.faults.clear()


class _Unauthorized(Exception):
    def __init__(self, description: str) -> None:
        self.description = description


class FaultRequest(BaseModel):
    kind: FaultKind
    count: int = Field(default=1, ge=1, description="error, slow, duplicate_events: how many")
    status: int = Field(default=503, ge=500, le=599, description="error: the HTTP status to answer")
    seconds: float = Field(default=2.0, gt=0, le=300, description="slow: the delay before answering")


class ClockRequest(BaseModel):
    advance_seconds: float = Field(ge=0)


class ScenarioRequest(BaseModel):
    scenario: Scenario


class AdvanceRequest(BaseModel):
    to: OrderState | None = None


def _answer(status: AnswerStatus, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"Status": status.value, "Message": message, **extra})


def _token_error(status: int, error: str, description: str) -> JSONResponse:
    return JSONResponse({"error": error, "error_description": description}, status)


def create_app(config: SimulatorConfig | None = None) -> FastAPI:
    """A fresh simulator (its own state) as a FastAPI app."""
    config = config or SimulatorConfig()
    clock = Clock()
    sim = Simulator(
        config=config,
        clock=clock,
        tokens=TokenStore(config.clients, config.token_ttl_seconds, clock),
        post_office=PostOffice(config, clock),
        faults=Faults(),
    )
    app = FastAPI(title="VNPost EMS simulator", version="1.0")
    app.state.sim = sim
    app.add_middleware(FaultMiddleware, faults=sim.faults)

    @app.exception_handler(_Unauthorized)
    async def _unauthorized(request: Request, exc: _Unauthorized) -> JSONResponse:
        return JSONResponse(
            {"error": "invalid_token", "error_description": exc.description},
            401,
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
        )

    def bearer_client(request: Request) -> ClientCredentials:
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise _Unauthorized("a Bearer token is required")
        client = sim.tokens.check(value.strip())
        if client is None:
            raise _Unauthorized("the access token is unknown or expired")
        return client

    # ---- API -----------------------------------------------------------------------------------

    @app.post("/token")
    async def token(request: Request) -> JSONResponse:
        scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
        try:
            key, sep, secret = base64.b64decode(encoded.strip(), validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            sep = ""
        if scheme.lower() != "basic" or not sep:
            return _token_error(401, "invalid_client", "HTTP Basic client authentication is required")
        client = sim.tokens.authenticate(key, secret)
        if client is None:
            return _token_error(401, "invalid_client", "unknown client or wrong secret")
        form = parse_qs((await request.body()).decode("utf-8", "replace"))
        grant = form.get("grant_type", [""])[0]
        if not grant:
            return _token_error(400, "invalid_request", "grant_type is required")
        if grant != "client_credentials":
            return _token_error(400, "unsupported_grant_type", f"grant_type {grant!r} is not supported")
        issued = sim.tokens.issue(client)
        return JSONResponse(
            {
                "access_token": issued.value,
                "token_type": "Bearer",
                "expires_in": math.ceil(sim.tokens.ttl_seconds),
                "scope": "default",
            },
            headers={"Cache-Control": "no-store"},
        )

    @app.post("/api/order/post")
    async def post_order(request: Request) -> JSONResponse:
        client = bearer_client(request)
        try:
            body = json.loads(await request.body())
        except (json.JSONDecodeError, UnicodeDecodeError):
            body = None
        if not isinstance(body, dict):
            return JSONResponse(
                {"Status": AnswerStatus.INVALID.value, "Message": "Body must be a JSON object"}, 400
            )
        fields, errors = check_order(body)
        if errors:
            return _answer(AnswerStatus.INVALID, "Dữ liệu không hợp lệ: " + "; ".join(errors))
        if fields["CustomerCode"] != client.customer_code:
            return _answer(AnswerStatus.WRONG_CUSTOMER, "CustomerCode does not belong to this client")
        order, created = sim.post_office.create_order(client.customer_code, fields)
        if created:
            message = f"Tạo đơn hàng {order.order_number} thành công, số hiệu {order.item_code}"
        else:
            message = (
                f"Đơn hàng {order.order_number} đã tồn tại, số hiệu {order.item_code} "
                f"(trạng thái {order.state.value}); không tạo đơn mới"
            )
        return _answer(AnswerStatus.OK, message, ItemCode=order.item_code)

    @app.get("/api/order/cancel")
    async def cancel_order(request: Request, CustomerCode: str = "", OrderNumber: str = "") -> JSONResponse:
        client = bearer_client(request)
        if not CustomerCode or not OrderNumber:
            return _answer(AnswerStatus.INVALID, "CustomerCode and OrderNumber are required")
        if CustomerCode != client.customer_code:
            return _answer(AnswerStatus.WRONG_CUSTOMER, "CustomerCode does not belong to this client")
        try:
            _, cancelled = sim.post_office.cancel(CustomerCode, OrderNumber)
        except OrderNotFound:
            return _answer(AnswerStatus.NOT_FOUND, f"Không tìm thấy đơn hàng {OrderNumber}")
        except TransitionNotAllowed:
            state = sim.post_office.get_order(CustomerCode, OrderNumber).state.value
            return _answer(
                AnswerStatus.NOT_ALLOWED, f"Không thể hủy đơn hàng {OrderNumber} ở trạng thái {state}"
            )
        if not cancelled:
            return _answer(AnswerStatus.OK, f"Đơn hàng {OrderNumber} đã được hủy trước đó")
        return _answer(AnswerStatus.OK, f"Hủy đơn hàng {OrderNumber} thành công")

    @app.get("/api/tracking")
    async def tracking(
        request: Request,
        pagesize: int | None = Query(default=None),
        lastId: str = Query(default=ZERO_OBJECT_ID),
    ) -> JSONResponse:
        client = bearer_client(request)
        size = config.default_page_size if pagesize is None else pagesize
        if not 1 <= size <= config.max_page_size:
            return JSONResponse({"message": f"pagesize must be between 1 and {config.max_page_size}"}, 400)
        if not _OBJECT_ID.match(lastId):
            return JSONResponse({"message": "lastId must be 24 hexadecimal characters"}, 400)
        page, remaining = sim.post_office.feed(client.customer_code, lastId.lower(), size)
        return JSONResponse(
            {
                "_embedded": {"rh:doc": [event.to_doc() for event in page]},
                "_returned": len(page),
                "_size": remaining,
                "_total_pages": math.ceil(remaining / size),
            }
        )

    # ---- admin ---------------------------------------------------------------------------------

    @app.get("/_sim/state")
    async def state() -> dict[str, Any]:
        snapshot = sim.post_office.snapshot()
        faults = sim.faults.to_dict() | {"duplicate_events": sim.post_office.pending_duplicates}
        return snapshot | {
            "faults": faults,
            "live_tokens": sim.tokens.live_count(),
            "clock": {"now": sim.clock.now(), "offset_seconds": sim.clock.offset},
            "time_scale": config.time_scale,
        }

    @app.post("/_sim/reset")
    async def reset() -> dict[str, str]:
        sim.reset()
        return {"status": "reset"}

    @app.post("/_sim/faults")
    async def add_fault(request: FaultRequest) -> dict[str, Any]:
        faults = sim.faults
        if request.kind is FaultKind.ERROR:
            faults.error_calls, faults.error_status = request.count, request.status
        elif request.kind is FaultKind.SLOW:
            faults.slow_calls, faults.slow_seconds = request.count, request.seconds
        elif request.kind is FaultKind.EXPIRE_TOKENS:
            sim.tokens.expire_all()
        elif request.kind is FaultKind.DUPLICATE_EVENTS:
            sim.post_office.duplicate_next_events(request.count)
        elif request.kind is FaultKind.DOWN:
            faults.down = True
        elif request.kind is FaultKind.UP:
            faults.down = False
        else:
            faults.clear()
            sim.post_office.clear_duplicates()
        return faults.to_dict() | {"duplicate_events": sim.post_office.pending_duplicates}

    @app.post("/_sim/clock")
    async def advance_clock(request: ClockRequest) -> dict[str, float]:
        offset = sim.clock.advance(request.advance_seconds)
        return {"now": sim.clock.now(), "offset_seconds": offset}

    @app.get("/_sim/status-codes")
    async def status_codes() -> list[dict[str, Any]]:
        return [
            {
                "StatusCode": s.code,
                "state": s.state.value,
                "StatusMessage": s.message,
                "meaning": s.english,
                "terminal": s.terminal,
            }
            for s in TRACKING_STATUSES
        ]

    @app.get("/_sim/orders/{customer_code}/{order_number}")
    async def get_order(customer_code: str, order_number: str) -> JSONResponse:
        try:
            return JSONResponse(sim.post_office.get_order(customer_code, order_number).to_dict())
        except OrderNotFound as exc:
            return JSONResponse({"error": str(exc)}, 404)

    @app.put("/_sim/orders/{customer_code}/{order_number}/scenario")
    async def set_scenario(customer_code: str, order_number: str, request: ScenarioRequest) -> JSONResponse:
        order = sim.post_office.set_scenario(customer_code, order_number, request.scenario)
        if order is None:
            return JSONResponse({"preset": True, "scenario": request.scenario.value}, 202)
        return JSONResponse(order.to_dict())

    @app.post("/_sim/orders/{customer_code}/{order_number}/advance")
    async def advance(
        customer_code: str, order_number: str, request: AdvanceRequest | None = None
    ) -> JSONResponse:
        try:
            order = sim.post_office.advance(customer_code, order_number, request.to if request else None)
        except OrderNotFound as exc:
            return JSONResponse({"error": str(exc)}, 404)
        except TransitionNotAllowed as exc:
            return JSONResponse({"error": str(exc)}, 409)
        return JSONResponse(order.to_dict())

    return app
