"""Outsiders can check the hub's word: its certificates are published, receipts verify against them
(and only against them), and `lienthong verify` refuses a receipt a participant signed.

The outsider's verification below uses only `cryptography` and the two published documents, as
docs/api.md shows it — no code of the hub.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from typer.testing import CliRunner

from hub.cli import app
from hub.devpki import issue_certificate
from hub.signing.jws import sign_detached
from hub.signing.keys import load_identity
from tests.hubtest import DEV_CERTS, FIXTURES, RunningHub, running_hub

AGENCY = "000.01.02.H41"


@pytest.fixture(scope="module")
def previous_cert(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A retired signing certificate of the hub (as after a key roll-over)."""
    ca_cert = x509.load_pem_x509_certificate((DEV_CERTS / "ca.crt").read_bytes())
    ca_key = serialization.load_pem_private_key((DEV_CERTS / "ca.key").read_bytes(), None)
    now = datetime.now(UTC)
    _key, cert = issue_certificate(
        ca_cert, ca_key, "lienthong", not_before=now - timedelta(days=400), not_after=now + timedelta(days=1)
    )
    path = tmp_path_factory.mktemp("previous") / "hub-2025.crt"
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return path


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory, previous_cert: Path) -> Iterator[RunningHub]:
    with running_hub(
        tmp_path_factory.mktemp("hub"), workers=0, hub_previous_cert_files=[previous_cert]
    ) as running:
        yield running


def a_receipt(hub: RunningHub) -> tuple[bytes, str]:
    text = (FIXTURES / "edxml" / "document_strict.edxml").read_text(encoding="utf-8")
    text = text.replace("123/UBND-VP", f"{uuid.uuid4().int % 10**6}/UBND-VP")
    accepted = hub.post(text.encode(), as_=AGENCY)
    assert accepted.status_code == 202, accepted.text
    receipt = hub.get(f"/v1/messages/{accepted.json()['id']}/receipt", as_=AGENCY)
    assert receipt.status_code == 200
    return receipt.content, receipt.headers["x-jws-signature"]


# -- the outsider's verification (docs/api.md), written from RFC 7515/7797 and RFC 7517 ------------


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def outsider_verifies(receipt: bytes, jws: str, jwks: dict, ca: x509.Certificate) -> str:
    """Return the `kid` of the hub key that signed `receipt`; raise if anything does not hold."""
    protected, empty, signature = jws.split(".")
    header = json.loads(b64url_decode(protected))
    assert empty == "" and header["b64"] is False and header["crit"] == ["b64"]
    assert header["alg"] == "RS256"
    key = next(k for k in jwks["keys"] if k["kid"] == header["kid"])  # StopIteration: not the hub's
    certificate = x509.load_der_x509_certificate(base64.b64decode(key["x5c"][0]))
    certificate.verify_directly_issued_by(ca)  # the hub's certificate chains to the CA
    certificate.public_key().verify(  # type: ignore[union-attr]
        b64url_decode(signature),
        protected.encode("ascii") + b"." + receipt,
        padding.PKCS1v15(),
        hashes.SHA256(),
    )
    return key["kid"]


def test_the_hub_publishes_its_certificates_current_and_previous_with_the_ca(
    hub: RunningHub, previous_cert: Path
) -> None:
    jwks = httpx.get(f"{hub.url}/v1/hub/jwks.json").json()  # no token: anyone may read it
    current, previous = jwks["keys"]
    hub_cert = x509.load_pem_x509_certificate((DEV_CERTS / "hub.crt").read_bytes())
    ca = x509.load_pem_x509_certificate((DEV_CERTS / "ca.crt").read_bytes())
    assert current["status"] == "current" and previous["status"] == "previous"
    assert base64.b64decode(current["x5c"][0]) == hub_cert.public_bytes(serialization.Encoding.DER)
    assert base64.b64decode(current["x5c"][-1]) == ca.public_bytes(serialization.Encoding.DER)
    thumbprint = base64.urlsafe_b64encode(hub_cert.fingerprint(hashes.SHA256())).rstrip(b"=").decode()
    assert current["kid"] == current["x5t#S256"] == thumbprint
    public_numbers = hub_cert.public_key().public_numbers()  # type: ignore[union-attr]
    assert int.from_bytes(b64url_decode(current["n"]), "big") == public_numbers.n
    assert current["kty"] == "RSA" and current["use"] == "sig"

    pem = httpx.get(f"{hub.url}/v1/hub/certificates.pem")
    assert pem.status_code == 200 and pem.headers["content-type"].startswith("application/x-pem-file")
    published = x509.load_pem_x509_certificates(pem.content)
    old = x509.load_pem_x509_certificate(previous_cert.read_bytes())
    assert published == [hub_cert, old, ca], "current, previous, then the CA once"


def test_an_outsider_checks_a_receipt_with_the_published_key_set(hub: RunningHub) -> None:
    receipt, jws = a_receipt(hub)
    jwks = httpx.get(f"{hub.url}/v1/hub/jwks.json").json()
    ca = x509.load_pem_x509_certificate((DEV_CERTS / "ca.crt").read_bytes())
    assert outsider_verifies(receipt, jws, jwks, ca) == jwks["keys"][0]["kid"]
    with pytest.raises(InvalidSignature):
        outsider_verifies(receipt.replace(b'"state":"', b'"state":"x'), jws, jwks, ca)
    forged = sign_detached(receipt, load_identity(DEV_CERTS / f"{AGENCY}.key", DEV_CERTS / f"{AGENCY}.crt"))
    with pytest.raises(StopIteration):  # a participant's key is not in the hub's key set
        outsider_verifies(receipt, forged, jwks, ca)


def verify_cli(*args: str | Path) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["verify", *map(str, args)], catch_exceptions=False)
    return result.exit_code, result.stdout + result.stderr


def test_lienthong_verify_accepts_the_hubs_receipt_and_refuses_a_participants(
    hub: RunningHub, tmp_path: Path
) -> None:
    receipt, jws = a_receipt(hub)
    path = tmp_path / "receipt.json"
    path.write_bytes(receipt)
    code, said = verify_cli(path, "--jws", jws)
    assert code == 0 and "valid signature by lienthong" in said

    agency = load_identity(DEV_CERTS / f"{AGENCY}.key", DEV_CERTS / f"{AGENCY}.crt")
    forged = sign_detached(receipt, agency)  # a valid signature, by the wrong party
    code, said = verify_cli(path, "--jws", forged)
    assert code == 1 and f"signed by {AGENCY}, not by lienthong" in said
    code, said = verify_cli(path, "--jws", forged, "--expect-signer", AGENCY)
    assert code == 0, "a participant's signature, when that is what the reader expects"
    code, said = verify_cli(path, "--jws", jws, "--expect-signer", AGENCY)
    assert code == 1 and "not by 000.01.02.H41" in said


def test_lienthong_verify_pins_the_published_certificates(hub: RunningHub, tmp_path: Path) -> None:
    receipt, jws = a_receipt(hub)
    (tmp_path / "receipt.json").write_bytes(receipt)
    (tmp_path / "hub.pem").write_bytes(httpx.get(f"{hub.url}/v1/hub/certificates.pem").content)
    code, said = verify_cli(
        tmp_path / "receipt.json", "--jws", jws, "--hub-certificates", tmp_path / "hub.pem"
    )
    assert code == 0 and "valid signature by lienthong" in said

    agency = load_identity(DEV_CERTS / f"{AGENCY}.key", DEV_CERTS / f"{AGENCY}.crt")
    forged = sign_detached(receipt, agency)
    code, said = verify_cli(
        tmp_path / "receipt.json",
        "--jws",
        forged,
        "--hub-certificates",
        tmp_path / "hub.pem",
        "--expect-signer",
        AGENCY,
    )
    assert code == 1 and "signer-unknown" in said, "only the hub's own certificates count"


def test_a_certificate_outside_the_trust_store_is_published_alone(tmp_path: Path) -> None:
    from hub.devpki import generate_dev_pki
    from hub.hub_certificates import HubCertificates
    from hub.trust import TrustStore

    generate_dev_pki(tmp_path, participants=())  # another CA: the hub's certificate does not chain to it
    other_ca = x509.load_pem_x509_certificate((tmp_path / "ca.crt").read_bytes())
    hub_cert = x509.load_pem_x509_certificate((DEV_CERTS / "hub.crt").read_bytes())
    published = HubCertificates.collect("lienthong", hub_cert, [], TrustStore([other_ca], []))
    assert published.leaves() == [hub_cert]
    assert len(published.jwks()["keys"][0]["x5c"]) == 1, "the leaf alone, rather than a 500"
    assert x509.load_pem_x509_certificates(published.pem()) == [hub_cert]
