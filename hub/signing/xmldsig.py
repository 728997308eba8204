"""Enveloped XMLDSig for edXML: sign with the hub's key, verify a participant's signature.

Signature-wrapping defence (see docs/security.md): exactly one ``ds:Signature``, exactly one
Reference with ``URI=""`` (the whole document), only canonicalization and enveloped-signature
transforms, algorithms restricted, the signer's certificate checked against the trust store and then
pinned for signxml, and callers read routing data only from :attr:`VerifiedXml.signed_root` — the
canonical bytes that were actually digested, re-parsed.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import dataclasses
import functools
from dataclasses import dataclass
from datetime import datetime
from xml.parsers import expat

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ec
from lxml import etree
from signxml import (
    CanonicalizationMethod,
    DigestAlgorithm,
    SignatureConfiguration,
    SignatureConstructionMethod,
    SignatureMethod,
    XMLSigner,
    XMLVerifier,
)
from signxml.exceptions import SignXMLException

from hub.problems import Problem
from hub.signing.keys import SigningIdentity
from hub.trust import TrustStore

DS_NS = "http://www.w3.org/2000/09/xmldsig#"
SIGNATURE_TAG = f"{{{DS_NS}}}Signature"
XML_DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>\n'

STRONG_SIGNATURE_METHODS = frozenset(
    {
        SignatureMethod.RSA_SHA256,
        SignatureMethod.RSA_SHA384,
        SignatureMethod.RSA_SHA512,
        SignatureMethod.ECDSA_SHA256,
        SignatureMethod.ECDSA_SHA384,
        SignatureMethod.ECDSA_SHA512,
    }
)
SHA1_SIGNATURE_METHODS = frozenset({SignatureMethod.RSA_SHA1, SignatureMethod.ECDSA_SHA1})
STRONG_DIGESTS = frozenset({DigestAlgorithm.SHA256, DigestAlgorithm.SHA384, DigestAlgorithm.SHA512})
SHA1_DIGESTS = frozenset({DigestAlgorithm.SHA1})
# Transforms that keep the whole document in scope; XPath/XSLT/Base64 transforms could narrow it.
ALLOWED_TRANSFORMS = frozenset(
    {SignatureConstructionMethod.enveloped.value, *(method.value for method in CanonicalizationMethod)}
)

_CONFIG = SignatureConfiguration(
    require_x509=True,
    location=".//",
    expect_references=1,
    signature_methods=STRONG_SIGNATURE_METHODS,
    digest_algorithms=STRONG_DIGESTS,
)
_CONFIG_SHA1 = dataclasses.replace(
    _CONFIG,
    signature_methods=STRONG_SIGNATURE_METHODS | SHA1_SIGNATURE_METHODS,
    digest_algorithms=STRONG_DIGESTS | SHA1_DIGESTS,
)


@dataclass(frozen=True)
class VerifiedXml:
    """A verified document. Read routing data only from ``signed_root`` (what the signature covers)."""

    signed_root: etree._Element
    signer: str
    certificate: x509.Certificate
    algorithm: str  # fragment of the SignatureMethod URI, e.g. "rsa-sha256"


def find_signatures(root: etree._Element) -> list[etree._Element]:
    """Every XMLDSig ``ds:Signature`` element in the tree, the root included."""
    return list(root.iter(SIGNATURE_TAG))


def find_non_xmldsig_signatures(root: etree._Element) -> list[etree._Element]:
    """``Signature`` elements outside the XMLDSig namespace.

    Real axis packets write ``<Signature>`` unprefixed under the edXML default namespace: they look
    signed but carry no XMLDSig signature. The caller may record them as a deviation.
    """
    return [element for element in root.iter("{*}Signature") if element.tag != SIGNATURE_TAG]


def _hardened_parser() -> etree.XMLParser:
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)


def sign_enveloped(
    root: etree._Element,
    identity: SigningIdentity,
    *,
    parent: etree._Element,
    received: bytes | None = None,
) -> bytes:
    """Sign the whole document; the ``ds:Signature`` becomes the last child of ``parent``.

    RSA-SHA256 (ECDSA-SHA256 for EC keys), SHA-256 digest, exclusive C14N, one Reference ``URI=""``,
    the certificate in KeyInfo. ``root`` is left unchanged. A document that already has a
    ``ds:Signature`` is refused (ValueError): the hub passes verified signatures on unchanged and never
    adds a second one.

    Without ``received`` the signed tree is serialised anew (UTF-8, with an XML declaration). With
    ``received`` — the bytes ``root`` was parsed from — only the serialised ``ds:Signature`` is
    inserted into them, just before ``parent``'s end tag: every other byte (declaration, line endings,
    quoting, prefixes) stays as received, and the result still verifies because the signature covers
    the canonical form, which the inserted element does not disturb (its tail is empty, and the
    whitespace before the end tag becomes the text before it, exactly as in the tree that was signed).
    """
    if find_signatures(root):
        raise ValueError("the document already carries an XMLDSig signature")
    if parent is not root and not any(ancestor is root for ancestor in parent.iterancestors()):
        raise ValueError("parent is not inside the document being signed")
    method = (
        SignatureMethod.ECDSA_SHA256
        if isinstance(identity.private_key, ec.EllipticCurvePrivateKey)
        else SignatureMethod.RSA_SHA256
    )
    signer = XMLSigner(
        method=SignatureConstructionMethod.enveloped,
        signature_algorithm=method,
        digest_algorithm=DigestAlgorithm.SHA256,
        c14n_algorithm=CanonicalizationMethod.EXCLUSIVE_XML_CANONICALIZATION_1_0,
    )
    placeholder = etree.SubElement(parent, SIGNATURE_TAG, {"Id": "placeholder"}, nsmap={"ds": DS_NS})
    try:
        # signxml signs a copy of the tree and fills the copy of the placeholder
        signed = signer.sign(root, key=identity.private_key, cert=[identity.certificate])
    finally:
        parent.remove(placeholder)
    if received is None:
        return XML_DECLARATION + etree.tostring(signed, encoding="UTF-8", xml_declaration=False)
    # Intake accepts UTF-8 edXML only (hub.parsing refuses any other encoding before this point).
    encoding = root.getroottree().docinfo.encoding or "UTF-8"
    if codecs.lookup(encoding).name != "utf-8":
        raise ValueError(f"the received bytes are {encoding}; only UTF-8 is signed in place")
    signature = find_signatures(signed)[0]
    inserted = etree.tostring(signature, encoding="UTF-8", xml_declaration=False, with_tail=False)
    offset = end_tag_offset(received, _element_index_path(parent))
    return received[:offset] + inserted + received[offset:]


def _element_index_path(element: etree._Element) -> tuple[int, ...]:
    """Positions among element siblings (comments and PIs skipped) from the root down to ``element``."""
    path: list[int] = []
    current = element
    while (parent := current.getparent()) is not None:
        siblings = [c for c in parent if isinstance(c.tag, str)]
        path.append(next(i for i, c in enumerate(siblings) if c is current))
        current = parent
    return (0, *reversed(path))


def end_tag_offset(data: bytes, element_path: tuple[int, ...]) -> int:
    """Byte offset of the end tag ``</…>`` of the element at ``element_path`` in ``data``.

    lxml does not report byte offsets; expat does (``CurrentByteIndex``). Only bytes the hardened
    parser has already accepted (no DTD, no entities) are given to it, and expat fetches nothing.
    """
    parser = expat.ParserCreate()
    position: list[int] = []
    counters = [0]
    found: list[int] = []

    def start(_name: str, _attributes: dict[str, str]) -> None:
        position.append(counters[-1])
        counters[-1] += 1
        counters.append(0)

    def end(_name: str) -> None:
        if tuple(position) == element_path and not found:
            found.append(parser.CurrentByteIndex)
        position.pop()
        counters.pop()

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.Parse(data, True)
    if not found or data[found[0] : found[0] + 2] != b"</":
        raise ValueError("the element that holds the signature has no end tag in the received bytes")
    return found[0]


def verify_enveloped(
    root: etree._Element,
    trust: TrustStore,
    *,
    allow_sha1: bool = False,
    at: datetime | None = None,
) -> VerifiedXml:
    """Verify the document's single enveloped signature and identify its signer.

    ``at`` is the moment of certificate validity checks (default: now).
    Refusals: ``signature-invalid``, ``signature-reference-invalid``,
    ``signature-algorithm-forbidden`` and the trust store's ``signer-*``.
    """
    signatures = find_signatures(root)
    if not signatures:
        raise Problem("signature-invalid", "the document carries no XMLDSig signature")
    if len(signatures) > 1:
        raise Problem(
            "signature-invalid", f"the document carries {len(signatures)} XMLDSig signatures; one is accepted"
        )
    signature = signatures[0]
    if signature is root:
        raise Problem("signature-invalid", "enveloping signatures are not accepted; sign the document itself")
    signed_info = signature.find(f"{{{DS_NS}}}SignedInfo")
    if signed_info is None:
        raise Problem("signature-invalid", "the signature has no SignedInfo")
    _check_reference(signed_info)
    method = _check_algorithms(signed_info, allow_sha1)
    _check_signature_value(signature)
    leaf, chain = _certificates(signature)
    signer = trust.identify(leaf, at=at, intermediates=chain)

    config = _CONFIG_SHA1 if allow_sha1 else _CONFIG
    if at is not None:
        config = dataclasses.replace(config, verification_time=at)
    try:
        result = XMLVerifier().verify(root, x509_cert=leaf, expect_config=config, parser=_hardened_parser())
    except (SignXMLException, InvalidSignature, ValueError, TypeError, etree.LxmlError) as exc:
        # signxml raises TypeError or lxml errors on some malformed signatures: still a bad signature
        raise Problem("signature-invalid", f"the XML signature does not verify: {exc}") from exc
    if isinstance(result, list) or result.signed_xml is None:  # pragma: no cover - excluded by config
        raise Problem("signature-invalid", "the signed content cannot be read back as XML")
    return VerifiedXml(result.signed_xml, signer, leaf, method.value.rsplit("#", 1)[-1])


def _check_reference(signed_info: etree._Element) -> None:
    references = signed_info.findall(f"{{{DS_NS}}}Reference")
    if len(references) != 1:
        raise Problem(
            "signature-reference-invalid",
            f"the signature has {len(references)} references; exactly one, to the whole document"
            ' (URI=""), is accepted',
        )
    reference = references[0]
    uri = reference.get("URI")
    if uri != "":
        shown = "no URI" if uri is None else f"URI={uri!r}"
        raise Problem(
            "signature-reference-invalid",
            f'the signature reference has {shown}; only URI="" (the whole document) is accepted',
        )
    for transform in reference.iterfind(f"{{{DS_NS}}}Transforms/{{{DS_NS}}}Transform"):
        algorithm = transform.get("Algorithm")
        if algorithm not in ALLOWED_TRANSFORMS:
            raise Problem(
                "signature-reference-invalid",
                f"the signature uses transform {algorithm!r}; only enveloped-signature and canonicalization"
                " are accepted",
            )


def _check_algorithms(signed_info: etree._Element, allow_sha1: bool) -> SignatureMethod:
    method_el = signed_info.find(f"{{{DS_NS}}}SignatureMethod")
    digest_el = signed_info.find(f"{{{DS_NS}}}Reference/{{{DS_NS}}}DigestMethod")
    if method_el is None or digest_el is None:
        raise Problem("signature-invalid", "the signature lacks SignatureMethod or DigestMethod")
    method_uri, digest_uri = method_el.get("Algorithm"), digest_el.get("Algorithm")
    methods = STRONG_SIGNATURE_METHODS | (SHA1_SIGNATURE_METHODS if allow_sha1 else frozenset())
    digests = STRONG_DIGESTS | (SHA1_DIGESTS if allow_sha1 else frozenset())
    method = next((m for m in methods if m.value == method_uri), None)
    if method is None:
        hint = " (SHA-1 is refused unless allowed by setting)" if method_uri and "sha1" in method_uri else ""
        raise Problem(
            "signature-algorithm-forbidden", f"signature method {method_uri!r} is not accepted{hint}"
        )
    if not any(d.value == digest_uri for d in digests):
        hint = " (SHA-1 is refused unless allowed by setting)" if digest_uri and "sha1" in digest_uri else ""
        raise Problem("signature-algorithm-forbidden", f"digest method {digest_uri!r} is not accepted{hint}")
    return method


def _check_signature_value(signature: etree._Element) -> None:
    """Exactly one non-empty, base64 SignatureValue (signxml fails with a TypeError on an empty one)."""
    values = signature.findall(f"{{{DS_NS}}}SignatureValue")
    if len(values) != 1:
        raise Problem("signature-invalid", f"the signature has {len(values)} SignatureValue elements; one")
    text = "".join((values[0].text or "").split())
    try:
        if not base64.b64decode(text, validate=True):
            raise Problem("signature-invalid", "the SignatureValue is empty")
    except ValueError:  # binascii.Error, or non-ASCII text
        raise Problem("signature-invalid", "the SignatureValue is not base64") from None


def _certificates(signature: etree._Element) -> tuple[x509.Certificate, list[x509.Certificate]]:
    """The signer's certificate (first X509Certificate) and any further ones sent as a chain."""
    path = f"{{{DS_NS}}}KeyInfo/{{{DS_NS}}}X509Data/{{{DS_NS}}}X509Certificate"
    elements = signature.findall(path)
    if not elements:
        raise Problem("signature-invalid", "the signature carries no X509Certificate in KeyInfo")
    certs = []
    for element in elements:
        try:
            der = base64.b64decode("".join((element.text or "").split()), validate=True)
            certs.append(_certificate_from_der(der))
        except (binascii.Error, ValueError) as exc:  # ValueError: non-ASCII text, bad DER
            raise Problem("signature-invalid", f"the certificate in KeyInfo cannot be read: {exc}") from exc
    return certs[0], certs[1:]


@functools.lru_cache(maxsize=1024)
def _certificate_from_der(der: bytes) -> x509.Certificate:
    """A certificate with every field parsed now (cryptography parses lazily, and a field that breaks
    later must be a refusal here, not a 500). Cached: a signer sends the same certificate with every
    document, so each is parsed once per process, not once per message. ValueError when unreadable."""
    cert = x509.load_der_x509_certificate(der)
    _ = (cert.subject, cert.issuer, cert.extensions, cert.public_key())
    return cert
