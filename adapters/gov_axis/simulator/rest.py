"""The VXP REST face (VNPT/VPCP SDK): parameters in signed HTTP headers, JSON answers.

Every answer is HTTP 200 with ``status`` OK|FAIL, ``ErrorCode`` ("0" on success) and ``ErrorDesc``, as
the SDK expects; only injected faults answer 5xx.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from .errors import AxisError, ErrorCode
from .service import AxisService
from .signing import VerifiedRequest, hash_file, verify_request
from .store import Delivery, Packet

Handler = Callable[[VerifiedRequest, bytes], Awaitable[dict[str, Any]]]


async def read_body(request: Request, limit: int) -> bytes:
    """The body, refusing it as soon as it passes ``limit`` bytes."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise AxisError(ErrorCode.PAYLOAD_TOO_LARGE, f"the body exceeds {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _require(req: VerifiedRequest, name: str) -> str:
    value = req.get(name)
    if value is None or not value.strip():
        raise AxisError(ErrorCode.MISSING_PARAMETER, f"signed header {name} is missing")
    return value.strip()


def _parse_to(value: str) -> list[str]:
    try:
        to = json.loads(value)
    except ValueError as exc:
        raise AxisError(ErrorCode.INVALID_PARAMETER, "header to must be a JSON array of organ ids") from exc
    if not isinstance(to, list) or not all(isinstance(o, str) and o.strip() for o in to):
        raise AxisError(ErrorCode.INVALID_PARAMETER, "header to must be a JSON array of organ ids")
    return [o.strip() for o in to]


def rest_router(service: AxisService, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> APIRouter:
    config = service.store.config
    local = timezone(timedelta(hours=config.sdk_utc_offset_hours))
    router = APIRouter(tags=["VXP REST face"])

    def when(moment: datetime) -> str:
        return moment.astimezone(local).isoformat(timespec="milliseconds")

    def received_row(packet: Packet, delivery: Delivery) -> dict[str, Any]:
        return {
            "docId": packet.doc_id,
            "serviceType": packet.service_type,
            "messageType": packet.message_type,
            "created_time": when(packet.created_time),
            "updated_time": when(delivery.updated_time),
            "from": packet.from_organ,
            "to": delivery.organ,
            "status": delivery.status,
            "status_desc": delivery.status_desc,
        }

    def sent_row(packet: Packet, delivery: Delivery) -> dict[str, Any]:
        return {
            "senderDocId": packet.doc_id,
            "receiverDocId": packet.doc_id,
            "serviceType": packet.service_type,
            "messageType": packet.message_type,
            "fromCode": packet.from_organ,
            "toCode": delivery.organ,
            "title": packet.title,
            "notation": packet.notation,
            "sentTime": when(packet.created_time),
            "receivedTime": when(delivery.updated_time) if delivery.status != "initial" else "",
            "sendStatus": "done",
            "sendStatusDesc": "delivered to the axis",
            "receiveStatus": delivery.status,
            "receiveStatusDesc": delivery.status_desc,
        }

    def operation(path: str, methods: tuple[str, ...] = ("POST",)) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            async def endpoint(request: Request) -> JSONResponse:
                service.store.record_call(path.strip("/"))
                try:
                    body = await read_body(request, config.max_body_bytes)
                    verified = verify_request(
                        request.headers,
                        service.store.secret_of,
                        now=clock(),
                        window_seconds=config.timestamp_window_seconds,
                        utc_offset_hours=config.sdk_utc_offset_hours,
                    )
                    declared = verified.get("hash-file")
                    if declared is not None and declared.strip().lower() != hash_file(body):
                        raise AxisError(ErrorCode.HASH_FILE_MISMATCH, "hash-file does not match the body")
                    extra = await handler(verified, body)
                except AxisError as error:
                    return JSONResponse(error.to_json())
                return JSONResponse(
                    {"status": "OK", "ErrorCode": ErrorCode.OK.value, "ErrorDesc": "", **extra}
                )

            router.add_api_route(path, endpoint, methods=list(methods), name=path.strip("/"))
            return handler

        return register

    @operation("/sendEdoc")
    async def send_edoc(req: VerifiedRequest, body: bytes) -> dict[str, Any]:
        _require(req, "hash-file")
        service.check_types(_require(req, "servicetype"), _require(req, "messagetype"), required=True)
        packet = service.send(
            req.systemid,
            _require(req, "from"),
            _parse_to(_require(req, "to")),
            _require(req, "messagetype"),
            body,
        )
        return {"DocId": packet.doc_id}

    @operation("/getReceivedEdocList")
    async def get_received(req: VerifiedRequest, body: bytes) -> dict[str, Any]:
        service.check_types(req.get("servicetype"), None, required=False)
        rows = service.received(req.systemid, req.get("messagetype"), req.get("organid"))
        return {"data": [received_row(p, d) for p, d in rows]}

    @operation("/countReceiveEdoc", ("GET", "POST"))
    async def count_received(req: VerifiedRequest, body: bytes) -> dict[str, Any]:
        service.check_types(req.get("servicetype"), None, required=False)
        return {"count": len(service.received(req.systemid, req.get("messagetype"), req.get("organid")))}

    @operation("/getEdoc")
    async def get_edoc(req: VerifiedRequest, body: bytes) -> dict[str, Any]:
        packet = service.get(req.systemid, _require(req, "docId"))
        return {
            "docId": packet.doc_id,
            "messageType": packet.message_type,
            "from": packet.from_organ,
            "data": base64.b64encode(packet.content).decode("ascii"),
        }

    @operation("/updateStatus")
    async def update_status(req: VerifiedRequest, body: bytes) -> dict[str, Any]:
        doc_id = _require(req, "docId")
        reason = req.get("reason") or req.get("description")
        rows = service.update_status(
            req.systemid, doc_id, _require(req, "status"), reason, req.get("organid")
        )
        return {"docId": doc_id, "data": [{"to": d.organ, "status": d.status} for d in rows]}

    @operation("/getSentEdocList")
    async def get_sent(req: VerifiedRequest, body: bytes) -> dict[str, Any]:
        return {"data": [sent_row(p, d) for p, d in service.sent(req.systemid, req.get("docId"))]}

    @operation("/getAgenciesList")
    async def get_agencies(req: VerifiedRequest, body: bytes) -> dict[str, Any]:
        return {"data": [o.model_dump() for o in service.agencies()]}

    @operation("/registerAgency")
    async def register_agency(req: VerifiedRequest, body: bytes) -> dict[str, Any]:
        try:
            data = json.loads(body or b"{}")
        except ValueError as exc:
            raise AxisError(ErrorCode.INVALID_PARAMETER, "the body must be a JSON agency") from exc
        if not isinstance(data, dict):
            raise AxisError(ErrorCode.INVALID_PARAMETER, "the body must be a JSON agency")
        fields = {k: str(data.get(k) or "").strip() for k in ("code", "name", "mail", "pcode")}
        org = service.register(
            req.systemid, fields["code"], fields["name"], fields["mail"], fields["pcode"] or None
        )
        return {"data": org.model_dump()}

    @operation("/deleteAgency")
    async def delete_agency(req: VerifiedRequest, body: bytes) -> dict[str, Any]:
        service.delete(req.systemid, _require(req, "AgencyCode"))
        return {}

    return router
