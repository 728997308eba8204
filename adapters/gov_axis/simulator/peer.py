"""A peer organisation on the axis (a ministry, another province), for tests and benchmarks.

It talks to the simulator's REST face exactly as the VNPT/VPCP SDK does (signed headers, the
``hash-file`` quirk) with httpx, and writes its own edXML status packets with :mod:`.packets`::

    ministry = AxisPeer(base_url, "bnv.qlvb", "dev-secret-bnv-00002", OrganInfo("000.00.00.G10", "Bộ Nội vụ"))
    doc_id = ministry.send_edoc(edxml_bytes, ["000.00.00.H41"])
    for row in ministry.received(): ...
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import httpx

from .packets import (
    Attachment,
    OrganInfo,
    ResponseFor,
    StaffInfo,
    build_document,
    build_status,
    response_for_document,
)
from .signing import hash_file, sdk_timestamp, sign_headers

__all__ = ["Attachment", "AxisCallFailed", "AxisPeer", "OrganInfo", "ResponseFor", "StaffInfo"]


class AxisCallFailed(Exception):
    """The axis answered ``status: FAIL``."""

    def __init__(self, operation: str, answer: dict[str, Any]) -> None:
        self.error_code = str(answer.get("ErrorCode"))
        self.error_desc = str(answer.get("ErrorDesc"))
        super().__init__(f"{operation}: {self.error_code} {self.error_desc}")


class AxisPeer:
    """One connected system acting for one organ id (``organ``)."""

    def __init__(
        self,
        base_url: str,
        systemid: str,
        secret: str,
        organ: OrganInfo,
        *,
        timeout: float = 10.0,
        utc_offset_hours: int = 7,
        client: httpx.Client | None = None,
    ) -> None:
        self.systemid = systemid
        self.secret = secret
        self.organ = organ
        self.utc_offset_hours = utc_offset_hours
        self.client = client or httpx.Client(base_url=base_url, timeout=timeout)

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> AxisPeer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- the wire ----------------------------------------------------------------------------------
    def headers(
        self, params: dict[str, str], body: bytes | None = None, *, now: datetime | None = None
    ) -> dict[str, str]:
        """Signed headers for ``params`` (plus ``hash-file`` of ``body`` when given)."""
        if body is not None:
            params = {**params, "hash-file": hash_file(body)}
        timestamp = sdk_timestamp(now, self.utc_offset_hours)
        return sign_headers(self.systemid, self.secret, params, timestamp=timestamp)

    def call(self, operation: str, params: dict[str, str], body: bytes = b"") -> dict[str, Any]:
        """POST one operation; return the JSON answer, OK or FAIL (HTTP errors raise)."""
        response = self.client.post(
            "/" + operation,
            content=body,
            headers=self.headers(params, body if operation == "sendEdoc" else None),
        )
        response.raise_for_status()
        answer: dict[str, Any] = response.json()
        return answer

    def _ok(self, operation: str, params: dict[str, str], body: bytes = b"") -> dict[str, Any]:
        answer = self.call(operation, params, body)
        if answer.get("status") != "OK":
            raise AxisCallFailed(operation, answer)
        return answer

    # --- operations --------------------------------------------------------------------------------
    def send_edoc(self, edxml: bytes, to: Sequence[str], *, messagetype: str = "edoc") -> str:
        """Send a packet from this peer's organ; returns the axis DocId."""
        params = {
            "Content-Type": "application/octet-stream", "from": self.organ.organ_id,
            "to": json.dumps(list(to)), "servicetype": "eDoc", "messagetype": messagetype,
        }  # fmt: skip
        return str(self._ok("sendEdoc", params, edxml)["DocId"])

    def received(self, messagetype: str | None = None) -> list[dict[str, Any]]:
        params = {"servicetype": "eDoc"}
        if messagetype:
            params["messagetype"] = messagetype
        return list(self._ok("getReceivedEdocList", params)["data"])

    def count_received(self, messagetype: str | None = None) -> int:
        params = {"messagetype": messagetype} if messagetype else {}
        return int(self._ok("countReceiveEdoc", params)["count"])

    def get_edoc(self, doc_id: str) -> bytes:
        return base64.b64decode(self._ok("getEdoc", {"docId": doc_id})["data"])

    def update_status(self, doc_id: str, status: str, reason: str | None = None) -> None:
        params = {"docId": doc_id, "status": status}
        if reason:
            params["reason"] = reason
        self._ok("updateStatus", params)

    def sent(self, doc_id: str | None = None) -> list[dict[str, Any]]:
        return list(self._ok("getSentEdocList", {"docId": doc_id} if doc_id else {})["data"])

    def agencies(self) -> list[dict[str, Any]]:
        return list(self._ok("getAgenciesList", {})["data"])

    # --- conveniences --------------------------------------------------------------------------------
    def send_document(
        self,
        recipients: Sequence[OrganInfo],
        *,
        number: str,
        notation: str,
        subject: str,
        attachments: Sequence[Attachment] = (),
    ) -> tuple[str, bytes]:
        """Build a new document (see :func:`.packets.build_document`), send it; returns (DocId, bytes)."""
        edxml = build_document(
            self.organ, recipients, number=number, notation=notation, subject=subject, attachments=attachments
        )
        return self.send_edoc(edxml, [r.organ_id for r in recipients]), edxml

    def answer_status(
        self, document: bytes, to: str, status_code: str, description: str, *, staff: StaffInfo | None = None
    ) -> str:
        """Send a status packet (01–06, 13, 15, 16) about ``document`` to organ ``to``; returns its DocId."""
        packet = build_status(
            self.organ, response_for_document(document), status_code, description, staff=staff
        )
        return self.send_edoc(packet, [to], messagetype="status")

    def take_all(self, messagetype: str | None = None) -> list[tuple[dict[str, Any], bytes]]:
        """The receive loop: list, fetch each packet, mark it done; returns (row, bytes) pairs."""
        taken = []
        for row in self.received(messagetype):
            content = self.get_edoc(row["docId"])
            self.update_status(row["docId"], "done")
            taken.append((row, content))
        return taken
