"""The status packets the hub writes on an agency's behalf (strict profile, QCVN 102 status packet).

Today one: status 01 (arrived, "đã đến") once a local agency's system has taken delivery of a document
that came from the axis. The hub signs it at intake like any unsigned packet of that agency.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

from lxml import etree

from .mapping import EDXML_NS, DocumentFacts, MappingError

VIETNAM = timezone(timedelta(hours=7))
ARRIVED = "01"
ARRIVED_DESCRIPTION = "Đã đến: hệ thống quản lý văn bản của đơn vị đã nhận văn bản điện tử"
_ORGAN_ID = re.compile(r"^[0-9]{3}\.[0-9]{2}\.[0-9]{2}\.[A-Z][0-9]{2}$")
_DATE = re.compile(r"^[0-9]{4}/[0-9]{2}/[0-9]{2}$")


def edxml_timestamp(moment: datetime | None = None) -> str:
    """``yyyy/MM/dd HH:mm:ss`` in Vietnam time."""
    return (moment or datetime.now(UTC)).astimezone(VIETNAM).strftime("%Y/%m/%d %H:%M:%S")


def _el(parent: etree._Element, name: str, text: str | None = None) -> etree._Element:
    element = etree.SubElement(parent, f"{{{EDXML_NS}}}{name}")
    if text is not None:
        element.text = text
    return element


def check_answerable(facts: DocumentFacts) -> None:
    """A strict status needs a four-group sender id, a code, a yyyy/MM/dd date and a DocumentId."""
    problems = []
    if not _ORGAN_ID.match(facts.sender):
        problems.append(f"sender organ id {facts.sender!r} is not of four groups")
    if not facts.code:
        problems.append("the document has no Code")
    if not _DATE.match(facts.promulgation_date):
        problems.append(f"PromulgationDate {facts.promulgation_date!r} is not yyyy/MM/dd")
    if not facts.document_id:
        problems.append("the document has no DocumentId")
    if problems:
        raise MappingError("cannot answer this document with a strict status: " + "; ".join(problems))


def build_status(
    facts: DocumentFacts,
    *,
    organ_id: str,
    organ_name: str,
    status_code: str = ARRIVED,
    description: str = ARRIVED_DESCRIPTION,
    staff: str = "Trục liên thông tỉnh (thay mặt đơn vị)",
    moment: datetime | None = None,
) -> bytes:
    """A status packet from ``organ_id`` answering the document described by ``facts``."""
    check_answerable(facts)
    stamp = edxml_timestamp(moment)
    root = etree.Element(f"{{{EDXML_NS}}}edXML", nsmap={None: EDXML_NS})
    envelope = etree.SubElement(root, f"{{{EDXML_NS}}}edXMLEnvelope", nsmap={"edXML": EDXML_NS})
    head = _el(envelope, "edXMLHeader")
    message = _el(head, "MessageHeader")
    sender = _el(message, "From")
    _el(sender, "OrganId", organ_id)
    _el(sender, "OrganizationInCharge", organ_name)
    _el(sender, "OrganName", organ_name)
    answered = _el(message, "ResponseFor")
    _el(answered, "OrganId", facts.sender)
    _el(answered, "Code", facts.code)
    _el(answered, "PromulgationDate", facts.promulgation_date)
    _el(answered, "DocumentId", facts.document_id)
    _el(_el(message, "StaffInfo"), "Staff", staff)
    _el(message, "StatusCode", status_code)
    _el(message, "Description", description)
    _el(message, "Timestamp", stamp)
    trace = _el(_el(head, "TraceHeaderList"), "TraceHeader")
    _el(trace, "OrganId", organ_id)
    _el(trace, "Timestamp", stamp)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")
