"""The benchmark's inputs: edXML documents of a chosen size (signed by a participant's development key,
so the hub verifies them and passes them on unchanged, or left unsigned for the hub to sign) and
~1 KB JSON documents with the sender's detached JWS. Every document has its own DocumentId (or
business id), so deduplication never short-circuits a request.
"""

from __future__ import annotations

import base64
import json
import random
from dataclasses import dataclass
from pathlib import Path

from hub.parsing import parse_xml
from hub.settings import PROJECT_ROOT
from hub.signing.jws import sign_detached
from hub.signing.keys import SigningIdentity, load_identity
from hub.signing.xmldsig import sign_enveloped

DEV_CERTS = PROJECT_ROOT / "certs" / "dev"
EDXML_NS = "http://www.mic.gov.vn/TBT/QCVN_102_2016"
SENDER = "000.01.02.H41"  # Sở Tư pháp: sends and signs
AGENCY_RECIPIENT = "000.00.00.H41"  # delivered by the agency adapter's webhook (config/routes.yaml)
AXIS_RECIPIENT = "000.00.00.G22"  # not a participant: carried by the gov_axis adapter (external:*)
JSON_SENDER = "bank.vnpay"
# libxml2 refuses text nodes over 10 MB without huge_tree (which the hub rightly never enables),
# so a large attachment travels as several parts, as real packets do with several files.
ATTACHMENT_PART_BYTES = 768 * 1024
# An enveloped RSA-2048 XMLDSig with its X.509 certificate in KeyInfo adds about this much.
SIGNATURE_BYTES = 2450

_TEMPLATE = """<?xml version="1.0" encoding="UTF-8"?>
<edXML xmlns="{ns}">
  <edXML:edXMLEnvelope xmlns:edXML="{ns}">
    <edXML:edXMLHeader>
      <edXML:MessageHeader>
        <edXML:From>
          <edXML:OrganId>{sender}</edXML:OrganId>
          <edXML:OrganizationInCharge>UBND tỉnh Nghệ An</edXML:OrganizationInCharge>
          <edXML:OrganName>Sở Tư pháp tỉnh Nghệ An</edXML:OrganName>
        </edXML:From>
        <edXML:To>
          <edXML:OrganId>{recipient}</edXML:OrganId>
          <edXML:OrganizationInCharge>UBND tỉnh Nghệ An</edXML:OrganizationInCharge>
          <edXML:OrganName>Văn phòng UBND tỉnh</edXML:OrganName>
        </edXML:To>
        <edXML:DocumentId>{document_id}</edXML:DocumentId>
        <edXML:Code>
          <edXML:CodeNumber>{number}</edXML:CodeNumber>
          <edXML:CodeNotation>STP-VP</edXML:CodeNotation>
        </edXML:Code>
        <edXML:PromulgationInfo>
          <edXML:Place>Nghệ An</edXML:Place>
          <edXML:PromulgationDate>2026/11/20</edXML:PromulgationDate>
        </edXML:PromulgationInfo>
        <edXML:DocumentType>
          <edXML:Type>1</edXML:Type>
          <edXML:TypeDetail>0</edXML:TypeDetail>
          <edXML:TypeName>Công văn</edXML:TypeName>
        </edXML:DocumentType>
        <edXML:Subject>V/v báo cáo số {number}</edXML:Subject>
        <edXML:SignerInfo>
          <edXML:Competence>KT. GIÁM ĐỐC</edXML:Competence>
          <edXML:Position>Phó Giám đốc</edXML:Position>
          <edXML:FullName>Nguyễn Văn An</edXML:FullName>
        </edXML:SignerInfo>
        <edXML:OtherInfo>
          <edXML:Priority>0</edXML:Priority>
          <edXML:PromulgationAmount>1</edXML:PromulgationAmount>
          <edXML:PageAmount>1</edXML:PageAmount>
        </edXML:OtherInfo>
        <edXML:SteeringType>0</edXML:SteeringType>
      </edXML:MessageHeader>
      <edXML:TraceHeaderList>
        <edXML:TraceHeader>
          <edXML:OrganId>{sender}</edXML:OrganId>
          <edXML:Timestamp>2026/11/20 09:30:00</edXML:Timestamp>
        </edXML:TraceHeader>
        <edXML:Bussiness>
          <edXML:DocumentId>{document_id}</edXML:DocumentId>
          <edXML:BussinessDocType>0</edXML:BussinessDocType>
        </edXML:Bussiness>
      </edXML:TraceHeaderList>
    </edXML:edXMLHeader>
    <edXML:edXMLBody>
      <edXML:edXMLManifest version="1.0">{references}
      </edXML:edXMLManifest>
    </edXML:edXMLBody>
  </edXML:edXMLEnvelope>{attachments}
</edXML>
"""

_REFERENCE = """
        <edXML:Reference>
          <edXML:ContentId>cid:{n}</edXML:ContentId>
          <edXML:ContentType>application/zip</edXML:ContentType>
          <edXML:AttachmentName>phu-luc-{n}.zip</edXML:AttachmentName>
        </edXML:Reference>"""

_ATTACHMENT = """
    <Attachment>
      <ContentId>cid:{n}</ContentId>
      <AttachmentName>phu-luc-{n}.zip</AttachmentName>
      <ContentType>application/zip</ContentType>
      <ContentTransferEncoded>{data}</ContentTransferEncoded>
    </Attachment>"""


def participant_identity(participant: str, certs_dir: Path = DEV_CERTS) -> SigningIdentity:
    """A sample participant's development key and certificate (loaded once)."""
    return load_identity(certs_dir / f"{participant}.key", certs_dir / f"{participant}.crt")


def _base64_lines(raw: bytes) -> str:
    text = base64.b64encode(raw).decode("ascii")
    return "\n".join(text[i : i + 76] for i in range(0, len(text), 76))


def edxml_document(serial: int, *, attachment_bytes: int = 0, recipient: str = AGENCY_RECIPIENT) -> bytes:
    """An unsigned, strictly valid edXML document numbered `serial`, carrying `attachment_bytes` of
    (incompressible, base64-encoded) attachment split into parts."""
    number = 100000 + serial
    parts: list[bytes] = []
    if attachment_bytes > 0:
        payload = random.Random(attachment_bytes).randbytes(attachment_bytes)
        parts = [
            payload[i : i + ATTACHMENT_PART_BYTES] for i in range(0, len(payload), ATTACHMENT_PART_BYTES)
        ]
    references = "".join(_REFERENCE.format(n=n) for n in range(1, len(parts) + 1))
    attachments = ""
    if parts:
        items = "".join(_ATTACHMENT.format(n=n, data=_base64_lines(p)) for n, p in enumerate(parts, 1))
        attachments = f"\n  <AttachmentEncoded>{items}\n  </AttachmentEncoded>"
    text = _TEMPLATE.format(
        ns=EDXML_NS,
        sender=SENDER,
        recipient=recipient,
        number=number,
        document_id=f"{SENDER},2026/11/20,{number}/STP-VP",
        references=references,
        attachments=attachments,
    )
    return text.encode("utf-8")


def sign_edxml(document: bytes, identity: SigningIdentity) -> bytes:
    """Sign as the hub would (enveloped, in edXMLHeader), with the participant's identity."""
    root = parse_xml(document).root
    header = root.find(f"{{{EDXML_NS}}}edXMLEnvelope/{{{EDXML_NS}}}edXMLHeader")
    assert header is not None
    return sign_enveloped(root, identity, parent=header)


def attachment_for(target_bytes: int, *, signed: bool) -> int:
    """The raw attachment size that makes a document of about `target_bytes` (base64 grows by 4/3)."""
    base = len(edxml_document(0)) + (SIGNATURE_BYTES if signed else 0)
    return max(0, (target_bytes - base) * 3 // 4)


@dataclass(frozen=True)
class DocumentSet:
    """`count` distinct documents of one kind, ready to POST."""

    name: str
    content_type: str
    bodies: list[bytes]
    headers: list[dict[str, str]]
    signed: bool  # by its sender (verified and passed on); otherwise the hub signs it

    @property
    def mean_size(self) -> int:
        return sum(map(len, self.bodies)) // max(1, len(self.bodies))


def edxml_set(
    name: str,
    count: int,
    target_bytes: int,
    *,
    signed: bool = True,
    recipient: str = AGENCY_RECIPIENT,
    first_serial: int = 0,
) -> DocumentSet:
    identity = participant_identity(SENDER) if signed else None
    attachment = attachment_for(target_bytes, signed=signed)
    bodies = []
    for serial in range(first_serial, first_serial + count):
        body = edxml_document(serial, attachment_bytes=attachment, recipient=recipient)
        bodies.append(sign_edxml(body, identity) if identity else body)
    return DocumentSet(name, "application/xml", bodies, [{} for _ in bodies], signed)


def json_document(serial: int) -> bytes:
    """A ~1 KB payment confirmation from the payment gateway to an agency (business id varies)."""
    ref = f"{14226112 + serial}"
    document = {
        "type": "payment.confirmation",
        "sender": JSON_SENDER,
        "recipients": [AGENCY_RECIPIENT],
        "dossier_number": f"{AGENCY_RECIPIENT}-261120-{serial % 10000:04d}",
        "request_id": f"PR-20261120-{serial:06d}",
        "gateway": "vnpay",
        "transaction_ref": ref,
        "amount": 205000,
        "currency": "VND",
        "status": "paid",
        "paid_at": "2026-11-20T14:05:12+07:00",
        "gateway_response": {
            "vnp_Amount": "20500000",
            "vnp_BankCode": "NCB",
            "vnp_BankTranNo": f"VNP{ref}",
            "vnp_CardType": "ATM",
            "vnp_OrderInfo": "Thanh toan le phi ho so dich vu cong truc tuyen, Tu phap tinh Nghe An",
            "vnp_PayDate": "20261120140512",
            "vnp_ResponseCode": "00",
            "vnp_TmnCode": "NGHEAN01",
            "vnp_TransactionNo": ref,
            "vnp_TransactionStatus": "00",
            "vnp_TxnRef": f"PR-20261120-{serial:06d}",
            "vnp_SecureHash": f"{serial:0128x}",
        },
    }
    return json.dumps(document, ensure_ascii=False, indent=1).encode("utf-8")


def json_set(name: str, count: int, *, first_serial: int = 0) -> DocumentSet:
    identity = participant_identity(JSON_SENDER)
    bodies = [json_document(serial) for serial in range(first_serial, first_serial + count)]
    headers = [{"x-jws-signature": sign_detached(body, identity)} for body in bodies]
    return DocumentSet(name, "application/json", bodies, headers, True)
