"""Signature verdicts for the console: the stored document is verified again, now, against today's
trust store (XMLDSig for XML, the detached JWS for JSON), and the signing certificate is described
even when the signature no longer verifies (expired, revoked, altered), so an operator sees who
signed and why it fails.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import datetime

from cryptography import x509
from lxml import etree

from hub.context import HubContext
from hub.ledger import MessageRecord
from hub.parsing import parse_xml
from hub.problems import Problem
from hub.signing.jws import verify_detached
from hub.signing.xmldsig import DS_NS, find_signatures, verify_enveloped
from hub.trust import common_name


@dataclass(frozen=True)
class CertificateView:
    subject: str
    issuer: str
    serial: str
    not_before: datetime
    not_after: datetime

    @classmethod
    def of(cls, cert: x509.Certificate) -> CertificateView:
        return cls(
            subject=common_name(cert) or cert.subject.rfc4514_string(),
            issuer=cert.issuer.rfc4514_string(),
            serial=format(cert.serial_number, "x"),
            not_before=cert.not_valid_before_utc,
            not_after=cert.not_valid_after_utc,
        )


@dataclass(frozen=True)
class SignatureVerdict:
    kind: str | None  # "XMLDSig", "JWS" or None (no signature)
    valid: bool
    signer: str | None = None
    algorithm: str | None = None
    certificate: CertificateView | None = None
    reason: str | None = None  # why not valid: the problem type and its detail


def signature_verdict(hub: HubContext, message: MessageRecord, document: bytes) -> SignatureVerdict:
    if message.signature:
        return _jws(hub, document, message.signature)
    if message.content_type.endswith("xml"):
        return _xml(hub, document)
    return SignatureVerdict(None, False, reason="the document carries no signature")


def _xml(hub: HubContext, document: bytes) -> SignatureVerdict:
    try:
        root = parse_xml(document).root
    except Problem as problem:
        return SignatureVerdict("XMLDSig", False, reason=f"{problem.slug}: {problem.detail}")
    signatures = find_signatures(root)
    if not signatures:
        return SignatureVerdict(None, False, reason="the document carries no XMLDSig signature")
    cert = _xml_certificate(signatures[0])
    try:
        verified = verify_enveloped(root, hub.trust, allow_sha1=hub.settings.allow_sha1_signatures)
    except Problem as problem:
        return SignatureVerdict(
            "XMLDSig", False, certificate=cert, reason=f"{problem.slug}: {problem.detail}"
        )
    return SignatureVerdict(
        "XMLDSig", True, verified.signer, verified.algorithm, CertificateView.of(verified.certificate)
    )


def _xml_certificate(signature: etree._Element) -> CertificateView | None:
    node = signature.find(f".//{{{DS_NS}}}X509Certificate")
    text = node.text if node is not None else None
    if text is None or not text.strip():
        return None
    try:
        return CertificateView.of(x509.load_der_x509_certificate(base64.b64decode("".join(text.split()))))
    except ValueError:
        return None


def _jws(hub: HubContext, document: bytes, jws: str) -> SignatureVerdict:
    cert = _jws_certificate(jws)
    try:
        verified = verify_detached(document, jws, hub.trust)
    except Problem as problem:
        return SignatureVerdict("JWS", False, certificate=cert, reason=f"{problem.slug}: {problem.detail}")
    return SignatureVerdict(
        "JWS", True, verified.signer, verified.algorithm, CertificateView.of(verified.certificate)
    )


def _jws_certificate(jws: str) -> CertificateView | None:
    try:
        header = json.loads(base64.urlsafe_b64decode(jws.split(".", 1)[0] + "=="))
        return CertificateView.of(x509.load_der_x509_certificate(base64.b64decode(header["x5c"][0])))
    except (ValueError, KeyError, IndexError, TypeError):
        return None
