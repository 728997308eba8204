"""Participants authenticate by TLS client certificate (mutual TLS), against a real TLS listener.

The hub serves HTTPS with a server certificate from the development CA; participants present the
development PKI's certificates. The certificate is mapped to a participant by the trust store; a
bearer token still works beside it (and must agree with it); with
LIENTHONG_REQUIRE_CLIENT_CERTIFICATE a certificate is required.
"""

from __future__ import annotations

import ipaddress
import ssl
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from hub.api import create_app
from hub.context import HubContext
from hub.devpki import generate_dev_pki, issue_certificate
from hub.servers import run_in_thread
from hub.settings import Settings
from hub.startup_checks import production_hazards
from hub.tls import uvicorn_tls_options
from tests.hubtest import DEV_CERTS, FIXTURES, auth

AGENCY = "000.01.02.H41"
OTHER = "000.03.04.H41"
CA_CERT = x509.load_pem_x509_certificate((DEV_CERTS / "ca.crt").read_bytes())
CA_KEY = serialization.load_pem_private_key((DEV_CERTS / "ca.key").read_bytes(), None)


def _write(directory: Path, name: str, key: rsa.RSAPrivateKey, cert: x509.Certificate) -> tuple[Path, Path]:
    key_path, cert_path = directory / f"{name}.key", directory / f"{name}.crt"
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return cert_path, key_path


def server_certificate(directory: Path) -> tuple[Path, Path]:
    """A TLS server certificate for 127.0.0.1 from the development CA."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "lienthong")]))
        .issuer_name(CA_CERT.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), False)
        .sign(CA_KEY, hashes.SHA256())  # type: ignore[arg-type]
    )
    return _write(directory, "server", key, cert)


@contextmanager
def tls_hub(directory: Path, **overrides: object) -> Iterator[str]:
    cert, key = server_certificate(directory)
    settings = Settings(
        data_dir=directory / "data", tls_cert_file=cert, tls_key_file=key, workers=0, **overrides
    )
    server = run_in_thread(create_app(settings, workers=0, pollers=False), **uvicorn_tls_options(settings))
    try:
        yield server.base_url.replace("http://", "https://")
    finally:
        server.stop()


def client(certificate: tuple[Path, Path] | None = None) -> httpx.Client:
    context = ssl.create_default_context(cafile=str(DEV_CERTS / "ca.crt"))
    if certificate:
        context.load_cert_chain(str(certificate[0]), str(certificate[1]))
    return httpx.Client(verify=context, timeout=30)


def dev(participant: str) -> tuple[Path, Path]:
    return DEV_CERTS / f"{participant}.crt", DEV_CERTS / f"{participant}.key"


def document() -> bytes:
    text = (FIXTURES / "edxml" / "document_strict.edxml").read_bytes()
    return text.replace(b"123/UBND-VP", f"{uuid.uuid4().int % 10**6}/UBND-VP".encode())


XML = {"Content-Type": "application/xml"}


@pytest.fixture(scope="module")
def hub_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with tls_hub(tmp_path_factory.mktemp("tls")) as url:
        yield url


def test_a_client_certificate_authenticates_its_participant(hub_url: str) -> None:
    with client(dev(AGENCY)) as agency:
        accepted = agency.post(f"{hub_url}/v1/messages", content=document(), headers=XML)
        assert accepted.status_code == 202, accepted.text
        detail = agency.get(f"{hub_url}/v1/messages/{accepted.json()['id']}")
        assert detail.status_code == 200 and detail.json()["submitted_by"] == AGENCY
    with client(dev("vnpost")) as stranger:
        hidden = stranger.get(f"{hub_url}/v1/messages/{accepted.json()['id']}")
        assert hidden.status_code == 404, "the certificate's participant, not anyone's, reads"


def test_a_token_beside_the_certificate_must_name_the_same_participant(hub_url: str) -> None:
    with client(dev(AGENCY)) as agency:
        same = agency.post(f"{hub_url}/v1/messages", content=document(), headers={**XML, **auth(AGENCY)})
        assert same.status_code == 202, same.text
        other = agency.post(f"{hub_url}/v1/messages", content=document(), headers={**XML, **auth(OTHER)})
        assert other.status_code == 401 and other.json()["type"] == "/problems/unauthenticated"
        assert "different participants" in other.json()["detail"]


def test_bearer_tokens_still_work_over_tls_without_a_certificate(hub_url: str) -> None:
    with client() as anonymous:
        accepted = anonymous.post(
            f"{hub_url}/v1/messages", content=document(), headers={**XML, **auth(AGENCY)}
        )
        assert accepted.status_code == 202, accepted.text
        missing = anonymous.post(f"{hub_url}/v1/messages", content=document(), headers=XML)
        assert missing.status_code == 401


def test_a_certificate_of_another_ca_fails_the_handshake(hub_url: str, tmp_path: Path) -> None:
    generate_dev_pki(tmp_path, participants=(AGENCY,))  # same names, another CA
    foreign = client((tmp_path / f"{AGENCY}.crt", tmp_path / f"{AGENCY}.key"))
    with foreign, pytest.raises(httpx.TransportError):
        foreign.post(f"{hub_url}/v1/messages", content=document(), headers=XML)


def test_a_valid_certificate_of_no_participant_is_unauthenticated(hub_url: str, tmp_path: Path) -> None:
    now = datetime.now(UTC)
    key, cert = issue_certificate(
        CA_CERT,
        CA_KEY,
        "999.99.99.H41",
        not_before=now - timedelta(days=1),
        not_after=now + timedelta(days=9),
    )
    with client(_write(tmp_path, "stranger", key, cert)) as stranger:  # type: ignore[arg-type]
        refused = stranger.post(f"{hub_url}/v1/messages", content=document(), headers=XML)
        assert refused.status_code == 401 and refused.json()["type"] == "/problems/unauthenticated"
        assert "999.99.99.H41" in refused.json()["detail"]


def test_required_mutual_tls_refuses_a_bearer_token_alone(tmp_path: Path) -> None:
    with tls_hub(tmp_path, require_client_certificate=True) as url:
        with client() as anonymous:
            refused = anonymous.post(
                f"{url}/v1/messages", content=document(), headers={**XML, **auth(AGENCY)}
            )
            assert (
                refused.status_code == 401
                and "TLS client certificate is required" in refused.json()["detail"]
            )
            assert anonymous.get(f"{url}/healthz").status_code == 200, "the open endpoints stay open"
        with client(dev(AGENCY)) as agency:
            assert agency.post(f"{url}/v1/messages", content=document(), headers=XML).status_code == 202


def test_production_refuses_required_mutual_tls_without_tls(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, require_client_certificate=True)
    assert any("REQUIRE_CLIENT_CERTIFICATE" in hazard for hazard in production_hazards(HubContext(settings)))
    served = Settings(data_dir=tmp_path, require_client_certificate=True, tls_cert_file=tmp_path / "x.crt")
    assert not any(
        "REQUIRE_CLIENT_CERTIFICATE" in hazard for hazard in production_hazards(HubContext(served))
    )
