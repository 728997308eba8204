"""verify_enveloped on libxmlsec1: what libxmlsec1 alone would accept and the hub must refuse.

Each attack is first shown to pass libxmlsec1 by itself (python-xmlsec, with the key the attacker
wants used), then shown refused by :func:`hub.signing.xmldsig.verify_enveloped`; and the libxml2 that
lxml and python-xmlsec carry must be one version (they share trees).
"""

from __future__ import annotations

import base64
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
import xmlsec
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from lxml import etree

from bench.documents import EDXML_NS, edxml_document, participant_identity
from hub.devpki import DEV_PARTICIPANTS, HUB_PARTICIPANT_ID, issue_certificate
from hub.problems import Problem
from hub.settings import PROJECT_ROOT
from hub.signing import libxmlsec
from hub.signing.keys import SigningIdentity, identity_from
from hub.signing.xmldsig import (
    _element_index_path,
    end_tag_offset,
    find_signatures,
    sign_enveloped,
    verify_enveloped,
)
from hub.trust import TrustStore
from tests.independent_verify import XMLSEC1, verify_with_xmlsec1

DS = "http://www.w3.org/2000/09/xmldsig#"
DSIG11 = "http://www.w3.org/2009/xmldsig11#"
NS = {"ds": DS, "e": EDXML_NS}
C = xmlsec.constants
CERTS = PROJECT_ROOT / "certs" / "dev"
SENDER = "000.01.02.H41"


@pytest.fixture(scope="module")
def trust() -> TrustStore:
    return TrustStore.load([CERTS / "ca.crt"], [*DEV_PARTICIPANTS, HUB_PARTICIPANT_ID], CERTS / "revoked.txt")


@pytest.fixture(scope="module")
def sender() -> SigningIdentity:
    return participant_identity(SENDER)


@pytest.fixture(scope="module")
def ec_sender() -> SigningIdentity:
    ca_key = serialization.load_pem_private_key((CERTS / "ca.key").read_bytes(), password=None)
    ca_cert = x509.load_pem_x509_certificate((CERTS / "ca.crt").read_bytes())
    now = datetime.now(UTC)
    key, cert = issue_certificate(
        ca_cert,
        ca_key,
        SENDER,
        not_before=now - timedelta(days=1),
        not_after=now + timedelta(days=9),
        key_type="ec",
    )
    return identity_from(key, cert)


def stranger() -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    """A key no one trusts, with a self-signed certificate."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, SENDER)])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=9))
        .sign(key, hashes.SHA256())
    )
    return key, cert


def unsigned() -> etree._Element:
    """A fresh unsigned edXML tree (signing functions here return the signature of a re-parsed copy)."""
    return etree.fromstring(edxml_document(1))


def header(root: etree._Element) -> etree._Element:
    found = root.find("e:edXMLEnvelope/e:edXMLHeader", NS)
    assert found is not None
    return found


def pem(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def xmlsec_sign(
    root: etree._Element,
    key: rsa.RSAPrivateKey,
    cert: x509.Certificate,
    *,
    uris: tuple[str, ...] = ("",),
    transforms: tuple[object, ...] = (C.TransformEnveloped, C.TransformExclC14N),
    method: object = C.TransformRsaSha256,
    hmac_key: bytes | None = None,
) -> etree._Element:
    """Sign with libxmlsec1 itself (in the header), the certificate in KeyInfo; returns the signature of
    the document as it arrives: serialised and parsed again by lxml (lxml's find() does not see elements
    libxmlsec1 made, whose names are not in lxml's dictionary)."""
    signature = xmlsec.template.create(root, C.TransformExclC14N, method, ns="ds")
    header(root).append(signature)
    for uri in uris:
        reference = xmlsec.template.add_reference(signature, C.TransformSha256, uri=uri)
        for transform in transforms:
            xmlsec.template.add_transform(reference, transform)
    data = xmlsec.template.add_x509_data(xmlsec.template.ensure_key_info(signature))
    certificate = etree.SubElement(data, f"{{{DS}}}X509Certificate")
    certificate.text = base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()
    context = xmlsec.SignatureContext()
    if hmac_key is not None:
        context.key = xmlsec.Key.from_binary_data(C.KeyDataHmac, hmac_key)
    else:
        context.key = xmlsec.Key.from_memory(pem(key), C.KeyDataFormatPem)
    for id_holder in root.iter():
        if id_holder.get("Id"):
            context.register_id(id_holder, "Id")
    context.sign(signature)
    received = etree.fromstring(etree.tostring(root))
    [signature] = find_signatures(received)
    return signature


def libxmlsec_alone_accepts(signature: etree._Element, public_key: object) -> None:
    """libxmlsec1 with the key given, every transform and algorithm enabled (its defaults)."""
    context = xmlsec.SignatureContext()
    context.key = xmlsec.Key.from_memory(
        public_key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo),
        C.KeyDataFormatPem,
    )
    for id_holder in signature.getroottree().iter():
        if id_holder.get("Id"):
            context.register_id(id_holder, "Id")
    context.verify(signature)


def refused(slug: str, root: etree._Element, trust: TrustStore, **kwargs: object) -> str:
    with pytest.raises(Problem) as info:
        verify_enveloped(root, trust, **kwargs)
    assert info.value.slug == slug, info.value.detail
    return info.value.detail


# ---------------------------------------------------------------- libxml2


def test_lxml_and_python_xmlsec_run_the_same_libxml2() -> None:
    assert etree.LIBXML_VERSION == xmlsec.get_libxml_version() == etree.LIBXML_COMPILED_VERSION
    assert xmlsec.get_libxml_compiled_version() == etree.LIBXML_VERSION
    libxmlsec.check_libxml2()  # what the hub runs on import


def test_a_libxml2_mismatch_stops_with_both_versions_named() -> None:
    with pytest.raises(RuntimeError) as info:
        libxmlsec.check_libxml2(((2, 14, 6), (2, 14, 6)), ((2, 14, 5), (2, 14, 5)))
    assert "2.14.6" in str(info.value) and "2.14.5" in str(info.value)
    assert "pyproject.toml" in str(info.value)
    with pytest.raises(RuntimeError):  # built with one, running another
        libxmlsec.check_libxml2(((2, 14, 6), (2, 13, 8)), ((2, 14, 6), (2, 14, 6)))


# ---------------------------------------------------------------- what libxmlsec1 accepts, the hub refuses


def document_of(signature: etree._Element) -> etree._Element:
    return signature.getroottree().getroot()


def test_a_reference_to_an_id_is_refused(sender: SigningIdentity, trust: TrustStore) -> None:
    root = unsigned()
    message_header = root.find(".//e:MessageHeader", NS)
    assert message_header is not None
    message_header.set("Id", "mh")
    signature = xmlsec_sign(root, sender.private_key, sender.certificate, uris=("#mh",))
    libxmlsec_alone_accepts(signature, sender.certificate.public_key())
    detail = refused("signature-reference-invalid", document_of(signature), trust)
    assert "URI='#mh'" in detail


def test_extra_references_are_refused(sender: SigningIdentity, trust: TrustStore) -> None:
    root = unsigned()
    message_header = root.find(".//e:MessageHeader", NS)
    assert message_header is not None
    message_header.set("Id", "mh")
    signature = xmlsec_sign(root, sender.private_key, sender.certificate, uris=("", "#mh"))
    libxmlsec_alone_accepts(signature, sender.certificate.public_key())
    assert "2 references" in refused("signature-reference-invalid", document_of(signature), trust)


@pytest.mark.parametrize(
    "transforms",
    [
        (C.TransformEnveloped, C.TransformExclC14N, C.TransformInclC14N),
        (C.TransformEnveloped, C.TransformEnveloped, C.TransformExclC14N),
    ],
    ids=["two canonicalizations", "enveloped twice"],
)
def test_transforms_out_of_the_one_order_are_refused(
    transforms: tuple[object, ...], sender: SigningIdentity, trust: TrustStore
) -> None:
    signature = xmlsec_sign(unsigned(), sender.private_key, sender.certificate, transforms=transforms)
    libxmlsec_alone_accepts(signature, sender.certificate.public_key())
    assert "transforms are" in refused("signature-reference-invalid", document_of(signature), trust)


def test_canonicalization_before_the_enveloped_transform_is_refused(
    sender: SigningIdentity, trust: TrustStore
) -> None:
    """signxml applied the enveloped-signature transform wherever it stood; libxmlsec1 would parse the
    canonical bytes again with its own parser to apply it. The order is refused before either."""
    root = unsigned()
    signed = etree.fromstring(sign_enveloped(root, sender, parent=header(root)))
    transforms = signed.find(".//ds:Transforms", NS)
    assert transforms is not None and len(transforms) == 2
    transforms.append(transforms[0])  # [exc-c14n, enveloped]
    assert "transforms are" in refused("signature-reference-invalid", signed, trust)


def test_no_transforms_at_all_is_refused(sender: SigningIdentity, trust: TrustStore) -> None:
    signature = xmlsec_sign(unsigned(), sender.private_key, sender.certificate, transforms=())
    refused("signature-reference-invalid", document_of(signature), trust)


def test_hmac_signature_method_is_refused(sender: SigningIdentity, trust: TrustStore) -> None:
    """The classic key confusion: an HMAC keyed with the (public) certificate's bytes."""
    der = sender.certificate.public_bytes(serialization.Encoding.DER)
    signature = xmlsec_sign(
        unsigned(), sender.private_key, sender.certificate, method=C.TransformHmacSha256, hmac_key=der
    )
    context = xmlsec.SignatureContext()
    context.key = xmlsec.Key.from_binary_data(C.KeyDataHmac, der)
    context.verify(signature)  # libxmlsec1 alone, given that key, accepts it
    assert "hmac-sha256" in refused("signature-algorithm-forbidden", document_of(signature), trust)


def test_a_key_other_than_the_certificates_is_never_used(sender: SigningIdentity, trust: TrustStore) -> None:
    """Signed with a stranger's key; KeyInfo names the trusted sender's certificate and, beside it, the
    stranger's certificate or key. libxmlsec1 given the stranger's key accepts; the hub uses only the
    first certificate's key, which the trust store accepted."""
    key, cert = stranger()
    sender_der = base64.b64encode(sender.certificate.public_bytes(serialization.Encoding.DER)).decode()

    signature = xmlsec_sign(unsigned(), key, cert)
    data = signature.find("ds:KeyInfo/ds:X509Data", NS)
    assert data is not None
    trusted = etree.Element(f"{{{DS}}}X509Certificate")
    trusted.text = sender_der
    data.insert(0, trusted)  # the trusted certificate first, the stranger's as a "chain"
    libxmlsec_alone_accepts(signature, key.public_key())
    detail = refused("signature-invalid", document_of(signature), trust)
    assert "SignatureValue does not verify" in detail

    # the stranger's key as KeyValue beside the trusted certificate: refused before libxmlsec1 runs
    signature = xmlsec_sign(unsigned(), key, cert)
    certificate = signature.find("ds:KeyInfo/ds:X509Data/ds:X509Certificate", NS)
    key_info = signature.find("ds:KeyInfo", NS)
    assert certificate is not None and key_info is not None
    certificate.text = sender_der
    key_info.insert(0, rsa_key_value(key.public_key()))
    libxmlsec_alone_accepts(signature, key.public_key())
    assert "KeyValue is not the certificate's key" in refused(
        "signature-invalid", document_of(signature), trust
    )


def rsa_key_value(public_key: rsa.RSAPublicKey) -> etree._Element:
    numbers = public_key.public_numbers()
    key_value = etree.Element(f"{{{DS}}}KeyValue")
    rsa_value = etree.SubElement(key_value, f"{{{DS}}}RSAKeyValue")
    for name, number in (("Modulus", numbers.n), ("Exponent", numbers.e)):
        etree.SubElement(rsa_value, f"{{{DS}}}{name}").text = base64.b64encode(
            number.to_bytes((number.bit_length() + 7) // 8, "big")
        ).decode()
    return key_value


def ec_key_value(public_key: ec.EllipticCurvePublicKey) -> etree._Element:
    key_value = etree.Element(f"{{{DS}}}KeyValue")
    ec_value = etree.SubElement(key_value, f"{{{DSIG11}}}ECKeyValue")
    etree.SubElement(ec_value, f"{{{DSIG11}}}NamedCurve", URI="urn:oid:1.2.840.10045.3.1.7")
    etree.SubElement(ec_value, f"{{{DSIG11}}}PublicKey").text = base64.b64encode(
        public_key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    ).decode()
    return key_value


def test_a_key_value_of_the_certificates_own_key_is_accepted(
    sender: SigningIdentity, ec_sender: SigningIdentity, trust: TrustStore
) -> None:
    for identity, key_value, other in [
        (sender, rsa_key_value, lambda: rsa_key_value(stranger()[0].public_key())),
        (ec_sender, ec_key_value, lambda: ec_key_value(ec.generate_private_key(ec.SECP256R1()).public_key())),
    ]:
        root = unsigned()
        signed = etree.fromstring(sign_enveloped(root, identity, parent=header(root)))
        key_info = signed.find(".//ds:KeyInfo", NS)
        assert key_info is not None
        key_info.insert(0, key_value(identity.certificate.public_key()))  # KeyInfo is not signed
        assert verify_enveloped(signed, trust).signer == SENDER
        key_info[0] = other()
        assert "KeyValue" in refused("signature-invalid", signed, trust)
        key_info[0] = etree.Element(f"{{{DSIG11}}}DEREncodedKeyValue")
        key_info[0].text = base64.b64encode(b"\x30\x00").decode()
        assert "DEREncodedKeyValue" in refused("signature-invalid", signed, trust)


# ---------------------------------------------------------------- what callers read


def test_signed_root_is_a_copy_of_what_was_digested(sender: SigningIdentity, trust: TrustStore) -> None:
    """Comments are outside a whole-document reference: they may be added after signing, and the
    signed root shows the text as the canonical form has it, without them and without the signature."""
    root = unsigned()
    signed = sign_enveloped(root, sender, parent=header(root))
    name = "<edXML:OrganName>Văn phòng UBND tỉnh</edXML:OrganName>".encode()
    assert name in signed
    commented = signed.replace(
        name, "<edXML:OrganName>Văn <!-- Sở Tài chính -->phòng UBND tỉnh</edXML:OrganName>".encode()
    )
    document = etree.fromstring(commented)
    before = etree.tostring(document)

    verified = verify_enveloped(document, trust)
    assert etree.tostring(document) == before  # the caller's tree is left as it was
    assert verified.signed_root is not document
    assert not find_signatures(verified.signed_root)
    assert not list(verified.signed_root.iter(etree.Comment))
    organ = verified.signed_root.find(".//e:To/e:OrganName", NS)
    assert organ is not None and organ.text == "Văn phòng UBND tỉnh"  # as signed
    assert etree.tostring(verified.signed_root, method="c14n", exclusive=True) == etree.tostring(
        etree.fromstring(edxml_document(1)), method="c14n", exclusive=True
    )
    assert verify_enveloped(document, trust).signer == SENDER  # the same tree verifies again


def test_a_consumed_tree_is_what_was_digested_without_a_copy(
    sender: SigningIdentity, trust: TrustStore
) -> None:
    """``consume=True`` (intake's call): the caller's tree itself loses signature and comments and is
    returned as ``signed_root``, the same as the copy; a tree that does not verify is not consumed."""
    name = "<edXML:OrganName>Văn phòng UBND tỉnh</edXML:OrganName>".encode()
    root = unsigned()
    commented = sign_enveloped(root, sender, parent=header(root)).replace(
        name, "<edXML:OrganName>Văn <!-- Sở Tài chính -->phòng UBND tỉnh</edXML:OrganName>".encode()
    )
    copied = verify_enveloped(etree.fromstring(commented), trust).signed_root

    document = etree.fromstring(commented)
    verified = verify_enveloped(document, trust, consume=True)
    assert verified.signed_root is document and verified.signer == SENDER
    assert not find_signatures(document) and not list(document.iter(etree.Comment))
    assert etree.tostring(document) == etree.tostring(copied)

    forged = etree.fromstring(commented.replace(b"UBND", "HĐND".encode(), 1))
    before = etree.tostring(forged)
    with pytest.raises(Problem) as refused:
        verify_enveloped(forged, trust, consume=True)
    assert refused.value.slug == "signature-invalid"
    assert etree.tostring(forged) == before


def test_refusals_say_which_part_failed(sender: SigningIdentity, trust: TrustStore) -> None:
    root = unsigned()
    signed = sign_enveloped(root, sender, parent=header(root))
    changed = etree.fromstring(signed.replace(b"Nguy", b"Nguz"))
    assert "digest of the document does not match" in refused("signature-invalid", changed, trust)
    value = etree.fromstring(signed)
    signature_value = value.find(".//ds:SignatureValue", NS)
    assert signature_value is not None
    signature_value.text = base64.b64encode(b"\x01" * 256).decode()
    assert "SignatureValue does not verify" in refused("signature-invalid", value, trust)


def test_only_a_documents_root_is_verified(sender: SigningIdentity, trust: TrustStore) -> None:
    root = unsigned()
    signed = etree.fromstring(sign_enveloped(root, sender, parent=header(root)))
    with pytest.raises(ValueError, match="root element"):
        verify_enveloped(signed[0], trust)


# ---------------------------------------------------------------- signing


def test_signing_in_the_received_bytes_reaches_end_tags_past_the_first_slices(
    sender: SigningIdentity, trust: TrustStore
) -> None:
    """expat is fed 64 KiB slices and stops at the holder's end tag: a holder ending megabytes in (the
    root) is found as well as the header, and every other received byte is kept."""
    received = edxml_document(2, attachment_bytes=300_000)
    assert len(received) > 4 * 64 * 1024
    for holder in ("header", "root"):
        root = etree.fromstring(received)
        parent = header(root) if holder == "header" else root
        expected = (
            received.rindex(b"</edXML:edXMLHeader>") if holder == "header" else received.rindex(b"</edXML>")
        )
        assert end_tag_offset(received, _element_index_path(parent)) == expected
        signed = sign_enveloped(root, sender, parent=parent, received=received)
        start = signed.index(b"<ds:Signature")
        end = signed.index(b"</ds:Signature>") + len(b"</ds:Signature>")
        assert start == expected and signed[:start] + signed[end:] == received
        assert verify_enveloped(etree.fromstring(signed), trust).signer == SENDER
        assert verify_with_xmlsec1_if_present(signed)


def verify_with_xmlsec1_if_present(signed: bytes) -> bool:
    if XMLSEC1 is None:  # the same check runs in tests/test_hub_identity.py where xmlsec1 is required
        return True
    return verify_with_xmlsec1(signed, CERTS / "ca.crt").startswith("OK")


def test_a_key_in_an_hsm_is_signed_with_through_signxml(sender: SigningIdentity) -> None:
    """A key whose private bytes never leave (hub.signing.pkcs11's) is not given to libxmlsec1 (the
    HSM's own signing is tested against SoftHSM2 in tests/test_hsm_pkcs11.py); an exportable one is,
    once."""
    from hub.signing.pkcs11 import Pkcs11RsaPrivateKey, _TokenKey

    on_token = Pkcs11RsaPrivateKey(_TokenKey(lambda _reopen: object()), sender.certificate.public_key())
    assert libxmlsec.signing_key(on_token, sender.certificate) is None
    key = libxmlsec.signing_key(sender.private_key, sender.certificate)
    assert key is not None and libxmlsec.signing_key(sender.private_key, sender.certificate) is key


def test_threads_verify_and_sign_at_once(sender: SigningIdentity, trust: TrustStore) -> None:
    """Intake verifies and signs on many threads; libxmlsec1 runs without the GIL on each request's
    own tree with a duplicate of the one cached key: every result is right, every forgery refused."""
    good = [
        sign_enveloped(r, sender, parent=header(r))
        for r in (etree.fromstring(edxml_document(n)) for n in range(4))
    ]
    bad = [document.replace(b"Nguy", b"Nguz") for document in good]

    def work(n: int) -> tuple[str, str, bool]:
        document = good[n % 4]
        signer = verify_enveloped(etree.fromstring(document), trust).signer
        try:
            verify_enveloped(etree.fromstring(bad[n % 4]), trust)
            forged_refused = False
        except Problem as problem:
            forged_refused = problem.slug == "signature-invalid"
        root = etree.fromstring(edxml_document(100 + n))
        resigned = sign_enveloped(root, sender, parent=header(root), received=edxml_document(100 + n))
        return signer, verify_enveloped(etree.fromstring(resigned), trust).signer, forged_refused

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(work, range(64)))
    assert results == [(SENDER, SENDER, True)] * 64


def test_processing_instructions_before_the_root_are_signed(
    sender: SigningIdentity, trust: TrustStore
) -> None:
    """URI="" is the whole document: a processing instruction before the root element is covered
    (libxmlsec1 and xmlsec1 digest it; signxml digested the root element only)."""
    received = edxml_document(3).replace(b"?>\n<edXML", b'?>\n<?xml-stylesheet href="a.xsl"?>\n<edXML', 1)
    root = etree.fromstring(received)
    assert isinstance(root.getprevious(), etree._ProcessingInstruction)
    signed = sign_enveloped(root, sender, parent=header(root), received=received)
    assert verify_enveloped(etree.fromstring(signed), trust).signer == SENDER
    assert verify_with_xmlsec1_if_present(signed)
    changed = etree.fromstring(signed.replace(b'href="a.xsl"', b'href="b.xsl"'))
    detail = refused("signature-invalid", changed, trust)
    assert "digest of the document does not match" in detail and "processing instructions" in detail
