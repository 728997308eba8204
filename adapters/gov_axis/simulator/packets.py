"""edXML packets (QCVN 102:2016) as a peer organisation writes them: status packets and simple documents.

Emitted strictly, following the structure of the SDK's samples: root ``edXML`` in the default
namespace, ``edXML:edXMLEnvelope`` declaring the ``edXML`` prefix, the prefix on every envelope child
(the axis's .NET validator wants it), ``AttachmentEncoded`` after the envelope, unprefixed. No
XMLDSig: a peer's signature is the business of the hub's tests, not of the simulator.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone

from lxml import etree

from .payload import EDXML_NS, safe_parse

STATUS_CODES = {
    "01": "arrived",
    "02": "refused",
    "03": "accepted",
    "04": "assigned",
    "05": "processing",
    "06": "completed",
    "13": "recall requested",
    "15": "recall or update agreed",
    "16": "recall or update refused",
}
VIETNAM = timezone(timedelta(hours=7))


@dataclass(frozen=True)
class OrganInfo:
    organ_id: str
    organ_name: str
    organization_in_charge: str = ""
    address: str = ""
    email: str = ""
    telephone: str = ""
    fax: str = ""
    website: str = ""


@dataclass(frozen=True)
class ResponseFor:
    """Identifies the document a status packet answers."""

    organ_id: str
    code: str
    promulgation_date: str
    document_id: str


@dataclass(frozen=True)
class StaffInfo:
    department: str
    staff: str
    mobile: str = ""
    email: str = ""


@dataclass(frozen=True)
class Attachment:
    name: str
    content: bytes
    content_type: str = "application/octet-stream"
    description: str = ""


def _el(parent: etree._Element, name: str, text: str | None = None) -> etree._Element:
    element = etree.SubElement(parent, f"{{{EDXML_NS}}}{name}")
    if text is not None:
        element.text = text
    return element


def _envelope() -> tuple[etree._Element, etree._Element, etree._Element, etree._Element]:
    """root, edXMLEnvelope, edXMLHeader and its MessageHeader of a new packet."""
    root = etree.Element(f"{{{EDXML_NS}}}edXML", nsmap={None: EDXML_NS})
    envelope = etree.SubElement(root, f"{{{EDXML_NS}}}edXMLEnvelope", nsmap={"edXML": EDXML_NS})
    header = _el(envelope, "edXMLHeader")
    return root, envelope, header, _el(header, "MessageHeader")


def _organ(parent: etree._Element, tag: str, organ: OrganInfo) -> None:
    element = _el(parent, tag)
    _el(element, "OrganId", organ.organ_id)
    _el(element, "OrganName", organ.organ_name)
    _el(element, "OrganizationInCharge", organ.organization_in_charge or organ.organ_name)
    for name, value in (
        ("OrganAdd", organ.address), ("Email", organ.email), ("Telephone", organ.telephone),
        ("Fax", organ.fax), ("Website", organ.website),
    ):  # fmt: skip
        _el(element, name, value)


def _staff(parent: etree._Element, staff: StaffInfo) -> None:
    element = _el(parent, "StaffInfo")
    _el(element, "Department", staff.department)
    _el(element, "Staff", staff.staff)
    _el(element, "Mobile", staff.mobile)
    _el(element, "Email", staff.email)


def _serialize(root: etree._Element) -> bytes:
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def edxml_timestamp(moment: datetime | None = None) -> str:
    """``yyyy/MM/dd HH:mm:ss`` in Vietnam time."""
    return (moment or datetime.now(UTC)).astimezone(VIETNAM).strftime("%Y/%m/%d %H:%M:%S")


def build_status(
    sender: OrganInfo,
    response_for: ResponseFor,
    status_code: str,
    description: str,
    *,
    staff: StaffInfo | None = None,
    timestamp: datetime | None = None,
) -> bytes:
    """A status packet (``messagetype=status``) answering the document named by ``response_for``."""
    if status_code not in STATUS_CODES:
        raise ValueError(f"status code must be one of {sorted(STATUS_CODES)}, not {status_code!r}")
    root, _, _, message = _envelope()
    _organ(message, "From", sender)
    answered = _el(message, "ResponseFor")
    _el(answered, "OrganId", response_for.organ_id)
    _el(answered, "Code", response_for.code)
    _el(answered, "PromulgationDate", response_for.promulgation_date)
    _el(answered, "DocumentId", response_for.document_id)
    _staff(message, staff or StaffInfo(department="Văn thư", staff=sender.organ_name))
    _el(message, "StatusCode", status_code)
    _el(message, "Description", description)
    _el(message, "Timestamp", edxml_timestamp(timestamp))
    return _serialize(root)


def response_for_document(edxml: bytes) -> ResponseFor:
    """The ``ResponseFor`` of a status answering document ``edxml`` (stray leading bytes allowed)."""
    root = safe_parse(edxml[max(edxml.find(b"<"), 0) :], 100)
    ns = {"e": EDXML_NS}
    header = root.find(".//e:MessageHeader", ns)
    if header is None:
        raise ValueError("not an edXML document: no MessageHeader")

    def text(path: str) -> str:
        return (header.findtext(path, default="", namespaces=ns) or "").strip()

    number, notation = text("e:Code/e:CodeNumber"), text("e:Code/e:CodeNotation")
    return ResponseFor(
        organ_id=text("e:From/e:OrganId"),
        code="/".join(p for p in (number, notation) if p),
        promulgation_date=text("e:PromulgationInfo/e:PromulgationDate"),
        document_id=text("e:DocumentId"),
    )


def build_document(
    sender: OrganInfo,
    recipients: Sequence[OrganInfo],
    *,
    number: str,
    notation: str,
    subject: str,
    content: str = "",
    promulgation_date: date | None = None,
    place: str = "Hà Nội",
    type_name: str = "Công văn",
    signer: tuple[str, str, str] = ("TM. UBND", "Chủ tịch", "Nguyễn Văn A"),
    priority: int = 0,
    attachments: Sequence[Attachment] = (),
    staff: StaffInfo | None = None,
) -> bytes:
    """A new document packet (BussinessDocType 0) with its attachments base64-encoded."""
    day = promulgation_date or datetime.now(UTC).astimezone(VIETNAM).date()
    day_text = day.strftime("%Y/%m/%d")
    document_id = f"{sender.organ_id},{day_text},{number}/{notation}"
    root, envelope, header, message = _envelope()
    _organ(message, "From", sender)
    for recipient in recipients:
        _organ(message, "To", recipient)
    _el(message, "DocumentId", document_id)
    code = _el(message, "Code")
    _el(code, "CodeNumber", number)
    _el(code, "CodeNotation", notation)
    promulgation = _el(message, "PromulgationInfo")
    _el(promulgation, "Place", place)
    _el(promulgation, "PromulgationDate", day_text)
    doc_type = _el(message, "DocumentType")
    _el(doc_type, "Type", "1")
    _el(doc_type, "TypeDetail", "0")
    _el(doc_type, "TypeName", type_name)
    _el(message, "Subject", subject)
    _el(message, "Content", content or subject)
    signer_info = _el(message, "SignerInfo")
    for name, value in zip(("Competence", "Position", "FullName"), signer, strict=True):
        _el(signer_info, name, value)
    other = _el(message, "OtherInfo")
    _el(other, "Priority", str(priority))
    _el(other, "SphereOfPromulgation", "Liên thông văn bản quốc gia")
    _el(other, "TyperNotation", "VT")
    _el(other, "PromulgationAmount", "1")
    _el(other, "PageAmount", "1")
    _el(message, "SteeringType", "0")
    traces = _el(header, "TraceHeaderList")
    trace = _el(traces, "TraceHeader")
    _el(trace, "OrganId", sender.organ_id)
    _el(trace, "Timestamp", edxml_timestamp())
    business = _el(traces, "Bussiness")
    _el(business, "DocumentId", document_id)
    _el(business, "BussinessDocType", "0")
    _el(business, "BussinessDocReason", "Văn bản điện tử mới")
    _el(business, "Paper", "0")
    _staff(business, staff or StaffInfo(department="Văn thư", staff=sender.organ_name))
    manifest = _el(_el(envelope, "edXMLBody"), "edXMLManifest")
    manifest.set("version", "1.0")
    encoded = etree.SubElement(root, f"{{{EDXML_NS}}}AttachmentEncoded")
    for index, attachment in enumerate(attachments, start=1):
        reference = _el(manifest, "Reference")
        for name, value in (
            ("ContentId", f"cid:{index}"), ("ContentType", attachment.content_type),
            ("Description", attachment.description or attachment.name), ("AttachmentName", attachment.name),
        ):  # fmt: skip
            _el(reference, name, value)
        item = etree.SubElement(encoded, f"{{{EDXML_NS}}}Attachment")
        for name, value in (
            ("ContentId", f"cid:{index}"), ("AttachmentName", attachment.name),
            ("Description", attachment.description or attachment.name),
            ("ContentType", attachment.content_type),
            ("ContentTransferEncoded", base64.b64encode(attachment.content).decode("ascii")),
        ):  # fmt: skip
            etree.SubElement(item, f"{{{EDXML_NS}}}{name}").text = value
    return _serialize(root)


BUSINESS_REASONS = {"1": "Thu hồi văn bản", "2": "Cập nhật văn bản", "3": "Thay thế văn bản"}


def as_business(document: bytes, business_type: str, *, receivers: Mapping[str, str] | None = None) -> bytes:
    """``document`` (from :func:`build_document`) as a recall (1), update (2) or replacement (3) of itself.

    The DocumentId stays (it names the document acted on); the trace is stamped anew. ``receivers`` (for
    an update) lists organ ids with their ReceiverType: ``"1"`` added, ``"0"`` removed.
    """
    if business_type not in BUSINESS_REASONS:
        raise ValueError(f"business type must be one of {sorted(BUSINESS_REASONS)}, not {business_type!r}")
    root = safe_parse(document[max(document.find(b"<"), 0) :], 100)
    ns = {"e": EDXML_NS}
    business = root.find(".//e:TraceHeaderList/e:Bussiness", ns)
    trace_time = root.find(".//e:TraceHeaderList/e:TraceHeader/e:Timestamp", ns)
    doc_type = business.find("e:BussinessDocType", ns) if business is not None else None
    reason = business.find("e:BussinessDocReason", ns) if business is not None else None
    paper = business.find("e:Paper", ns) if business is not None else None
    if trace_time is None or doc_type is None or reason is None or paper is None:
        raise ValueError("not a document built by build_document: no Bussiness or TraceHeader")
    trace_time.text = edxml_timestamp()
    doc_type.text = business_type
    reason.text = BUSINESS_REASONS[business_type]
    if receivers:
        info = etree.Element(f"{{{EDXML_NS}}}BussinessDocumentInfo")
        _el(info, "DocumentInfo", "0")
        _el(info, "DocumentReceiver", "1")
        listing = _el(info, "ReceiverList")
        for organ_id, receiver_type in receivers.items():
            receiver = _el(listing, "Receiver")
            _el(receiver, "OrganId", organ_id)
            _el(receiver, "ReceiverType", receiver_type)
        paper.addnext(info)
    return _serialize(root)
