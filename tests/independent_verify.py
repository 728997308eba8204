"""Independent verifiers for the hub's signatures, written from the specs with lxml + cryptography.

They share no code with hub.signing (nor signxml), so a test that passes them shows that a third party
can check what the hub signed: XMLDSig enveloped with a whole-document reference and exclusive C14N
(W3C XMLDSig 1.1 §4.4.3, §6.6.4), and detached JWS with an unencoded payload (RFC 7515 app. F, RFC 7797).
:func:`verify_with_xmlsec1` hands an XML signature to xmlsec1, an implementation we did not write.
"""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import subprocess
import tempfile
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from lxml import etree

DS = "http://www.w3.org/2000/09/xmldsig#"
EXC_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#"
_HASHES = {"sha256": hashes.SHA256(), "sha384": hashes.SHA384(), "sha512": hashes.SHA512()}


def _verify_raw(
    public_key: object, signature: bytes, data: bytes, hash_name: str, *, raw_ecdsa: bool
) -> None:
    algorithm = _HASHES[hash_name]
    if isinstance(public_key, rsa.RSAPublicKey):
        public_key.verify(signature, data, padding.PKCS1v15(), algorithm)
    elif isinstance(public_key, ec.EllipticCurvePublicKey):
        if raw_ecdsa:  # XMLDSig and JWS both carry ECDSA as r || s
            half = len(signature) // 2
            signature = encode_dss_signature(
                int.from_bytes(signature[:half], "big"), int.from_bytes(signature[half:], "big")
            )
        public_key.verify(signature, data, ec.ECDSA(algorithm))
    else:
        raise AssertionError(f"unexpected key type {type(public_key)}")


def verify_xmldsig_independently(document: bytes) -> x509.Certificate:
    """Check an enveloped whole-document XMLDSig; return the signer's certificate or raise."""
    root = etree.fromstring(document)
    signatures = root.findall(f".//{{{DS}}}Signature")
    assert len(signatures) == 1, "exactly one XMLDSig signature"
    signature = signatures[0]
    signed_info = signature.find(f"{{{DS}}}SignedInfo")
    assert signed_info.find(f"{{{DS}}}CanonicalizationMethod").get("Algorithm") == EXC_C14N
    references = signed_info.findall(f"{{{DS}}}Reference")
    assert len(references) == 1 and references[0].get("URI") == "", "one whole-document reference"
    transforms = [t.get("Algorithm") for t in references[0].iter(f"{{{DS}}}Transform")]
    assert transforms == [f"{DS}enveloped-signature", EXC_C14N]
    digest_algorithm = references[0].find(f"{{{DS}}}DigestMethod").get("Algorithm").rsplit("#", 1)[-1]

    # The reference: the document without the signature, exclusive C14N without comments.
    unsigned = etree.fromstring(document)
    for node in unsigned.iter(f"{{{DS}}}Signature"):
        node.getparent().remove(node)
        break
    canonical = etree.tostring(unsigned, method="c14n", exclusive=True, with_comments=False)
    digest = base64.b64encode(hashlib.new(digest_algorithm, canonical).digest()).decode()
    assert digest == references[0].findtext(f"{{{DS}}}DigestValue").strip(), "digest of the document"

    certificate = x509.load_der_x509_certificate(
        base64.b64decode(signature.findtext(f".//{{{DS}}}X509Certificate"))
    )
    method = signed_info.find(f"{{{DS}}}SignatureMethod").get("Algorithm").rsplit("-", 1)[-1]
    _verify_raw(
        certificate.public_key(),
        base64.b64decode(signature.findtext(f"{{{DS}}}SignatureValue")),
        etree.tostring(signed_info, method="c14n", exclusive=True, with_comments=False),
        method,
        raw_ecdsa=True,
    )
    return certificate


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def verify_detached_jws_independently(payload: bytes, jws: str, certificate: x509.Certificate) -> bool:
    """Check a detached, unencoded-payload JWS (`header..signature`) with the given certificate."""
    protected, empty, signature = jws.split(".")
    assert empty == "", "detached: the payload part is empty"
    header = json.loads(_b64url_decode(protected))
    assert header["b64"] is False and "b64" in header["crit"]
    hash_name = {"RS256": "sha256", "ES256": "sha256", "RS384": "sha384", "RS512": "sha512"}[header["alg"]]
    signing_input = protected.encode("ascii") + b"." + payload
    _verify_raw(certificate.public_key(), _b64url_decode(signature), signing_input, hash_name, raw_ecdsa=True)
    return True


def verify_with_xmlsec1(document: bytes, trusted_ca: Path) -> str:
    """Have xmlsec1 (the XML Security Library's command line, not Python) verify an enveloped signature.

    Returns xmlsec1's report; raises AssertionError with it when the signature does not verify against
    a certificate chain ending at ``trusted_ca``. The test calling it skips when xmlsec1 is absent
    (``make test`` installs it when it may; see the Makefile).
    """
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "signed.xml"
        path.write_bytes(document)
        result = subprocess.run(
            ["xmlsec1", "--verify", "--trusted-pem", str(trusted_ca), str(path)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    report = result.stdout + result.stderr
    assert result.returncode == 0 and report.startswith("OK"), report
    return report


XMLSEC1 = shutil.which("xmlsec1")
