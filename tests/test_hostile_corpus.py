"""The hostile corpus: every class of attack the hub has met, each case refused with its exact
problem type, nothing recorded as accepted, every intake refusal recorded, and the hub still serving.

Classes: XML entities and bombs, malformed XML, encodings other than UTF-8, comments and processing
instructions in the header, signature wrapping, algorithm and key confusion, broken signature parts,
JSON tricks (duplicate keys, NaN, lone surrogates, …), JWS tricks (alg none, HMAC key confusion,
attached payloads, foreign x5c, …), schema and routing abuse, authentication, cross-participant
reads, operator endpoints, oversize bodies and header bombs on every kind of door, and console
attacks. One live hub on loopback serves the whole corpus; the case table is the documentation.
"""

from __future__ import annotations

import base64
import json
import re
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, hmac, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from lxml import etree

from hub.devpki import issue_certificate
from hub.signing.jws import b64url, sign_detached
from hub.signing.keys import identity_from, load_identity
from hub.signing.xmldsig import sign_enveloped
from tests.hubtest import DEV_CERTS, EXAMPLES, FIXTURES, RunningHub, auth, ledger_counts, running_hub

AGENCY = "000.01.02.H41"
OTHER = "000.03.04.H41"
EDXML_NS = "http://www.mic.gov.vn/TBT/QCVN_102_2016"
NS = {"e": EDXML_NS}
DS = "http://www.w3.org/2000/09/xmldsig#"
FORM_LIMIT = 64 * 1024  # this corpus's hub: small limits, so oversize cases stay cheap
BODY_LIMIT = 2 * 1024 * 1024


@dataclass
class Sent:
    """What a case sends: method, path, body, headers; `as_` adds that participant's bearer token."""

    body: bytes = b""
    content_type: str | None = "application/xml"
    as_: str | None = AGENCY
    method: str = "POST"
    path: str = "/v1/messages"
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Case:
    cls: str
    make: Callable[[RunningHub], Sent]
    status: int
    slug: str | None  # the exact problem type; None for the console's HTML answers
    recorded: bool = True  # an intake refusal leaves a message.refused event


# -- documents -------------------------------------------------------------------------------------

_counter = iter(range(10**6))


def document(number: int | None = None) -> bytes:
    """The strict fixture with a DocumentId of its own (its own natural key)."""
    n = next(_counter) + 500_000 if number is None else number
    text = (FIXTURES / "edxml" / "document_strict.edxml").read_bytes()
    return text.replace(b"123/UBND-VP", f"{n}/UBND-VP".encode())


def identity(participant: str):  # type: ignore[no-untyped-def]
    return load_identity(DEV_CERTS / f"{participant}.key", DEV_CERTS / f"{participant}.crt")


def signed(data: bytes | None = None, by: str = AGENCY) -> bytes:
    root = etree.fromstring(data or document())
    return sign_enveloped(root, identity(by), parent=root.find(".//e:edXMLHeader", NS))


def edit(data: bytes, change: Callable[[etree._Element], None]) -> bytes:
    root = etree.fromstring(data)
    change(root)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def ds(root: etree._Element, path: str) -> etree._Element:
    return root.find(".//" + "/".join(f"{{{DS}}}{part}" for part in path.split("/")))


def sub(pattern: bytes, replacement: bytes, data: bytes) -> bytes:
    changed = re.sub(pattern, replacement, data, count=1, flags=re.S)
    assert changed != data, pattern
    return changed


def xml(body: bytes | Callable[[], bytes], **kw: object) -> Callable[[RunningHub], Sent]:
    return lambda hub: Sent(body() if callable(body) else body, **kw)  # type: ignore[arg-type]


def json_doc(name: str = "ems.order", **changes: object) -> bytes:
    obj = json.loads((EXAMPLES / f"{name}.json").read_text(encoding="utf-8"))
    n = next(_counter)
    obj["dossier_number"] = f"H41-HOSTILE-{n}"
    if "order" in obj:
        obj["order"]["OrderNumber"] = obj["dossier_number"]
    if "request_id" in obj:
        obj["request_id"] = f"REQ-HOSTILE-{n}"
    if "transaction_ref" in obj:
        obj["transaction_ref"] = f"TXHOSTILE{n}"
    obj.update(changes)
    return json.dumps(obj, ensure_ascii=False).encode()


def json_sender(name: str) -> str:
    return json.loads((EXAMPLES / f"{name}.json").read_text(encoding="utf-8"))["sender"]


def js(
    body: bytes | Callable[[], bytes], name: str = "ems.order", **kw: object
) -> Callable[[RunningHub], Sent]:
    return lambda hub: Sent(
        body() if callable(body) else body,
        content_type="application/json",
        as_=kw.pop("as_", json_sender(name)),  # type: ignore[arg-type]
        **kw,  # type: ignore[arg-type]
    )


def with_jws(name: str, make_jws: Callable[[bytes], str], body: Callable[[], bytes] | None = None):  # type: ignore[no-untyped-def]
    def make(hub: RunningHub) -> Sent:
        data = body() if body else json_doc(name)
        return Sent(
            data,
            content_type="application/json",
            as_=json_sender(name),
            headers={"x-jws-signature": make_jws(data)},
        )

    return make


def jws_with_header(header: dict, payload: bytes, key_identity=None, signature: bytes | None = None) -> str:  # type: ignore[no-untyped-def]
    protected = b64url(json.dumps(header).encode())
    if signature is None:
        from cryptography.hazmat.primitives.asymmetric import padding

        signature = key_identity.private_key.sign(
            protected.encode() + b"." + payload, padding.PKCS1v15(), hashes.SHA256()
        )
    return f"{protected}..{b64url(signature)}"


def x5c(participant: str) -> list[str]:
    return [base64.b64encode(identity(participant).cert_der).decode()]


# -- certificates for confusion cases --------------------------------------------------------------

CA_CERT = x509.load_pem_x509_certificate((DEV_CERTS / "ca.crt").read_bytes())
CA_KEY = serialization.load_pem_private_key((DEV_CERTS / "ca.key").read_bytes(), None)


def signed_with_certificate(key, cert, data: bytes | None = None) -> bytes:  # type: ignore[no-untyped-def]
    root = etree.fromstring(data or document())
    return sign_enveloped(root, identity_from(key, cert), parent=root.find(".//e:edXMLHeader", NS))


def expired() -> bytes:
    now = datetime.now(UTC)
    key, cert = issue_certificate(
        CA_CERT, CA_KEY, AGENCY, not_before=now - timedelta(days=400), not_after=now - timedelta(days=1)
    )
    return signed_with_certificate(key, cert)


def not_yet_valid() -> bytes:
    now = datetime.now(UTC)
    key, cert = issue_certificate(
        CA_CERT, CA_KEY, AGENCY, not_before=now + timedelta(days=10), not_after=now + timedelta(days=100)
    )
    return signed_with_certificate(key, cert)


def self_signed() -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, AGENCY)])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    return signed_with_certificate(key, cert)


def unknown_participant() -> bytes:
    now = datetime.now(UTC)
    key, cert = issue_certificate(
        CA_CERT,
        CA_KEY,
        "999.99.99.H41",
        not_before=now - timedelta(days=1),
        not_after=now + timedelta(days=30),
    )
    return signed_with_certificate(key, cert)


def ca_signed() -> bytes:
    return signed_with_certificate(CA_KEY, CA_CERT)


def swapped_certificate() -> bytes:
    """Signed by the agency, but KeyInfo carries another participant's certificate (key confusion)."""
    data = signed()
    other = base64.b64encode(identity(OTHER).cert_der)
    return sub(
        rb"<ds:X509Certificate>.*?</ds:X509Certificate>",
        b"<ds:X509Certificate>" + other + b"</ds:X509Certificate>",
        data,
    )


def hmac_signed() -> bytes:
    """HMAC-SHA256 keyed with the agency's public certificate (the classic key-confusion attack)."""
    data = signed()
    root = etree.fromstring(data)
    ds(root, "SignedInfo/SignatureMethod").set(
        "Algorithm", "http://www.w3.org/2001/04/xmldsig-more#hmac-sha256"
    )
    mac = hmac.HMAC(identity(AGENCY).cert_der, hashes.SHA256())
    mac.update(etree.tostring(ds(root, "SignedInfo"), method="c14n", exclusive=True))
    ds(root, "SignatureValue").text = base64.b64encode(mac.finalize()).decode()
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def wrapped_header() -> bytes:
    """XSW: the signed header moved into ds:Object, a forged header (another recipient) in its place."""
    data = signed()
    root = etree.fromstring(data)
    header = root.find(".//e:edXMLHeader", NS)
    signature = header.find(f"{{{DS}}}Signature")
    original = etree.fromstring(etree.tostring(header))
    obj = etree.SubElement(signature, f"{{{DS}}}Object")
    obj.append(original)
    header.find(".//e:To/e:OrganId", NS).text = "000.00.00.H40"
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def second_envelope() -> bytes:
    """XSW: a second, unsigned edXMLEnvelope before the signed one."""
    root = etree.fromstring(signed())
    envelope = root.find("e:edXMLEnvelope", NS)
    forged = etree.fromstring(etree.tostring(envelope))
    for sig in forged.iter(f"{{{DS}}}Signature"):
        sig.getparent().remove(sig)
    root.insert(0, forged)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def comment_in_signed_organ() -> bytes:
    """A comment inserted after signing inside To/OrganId: c14n ignores it, a naive reader does not."""
    return sub(
        rb"<edXML:OrganId>000\.03\.04\.H41</edXML:OrganId>",
        b"<edXML:OrganId>000.03<!-- 000.00.00.H40 -->.04.H41</edXML:OrganId>",
        signed(),
    )


def _in_header(node_xml: bytes) -> Callable[[], bytes]:
    return lambda: sub(rb"(<edXML:edXMLHeader>)", rb"\1" + node_xml, document())


# -- the cases ---------------------------------------------------------------------------------------

XML_BOMB = (
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;'
    b'&lol;&lol;&lol;&lol;&lol;"><!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>'
    b"<lolz>&lol3;</lolz>"
)
CASES: dict[str, Case] = {
    # XML entities, DTDs, bombs
    "xml: external entity (file)": Case(
        "entities",
        xml(b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>'),
        400,
        "xml-forbidden-construct",
    ),
    "xml: external entity (http)": Case(
        "entities",
        xml(b'<!DOCTYPE r [<!ENTITY x SYSTEM "http://127.0.0.1:9/x">]><r>&x;</r>'),
        400,
        "xml-forbidden-construct",
    ),
    "xml: parameter entity": Case(
        "entities",
        xml(b'<!DOCTYPE r [<!ENTITY % p SYSTEM "http://127.0.0.1:9/p.dtd"> %p;]><r/>'),
        400,
        "xml-forbidden-construct",
    ),
    "xml: billion laughs": Case("entities", xml(XML_BOMB), 400, "xml-forbidden-construct"),
    "xml: quadratic blowup": Case(
        "entities",
        xml(b'<!DOCTYPE r [<!ENTITY a "' + b"x" * 20000 + b'">]><r>' + b"&a;" * 200 + b"</r>"),
        400,
        "xml-forbidden-construct",
    ),
    "xml: external DTD": Case(
        "entities",
        xml(b'<?xml version="1.0"?><!DOCTYPE r SYSTEM "http://127.0.0.1:9/x.dtd"><r/>'),
        400,
        "xml-forbidden-construct",
    ),
    "xml: public DTD": Case(
        "entities",
        xml(b'<!DOCTYPE r PUBLIC "-//X//Y" "http://127.0.0.1:9/y.dtd"><r/>'),
        400,
        "xml-forbidden-construct",
    ),
    "xml: internal DTD only": Case(
        "entities", xml(b"<!DOCTYPE r [<!ELEMENT r ANY>]><r/>"), 400, "xml-forbidden-construct"
    ),
    "xml: DTD in an edXML document": Case(
        "entities",
        xml(lambda: sub(rb"(<\?xml[^>]*\?>)", rb'\1<!DOCTYPE edXML:edXML [<!ENTITY x "y">]>', document())),
        400,
        "xml-forbidden-construct",
    ),
    "xml: undeclared entity reference": Case(
        "entities", xml(b"<r>&undeclared;</r>"), 400, "xml-forbidden-construct"
    ),
    "xml: XInclude is not processed": Case(
        "entities",
        xml(
            b'<r xmlns:xi="http://www.w3.org/2001/XInclude">'
            b'<xi:include href="file:///etc/passwd" parse="text"/></r>'
        ),
        422,
        "unknown-type",
    ),
    "xml: deep nesting": Case("entities", xml(b"<a>" * 5000 + b"</a>" * 5000), 400, "xml-too-deep"),
    "xml: nesting just over the limit": Case(
        "entities", xml(b"<a>" * 101 + b"</a>" * 101), 400, "xml-too-deep"
    ),
    # malformed XML
    "xml: empty body": Case("malformed", xml(b""), 400, "xml-malformed"),
    "xml: only a declaration": Case(
        "malformed", xml(b'<?xml version="1.0" encoding="UTF-8"?>'), 400, "xml-malformed"
    ),
    "xml: unclosed element": Case("malformed", xml(b"<edXML><unclosed></edXML>"), 400, "xml-malformed"),
    "xml: two roots": Case("malformed", xml(b"<a/><b/>"), 400, "xml-malformed"),
    "xml: unquoted attribute": Case("malformed", xml(b"<a b=c/>"), 400, "xml-malformed"),
    "xml: character reference to NUL": Case("malformed", xml(b"<a>&#0;</a>"), 400, "xml-malformed"),
    "xml: control character": Case("malformed", xml(b"<a>\x01</a>"), 400, "xml-malformed"),
    "xml: truncated document": Case("malformed", xml(lambda: document()[:-40]), 400, "xml-malformed"),
    "xml: stray bytes before the declaration (strict)": Case(
        "malformed", xml(lambda: b"0123" + document()), 400, "xml-malformed"
    ),
    "xml: undeclared prefix": Case("malformed", xml(b"<x:a/>"), 400, "xml-malformed"),
    "xml: unknown root": Case("malformed", xml(b"<invoice xmlns='urn:example'/>"), 422, "unknown-type"),
    "xml: edXML root without namespace": Case(
        "malformed", xml(b"<edXML><edXMLEnvelope/></edXML>"), 422, "unknown-type"
    ),
    # UTF-8 only
    "encoding: invalid UTF-8": Case(
        "encoding",
        xml(b'<?xml version="1.0" encoding="UTF-8"?><edXML>\xc3\x28</edXML>'),
        400,
        "invalid-encoding",
    ),
    "encoding: overlong UTF-8": Case("encoding", xml(b"<a>\xc0\xaf</a>"), 400, "invalid-encoding"),
    "encoding: UTF-8-encoded surrogate": Case(
        "encoding", xml(b"<a>\xed\xa0\x80</a>"), 400, "invalid-encoding"
    ),
    "encoding: beyond U+10FFFF": Case("encoding", xml(b"<a>\xf4\x90\x80\x80</a>"), 400, "invalid-encoding"),
    "encoding: UTF-16 LE with BOM": Case(
        "encoding",
        xml(lambda: document().decode().replace('encoding="UTF-8"', 'encoding="UTF-16"').encode("utf-16")),
        400,
        "encoding-not-utf8",
    ),
    "encoding: UTF-16 BE without BOM": Case(
        "encoding",
        xml(lambda: document().decode().replace('encoding="UTF-8"', 'encoding="UTF-16"').encode("utf-16-be")),
        400,
        "encoding-not-utf8",
    ),
    "encoding: UTF-32 with BOM": Case(
        "encoding",
        xml(lambda: document().decode().replace('encoding="UTF-8"', 'encoding="UTF-32"').encode("utf-32")),
        400,
        "encoding-not-utf8",
    ),
    "encoding: declared ISO-8859-1": Case(
        "encoding",
        xml(
            lambda: (
                document()
                .decode()
                .replace('encoding="UTF-8"', 'encoding="ISO-8859-1"')
                .encode("ascii", "xmlcharrefreplace")
            )
        ),
        400,
        "encoding-not-utf8",
    ),
    "encoding: declared windows-1258": Case(
        "encoding",
        xml(lambda: document().replace(b'encoding="UTF-8"', b'encoding="windows-1258"')),
        400,
        "encoding-not-utf8",
    ),
    "encoding: declared US-ASCII": Case(
        "encoding",
        xml(lambda: document().replace(b'encoding="UTF-8"', b'encoding="US-ASCII"')),
        400,
        "encoding-not-utf8",
    ),
    "encoding: declared UTF-7": Case(
        "encoding", xml(b"<?xml version='1.0' encoding='UTF-7'?><a/>"), 400, "encoding-not-utf8"
    ),
    # comments and processing instructions in the header
    "header: comment inside a signed To/OrganId": Case(
        "header", xml(comment_in_signed_organ), 400, "xml-forbidden-construct"
    ),
    "header: comment in an unsigned header": Case(
        "header", xml(_in_header(b"<!-- routed elsewhere -->")), 400, "xml-forbidden-construct"
    ),
    "header: processing instruction in the header": Case(
        "header", xml(_in_header(b"<?route to='000.00.00.H40'?>")), 400, "xml-forbidden-construct"
    ),
    "header: comment inside From": Case(
        "header",
        xml(lambda: sub(rb"(<edXML:From>)", rb"\1<!--x-->", document())),
        400,
        "xml-forbidden-construct",
    ),
    "header: comment in the signed header": Case(
        "header",
        xml(lambda: sub(rb"(<edXML:From>)", rb"\1<!--x-->", signed())),
        400,
        "xml-forbidden-construct",
    ),
    # signature wrapping
    "xsw: recipient changed after signing": Case(
        "wrapping",
        xml(
            lambda: signed().replace(
                b"<edXML:OrganId>000.03.04.H41</edXML:OrganId>",
                b"<edXML:OrganId>000.00.00.H40</edXML:OrganId>",
            )
        ),
        422,
        "signature-invalid",
    ),
    "xsw: sender changed after signing": Case(
        "wrapping",
        xml(
            lambda: sub(
                rb"(<edXML:From>\s*<edXML:OrganId>)000\.01\.02\.H41", rb"\g<1>000.03.04.H41", signed()
            )
        ),
        422,
        "signature-invalid",
    ),
    "xsw: body changed after signing": Case(
        "wrapping",
        xml(lambda: sub(rb"<edXML:Subject>", b"<edXML:Subject>X", signed())),
        422,
        "signature-invalid",
    ),
    "xsw: signed header moved into ds:Object": Case(
        "wrapping", xml(wrapped_header), 422, "signature-invalid"
    ),
    "xsw: unsigned envelope before the signed one": Case(
        "wrapping", xml(second_envelope), 422, "schema-invalid"
    ),
    "xsw: reference to an id": Case(
        "wrapping",
        xml(lambda: signed().replace(b'URI=""', b'URI="#header"')),
        422,
        "signature-reference-invalid",
    ),
    "xsw: reference by xpointer": Case(
        "wrapping",
        xml(lambda: signed().replace(b'URI=""', b'URI="#xpointer(/)"')),
        422,
        "signature-reference-invalid",
    ),
    "xsw: reference to a URL": Case(
        "wrapping",
        xml(lambda: signed().replace(b'URI=""', b'URI="http://127.0.0.1:9/doc"')),
        422,
        "signature-reference-invalid",
    ),
    "xsw: reference without URI": Case(
        "wrapping", xml(lambda: signed().replace(b'URI=""', b"")), 422, "signature-reference-invalid"
    ),
    "xsw: two references": Case(
        "wrapping",
        xml(
            lambda: edit(
                signed(),
                lambda r: ds(r, "SignedInfo/Reference").addnext(
                    etree.fromstring(etree.tostring(ds(r, "SignedInfo/Reference")))
                ),
            )
        ),
        422,
        "signature-reference-invalid",
    ),
    "xsw: XPath transform": Case(
        "wrapping",
        xml(
            lambda: edit(
                signed(),
                lambda r: ds(r, "SignedInfo/Reference/Transforms/Transform").set(
                    "Algorithm", "http://www.w3.org/TR/1999/REC-xpath-19991116"
                ),
            )
        ),
        422,
        "signature-reference-invalid",
    ),
    "xsw: XSLT transform": Case(
        "wrapping",
        xml(
            lambda: edit(
                signed(),
                lambda r: ds(r, "SignedInfo/Reference/Transforms/Transform").set(
                    "Algorithm", "http://www.w3.org/TR/1999/REC-xslt-19991116"
                ),
            )
        ),
        422,
        "signature-reference-invalid",
    ),
    "xsw: base64 transform": Case(
        "wrapping",
        xml(
            lambda: edit(
                signed(),
                lambda r: ds(r, "SignedInfo/Reference/Transforms/Transform").set(
                    "Algorithm", "http://www.w3.org/2000/09/xmldsig#base64"
                ),
            )
        ),
        422,
        "signature-reference-invalid",
    ),
    "xsw: a second signature in the header": Case(
        "wrapping",
        xml(
            lambda: edit(
                signed(),
                lambda r: ds(r, "Signature").addnext(etree.fromstring(etree.tostring(ds(r, "Signature")))),
            )
        ),
        422,
        "schema-invalid",
    ),
    "xsw: enveloping signature as root": Case(
        "wrapping",
        xml(lambda: etree.tostring(ds(etree.fromstring(signed()), "Signature"))),
        422,
        "unknown-type",
    ),
    "xsw: signature without SignedInfo": Case(
        "wrapping",
        xml(lambda: edit(signed(), lambda r: ds(r, "Signature").remove(ds(r, "SignedInfo")))),
        422,
        "signature-invalid",
    ),
    # algorithm and key confusion
    "alg: SHA-1 signature method": Case(
        "algorithms",
        xml(
            lambda: signed().replace(
                b"http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
                b"http://www.w3.org/2000/09/xmldsig#rsa-sha1",
            )
        ),
        422,
        "signature-algorithm-forbidden",
    ),
    "alg: SHA-1 digest": Case(
        "algorithms",
        xml(
            lambda: signed().replace(
                b"http://www.w3.org/2001/04/xmlenc#sha256", b"http://www.w3.org/2000/09/xmldsig#sha1"
            )
        ),
        422,
        "signature-algorithm-forbidden",
    ),
    "alg: MD5 digest": Case(
        "algorithms",
        xml(
            lambda: signed().replace(
                b"http://www.w3.org/2001/04/xmlenc#sha256", b"http://www.w3.org/2001/04/xmldsig-more#md5"
            )
        ),
        422,
        "signature-algorithm-forbidden",
    ),
    "alg: HMAC keyed with the public certificate": Case(
        "algorithms", xml(hmac_signed), 422, "signature-algorithm-forbidden"
    ),
    "alg: DSA signature method": Case(
        "algorithms",
        xml(
            lambda: signed().replace(
                b"http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
                b"http://www.w3.org/2000/09/xmldsig#dsa-sha1",
            )
        ),
        422,
        "signature-algorithm-forbidden",
    ),
    "alg: ECDSA method over an RSA key": Case(
        "algorithms",
        xml(
            lambda: signed().replace(
                b"http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
                b"http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256",
            )
        ),
        422,
        "signature-invalid",
    ),
    "alg: unknown method": Case(
        "algorithms",
        xml(lambda: signed().replace(b"http://www.w3.org/2001/04/xmldsig-more#rsa-sha256", b"urn:none")),
        422,
        "signature-algorithm-forbidden",
    ),
    "alg: empty method": Case(
        "algorithms",
        xml(lambda: signed().replace(b"http://www.w3.org/2001/04/xmldsig-more#rsa-sha256", b"")),
        422,
        "signature-algorithm-forbidden",
    ),
    "alg: no SignatureMethod": Case(
        "algorithms",
        xml(
            lambda: edit(signed(), lambda r: ds(r, "SignedInfo").remove(ds(r, "SignedInfo/SignatureMethod")))
        ),
        422,
        "signature-invalid",
    ),
    "key: another participant's certificate in KeyInfo": Case(
        "keys", xml(swapped_certificate), 422, "signature-invalid"
    ),
    "key: expired certificate": Case("keys", xml(expired), 422, "signer-expired"),
    "key: certificate not yet valid": Case("keys", xml(not_yet_valid), 422, "signer-expired"),
    "key: self-signed certificate": Case("keys", xml(self_signed), 422, "signer-untrusted"),
    "key: the CA's own certificate": Case("keys", xml(ca_signed), 422, "signer-untrusted"),
    "key: a certificate of no participant": Case("keys", xml(unknown_participant), 422, "signer-unknown"),
    "key: signed by another participant": Case(
        "keys", xml(lambda: signed(by="vnpost")), 422, "signer-mismatch"
    ),
    "key: signed by the hub's key": Case("keys", xml(lambda: signed(by="hub")), 422, "signer-mismatch"),
    # broken signature parts
    "sig: empty SignatureValue": Case(
        "signature parts",
        xml(
            lambda: sub(
                rb"<ds:SignatureValue>.*?</ds:SignatureValue>",
                b"<ds:SignatureValue></ds:SignatureValue>",
                signed(),
            )
        ),
        422,
        "signature-invalid",
    ),
    "sig: SignatureValue not base64": Case(
        "signature parts",
        xml(
            lambda: sub(
                rb"<ds:SignatureValue>.*?</ds:SignatureValue>",
                b"<ds:SignatureValue>!!!</ds:SignatureValue>",
                signed(),
            )
        ),
        422,
        "signature-invalid",
    ),
    "sig: SignatureValue non-ASCII": Case(
        "signature parts",
        xml(
            lambda: sub(
                rb"<ds:SignatureValue>.*?</ds:SignatureValue>",
                "<ds:SignatureValue>chữ ký</ds:SignatureValue>".encode(),
                signed(),
            )
        ),
        422,
        "signature-invalid",
    ),
    "sig: SignatureValue truncated": Case(
        "signature parts",
        xml(lambda: sub(rb"(<ds:SignatureValue>.{20}).*?(</ds:SignatureValue>)", rb"\1==\2", signed())),
        422,
        "signature-invalid",
    ),
    "sig: no SignatureValue": Case(
        "signature parts",
        xml(lambda: edit(signed(), lambda r: ds(r, "Signature").remove(ds(r, "SignatureValue")))),
        422,
        "signature-invalid",
    ),
    "sig: two SignatureValues": Case(
        "signature parts",
        xml(
            lambda: edit(
                signed(),
                lambda r: ds(r, "SignatureValue").addnext(
                    etree.fromstring(etree.tostring(ds(r, "SignatureValue")))
                ),
            )
        ),
        422,
        "signature-invalid",
    ),
    "sig: empty DigestValue": Case(
        "signature parts",
        xml(
            lambda: sub(
                rb"<ds:DigestValue>.*?</ds:DigestValue>", b"<ds:DigestValue></ds:DigestValue>", signed()
            )
        ),
        422,
        "signature-invalid",
    ),
    "sig: wrong DigestValue": Case(
        "signature parts",
        xml(
            lambda: sub(
                rb"<ds:DigestValue>.*?</ds:DigestValue>",
                b"<ds:DigestValue>" + base64.b64encode(b"\0" * 32) + b"</ds:DigestValue>",
                signed(),
            )
        ),
        422,
        "signature-invalid",
    ),
    "sig: empty certificate": Case(
        "signature parts",
        xml(
            lambda: sub(
                rb"<ds:X509Certificate>.*?</ds:X509Certificate>",
                b"<ds:X509Certificate></ds:X509Certificate>",
                signed(),
            )
        ),
        422,
        "signature-invalid",
    ),
    "sig: garbage certificate": Case(
        "signature parts",
        xml(
            lambda: sub(
                rb"<ds:X509Certificate>.*?</ds:X509Certificate>",
                b"<ds:X509Certificate>"
                + base64.b64encode(b"\x30\x03\x02\x01\x00")
                + b"</ds:X509Certificate>",
                signed(),
            )
        ),
        422,
        "signature-invalid",
    ),
    "sig: no KeyInfo": Case(
        "signature parts",
        xml(lambda: edit(signed(), lambda r: ds(r, "Signature").remove(ds(r, "KeyInfo")))),
        422,
        "signature-invalid",
    ),
    "sig: no DigestMethod": Case(
        "signature parts",
        xml(
            lambda: edit(
                signed(),
                lambda r: ds(r, "SignedInfo/Reference").remove(ds(r, "SignedInfo/Reference/DigestMethod")),
            )
        ),
        422,
        "signature-invalid",
    ),
    "sig: unknown canonicalization": Case(
        "signature parts",
        xml(
            lambda: edit(
                signed(), lambda r: ds(r, "SignedInfo/CanonicalizationMethod").set("Algorithm", "urn:none")
            )
        ),
        422,
        "signature-invalid",
    ),
    # JSON
    "json: duplicate key": Case(
        "json", js(b'{"type": "ems.order", "type": "payment.request"}'), 400, "json-duplicate-key"
    ),
    "json: duplicate nested key": Case(
        "json", js(b'{"type": "ems.order", "order": {"a": 1, "a": 2}}'), 400, "json-duplicate-key"
    ),
    "json: deep nesting": Case("json", js(b'{"a":' * 200 + b"1" + b"}" * 200), 400, "json-too-deep"),
    "json: deep arrays": Case("json", js(b"[" * 5000 + b"]" * 5000), 400, "json-too-deep"),
    "json: invalid UTF-8": Case("json", js(b'{"type": "\xff"}'), 400, "invalid-encoding"),
    "json: UTF-16": Case("json", js(lambda: json_doc().decode().encode("utf-16")), 400, "invalid-encoding"),
    "json: UTF-8 BOM": Case("json", js(lambda: b"\xef\xbb\xbf" + json_doc()), 400, "json-malformed"),
    "json: NaN": Case("json", js(b'{"type": "ems.order", "n": NaN}'), 400, "json-malformed"),
    "json: Infinity": Case("json", js(b'{"type": "ems.order", "n": Infinity}'), 400, "json-malformed"),
    "json: -Infinity": Case("json", js(b'{"type": "ems.order", "n": -Infinity}'), 400, "json-malformed"),
    "json: huge integer": Case(
        "json", js(b'{"type": "ems.order", "n": ' + b"9" * 5000 + b"}"), 400, "json-malformed"
    ),
    "json: lone high surrogate": Case(
        "json",
        js(lambda: json_doc().replace(b'"H41-HOSTILE', b'"\\ud800H41-HOSTILE', 1)),
        400,
        "json-invalid-unicode",
    ),
    "json: lone low surrogate": Case(
        "json",
        js(lambda: json_doc().replace(b'"H41-HOSTILE', b'"\\udc00H41-HOSTILE', 1)),
        400,
        "json-invalid-unicode",
    ),
    "json: lone surrogate in a key": Case(
        "json", js(lambda: json_doc().replace(b'"flow"', b'"fl\\ud83dow"', 1)), 400, "json-invalid-unicode"
    ),
    "json: reversed surrogate pair": Case(
        "json",
        js(lambda: json_doc().replace(b'"H41-HOSTILE', b'"\\ude00\\ud83dH41-HOSTILE', 1)),
        400,
        "json-invalid-unicode",
    ),
    "json: trailing garbage": Case("json", js(lambda: json_doc() + b" }"), 400, "json-malformed"),
    "json: truncated": Case("json", js(lambda: json_doc()[:-10]), 400, "json-malformed"),
    "json: empty body": Case("json", js(b""), 400, "json-malformed"),
    "json: an array": Case("json", js(b"[1, 2]"), 422, "schema-invalid"),
    "json: a string": Case("json", js(b'"ems.order"'), 422, "schema-invalid"),
    "json: null": Case("json", js(b"null"), 422, "schema-invalid"),
    "json: unknown type": Case("json", js(b'{"type": "invoice"}'), 422, "unknown-type"),
    "json: type not a string": Case("json", js(b'{"type": ["ems.order"]}'), 422, "unknown-type"),
    "json: missing required field": Case(
        "json",
        js(lambda: json.dumps({k: v for k, v in json.loads(json_doc()).items() if k != "flow"}).encode()),
        422,
        "schema-invalid",
    ),
    "json: additional property": Case("json", js(lambda: json_doc(injected=True)), 422, "schema-invalid"),
    "json: wrong type of field": Case(
        "json", js(lambda: json_doc(recipients="vnpost")), 422, "schema-invalid"
    ),
    "json: NUL in a string": Case(
        "json",
        js(lambda: json_doc().replace(b'"H41-HOSTILE', b'"\\u0000H41-HOSTILE', 1)),
        422,
        "schema-invalid",
    ),
    "json: sender of another participant": Case(
        "json", js(lambda: json_doc(sender=OTHER)), 403, "forbidden-sender"
    ),
    # JWS tricks
    "jws: alg none": Case(
        "jws",
        with_jws(
            "payment.request",
            lambda body: jws_with_header({"alg": "none", "b64": False, "crit": ["b64"]}, body, signature=b""),
        ),
        422,
        "signature-algorithm-forbidden",
    ),
    "jws: HS256 keyed with the certificate": Case(
        "jws", with_jws("payment.request", lambda body: _hs256(body)), 422, "signature-algorithm-forbidden"
    ),
    "jws: attached payload": Case(
        "jws", with_jws("payment.request", lambda body: _attached(body)), 422, "signature-invalid"
    ),
    "jws: b64 true": Case(
        "jws",
        with_jws(
            "payment.request",
            lambda body: jws_with_header(
                {"alg": "RS256", "x5c": x5c("bank.vnpay")}, body, identity("bank.vnpay")
            ),
        ),
        422,
        "signature-invalid",
    ),
    "jws: unknown critical header": Case(
        "jws",
        with_jws(
            "payment.request",
            lambda body: jws_with_header(
                {"alg": "RS256", "b64": False, "crit": ["b64", "exp"], "exp": 1, "x5c": x5c("bank.vnpay")},
                body,
                identity("bank.vnpay"),
            ),
        ),
        422,
        "signature-invalid",
    ),
    "jws: no x5c": Case(
        "jws",
        with_jws(
            "payment.request",
            lambda body: jws_with_header(
                {"alg": "RS256", "b64": False, "crit": ["b64"]}, body, identity("bank.vnpay")
            ),
        ),
        422,
        "signature-invalid",
    ),
    "jws: garbage x5c": Case(
        "jws",
        with_jws(
            "payment.request",
            lambda body: jws_with_header(
                {"alg": "RS256", "b64": False, "crit": ["b64"], "x5c": ["AAAA"]}, body, identity("bank.vnpay")
            ),
        ),
        422,
        "signature-invalid",
    ),
    "jws: x5c of another participant": Case(
        "jws",
        with_jws(
            "payment.request",
            lambda body: jws_with_header(
                {"alg": "RS256", "b64": False, "crit": ["b64"], "x5c": x5c(AGENCY)},
                body,
                identity("bank.vnpay"),
            ),
        ),
        422,
        "signature-invalid",
    ),
    "jws: signed by another participant": Case(
        "jws",
        with_jws("payment.request", lambda body: sign_detached(body, identity(OTHER))),
        422,
        "signer-mismatch",
    ),
    "jws: signature over other bytes": Case(
        "jws",
        with_jws(
            "payment.request",
            lambda body: sign_detached(body + b" ", identity(json_sender("payment.request"))),
        ),
        422,
        "signature-invalid",
    ),
    "jws: empty signature part": Case(
        "jws",
        with_jws(
            "payment.request",
            lambda body: (
                sign_detached(body, identity(json_sender("payment.request"))).rsplit(".", 1)[0] + "."
            ),
        ),
        422,
        "signature-invalid",
    ),
    "jws: not three parts": Case(
        "jws", with_jws("payment.request", lambda body: "abc.def"), 422, "signature-invalid"
    ),
    "jws: header not JSON": Case(
        "jws",
        with_jws("payment.request", lambda body: b64url(b"not json") + "..AAAA"),
        422,
        "signature-invalid",
    ),
    "jws: header duplicate member": Case(
        "jws",
        with_jws("payment.request", lambda body: b64url(b'{"alg":"RS256","alg":"none"}') + "..AAAA"),
        422,
        "signature-invalid",
    ),
    "jws: header not base64url": Case(
        "jws", with_jws("payment.request", lambda body: "!!!..AAAA"), 422, "signature-invalid"
    ),
    # routing and duplicates
    "route: no recipient of this hub": Case(
        "routing",
        xml(
            lambda: (
                document()
                .replace(b"000.03.04.H41", b"000.77.77.H41")
                .replace(b"000.00.00.H41", b"000.78.78.H41")
            )
        ),
        422,
        "unknown-recipient",
    ),
    "route: sender is another agency": Case(
        "routing", xml(lambda: document(), as_=OTHER), 403, "forbidden-sender"
    ),
    "route: schema-invalid organ id": Case(
        "routing",
        xml(lambda: sub(rb"(<edXML:From>\s*<edXML:OrganId>)[^<]*", rb"\1not-an-organ", document())),
        422,
        "schema-invalid",
    ),
    "route: payment request to two gateways": Case(
        "routing",
        js(
            lambda: json_doc("payment.request", recipients=["bank.vnpay", "bank.payplatform"]),
            "payment.request",
        ),
        422,
        "too-many-recipients",
    ),
    # authentication
    "auth: no token": Case("auth", xml(lambda: document(), as_=None), 401, "unauthenticated", recorded=False),
    "auth: unknown token": Case(
        "auth",
        xml(lambda: document(), as_=None, headers={"Authorization": "Bearer guessed"}),
        401,
        "unauthenticated",
        recorded=False,
    ),
    "auth: basic scheme": Case(
        "auth",
        xml(
            lambda: document(),
            as_=None,
            headers={"Authorization": "Basic " + base64.b64encode(b"a:b").decode()},
        ),
        401,
        "unauthenticated",
        recorded=False,
    ),
    "auth: token of a near name": Case(
        "auth",
        xml(lambda: document(), as_=None, headers={"Authorization": "Bearer dev-token-000.01.02.H4"}),
        401,
        "unauthenticated",
        recorded=False,
    ),
    "auth: very long token": Case(
        "auth",
        xml(lambda: document(), as_=None, headers={"Authorization": "Bearer " + "x" * 8000}),
        401,
        "unauthenticated",
        recorded=False,
    ),
    "auth: non-ASCII token": Case(
        "auth",
        xml(lambda: document(), as_=None, headers={"Authorization": "Bearer d\xe9v"}),
        401,
        "unauthenticated",
        recorded=False,
    ),
    # media types and request shape
    "media: text/plain": Case(
        "media", xml(b"hello", content_type="text/plain"), 415, "unsupported-media-type"
    ),
    "media: none": Case("media", xml(lambda: document(), content_type=None), 415, "unsupported-media-type"),
    "media: multipart": Case(
        "media",
        xml(lambda: document(), content_type="multipart/form-data; boundary=x"),
        415,
        "unsupported-media-type",
    ),
    "request: Idempotency-Key over 200 characters": Case(
        "media",
        xml(lambda: document(), headers={"Idempotency-Key": "k" * 300}),
        400,
        "invalid-request",
        recorded=False,
    ),
    "request: x-jws-signature over 20000 characters": Case(
        "media",
        js(lambda: json_doc(), headers={"x-jws-signature": "a" * 30000}),
        400,
        "invalid-request",
        recorded=False,
    ),
    "request: wrong method": Case(
        "media", lambda hub: Sent(method="PUT", path="/v1/messages"), 405, "invalid-request", recorded=False
    ),
    "request: NUL in the path": Case(
        "media",
        lambda hub: Sent(method="GET", path="/v1/messages/%00", content_type=None),
        400,
        "invalid-request",
        recorded=False,
    ),
    "request: NUL in the query": Case(
        "media",
        lambda hub: Sent(
            method="GET", path="/v1/deliveries?recipient=a%00b", as_="operator", content_type=None
        ),
        400,
        "invalid-request",
        recorded=False,
    ),
    "request: offset beyond any integer": Case(
        "media",
        lambda hub: Sent(
            method="GET", path=f"/v1/deliveries?offset={10**30}", as_="operator", content_type=None
        ),
        400,
        "invalid-request",
        recorded=False,
    ),
    # cross-participant reads and operator endpoints
    "read: another's message": Case(
        "cross-reads",
        lambda hub: Sent(method="GET", path=f"/v1/messages/{_message_of(hub)}", as_="vnpost"),
        404,
        "not-found",
        recorded=False,
    ),
    "read: another's document": Case(
        "cross-reads",
        lambda hub: Sent(method="GET", path=f"/v1/messages/{_message_of(hub)}/document", as_="vnpost"),
        404,
        "not-found",
        recorded=False,
    ),
    "read: another's receipt": Case(
        "cross-reads",
        lambda hub: Sent(method="GET", path=f"/v1/messages/{_message_of(hub)}/receipt", as_="vnpost"),
        404,
        "not-found",
        recorded=False,
    ),
    "read: a made-up message id": Case(
        "cross-reads",
        lambda hub: Sent(method="GET", path="/v1/messages/../../etc/passwd"),
        404,
        "not-found",
        recorded=False,
    ),
    "read: another's timeline": Case(
        "cross-reads",
        lambda hub: Sent(
            method="GET", path="/v1/timeline/000.01.02.H41,2026%2F11%2F20,123%2FUBND-VP", as_="vnpost"
        ),
        404,
        "not-found",
        recorded=False,
    ),
    "read: ack of a delivery not one's own": Case(
        "cross-reads",
        lambda hub: Sent(
            method="POST", path=f"/v1/inbox/{_delivery_of(hub)}/ack", as_="vnpost", content_type=None
        ),
        404,
        "not-found",
        recorded=False,
    ),
    "operator: deliveries as an agency": Case(
        "cross-reads",
        lambda hub: Sent(method="GET", path="/v1/deliveries"),
        403,
        "forbidden-operator",
        recorded=False,
    ),
    "operator: retry as an agency": Case(
        "cross-reads",
        lambda hub: Sent(method="POST", path=f"/v1/deliveries/{_delivery_of(hub)}/retry", content_type=None),
        403,
        "forbidden-operator",
        recorded=False,
    ),
    "operator: replay as an agency": Case(
        "cross-reads",
        lambda hub: Sent(method="POST", path=f"/v1/messages/{_message_of(hub)}/replay", content_type=None),
        403,
        "forbidden-operator",
        recorded=False,
    ),
    # oversize bodies and header bombs, on every kind of door
    "size: document over the limit": Case(
        "size", xml(b"<a>" + b"x" * (BODY_LIMIT + 10) + b"</a>"), 413, "body-too-large", recorded=False
    ),
    "size: declared length over the limit": Case(
        "size",
        xml(b"<a/>", headers={"Content-Length": str(BODY_LIMIT * 50)}),
        413,
        "body-too-large",
        recorded=False,
    ),
    "size: console login form": Case(
        "size",
        lambda hub: Sent(
            b"operator=" + b"a" * (FORM_LIMIT + 1),
            "application/x-www-form-urlencoded",
            None,
            path="/console/login",
        ),
        413,
        "body-too-large",
        recorded=False,
    ),
    "size: bank callback": Case(
        "size",
        lambda hub: Sent(
            b"{" + b" " * (FORM_LIMIT + 1) + b"}",
            "application/json",
            None,
            path="/adapters/bank/payplatform/paymentconfirm",
        ),
        413,
        "body-too-large",
        recorded=False,
    ),
    "size: inbox ack": Case(
        "size",
        lambda hub: Sent(b"x" * (FORM_LIMIT + 1), "application/json", path="/v1/inbox/x/ack"),
        413,
        "body-too-large",
        recorded=False,
    ),
    "size: replay": Case(
        "size",
        lambda hub: Sent(
            b"x" * (FORM_LIMIT + 1), "application/json", "operator", path="/v1/messages/x/replay"
        ),
        413,
        "body-too-large",
        recorded=False,
    ),
    "headers: 200 headers": Case(
        "headers",
        xml(b"<a/>", headers={f"x-h{i}": "v" for i in range(200)}),
        431,
        "headers-too-large",
        recorded=False,
    ),
    "headers: one 100 KB header": Case(
        "headers", xml(b"<a/>", headers={"x-big": "v" * 100_000}), 431, "headers-too-large", recorded=False
    ),
    "headers: many cookies": Case(
        "headers",
        lambda hub: Sent(
            method="GET",
            path="/console",
            as_=None,
            content_type=None,
            headers={"Cookie": "; ".join(f"c{i}={'v' * 100}" for i in range(1000))},
        ),
        431,
        "headers-too-large",
        recorded=False,
    ),
    # console
    "console: login without the CSRF cookie": Case(
        "console",
        lambda hub: Sent(
            b"operator=operator&password=dev-password-operator",
            "application/x-www-form-urlencoded",
            None,
            path="/console/login",
        ),
        403,
        "forbidden-operator",
        recorded=False,
    ),
    "console: login from another origin": Case(
        "console",
        lambda hub: _login(
            b"operator=operator&password=dev-password-operator", origin="https://evil.example"
        ),
        403,
        "forbidden-operator",
        recorded=False,
    ),
    "console: login with a lone surrogate": Case(
        "console", lambda hub: _login(b"operator=%ED%A0%80&password=%ED%A0%80"), 303, None, recorded=False
    ),
    "console: login with a NUL and a huge password": Case(
        "console",
        lambda hub: _login(b"operator=op%00erator&password=" + b"p" * 60000),
        303,
        None,
        recorded=False,
    ),
    "console: password guessing is locked out": Case(
        "console", lambda hub: _guessed(hub, "intruder", 6), 429, None, recorded=False
    ),
    "console: replay without a session": Case(
        "console",
        lambda hub: Sent(
            b"",
            "application/x-www-form-urlencoded",
            None,
            path=f"/console/messages/{_message_of(hub)}/replay",
        ),
        303,
        None,
        recorded=False,
    ),
    "console: retry without a session": Case(
        "console",
        lambda hub: Sent(
            b"",
            "application/x-www-form-urlencoded",
            None,
            path=f"/console/deliveries/{_delivery_of(hub)}/retry",
        ),
        303,
        None,
        recorded=False,
    ),
    "console: ledger verify without a session": Case(
        "console",
        lambda hub: Sent(b"", "application/x-www-form-urlencoded", None, path="/console/ledger/verify"),
        303,
        None,
        recorded=False,
    ),
    "console: forged session cookie": Case(
        "console",
        lambda hub: Sent(
            method="GET",
            path="/console/ledger",
            as_=None,
            content_type=None,
            headers={"Cookie": "lienthong_session=operator.forged.sig"},
        ),
        303,
        None,
        recorded=False,
    ),
    "console: open redirect after login": Case(
        "console",
        lambda hub: Sent(
            method="GET", path="/console/login?next=https://evil.example/", as_=None, content_type=None
        ),
        200,
        None,
        recorded=False,
    ),
}


def _hs256(body: bytes) -> str:
    protected = b64url(
        json.dumps({"alg": "HS256", "b64": False, "crit": ["b64"], "x5c": x5c("bank.vnpay")}).encode()
    )
    mac = hmac.HMAC(identity("bank.vnpay").cert_der, hashes.SHA256())
    mac.update(protected.encode() + b"." + body)
    return f"{protected}..{b64url(mac.finalize())}"


def _attached(body: bytes) -> str:
    detached = sign_detached(body, identity(json_sender("payment.request")))
    protected, _, signature = detached.split(".")
    return f"{protected}.{b64url(body)}.{signature}"


def _login(form: bytes, *, origin: str | None = None) -> Sent:
    """A console login form with a valid login CSRF token (cookie and field)."""
    headers = {"Cookie": "lienthong_console_login=t0k3n"}
    if origin:
        headers["Origin"] = origin
    return Sent(
        form + b"&csrf=t0k3n",
        "application/x-www-form-urlencoded",
        None,
        path="/console/login",
        headers=headers,
    )


def _guessed(hub: RunningHub, account: str, attempts: int) -> Sent:
    """`attempts` wrong passwords for `account` first; the case's own request is the next guess."""
    for n in range(attempts):
        sent = _login(f"operator={account}&password=guess{n}".encode())
        assert send(hub, sent).status_code in (303, 429)
    return _login(f"operator={account}&password=dev-password-operator".encode())


# -- one message and delivery of the agency's, for the cross-participant cases ----------------------

_OWN: dict[str, str] = {}


def _message_of(hub: RunningHub) -> str:
    if "message" not in _OWN:
        accepted = hub.post(document(), as_=AGENCY)
        assert accepted.status_code == 202, accepted.text
        _OWN["message"] = accepted.json()["id"]
        detail = hub.get(f"/v1/messages/{_OWN['message']}", as_=AGENCY).json()
        _OWN["delivery"] = detail["deliveries"][0]["id"]
    return _OWN["message"]


def _delivery_of(hub: RunningHub) -> str:
    _message_of(hub)
    return _OWN["delivery"]


# -- the test ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningHub]:
    with running_hub(
        tmp_path_factory.mktemp("hub"), workers=0, max_body_bytes=BODY_LIMIT, max_form_bytes=FORM_LIMIT
    ) as running:
        yield running


def send(hub: RunningHub, sent: Sent) -> httpx.Response:
    headers = {**(auth(sent.as_) if sent.as_ else {}), **sent.headers}
    if sent.content_type:
        headers["Content-Type"] = sent.content_type
    if "Content-Length" in headers:  # a length that lies: httpx will not send it, a socket will
        return send_raw(hub, sent.method, sent.path, headers, sent.body)
    raw = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
    with httpx.Client(base_url=hub.url, timeout=30, follow_redirects=False) as client:
        request = client.build_request(sent.method, sent.path, content=sent.body or None, headers=raw)
        return client.send(request)


def send_raw(hub: RunningHub, method: str, path: str, headers: dict[str, str], body: bytes) -> httpx.Response:
    """One request written by hand on a socket; the answer must come without the promised body."""
    host, port = hub.url.removeprefix("http://").split(":")
    head = f"{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n"
    head += "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    with socket.create_connection((host, int(port)), timeout=10) as conn:
        conn.sendall(head.encode("latin-1") + b"\r\n" + body)
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
    status_line, _, rest = answer.partition(b"\r\n")
    raw_headers, _, content = rest.partition(b"\r\n\r\n")
    parsed = [line.split(b":", 1) for line in raw_headers.split(b"\r\n") if b":" in line]
    return httpx.Response(
        int(status_line.split()[1]),
        headers=[(name.strip(), value.strip()) for name, value in parsed],
        content=content,
    )


def test_the_corpus_is_large_and_covers_every_class() -> None:
    classes = {case.cls for case in CASES.values()}
    assert len(CASES) >= 150, len(CASES)
    assert {
        "entities",
        "malformed",
        "encoding",
        "header",
        "wrapping",
        "algorithms",
        "keys",
        "signature parts",
        "json",
        "jws",
        "routing",
        "auth",
        "media",
        "cross-reads",
        "size",
        "headers",
        "console",
    } <= classes


@pytest.mark.parametrize("name", list(CASES))
def test_hostile_input_is_refused_with_its_exact_type(hub: RunningHub, name: str) -> None:
    case = CASES[name]
    sent = case.make(hub)
    before = ledger_counts(hub)
    response = send(hub, sent)
    assert response.status_code == case.status, response.text[:500]
    if case.slug is not None:
        assert response.headers["content-type"].startswith("application/problem+json"), response.text[:300]
        assert response.json()["type"] == f"/problems/{case.slug}", response.text[:500]
    else:
        assert response.status_code < 500
    after = ledger_counts(hub)
    assert after[0] == before[0], "nothing was recorded as accepted"
    assert after[1] == before[1] + (1 if case.recorded else 0), "an intake refusal is recorded, once"
    assert httpx.get(f"{hub.url}/healthz", timeout=10).status_code == 200, "the hub still serves"
