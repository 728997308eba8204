"""The SOAP face (SOAP 1.1, document/literal): the WSDL at ``/soap?wsdl``, operations at ``POST /soap``.

Envelopes are parsed with the hardened parser of :mod:`.payload`; the operation element is validated
against the XSD embedded in the WSDL before it is dispatched; every refusal is a SOAP fault carrying
an ``ax:AxisFault {errorCode, errorDesc}`` with the same codes as the REST face.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from fastapi import APIRouter, Request, Response
from lxml import etree
from lxml.builder import ElementMaker

from .errors import AxisError, ErrorCode
from .payload import safe_parse
from .rest import read_body
from .service import AxisService
from .wsse import UsernameTokenVerifier

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
TNS = "urn:lienthong:sim:gov-axis:1"
XSD_NS = "http://www.w3.org/2001/XMLSchema"
SOAP_PATH = "/soap"
_CONTENT_TYPE = "text/xml; charset=utf-8"

AX = ElementMaker(namespace=TNS, nsmap={"ax": TNS})
ENV = ElementMaker(namespace=SOAP_ENV, nsmap={"soap": SOAP_ENV})
Operation = Callable[[str, etree._Element], etree._Element]


def load_wsdl(path: Path) -> tuple[str, etree.XMLSchema]:
    """The WSDL template text and the schema of its ``types`` section."""
    text = path.read_text(encoding="utf-8")
    root = safe_parse(text.encode("utf-8"), 64)
    schema_element = root.find(f".//{{{XSD_NS}}}schema")
    if schema_element is None:
        raise ValueError(f"{path} has no xsd:schema")
    return text, etree.XMLSchema(etree.ElementTree(schema_element))


def _envelope(body_child: etree._Element) -> bytes:
    return etree.tostring(ENV.Envelope(ENV.Body(body_child)), xml_declaration=True, encoding="utf-8")


def fault_response(error: AxisError, *, server: bool = False) -> Response:
    fault = ENV.Fault(etree.Element("faultcode"), etree.Element("faultstring"), etree.Element("detail"))
    fault[0].text = "soap:Server" if server else "soap:Client"
    fault[1].text = error.desc
    fault[2].append(AX.AxisFault(AX.errorCode(error.code.value), AX.errorDesc(error.desc)))
    return Response(_envelope(fault), status_code=500, media_type=_CONTENT_TYPE)


def _text(payload: etree._Element, name: str) -> str | None:
    value = payload.findtext(f"{{{TNS}}}{name}")
    return value.strip() if value is not None else None


def _decode_base64(text: str | None) -> bytes:
    try:
        return base64.b64decode("".join((text or "").split()), validate=True)
    except binascii.Error as exc:
        raise AxisError(ErrorCode.INVALID_PARAMETER, "content is not base64") from exc


def soap_router(service: AxisService, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> APIRouter:
    config = service.store.config
    wsdl_template, schema = load_wsdl(config.wsdl_file)
    verifier = UsernameTokenVerifier(service.store.secret_of, config.soap_created_window_seconds)
    router = APIRouter(tags=["SOAP face"])

    def send_edoc(systemid: str, payload: etree._Element) -> etree._Element:
        to = [(e.text or "").strip() for e in payload.findall(f"{{{TNS}}}to")]
        packet = service.send(
            systemid,
            _text(payload, "from") or "",
            to,
            _text(payload, "messageType") or "",
            _decode_base64(_text(payload, "content")),
        )
        return AX.SendEdocResponse(AX.docId(packet.doc_id))

    def get_received(systemid: str, payload: etree._Element) -> etree._Element:
        rows = service.received(systemid, _text(payload, "messageType"), _text(payload, "organId"))
        return AX.GetReceivedEdocListResponse(
            *[
                AX.edoc(
                    AX.docId(p.doc_id),
                    AX.serviceType(p.service_type),
                    AX.messageType(p.message_type),
                    AX.createdTime(p.created_time.isoformat()),
                    AX.updatedTime(d.updated_time.isoformat()),
                    AX("from", p.from_organ),
                    AX.to(d.organ),
                    AX.status(d.status),
                    AX.statusDesc(d.status_desc),
                )
                for p, d in rows
            ]
        )

    def get_edoc(systemid: str, payload: etree._Element) -> etree._Element:
        packet = service.get(systemid, _text(payload, "docId") or "")
        return AX.GetEdocResponse(
            AX.docId(packet.doc_id),
            AX.messageType(packet.message_type),
            AX("from", packet.from_organ),
            AX.content(base64.b64encode(packet.content).decode("ascii")),
        )

    def update_status(systemid: str, payload: etree._Element) -> etree._Element:
        doc_id, status = _text(payload, "docId") or "", _text(payload, "status") or ""
        service.update_status(systemid, doc_id, status, _text(payload, "reason"), _text(payload, "organId"))
        return AX.UpdateStatusResponse(AX.docId(doc_id), AX.status(status))

    def get_agencies(systemid: str, payload: etree._Element) -> etree._Element:
        return AX.GetAgenciesListResponse(
            *[
                AX.agency(AX.id(o.id), AX.code(o.code), AX.pid(o.pid), AX.name(o.name), AX.mail(o.mail))
                for o in service.agencies()
            ]
        )

    operations: dict[str, Operation] = {
        "SendEdoc": send_edoc,
        "GetReceivedEdocList": get_received,
        "GetEdoc": get_edoc,
        "UpdateStatus": update_status,
        "GetAgenciesList": get_agencies,
    }

    @router.get(SOAP_PATH)
    async def wsdl(request: Request) -> Response:
        if "wsdl" not in {k.lower() for k in request.query_params}:
            return Response("append ?wsdl to get the service description", media_type="text/plain")
        location = str(request.url.replace(query=None))
        return Response(wsdl_template.replace("{{LOCATION}}", location), media_type=_CONTENT_TYPE)

    @router.post(SOAP_PATH)
    async def call(request: Request) -> Response:
        try:
            body = await read_body(request, config.max_body_bytes)
            try:
                envelope = safe_parse(body, config.xml_max_depth)
            except ValueError as exc:
                raise AxisError(ErrorCode.PAYLOAD_INVALID, str(exc)) from exc
            if envelope.tag != f"{{{SOAP_ENV}}}Envelope":
                raise AxisError(ErrorCode.INVALID_PARAMETER, "not a SOAP 1.1 envelope")
            soap_body = envelope.find(f"{{{SOAP_ENV}}}Body")
            children = [] if soap_body is None else [c for c in soap_body if isinstance(c.tag, str)]
            if len(children) != 1:
                raise AxisError(ErrorCode.INVALID_PARAMETER, "the SOAP body must hold exactly one operation")
            payload = children[0]
            name = etree.QName(payload)
            operation = operations.get(name.localname) if name.namespace == TNS else None
            if operation is None:
                raise AxisError(ErrorCode.INVALID_PARAMETER, f"unknown operation {payload.tag!s}")
            service.store.record_call(f"soap:{name.localname}")
            systemid = verifier.verify(envelope.find(f"{{{SOAP_ENV}}}Header"), clock())
            if not schema.validate(etree.ElementTree(payload)):
                errors = "; ".join(f"line {e.line}: {e.message}" for e in schema.error_log)
                raise AxisError(ErrorCode.INVALID_PARAMETER, f"the request does not match the WSDL: {errors}")
            answer = operation(systemid, payload)
        except AxisError as error:
            return fault_response(error)
        return Response(_envelope(answer), media_type=_CONTENT_TYPE)

    return router
