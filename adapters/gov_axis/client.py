"""Transports to the axis: the VXP REST face (urllib3, signed headers, the default) and a SOAP face (zeep).

Both offer the same five operations and raise the same two errors (:class:`AxisRefused` for a definitive
refusal, :class:`AxisUnavailable` when there is no usable answer), so the adapter and its pollers do not
care which face is in use.
"""

from __future__ import annotations

import base64
import binascii
import json
import ssl
import threading
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

import certifi
import requests
import urllib3
import zeep
import zeep.exceptions
from lxml import etree
from urllib3.exceptions import HTTPError, NewConnectionError
from urllib3.exceptions import TimeoutError as Urllib3Timeout
from zeep.transports import Transport
from zeep.wsse.username import UsernameToken

from .mapping import AxisRefused, AxisUnavailable, ReceivedPacket, rest_answer, short
from .options import GovAxisOptions
from .wire import header_text, sdk_timestamp, sign_headers

SERVICE_TYPE = "eDoc"
AXIS_FAULT_NS = "urn:lienthong:sim:gov-axis:1"


class AxisClient(ABC):
    """One connected system (``systemid``) talking to the axis."""

    face: str

    @abstractmethod
    def send(self, from_organ: str, to: Sequence[str], message_type: str, content: bytes) -> str:
        """Send a packet; returns the axis DocId."""

    @abstractmethod
    def received(self) -> list[ReceivedPacket]:
        """Packets waiting for the hub's organs (documents and statuses), oldest first."""

    @abstractmethod
    def get(self, doc_id: str) -> bytes:
        """The packet's exact bytes."""

    @abstractmethod
    def update_status(self, doc_id: str, status: str, reason: str | None = None) -> None:
        """Mark a received packet ``processing``, ``done`` or ``fail`` (with the reason)."""

    @abstractmethod
    def agencies(self) -> dict[str, str]:
        """The axis directory: organ id → name."""

    def close(self) -> None:  # noqa: B027 - nothing to release by default
        """Release connections."""


class RestAxisClient(AxisClient):
    """The VNPT/VPCP SDK's REST face: parameters as signed headers, ``{status, ErrorCode, ErrorDesc}``."""

    face = "rest"

    def __init__(self, options: GovAxisOptions, secret: str) -> None:
        self.options = options
        self._secret = secret
        self._base_url = options.base_url.rstrip("/")
        # urllib3's pool (kept-alive, thread-safe): less CPU per call than httpx (bench/FINDINGS.md)
        self._pool = urllib3.PoolManager(
            maxsize=options.max_connections,
            timeout=urllib3.Timeout(connect=options.connect_timeout_seconds, read=options.timeout_seconds),
            retries=False,  # one call per call: retries are the core's (and the pollers' next round)
            ssl_context=_tls_context(options.verify_tls),
        )

    def _call(self, operation: str, params: dict[str, str], body: bytes | None = None) -> dict[str, Any]:
        headers = sign_headers(
            self.options.systemid,
            self._secret,
            params,
            body=body,
            timestamp=sdk_timestamp(utc_offset_hours=self.options.utc_offset_hours),
        )
        if body is not None:
            headers["Content-Type"] = "application/octet-stream"
        url = f"{self._base_url}/{operation}"
        try:
            response = self._pool.request("POST", url, body=body or b"", headers=headers, redirect=False)
        except NewConnectionError as exc:  # refused or unreachable (urllib3 files it under timeouts)
            raise AxisUnavailable(f"{operation}: {type(exc).__name__} {exc}") from exc
        except Urllib3Timeout as exc:
            raise AxisUnavailable(f"{operation}: timeout ({type(exc).__name__})") from exc
        except (HTTPError, OSError) as exc:  # reset, closed mid-answer, TLS refused, unusable URL
            raise AxisUnavailable(f"{operation}: {type(exc).__name__} {exc}") from exc
        headers_seen = {name.lower(): value for name, value in response.headers.items()}
        return rest_answer(response.status, headers_seen, response.data)

    def send(self, from_organ: str, to: Sequence[str], message_type: str, content: bytes) -> str:
        params = {
            "from": from_organ,
            "to": json.dumps(list(to)),
            "servicetype": SERVICE_TYPE,
            "messagetype": message_type,
        }
        answer = self._call("sendEdoc", params, content)
        doc_id = answer.get("DocId")
        if not doc_id:
            raise AxisUnavailable("sendEdoc: the OK answer carries no DocId")
        return str(doc_id)

    def received(self) -> list[ReceivedPacket]:
        rows = self._call("getReceivedEdocList", {"servicetype": SERVICE_TYPE}).get("data") or []
        return [
            ReceivedPacket(
                doc_id=str(r["docId"]),
                message_type=str(r.get("messageType", "")),
                from_organ=str(r.get("from", "")),
                to_organ=str(r.get("to", "")),
                status=str(r.get("status", "")),
            )
            for r in rows
            if isinstance(r, dict) and r.get("docId")
        ]

    def get(self, doc_id: str) -> bytes:
        data = self._call("getEdoc", {"docId": doc_id}).get("data")
        try:
            return base64.b64decode(str(data or ""), validate=True)
        except binascii.Error as exc:
            raise AxisUnavailable(f"getEdoc {doc_id}: data is not base64") from exc

    def update_status(self, doc_id: str, status: str, reason: str | None = None) -> None:
        params = {"docId": doc_id, "status": status}
        if reason:
            params["reason"] = header_text(reason)
        self._call("updateStatus", params)

    def agencies(self) -> dict[str, str]:
        rows = self._call("getAgenciesList", {}).get("data") or []
        return {str(r["code"]): str(r.get("name", "")) for r in rows if isinstance(r, dict) and r.get("code")}

    def close(self) -> None:
        self._pool.clear()


def _tls_context(verify: bool) -> ssl.SSLContext:
    """The axis's TLS checked against certifi's bundle (as httpx had it), or not at all by option."""
    if not verify:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    return ssl.create_default_context(cafile=certifi.where())


class SoapAxisClient(AxisClient):
    """The SOAP face with zeep (strict, no DTD, no external resources), WS-Security UsernameToken digest.

    The zeep client is built once, on first use (the WSDL is fetched then, so a hub can start while the
    axis is down), and kept for the adapter's life.
    """

    face = "soap"

    def __init__(self, options: GovAxisOptions, secret: str) -> None:
        self.options = options
        self._secret = secret
        self._lock = threading.Lock()
        self._client: zeep.Client | None = None
        self._session = requests.Session()
        self._session.trust_env = False
        self._session.verify = options.verify_tls

    def _service(self) -> Any:
        with self._lock:
            if self._client is None:
                transport = Transport(
                    session=self._session,
                    timeout=self.options.timeout_seconds,
                    operation_timeout=self.options.timeout_seconds,
                )
                settings = zeep.Settings(
                    strict=True, forbid_dtd=True, forbid_external=True, xml_huge_tree=False
                )
                try:
                    self._client = zeep.Client(
                        self.options.base_url + self.options.wsdl_path,
                        transport=transport,
                        settings=settings,
                        wsse=UsernameToken(self.options.systemid, self._secret, use_digest=True),
                    )
                except (requests.RequestException, zeep.exceptions.Error) as exc:
                    raise AxisUnavailable(f"WSDL not available: {type(exc).__name__} {exc}") from exc
            return self._client.service

    def _call(self, operation: str, **params: Any) -> Any:
        service = self._service()
        try:
            return getattr(service, operation)(**params)
        except zeep.exceptions.Fault as fault:
            raise self._refusal(operation, fault) from fault
        except zeep.exceptions.TransportError as exc:
            raise AxisUnavailable(f"{operation}: HTTP {exc.status_code}: {short(str(exc.message))}") from exc
        except requests.Timeout as exc:
            raise AxisUnavailable(f"{operation}: timeout ({type(exc).__name__})") from exc
        except requests.RequestException as exc:
            raise AxisUnavailable(f"{operation}: {type(exc).__name__} {exc}") from exc
        except (zeep.exceptions.XMLSyntaxError, zeep.exceptions.XMLParseError) as exc:
            raise AxisUnavailable(f"{operation}: the answer is not a SOAP envelope: {exc}") from exc

    @staticmethod
    def _refusal(operation: str, fault: zeep.exceptions.Fault) -> Exception:
        detail = fault.detail
        if detail is not None:
            found = detail.find(f".//{{{AXIS_FAULT_NS}}}AxisFault")
            if found is not None:
                code = (found.findtext(f"{{{AXIS_FAULT_NS}}}errorCode") or "?").strip()
                desc = (found.findtext(f"{{{AXIS_FAULT_NS}}}errorDesc") or "").strip()
                return AxisRefused(code, short(desc))
        if (fault.code or "").endswith("Client"):
            return AxisRefused(fault.code or "soap:Client", short(str(fault.message)))
        return AxisUnavailable(f"{operation}: SOAP fault {fault.code}: {short(str(fault.message))}")

    def send(self, from_organ: str, to: Sequence[str], message_type: str, content: bytes) -> str:
        doc_id = self._call(
            "SendEdoc",
            **{"from": from_organ, "to": list(to), "serviceType": SERVICE_TYPE, "messageType": message_type},
            content=content,
        )
        if not doc_id:
            raise AxisUnavailable("SendEdoc: the answer carries no docId")
        return str(doc_id)

    @staticmethod
    def _items(result: Any, name: str) -> list[Any]:
        if result is None:
            return []
        if isinstance(result, list):
            return result
        items = getattr(result, name, None) if not isinstance(result, etree._Element) else None
        return list(items or [])

    def received(self) -> list[ReceivedPacket]:
        return [
            ReceivedPacket(
                doc_id=str(row.docId),
                message_type=str(row.messageType),
                from_organ=str(row["from"]),
                to_organ=str(row.to),
                status=str(row.status),
            )
            for row in self._items(self._call("GetReceivedEdocList"), "edoc")
        ]

    def get(self, doc_id: str) -> bytes:
        result = self._call("GetEdoc", docId=doc_id)
        content = result.content if result is not None else None
        if not isinstance(content, bytes):
            raise AxisUnavailable(f"GetEdoc {doc_id}: the answer carries no content")
        return content

    def update_status(self, doc_id: str, status: str, reason: str | None = None) -> None:
        params: dict[str, Any] = {"docId": doc_id, "status": status}
        if reason:
            params["reason"] = reason
        self._call("UpdateStatus", **params)

    def agencies(self) -> dict[str, str]:
        return {str(a.code): str(a.name or "") for a in self._items(self._call("GetAgenciesList"), "agency")}

    def close(self) -> None:
        self._session.close()


def make_client(options: GovAxisOptions, secret: str) -> AxisClient:
    return SoapAxisClient(options, secret) if options.face == "soap" else RestAxisClient(options, secret)
