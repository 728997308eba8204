"""Enveloped XMLDSig for edXML: sign with the hub's key, verify a participant's signature.

Signature-wrapping defence (see docs/security.md): exactly one ``ds:Signature``, valid against the
XMLDSig schema, exactly one Reference with ``URI=""`` (the whole document), the enveloped-signature
transform then at most one canonicalization, algorithms restricted (SHA-1 only when allowed), the
signer's certificate checked against the trust store by our code and then pinned: libxmlsec1
(:mod:`hub.signing.libxmlsec`) verifies with that certificate's key only, and callers read routing
data only from :attr:`VerifiedXml.signed_root` — the verified tree without its signature and comments,
i.e. exactly what was digested. libxmlsec1 also makes the hub's signatures; a key in an HSM signs
through signxml (it cannot be handed to libxmlsec1). bench/FINDINGS.md has the measurements.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import copy
import functools
import hashlib
import importlib.resources
from dataclasses import dataclass
from datetime import datetime
from xml.parsers import expat

import xmlsec
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from lxml import etree
from signxml import (
    CanonicalizationMethod,
    DigestAlgorithm,
    SignatureConstructionMethod,
    SignatureMethod,
    XMLSigner,
)

from hub.problems import Problem
from hub.signing import libxmlsec
from hub.signing.keys import SigningIdentity
from hub.trust import TrustStore

DS_NS = "http://www.w3.org/2000/09/xmldsig#"
DSIG11_NS = "http://www.w3.org/2009/xmldsig11#"
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
ENVELOPED = SignatureConstructionMethod.enveloped.value
CANONICALIZATIONS = frozenset(method.value for method in CanonicalizationMethod)
# Transforms that keep the whole document in scope; XPath/XSLT/Base64 transforms could narrow it.
ALLOWED_TRANSFORMS = frozenset({ENVELOPED, *CANONICALIZATIONS})
EXCLUSIVE_C14N = CanonicalizationMethod.EXCLUSIVE_XML_CANONICALIZATION_1_0.value
INCLUSIVE_C14N = CanonicalizationMethod.CANONICAL_XML_1_0.value
# C14N 1.0 (inclusive, exclusive; with or without comments): what lxml can compute to explain a refusal.
LXML_C14N = frozenset(
    {
        INCLUSIVE_C14N,
        CanonicalizationMethod.CANONICAL_XML_1_0_WITH_COMMENTS.value,
        EXCLUSIVE_C14N,
        CanonicalizationMethod.EXCLUSIVE_XML_CANONICALIZATION_1_0_WITH_COMMENTS.value,
    }
)
HASH_NAMES = {d.value: d.name.lower() for d in (*STRONG_DIGESTS, *SHA1_DIGESTS)}
EC_CURVE_OIDS = {"secp256r1": "1.2.840.10045.3.1.7", "secp384r1": "1.3.132.0.34", "secp521r1": "1.3.132.0.35"}


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


def sign_enveloped(
    root: etree._Element,
    identity: SigningIdentity,
    *,
    parent: etree._Element,
    received: bytes | None = None,
) -> bytes:
    """Sign the whole document; the ``ds:Signature`` becomes the last child of ``parent``.

    RSA-SHA256 (ECDSA-SHA256 for EC keys), SHA-256 digest, exclusive C14N, one Reference ``URI=""``,
    the certificate in KeyInfo; libxmlsec1 signs (signxml for a key in an HSM, which cannot be handed
    to it). ``root`` is left unchanged. A document that already has a
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
    ecdsa = isinstance(identity.private_key, ec.EllipticCurvePrivateKey)
    if received is not None:
        # Intake accepts UTF-8 edXML only (hub.parsing refuses any other encoding before this point).
        encoding = root.getroottree().docinfo.encoding or "UTF-8"
        if codecs.lookup(encoding).name != "utf-8":
            raise ValueError(f"the received bytes are {encoding}; only UTF-8 is signed in place")
    key = libxmlsec.signing_key(identity.private_key, identity.certificate)
    if key is None:  # a key in an HSM: signxml asks the token to sign, over a copy of the tree
        signed, signature = _sign_with_signxml(root, identity, parent, ecdsa)
        if received is None:
            return XML_DECLARATION + etree.tostring(signed, encoding="UTF-8", xml_declaration=False)
        inserted = etree.tostring(signature, encoding="UTF-8", xml_declaration=False, with_tail=False)
    else:  # libxmlsec1 signs the tree itself; the signature is taken out again once serialised
        signature = libxmlsec.sign_in_place(parent, key, ecdsa=ecdsa)
        try:
            whole = root if received is None else signature
            serialised = etree.tostring(whole, encoding="UTF-8", xml_declaration=False, with_tail=False)
        finally:
            parent.remove(signature)
        if received is None:
            return XML_DECLARATION + serialised
        inserted = serialised
    offset = end_tag_offset(received, _element_index_path(parent))
    view = memoryview(received)
    return b"".join((view[:offset], inserted, view[offset:]))  # one copy of the document, the result


def _sign_with_signxml(
    root: etree._Element, identity: SigningIdentity, parent: etree._Element, ecdsa: bool
) -> tuple[etree._Element, etree._Element]:
    """signxml signs a copy of the tree (the HSM path): the copy and its ``ds:Signature``."""
    signer = XMLSigner(
        method=SignatureConstructionMethod.enveloped,
        signature_algorithm=SignatureMethod.ECDSA_SHA256 if ecdsa else SignatureMethod.RSA_SHA256,
        digest_algorithm=DigestAlgorithm.SHA256,
        c14n_algorithm=CanonicalizationMethod.EXCLUSIVE_XML_CANONICALIZATION_1_0,
    )
    placeholder = etree.SubElement(parent, SIGNATURE_TAG, {"Id": "placeholder"}, nsmap={"ds": DS_NS})
    try:
        # signxml signs a copy of the tree and fills the copy of the placeholder
        signed = signer.sign(root, key=identity.private_key, cert=[identity.certificate])
    finally:
        parent.remove(placeholder)
    return signed, find_signatures(signed)[0]


def _element_index_path(element: etree._Element) -> tuple[int, ...]:
    """Positions among element siblings (comments and PIs skipped) from the root down to ``element``."""
    path: list[int] = []
    current = element
    while (parent := current.getparent()) is not None:
        siblings = [c for c in parent if isinstance(c.tag, str)]
        path.append(next(i for i, c in enumerate(siblings) if c is current))
        current = parent
    return (0, *reversed(path))


_EXPAT_SLICE = 64 * 1024


def end_tag_offset(data: bytes, element_path: tuple[int, ...]) -> int:
    """Byte offset of the end tag ``</…>`` of the element at ``element_path`` in ``data``.

    lxml does not report byte offsets; expat does (``CurrentByteIndex``). Only bytes the hardened
    parser has already accepted (no DTD, no entities) are given to it, and expat fetches nothing;
    it reads only as far as that end tag.
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
    # Fed in slices of a view, stopping once the end tag is seen: expat copies what it is given into
    # its own buffer, and the element that holds the signature (the header) ends early in the document.
    view = memoryview(data)
    for begin in range(0, len(data), _EXPAT_SLICE):
        parser.Parse(view[begin : begin + _EXPAT_SLICE], False)
        if found:
            break
    else:
        parser.Parse(b"", True)
    if not found or data[found[0] : found[0] + 2] != b"</":
        raise ValueError("the element that holds the signature has no end tag in the received bytes")
    return found[0]


def verify_enveloped(
    root: etree._Element,
    trust: TrustStore,
    *,
    allow_sha1: bool = False,
    at: datetime | None = None,
    consume: bool = False,
) -> VerifiedXml:
    """Verify the document's single enveloped signature and identify its signer.

    ``root`` must be the document's root element; it is left unchanged unless ``consume``: then
    the signature and comments are removed from ``root`` itself once it verified, and
    :attr:`VerifiedXml.signed_root` is ``root`` (no copy of the tree: for a caller that does not
    read ``root`` afterwards, as intake). libxmlsec1 verifies it in
    place, with only the key of the signer's certificate, once the trust store has accepted that
    certificate. :attr:`VerifiedXml.signed_root` is a copy of the tree without its ``ds:Signature``
    and comments (a whole-document reference does not cover them): what callers read is what was
    digested, with no serialised copy of the document made on the way. ``at`` is the moment of
    certificate validity checks (default: now). Refusals: ``signature-invalid``,
    ``signature-reference-invalid``, ``signature-algorithm-forbidden`` and the trust store's ``signer-*``.
    """
    if root.getparent() is not None:
        raise ValueError("verify_enveloped takes the document's root element")
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
    transforms = _check_reference(signed_info)
    method, digest = _check_algorithms(signed_info, allow_sha1)
    _check_signature_value(signature)
    leaf, chain = _certificates(signature)
    signer = trust.identify(leaf, at=at, intermediates=chain)
    _check_signature_schema(signature)
    c14n = _check_canonicalization(signed_info)
    _check_key_values(signature, leaf)

    try:
        libxmlsec.verify(
            signature,
            libxmlsec.public_key_of(leaf),
            signature_transforms=(c14n, method.value),
            reference_transforms=(*transforms, digest),
        )
    except xmlsec.Error as exc:
        detail = f"the XML signature does not verify: {_why(root, signature, exc)}"
        raise Problem("signature-invalid", detail) from exc
    signed_root = _strip_unsigned(root) if consume else _signed_copy(root)
    return VerifiedXml(signed_root, signer, leaf, method.value.rsplit("#", 1)[-1])


def _signed_copy(root: etree._Element) -> etree._Element:
    """A copy of ``root`` as a whole-document reference with the enveloped-signature transform digests
    it (see :func:`_strip_unsigned`). ``root`` is unchanged."""
    return _strip_unsigned(copy.deepcopy(root))


def _strip_unsigned(root: etree._Element) -> etree._Element:
    """Remove, in place, the signature and the comments (URI="" leaves comments out); the text after
    each removed node is joined to the text before it, as in the canonical form."""
    for node in [*find_signatures(root), *root.iter(etree.Comment)]:
        parent = node.getparent()
        assert parent is not None  # neither is the root: the signature is not (checked), comments in it
        if node.tail:
            previous = node.getprevious()
            if previous is not None:
                previous.tail = (previous.tail or "") + node.tail
            else:
                parent.text = (parent.text or "") + node.tail
        parent.remove(node)
    return root


@functools.cache
def _xmldsig_schema() -> etree.XMLSchema:
    """The XMLDSig 1.1 schema (signxml's copy; it includes the 1.0 core schema)."""
    path = importlib.resources.files("signxml.schemas") / "xmldsig1-schema.xsd"
    with importlib.resources.as_file(path) as schema_file:
        return etree.XMLSchema(etree.parse(str(schema_file)))


def _check_signature_schema(signature: etree._Element) -> None:
    """The ``ds:Signature`` element is valid against the XMLDSig schema (as signxml checked it)."""
    copied = etree.fromstring(etree.tostring(signature))  # its own document, namespaces kept
    schema = _xmldsig_schema()
    if not schema.validate(copied):
        error = schema.error_log.last_error
        raise Problem(
            "signature-invalid", f"the signature is not valid XMLDSig: {error.message if error else ''}"
        )


def _check_reference(signed_info: etree._Element) -> tuple[str, ...]:
    """One Reference, ``URI=""``, transforms: enveloped-signature, then at most one canonicalization.

    The order is fixed so that libxmlsec1 never has to turn canonical bytes back into XML (it would
    parse them with its own parser) and so that what it digests is the document itself.
    """
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
    transforms = tuple(
        transform.get("Algorithm") or ""
        for transform in reference.iterfind(f"{{{DS_NS}}}Transforms/{{{DS_NS}}}Transform")
    )
    for algorithm in transforms:
        if algorithm not in ALLOWED_TRANSFORMS:
            raise Problem(
                "signature-reference-invalid",
                f"the signature uses transform {algorithm!r}; only enveloped-signature and canonicalization"
                " are accepted",
            )
    if transforms[:1] != (ENVELOPED,) or len(transforms) > 2 or ENVELOPED in transforms[1:]:
        raise Problem(
            "signature-reference-invalid",
            f"the signature's transforms are {list(transforms)}; the enveloped-signature transform, then at"
            " most one canonicalization, are accepted",
        )
    return transforms


def _check_algorithms(signed_info: etree._Element, allow_sha1: bool) -> tuple[SignatureMethod, str]:
    """The SignatureMethod and the DigestMethod URI, both allowed (SHA-1 only when ``allow_sha1``)."""
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
    digest = next((d.value for d in digests if d.value == digest_uri), None)
    if digest is None:
        hint = " (SHA-1 is refused unless allowed by setting)" if digest_uri and "sha1" in digest_uri else ""
        raise Problem("signature-algorithm-forbidden", f"digest method {digest_uri!r} is not accepted{hint}")
    return method, digest


def _check_canonicalization(signed_info: etree._Element) -> str:
    element = signed_info.find(f"{{{DS_NS}}}CanonicalizationMethod")
    algorithm = element.get("Algorithm") if element is not None else None
    if algorithm not in CANONICALIZATIONS:
        raise Problem("signature-invalid", f"canonicalization method {algorithm!r} is not accepted")
    return algorithm


def _check_key_values(signature: etree._Element, leaf: x509.Certificate) -> None:
    """A KeyValue or DEREncodedKeyValue in KeyInfo must be the certificate's own key.

    libxmlsec1 is given the certificate's key and never reads KeyInfo; a second, different key
    there is refused rather than ignored, so that no reader of the document can be told another.
    """
    key = leaf.public_key()
    spki = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    for element in signature.iterfind(f"{{{DS_NS}}}KeyInfo/{{{DSIG11_NS}}}DEREncodedKeyValue"):
        if _b64(element.text) != spki:
            raise Problem("signature-invalid", "KeyInfo's DEREncodedKeyValue is not the certificate's key")
    for element in signature.iterfind(f"{{{DS_NS}}}KeyInfo/{{{DS_NS}}}KeyValue"):
        if not _key_value_is(element, key):
            raise Problem("signature-invalid", "KeyInfo's KeyValue is not the certificate's key")


def _key_value_is(key_value: etree._Element, key: object) -> bool:
    rsa_value = key_value.find(f"{{{DS_NS}}}RSAKeyValue")
    if rsa_value is not None:
        if not isinstance(key, rsa.RSAPublicKey):
            return False
        numbers = key.public_numbers()
        modulus = _b64(rsa_value.findtext(f"{{{DS_NS}}}Modulus"))
        exponent = _b64(rsa_value.findtext(f"{{{DS_NS}}}Exponent"))
        return (int.from_bytes(modulus, "big"), int.from_bytes(exponent, "big")) == (numbers.n, numbers.e)
    ec_value = key_value.find(f"{{{DSIG11_NS}}}ECKeyValue")
    if ec_value is not None:
        if not isinstance(key, ec.EllipticCurvePublicKey):
            return False
        point = key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
        curve = ec_value.find(f"{{{DSIG11_NS}}}NamedCurve")
        oid = EC_CURVE_OIDS.get(key.curve.name)
        return (
            curve is not None
            and oid is not None
            and curve.get("URI") == f"urn:oid:{oid}"
            and _b64(ec_value.findtext(f"{{{DSIG11_NS}}}PublicKey")) == point
        )
    return False


def _b64(text: str | None) -> bytes:
    try:
        return base64.b64decode("".join((text or "").split()), validate=True)
    except ValueError:  # binascii.Error, or non-ASCII text
        return b""


def _why(root: etree._Element, signature: etree._Element, error: Exception) -> str:
    """Which part failed, for the refusal's detail: libxmlsec1 says only "Signature is invalid".

    Recomputes the reference's digest with lxml, on a copy (the refusal path only): a wrong digest
    means the document was changed after signing; a right one, that the SignatureValue is wrong.
    """
    reference = signature.find(f"{{{DS_NS}}}SignedInfo/{{{DS_NS}}}Reference")
    assert reference is not None  # checked before
    transforms = [
        t.get("Algorithm") for t in reference.iterfind(f"{{{DS_NS}}}Transforms/{{{DS_NS}}}Transform")
    ]
    c14n = transforms[1] if len(transforms) > 1 else INCLUSIVE_C14N
    digest_method = reference.find(f"{{{DS_NS}}}DigestMethod")
    digest_uri = digest_method.get("Algorithm") if digest_method is not None else None
    hash_name = HASH_NAMES.get(digest_uri or "")
    if c14n not in LXML_C14N or hash_name is None:  # C14N 1.1: lxml cannot say which part failed
        return f"libxmlsec1: {error}"
    exclusive = c14n.startswith(EXCLUSIVE_C14N)
    prefixes = _inclusive_prefixes(reference) if exclusive else None
    document = copy.deepcopy(root.getroottree())  # the whole document: the root's siblings too
    _strip_unsigned(document.getroot())
    canonical = etree.tostring(
        document, method="c14n", exclusive=exclusive, with_comments=False, inclusive_ns_prefixes=prefixes
    )
    if hashlib.new(hash_name, canonical).digest() != _b64(reference.findtext(f"{{{DS_NS}}}DigestValue")):
        siblings = [*root.itersiblings(preceding=True), *root.itersiblings()]
        outside = any(isinstance(node, etree._ProcessingInstruction) for node in siblings)
        hint = "; processing instructions outside the root element are signed too" if outside else ""
        return f"the digest of the document does not match its DigestValue (changed after signing){hint}"
    return f"the SignatureValue does not verify with the signer's certificate (libxmlsec1: {error})"


def _inclusive_prefixes(reference: etree._Element) -> list[str] | None:
    element = reference.find(
        f"{{{DS_NS}}}Transforms/{{{DS_NS}}}Transform/{{{EXCLUSIVE_C14N}}}InclusiveNamespaces"
    )
    listed = element.get("PrefixList") if element is not None else None
    return listed.split() if listed else None


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
