"""Mapping between hub messages and the axis: pure rules, testable without a network.

- which axis ``messagetype`` a hub type travels as;
- what an axis answer means (OK, a definitive refusal, or "not now") for the transports;
- what a refusal or an outage means for a delivery (:func:`delivery_result`);
- the few edXML facts the adapter reads itself (the sender organ, the ``ResponseFor`` of a document,
  whether the hub's or the sender's XMLDSig is in place before a packet leaves).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from lxml import etree

from hub.spi import Delivered, DeliveryResult, PermanentFailure, RetryableFailure

EDXML_NS = "http://www.mic.gov.vn/TBT/QCVN_102_2016"
DS_NS = "http://www.w3.org/2000/09/xmldsig#"
NS = {"e": EDXML_NS, "ds": DS_NS}

#: hub document type → the axis ``messagetype``.
MESSAGE_TYPES = {"edxml.document": "edoc", "edxml.status": "status"}

#: Axis error codes worth another attempt: the axis clock disagreed with ours (skew may pass).
RETRYABLE_CODES = frozenset({"22"})
PEER_TEXT_LIMIT = 300


class MappingError(ValueError):
    """The message cannot go to the axis as it is; retrying the same message will not help."""


class AxisRefused(Exception):
    """The axis answered with a definitive refusal (REST ``status: FAIL``, or a SOAP ``AxisFault``)."""

    def __init__(self, code: str, desc: str) -> None:
        super().__init__(f"ErrorCode {code}: {desc}")
        self.code = code
        self.desc = desc

    @property
    def retryable(self) -> bool:
        return self.code in RETRYABLE_CODES


class AxisUnavailable(Exception):
    """No usable answer: connection refused or reset, timeout, HTTP 5xx/429, or not the axis's answer."""

    def __init__(self, reason: str, retry_after_seconds: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after_seconds = retry_after_seconds


@dataclass(frozen=True)
class ReceivedPacket:
    """One row of the received list: a packet waiting for one of the hub's organs."""

    doc_id: str
    message_type: str
    from_organ: str
    to_organ: str
    status: str


def message_type(doctype: str) -> str:
    try:
        return MESSAGE_TYPES[doctype]
    except KeyError:
        raise MappingError(f"type {doctype} does not travel on the national axis") from None


def short(text: str, limit: int = PEER_TEXT_LIMIT) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def parse_retry_after(value: str | None) -> float | None:
    if value and value.strip().isdigit():
        return float(value.strip())
    return None


def rest_answer(status_code: int, headers: dict[str, str], body: bytes) -> dict[str, Any]:
    """The JSON of an OK answer; raises AxisRefused for ``status: FAIL``, AxisUnavailable for the rest."""
    if status_code >= 500 or status_code in (408, 429):
        raise AxisUnavailable(
            f"HTTP {status_code}: {short(body.decode('utf-8', 'replace'))}",
            parse_retry_after(headers.get("retry-after")),
        )
    try:
        answer = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        answer = None
    if not isinstance(answer, dict) or "status" not in answer:
        if status_code >= 400:
            raise AxisRefused(f"HTTP {status_code}", short(body.decode("utf-8", "replace")))
        raise AxisUnavailable(f"HTTP {status_code}: the answer is not an axis result envelope")
    if answer.get("status") != "OK":
        raise AxisRefused(str(answer.get("ErrorCode", "?")), short(str(answer.get("ErrorDesc", ""))))
    return answer


def delivery_result(doc_id: str | None, *, face: str, error: Exception | None = None) -> DeliveryResult:
    """Delivered with the axis DocId; a refusal is permanent (bar RETRYABLE_CODES); an outage is retryable."""
    if isinstance(error, AxisRefused):
        reason = f"the axis refused the packet: ErrorCode {error.code}: {error.desc}"
        return RetryableFailure(reason) if error.retryable else PermanentFailure(reason)
    if isinstance(error, AxisUnavailable):
        return RetryableFailure(f"axis unavailable: {error.reason}", error.retry_after_seconds)
    if error is not None:
        return PermanentFailure(str(error))
    return Delivered(peer_reference=doc_id, detail=f"accepted by the axis ({face} face), DocId {doc_id}")


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False, remove_pis=True
    )


def parse_edxml(data: bytes) -> etree._Element:
    """Hardened parse (no DTD, entities, network); stray bytes before '<' skipped. Raises MappingError."""
    start = data.find(b"<")
    try:
        root = etree.fromstring(data[max(start, 0) :], _parser())
    except etree.XMLSyntaxError as exc:
        raise MappingError(f"not well-formed XML: {exc}") from exc
    if root.tag != f"{{{EDXML_NS}}}edXML":
        raise MappingError(f"the root element is {root.tag!s}, not edXML of QCVN 102")
    return root


def header(root: etree._Element) -> etree._Element:
    found = root.find("e:edXMLEnvelope/e:edXMLHeader", NS)
    if found is None:
        raise MappingError("the packet has no edXML:edXMLHeader")
    return found


def sender_organ(root: etree._Element) -> str:
    """The edXML ``From/OrganId``, or '' when absent."""
    return (header(root).findtext("e:MessageHeader/e:From/e:OrganId", default="", namespaces=NS)).strip()


def check_outbound(document: bytes) -> None:
    """A packet leaves only with one XMLDSig signature in ``edXMLHeader`` (the sender's or the hub's)."""
    signatures = header(parse_edxml(document)).findall("ds:Signature", NS)
    if len(signatures) != 1:
        raise MappingError(
            f"the packet carries {len(signatures)} XMLDSig signatures in edXMLHeader; the hub sends only "
            "signed packets (one signature)"
        )


#: BussinessDocType values (QCVN 102): what a document packet does.
NEW, RECALL, UPDATE, REPLACEMENT = "0", "1", "2", "3"
_NO_VALUE = frozenset({"", "null", "nil", "none", "undefined"})


@dataclass(frozen=True)
class DocumentFacts:
    """What a status packet needs to answer a document (its ``ResponseFor``), and what the packet does."""

    sender: str
    code: str
    promulgation_date: str
    document_id: str
    business_type: str = NEW


def document_facts(document: bytes) -> DocumentFacts:
    message = header(parse_edxml(document)).find("e:MessageHeader", NS)
    if message is None:
        raise MappingError("the document has no MessageHeader")

    def text(path: str) -> str:
        return (message.findtext(path, default="", namespaces=NS) or "").strip()

    number, notation = text("e:Code/e:CodeNumber"), text("e:Code/e:CodeNotation")
    # found by name wherever the trace list puts it; absent (real traffic) = a new document
    parent = message.getparent()
    found = (
        parent.findtext(".//e:Bussiness/e:BussinessDocType", namespaces=NS) if parent is not None else None
    )
    business = (found or "").strip()
    return DocumentFacts(
        sender=text("e:From/e:OrganId"),
        code="/".join(part for part in (number, notation) if part),
        promulgation_date=text("e:PromulgationInfo/e:PromulgationDate"),
        document_id=text("e:DocumentId"),
        business_type=NEW if business.lower() in _NO_VALUE else business,
    )
