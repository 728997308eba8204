"""Development PKI, trust store, enveloped XMLDSig and detached JWS.

Includes verifiers written here independently of the hub (lxml C14N + cryptography; joserfc for
JWS interop), signature-wrapping attacks, SHA-1 policy and every signer refusal.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.x509.oid import NameOID
from lxml import etree
from signxml import (
    CanonicalizationMethod,
    DigestAlgorithm,
    SignatureMethod,
    XMLSigner,
    XMLVerifier,
)

from hub.devpki import (
    DEV_ORGANIZATION,
    DEV_PARTICIPANTS,
    HUB_PARTICIPANT_ID,
    cert_pem,
    create_ca,
    dev_token,
    generate_dev_pki,
    hash_token,
    is_development_certificate,
    is_development_token_hash,
    issue_certificate,
    key_pem,
)
from hub.problems import Problem
from hub.signing.jws import b64url, sign_detached, verify_detached
from hub.signing.keys import SigningIdentity, identity_from, load_identity
from hub.signing.xmldsig import (
    find_non_xmldsig_signatures,
    find_signatures,
    sign_enveloped,
    verify_enveloped,
)
from hub.trust import TrustStore, read_revoked_serials
from tests.hubtest import SAMPLES

ROOT = Path(__file__).resolve().parent.parent
COMMITTED = ROOT / "certs" / "dev"

DS = "http://www.w3.org/2000/09/xmldsig#"
ED = "http://www.mic.gov.vn/TBT/QCVN_102_2016"
NS = {"ds": DS, "ed": ED}
EXC_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#"
ENVELOPED = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"
KNOWN = [*DEV_PARTICIPANTS, HUB_PARTICIPANT_ID]
NOW = datetime.now(UTC)

# A small status packet in the shape of the axis samples (used when the shared samples are absent).
STATUS_PACKET = """<?xml version="1.0" encoding="UTF-8"?>
<edXML xmlns="http://www.mic.gov.vn/TBT/QCVN_102_2016">
  <edXML:edXMLEnvelope xmlns:edXML="http://www.mic.gov.vn/TBT/QCVN_102_2016">
    <edXML:edXMLHeader>
      <edXML:MessageHeader>
        <edXML:From>
          <edXML:OrganId>000.00.00.H41</edXML:OrganId><edXML:OrganName>UBND Tỉnh Nghệ An</edXML:OrganName>
        </edXML:From>
        <edXML:ResponseFor><edXML:DocumentId>000.00.00.G22,2015/09/30,7816/VPCP-TTĐT</edXML:DocumentId></edXML:ResponseFor>
        <edXML:StatusCode>03</edXML:StatusCode>
        <edXML:Timestamp>2024/05/01 09:30:00</edXML:Timestamp>
      </edXML:MessageHeader>
      <edXML:TraceHeaderList/>
    </edXML:edXMLHeader>
    <edXML:edXMLBody/>
  </edXML:edXMLEnvelope>
</edXML>
""".encode()


# ---------------------------------------------------------------- helpers


def parse(data: bytes) -> etree._Element:
    """Hardened parse; tolerates the stray bytes some axis packets carry before the declaration."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    return etree.fromstring(data[data.index(b"<") :], parser)


def sample(name: str) -> bytes:
    path = SAMPLES / name
    return path.read_bytes() if path.exists() else STATUS_PACKET


def header_of(root: etree._Element) -> etree._Element:
    header = root.find(".//ed:edXMLHeader", NS)
    assert header is not None
    return header


def sign_doc(identity: SigningIdentity, data: bytes | None = None) -> bytes:
    root = parse(data or sample("status_acceptance_03.edxml"))
    return sign_enveloped(root, identity, parent=header_of(root))


def refused(slug: str, call, *args, **kwargs) -> Problem:
    with pytest.raises(Problem) as info:
        call(*args, **kwargs)
    assert info.value.slug == slug, info.value.detail
    return info.value


def write_identity(directory: Path, name: str, key, cert: x509.Certificate) -> SigningIdentity:
    (directory / f"{name}.key").write_bytes(key_pem(key))
    (directory / f"{name}.crt").write_bytes(cert_pem(cert))
    return load_identity(directory / f"{name}.key", directory / f"{name}.crt")


def independent_xml_verify(signed: bytes) -> x509.Certificate:
    """An XMLDSig verifier built only on lxml exclusive C14N and cryptography (not signxml)."""
    doc = parse(signed)
    (signature,) = doc.iter(f"{{{DS}}}Signature")
    signed_info = signature.find("ds:SignedInfo", NS)
    assert signed_info.find("ds:CanonicalizationMethod", NS).get("Algorithm") == EXC_C14N
    (reference,) = signed_info.findall("ds:Reference", NS)
    assert reference.get("URI") == ""
    transforms = [t.get("Algorithm") for t in reference.iterfind("ds:Transforms/ds:Transform", NS)]
    assert transforms == [ENVELOPED, EXC_C14N]
    assert reference.find("ds:DigestMethod", NS).get("Algorithm") == DigestAlgorithm.SHA256.value
    # enveloped-signature transform: the document without the Signature element (its tail kept)
    unsigned = copy.deepcopy(doc)
    (removed,) = unsigned.iter(f"{{{DS}}}Signature")
    parent, previous = removed.getparent(), removed.getprevious()
    if removed.tail:
        if previous is not None:
            previous.tail = (previous.tail or "") + removed.tail
        else:
            parent.text = (parent.text or "") + removed.tail
    parent.remove(removed)
    digest = hashlib.sha256(etree.tostring(unsigned, method="c14n", exclusive=True)).digest()
    assert base64.b64decode(reference.findtext("ds:DigestValue", namespaces=NS)) == digest
    der = base64.b64decode("".join(signature.findtext(".//ds:X509Certificate", namespaces=NS).split()))
    cert = x509.load_der_x509_certificate(der)
    signed_info_c14n = etree.tostring(signed_info, method="c14n", exclusive=True)
    value = base64.b64decode(signature.findtext("ds:SignatureValue", namespaces=NS))
    method = signed_info.find("ds:SignatureMethod", NS).get("Algorithm")
    key = cert.public_key()
    if method == SignatureMethod.RSA_SHA256.value:
        key.verify(value, signed_info_c14n, padding.PKCS1v15(), hashes.SHA256())
    elif method == SignatureMethod.ECDSA_SHA256.value:
        r, s = value[: len(value) // 2], value[len(value) // 2 :]
        der_sig = encode_dss_signature(int.from_bytes(r, "big"), int.from_bytes(s, "big"))
        key.verify(der_sig, signed_info_c14n, ec.ECDSA(hashes.SHA256()))
    else:
        raise AssertionError(f"unexpected signature method {method}")
    return cert


def independent_jws_verify(payload: bytes, jws: str) -> x509.Certificate:
    """RFC 7515 appendix F + RFC 7797 checked with cryptography only."""
    protected, middle, signature = jws.split(".")
    assert middle == ""
    header = json.loads(base64.urlsafe_b64decode(protected + "=" * (-len(protected) % 4)))
    assert header["b64"] is False and header["crit"] == ["b64"]
    cert = x509.load_der_x509_certificate(base64.b64decode(header["x5c"][0]))
    raw = base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4))
    signing_input = protected.encode("ascii") + b"." + payload
    key = cert.public_key()
    if header["alg"] == "RS256":
        key.verify(raw, signing_input, padding.PKCS1v15(), hashes.SHA256())
    else:
        assert header["alg"] == "ES256" and len(raw) == 64
        der_sig = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
        key.verify(der_sig, signing_input, ec.ECDSA(hashes.SHA256()))
    return cert


def forged_jws(header: dict, signature: bytes = b"\x00" * 256) -> str:
    return f"{b64url(json.dumps(header).encode())}..{b64url(signature)}"


# ---------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> Path:
    return Path(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def pki_files(pki: Path) -> list[Path]:
    return generate_dev_pki(pki)


@pytest.fixture(scope="module")
def ca(pki: Path, pki_files) -> tuple:
    key = serialization.load_pem_private_key((pki / "ca.key").read_bytes(), password=None)
    return key, x509.load_pem_x509_certificate((pki / "ca.crt").read_bytes())


@pytest.fixture(scope="module")
def trust(pki: Path, pki_files) -> TrustStore:
    return TrustStore.load([pki / "ca.crt"], KNOWN, pki / "revoked.txt")


@pytest.fixture(scope="module")
def hub_identity(pki: Path, pki_files) -> SigningIdentity:
    return load_identity(pki / "hub.key", pki / "hub.crt")


@pytest.fixture(scope="module")
def agency(pki: Path, pki_files) -> SigningIdentity:
    return load_identity(pki / "000.00.00.H41.key", pki / "000.00.00.H41.crt")


@pytest.fixture(scope="module")
def ec_identity(tmp_path_factory, ca) -> SigningIdentity:
    key, cert = issue_certificate(
        ca[1],
        ca[0],
        "bank.vnpay",
        not_before=NOW - timedelta(days=1),
        not_after=NOW + timedelta(days=30),
        key_type="ec",
    )
    return write_identity(Path(tmp_path_factory.mktemp("ec")), "bank.vnpay", key, cert)


# ---------------------------------------------------------------- development PKI


def test_generate_dev_pki_writes_a_marked_pki(pki: Path, pki_files: list[Path]) -> None:
    names = {path.name for path in pki_files}
    expected = {"ca.crt", "ca.key", "hub.crt", "hub.key", "revoked.txt", "README.md"}
    expected |= {f"{p}.{ext}" for p in DEV_PARTICIPANTS for ext in ("crt", "key")}
    assert names == expected and all(path.exists() for path in pki_files)
    assert "DEVELOPMENT ONLY" in (pki / "README.md").read_text()
    assert read_revoked_serials(pki / "revoked.txt") == frozenset()

    ca_cert = x509.load_pem_x509_certificate((pki / "ca.crt").read_bytes())
    assert ca_cert.not_valid_after_utc - ca_cert.not_valid_before_utc == timedelta(days=7300)
    for stem, cn in [("hub", "lienthong"), *((p, p) for p in DEV_PARTICIPANTS)]:
        cert = x509.load_pem_x509_certificate((pki / f"{stem}.crt").read_bytes())
        assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == cn
        assert cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == DEV_ORGANIZATION
        assert cert.issuer == ca_cert.subject
        assert isinstance(cert.signature_hash_algorithm, hashes.SHA256)
        assert cert.not_valid_after_utc - cert.not_valid_before_utc == timedelta(days=3650)
        assert timedelta(hours=23) < NOW - cert.not_valid_before_utc < timedelta(hours=25)
        assert is_development_certificate(cert)
        pem = (pki / f"{stem}.key").read_bytes()
        assert pem.startswith(b"-----BEGIN PRIVATE KEY-----")  # PKCS#8, unencrypted
        key = serialization.load_pem_private_key(pem, password=None)
        assert isinstance(key, rsa.RSAPrivateKey) and key.key_size == 2048


def test_committed_dev_pki_is_trusted_and_marked() -> None:
    store = TrustStore.load([COMMITTED / "ca.crt"], KNOWN, COMMITTED / "revoked.txt")
    assert all(is_development_certificate(anchor) for anchor in store.anchors)
    assert "DEVELOPMENT ONLY" in (COMMITTED / "README.md").read_text()
    for stem, participant in [("hub", HUB_PARTICIPANT_ID), *((p, p) for p in DEV_PARTICIPANTS)]:
        identity = load_identity(COMMITTED / f"{stem}.key", COMMITTED / f"{stem}.crt")
        assert identity.participant_id == participant
        assert store.identify(identity.certificate) == participant
        assert is_development_certificate(identity.certificate)
    vnpost = load_identity(COMMITTED / "vnpost.key", COMMITTED / "vnpost.crt")
    assert verify_enveloped(parse(sign_doc(vnpost)), store).signer == "vnpost"
    assert verify_detached(b"{}", sign_detached(b"{}", vnpost), store).signer == "vnpost"


def test_is_development_certificate_is_false_for_other_certificates() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Bưu điện"),
            x509.NameAttribute(NameOID.COMMON_NAME, "x"),
        ]
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(NOW)
        .not_valid_after(NOW + timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    assert not is_development_certificate(cert)


def test_development_tokens() -> None:
    assert dev_token("vnpost") == "dev-token-vnpost"
    assert hash_token("dev-token-vnpost") == hashlib.sha256(b"dev-token-vnpost").hexdigest()
    assert is_development_token_hash("vnpost", hash_token("dev-token-vnpost"))
    assert not is_development_token_hash("vnpost", hash_token("dev-token-bank.vnpay"))
    assert not is_development_token_hash("vnpost", hash_token("a real secret"))


# ---------------------------------------------------------------- identities


def test_load_identity_is_cached_and_checks_the_key(pki: Path, hub_identity: SigningIdentity) -> None:
    again = load_identity(pki / "." / "hub.key", pki / "hub.crt")
    assert again is hub_identity
    assert hub_identity.participant_id == "lienthong"
    assert hub_identity.cert_der == hub_identity.certificate.public_bytes(serialization.Encoding.DER)
    thumb = base64.urlsafe_b64decode(hub_identity.key_id + "=")
    assert thumb == hashlib.sha256(hub_identity.cert_der).digest()
    with pytest.raises(ValueError, match="does not match"):
        load_identity(pki / "vnpost.key", pki / "hub.crt")
    with pytest.raises(ValueError, match="does not match"):
        identity_from(ec.generate_private_key(ec.SECP256R1()), hub_identity.certificate)


# ---------------------------------------------------------------- trust store


def test_trust_refusals_have_their_own_slugs(tmp_path: Path, pki: Path, ca, trust: TrustStore) -> None:
    ca_key, ca_cert = ca
    day = timedelta(days=1)
    now = {"not_before": NOW - day, "not_after": NOW + day}
    _, expired = issue_certificate(ca_cert, ca_key, "vnpost", not_before=NOW - 400 * day, not_after=NOW - day)
    _, future = issue_certificate(ca_cert, ca_key, "vnpost", not_before=NOW + day, not_after=NOW + 9 * day)
    _, stranger = issue_certificate(ca_cert, ca_key, "stranger.example", **now)
    foreign_key, foreign_ca = create_ca("another CA")
    _, foreign = issue_certificate(foreign_ca, foreign_key, "vnpost", **now)
    committed_vnpost = x509.load_pem_x509_certificate((COMMITTED / "vnpost.crt").read_bytes())

    refused("signer-expired", trust.identify, expired)
    refused("signer-expired", trust.identify, future)
    refused("signer-unknown", trust.identify, stranger)
    refused("signer-untrusted", trust.identify, foreign)
    refused("signer-untrusted", trust.identify, committed_vnpost)  # another development PKI
    refused("signer-untrusted", trust.identify, ca_cert)  # a CA does not sign documents

    vnpost = x509.load_pem_x509_certificate((pki / "vnpost.crt").read_bytes())
    serial = f"{vnpost.serial_number:x}"
    revoked_file = tmp_path / "revoked.txt"
    revoked_file.write_text(f"# revoked for the test\n\n0x{serial.upper()}  # vnpost, key lost\n")
    revoking = TrustStore.load([pki / "ca.crt"], KNOWN, revoked_file)
    refused("signer-revoked", revoking.identify, vnpost)
    assert trust.identify(vnpost) == "vnpost"

    revoked_file.write_text("not-hex\n")
    with pytest.raises(ValueError, match=r"revoked\.txt:1"):
        read_revoked_serials(revoked_file)


def test_validity_is_rechecked_on_cached_verdicts(ca, trust: TrustStore) -> None:
    _, cert = issue_certificate(
        ca[1], ca[0], "gov-axis", not_before=NOW - timedelta(days=1), not_after=NOW + timedelta(days=1)
    )
    assert trust.identify(cert) == "gov-axis"
    assert trust.identify(cert) == "gov-axis"  # from the cache
    refused("signer-expired", trust.identify, cert, at=NOW + timedelta(days=2))
    assert trust.identify(cert, at=(NOW + timedelta(hours=1)).replace(tzinfo=None)) == "gov-axis"


def test_intermediate_cas_are_walked_and_leaves_cannot_issue(tmp_path: Path, pki: Path, ca) -> None:
    ca_key, ca_cert = ca
    window = {"not_before": NOW - timedelta(days=1), "not_after": NOW + timedelta(days=30)}
    sub_key, sub_ca = issue_certificate(ca_cert, ca_key, "lienthong issuing CA", is_ca=True, **window)
    _, leaf = issue_certificate(sub_ca, sub_key, "bank.payplatform", **window)

    bundle = tmp_path / "anchors.pem"
    bundle.write_bytes((pki / "ca.crt").read_bytes() + cert_pem(sub_ca))
    with_sub = TrustStore.load([bundle], KNOWN, None)
    assert with_sub.intermediates == (sub_ca,)
    assert with_sub.identify(leaf) == "bank.payplatform"

    only_root = TrustStore.load([pki / "ca.crt"], KNOWN, None)
    refused("signer-untrusted", only_root.identify, leaf)
    assert only_root.identify(leaf, intermediates=[sub_ca]) == "bank.payplatform"  # chain sent by the signer

    # a leaf certificate (CA:false) used to issue another certificate is not an issuer
    vnpost_key = serialization.load_pem_private_key((pki / "vnpost.key").read_bytes(), password=None)
    vnpost_cert = x509.load_pem_x509_certificate((pki / "vnpost.crt").read_bytes())
    _, forged = issue_certificate(vnpost_cert, vnpost_key, "bank.vnpay", **window)
    refused("signer-untrusted", only_root.identify, forged, intermediates=[vnpost_cert])


# ---------------------------------------------------------------- XMLDSig


def test_xml_round_trip_changes_nothing_but_the_signature(
    hub_identity: SigningIdentity, trust: TrustStore
) -> None:
    original = parse(sample("status_acceptance_03.edxml"))
    before = etree.tostring(original, encoding="UTF-8")
    signed = sign_enveloped(original, hub_identity, parent=header_of(original))
    assert etree.tostring(original, encoding="UTF-8") == before  # the caller's tree is left as it was
    assert signed.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n<edXML')
    without = re.sub(rb"<ds:Signature .*</ds:Signature>", b"", signed, flags=re.S)
    assert without.split(b"\n", 1)[1] == before

    root = parse(signed)
    assert header_of(root)[-1].tag == f"{{{DS}}}Signature"
    verified = verify_enveloped(root, trust)
    assert (verified.signer, verified.algorithm) == ("lienthong", "rsa-sha256")
    assert verified.certificate == hub_identity.certificate
    assert verified.signed_root.find(".//ed:MessageHeader/ed:StatusCode", NS) is not None
    assert not find_signatures(verified.signed_root)
    assert etree.tostring(verified.signed_root, method="c14n", exclusive=True) == etree.tostring(
        parse(before), method="c14n", exclusive=True
    )


def test_independent_verifier_accepts_hub_xml_signatures(
    hub_identity: SigningIdentity, ec_identity: SigningIdentity, trust: TrustStore
) -> None:
    for identity, algorithm in [(hub_identity, "rsa-sha256"), (ec_identity, "ecdsa-sha256")]:
        signed = sign_doc(identity, sample("edoc_new.edxml"))
        assert independent_xml_verify(signed) == identity.certificate
        verified = verify_enveloped(parse(signed), trust)
        assert (verified.signer, verified.algorithm) == (identity.participant_id, algorithm)


def test_axis_sample_signature_is_not_xmldsig(hub_identity: SigningIdentity, trust: TrustStore) -> None:
    if not (SAMPLES / "edoc_new.edxml").exists():
        pytest.fail("the shared axis samples are missing")
    root = parse((SAMPLES / "edoc_new.edxml").read_bytes())
    # the sample's <Signature> sits in the edXML default namespace, with rsa-sha1 and a cut certificate
    assert find_signatures(root) == [] and len(find_non_xmldsig_signatures(root)) == 1
    refused("signature-invalid", verify_enveloped, root, trust, allow_sha1=True)
    with pytest.raises(ValueError, match="already"):
        sign_enveloped(parse(sign_doc(hub_identity)), hub_identity, parent=root)


def test_tampered_xml_is_refused(agency: SigningIdentity, trust: TrustStore) -> None:
    signed = sign_doc(agency)
    assert b"<edXML:StatusCode>03<" in signed
    problem = refused("signature-invalid", verify_enveloped, parse(signed.replace(b">03<", b">02<")), trust)
    assert "digest" in problem.detail.lower()
    root = parse(signed)
    value = root.find(".//ds:SignatureValue", NS)
    value.text = base64.b64encode(b"\x01" * 256).decode()
    refused("signature-invalid", verify_enveloped, root, trust)


def test_reference_by_id_wrapping_attack_is_refused(agency: SigningIdentity, trust: TrustStore) -> None:
    """Classic XSW: sign only an Id'd MessageHeader, move it into a wrapper, put a forged one in place."""
    root = parse(sample("status_acceptance_03.edxml"))
    header = header_of(root)
    message_header = header.find("ed:MessageHeader", NS)
    message_header.set("Id", "mh")
    etree.SubElement(header, f"{{{DS}}}Signature", Id="placeholder", nsmap={"ds": DS})
    signer = XMLSigner(c14n_algorithm=CanonicalizationMethod.EXCLUSIVE_XML_CANONICALIZATION_1_0)
    signed = signer.sign(root, key=agency.private_key, cert=[agency.certificate], reference_uri="#mh")
    signed = parse(etree.tostring(signed))
    # even unattacked, a signature over part of the document is refused
    refused("signature-reference-invalid", verify_enveloped, copy.deepcopy(signed), trust)

    attacked = signed
    real = attacked.find(".//ed:MessageHeader", NS)
    forged = copy.deepcopy(real)
    del forged.attrib["Id"]
    forged.find(".//ed:From/ed:OrganId", NS).text = "000.03.04.H41"
    real.addprevious(forged)
    wrapper = etree.SubElement(attacked.find(".//ed:edXMLEnvelope", NS), f"{{{ED}}}Wrapper")
    wrapper.append(real)
    # a naive verifier accepts it, and code reading the document itself would see the forged sender
    XMLVerifier().verify(attacked, x509_cert=agency.certificate)
    assert attacked.find(".//ed:edXMLHeader/ed:MessageHeader/ed:From/ed:OrganId", NS).text == "000.03.04.H41"
    refused("signature-reference-invalid", verify_enveloped, attacked, trust)


def test_moving_signed_content_under_a_wrapper_is_refused(agency: SigningIdentity, trust: TrustStore) -> None:
    root = parse(sign_doc(agency))
    real = root.find(".//ed:edXMLHeader/ed:MessageHeader", NS)
    forged = copy.deepcopy(real)
    forged.find(".//ed:From/ed:OrganId", NS).text = "000.03.04.H41"
    real.addprevious(forged)
    etree.SubElement(root.find(".//ed:edXMLEnvelope", NS), f"{{{ED}}}Wrapper").append(real)
    refused("signature-invalid", verify_enveloped, root, trust)


def test_extra_signatures_and_odd_references_are_refused(agency: SigningIdentity, trust: TrustStore) -> None:
    root = parse(sign_doc(agency))
    signature = root.find(".//ds:Signature", NS)
    root.find(".//ed:edXMLEnvelope", NS).append(copy.deepcopy(signature))
    assert "2 XMLDSig" in refused("signature-invalid", verify_enveloped, root, trust).detail

    root = parse(sign_doc(agency))
    signed_info = root.find(".//ds:SignedInfo", NS)
    signed_info.append(copy.deepcopy(signed_info.find("ds:Reference", NS)))
    refused("signature-reference-invalid", verify_enveloped, root, trust)

    root = parse(sign_doc(agency))
    transforms = root.find(".//ds:Transforms", NS)
    etree.SubElement(
        transforms, f"{{{DS}}}Transform", Algorithm="http://www.w3.org/TR/1999/REC-xpath-19991116"
    )
    refused("signature-reference-invalid", verify_enveloped, root, trust)

    refused("signature-invalid", verify_enveloped, parse(sample("status_inbox_01.edxml")), trust)


class _Sha1Signer(XMLSigner):
    """signxml refuses to make SHA-1 signatures by default; real axis peers still send them."""

    def check_deprecated_methods(self) -> None:
        return None


def test_sha1_is_refused_unless_allowed(agency: SigningIdentity, trust: TrustStore) -> None:
    root = parse(sample("status_finish_06.edxml"))
    etree.SubElement(header_of(root), f"{{{DS}}}Signature", Id="placeholder", nsmap={"ds": DS})
    signer = _Sha1Signer(
        signature_algorithm=SignatureMethod.RSA_SHA1,
        digest_algorithm=DigestAlgorithm.SHA1,
        c14n_algorithm=CanonicalizationMethod.EXCLUSIVE_XML_CANONICALIZATION_1_0,
    )
    signed = etree.tostring(signer.sign(root, key=agency.private_key, cert=[agency.certificate]))
    assert b"rsa-sha1" in signed

    problem = refused("signature-algorithm-forbidden", verify_enveloped, parse(signed), trust)
    assert "SHA-1" in problem.detail
    verified = verify_enveloped(parse(signed), trust, allow_sha1=True)
    assert (verified.signer, verified.algorithm) == ("000.00.00.H41", "rsa-sha1")

    # a SHA-1 digest under a SHA-256 signature method is refused as well
    root = parse(sample("status_finish_06.edxml"))
    etree.SubElement(header_of(root), f"{{{DS}}}Signature", Id="placeholder", nsmap={"ds": DS})
    mixed = _Sha1Signer(
        digest_algorithm=DigestAlgorithm.SHA1,
        c14n_algorithm=CanonicalizationMethod.EXCLUSIVE_XML_CANONICALIZATION_1_0,
    ).sign(root, key=agency.private_key, cert=[agency.certificate])
    refused("signature-algorithm-forbidden", verify_enveloped, parse(etree.tostring(mixed)), trust)


def test_xml_signer_refusals(tmp_path: Path, ca, trust: TrustStore) -> None:
    ca_key, ca_cert = ca
    day = timedelta(days=1)
    now = {"not_before": NOW - day, "not_after": NOW + day}
    cases = {
        "signer-expired": issue_certificate(
            ca_cert, ca_key, "vnpost", not_before=NOW - 9 * day, not_after=NOW - timedelta(hours=1)
        ),
        "signer-unknown": issue_certificate(ca_cert, ca_key, "intruder", **now),
    }
    foreign_key, foreign_ca = create_ca("foreign CA")
    cases["signer-untrusted"] = issue_certificate(
        foreign_ca, foreign_key, "vnpost", not_before=NOW - day, not_after=NOW + day
    )
    for slug, (key, cert) in cases.items():
        identity = write_identity(tmp_path, slug, key, cert)
        signed = sign_doc(identity)
        refused(slug, verify_enveloped, parse(signed), trust)
        refused(slug, verify_detached, b"{}", sign_detached(b"{}", identity), trust)
    # the verification moment is a parameter: the expired signer was fine two hours ago
    expired_signed = sign_doc(write_identity(tmp_path, "again", *cases["signer-expired"]))
    assert verify_enveloped(parse(expired_signed), trust, at=NOW - timedelta(hours=2)).signer == "vnpost"

    revoked_file = tmp_path / "revoked.txt"
    key, cert = issue_certificate(ca_cert, ca_key, "vnpost", not_before=NOW - day, not_after=NOW + day)
    revoked_file.write_text(":".join(re.findall("..", f"{cert.serial_number:040x}")) + "\n")
    revoking = TrustStore([ca_cert], KNOWN, read_revoked_serials(revoked_file))
    identity = write_identity(tmp_path, "revoked", key, cert)
    refused("signer-revoked", verify_enveloped, parse(sign_doc(identity)), revoking)
    refused("signer-revoked", verify_detached, b"[]", sign_detached(b"[]", identity), revoking)


# ---------------------------------------------------------------- JWS


def test_jws_round_trip_and_independent_checks(
    hub_identity: SigningIdentity, ec_identity: SigningIdentity, trust: TrustStore
) -> None:
    from joserfc import jws as jose
    from joserfc.jwk import ECKey, RSAKey

    payload = json.dumps({"amount": 150000, "note": "lệ phí"}, ensure_ascii=False).encode()
    for identity, alg, key_class in [(hub_identity, "RS256", RSAKey), (ec_identity, "ES256", ECKey)]:
        token = sign_detached(payload, identity)
        protected, middle, _ = token.split(".")
        assert middle == ""
        header = json.loads(base64.urlsafe_b64decode(protected + "=" * (-len(protected) % 4)))
        assert header == {
            "alg": alg,
            "b64": False,
            "crit": ["b64"],
            "x5c": [base64.b64encode(identity.cert_der).decode()],
            "kid": identity.key_id,
        }
        assert independent_jws_verify(payload, token) == identity.certificate
        public = key_class.import_key(
            identity.certificate.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )
        registry = jose.JWSRegistry(algorithms=[alg])
        registry.max_header_length = 8192  # joserfc's default (512) is too small for a header with x5c
        assert jose.deserialize_compact(token, public, registry=registry, payload=payload).payload == payload
        verified = verify_detached(payload, token, trust)
        assert (verified.signer, verified.algorithm) == (identity.participant_id, alg)
        assert verified.certificate == identity.certificate
        refused("signature-invalid", verify_detached, payload + b" ", token, trust)
        refused("signature-invalid", verify_detached, payload.replace(b"150000", b"150001"), token, trust)


def test_jws_refusals(hub_identity: SigningIdentity, trust: TrustStore) -> None:
    payload = b'{"a":1}'
    token = sign_detached(payload, hub_identity)
    protected, _, signature = token.split(".")
    x5c = [base64.b64encode(hub_identity.cert_der).decode()]
    good = {"alg": "RS256", "b64": False, "crit": ["b64"], "x5c": x5c}

    duplicate = b'{"alg":"RS256","b64":false,"crit":["b64"],"alg":"none"}'
    malformed = [
        "",
        "abc",
        "a.b",
        f"{protected}.{b64url(payload)}.{signature}",  # attached payload
        f"{protected}..{signature}!",
        f"{protected}=..{signature}",  # not base64url
        f"{b64url(b'not json')}..{signature}",
        f"{b64url(b'[1]')}..{signature}",
        f"{b64url(duplicate)}..{signature}",
    ]
    for value in malformed:
        refused("signature-invalid", verify_detached, payload, value, trust)

    for alg in ["none", "HS256", "HS512", "XX1", None]:
        forged = forged_jws({**good, "alg": alg})
        refused("signature-algorithm-forbidden", verify_detached, payload, forged, trust)
    for header in [
        {**good, "b64": True},
        {k: v for k, v in good.items() if k != "b64"},
        {k: v for k, v in good.items() if k != "crit"},
        {**good, "crit": ["b64", "exp"]},
        {k: v for k, v in good.items() if k != "x5c"},
        {**good, "x5c": ["%%%"]},
    ]:
        refused("signature-invalid", verify_detached, payload, forged_jws(header), trust)

    # a valid header re-signed nowhere: header changed after signing, or alg swapped for the key type
    resigned = forged_jws({**good, "kid": "x"}, base64.urlsafe_b64decode(signature + "=="))
    refused("signature-invalid", verify_detached, payload, resigned, trust)
    swapped = forged_jws({**good, "alg": "ES256"}, base64.urlsafe_b64decode(signature + "=="))
    refused("signature-invalid", verify_detached, payload, swapped, trust)


def test_jws_trust_is_decided_per_call_though_the_parsed_header_is_remembered(
    hub_identity: SigningIdentity, trust: TrustStore, ca: tuple
) -> None:
    payload = b'{"a":2}'
    token = sign_detached(payload, hub_identity)
    assert verify_detached(payload, token, trust).signer == hub_identity.participant_id
    # the same header (parsed once, remembered) against a store that trusts another CA, or revokes
    _foreign_key, foreign_ca = create_ca("another CA")
    refused("signer-untrusted", verify_detached, payload, token, TrustStore([foreign_ca], KNOWN))
    serial = hub_identity.certificate.serial_number
    revoking = TrustStore([ca[1]], KNOWN, {serial})
    refused("signer-revoked", verify_detached, payload, token, revoking)
    # and the signature itself is checked every time
    protected, _, signature = token.split(".")
    refused("signature-invalid", verify_detached, payload, f"{protected}..{signature[:-4]}AAAA", trust)
    x5c = [base64.b64encode(hub_identity.cert_der).decode()]
    for odd in ([{"a": 1}], [x5c[0], 7], x5c[0]):  # not a list of strings: refused, not a 5xx
        header = {"alg": "RS256", "b64": False, "crit": ["b64"], "x5c": odd}
        refused("signature-invalid", verify_detached, payload, forged_jws(header), trust)
