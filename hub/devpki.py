"""The development PKI: a throw-away CA, the hub's and sample participants' keys, dev bearer tokens.

Everything made here carries the organisation name :data:`DEV_ORGANIZATION` so that production mode
can recognise and refuse it (:func:`is_development_certificate`, :func:`is_development_token_hash`).
``certs/dev/`` in the repository was written by :func:`generate_dev_pki`; regenerate it with
``python -m hub.devpki certs/dev``.
"""

from __future__ import annotations

import hmac
import os
import sys
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from hub.participants import hash_token  # re-exported: how the participants file stores tokens

DEV_PARTICIPANTS: tuple[str, ...] = (
    "000.00.00.H41",
    "000.01.02.H41",
    "000.03.04.H41",
    "vnpost",
    "bank.vnpay",
    "bank.payplatform",
    "gov-axis",
)
HUB_PARTICIPANT_ID = "lienthong"
DEV_ORGANIZATION = "lienthong DEVELOPMENT PKI - NOT FOR PRODUCTION"
DEV_CA_COMMON_NAME = "lienthong development CA"

LEAF_VALIDITY = timedelta(days=3650)
CA_VALIDITY = timedelta(days=7300)
BACKDATE = timedelta(days=1)

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey

_README = """\
# DEVELOPMENT ONLY — NOT FOR PRODUCTION

**These keys are public. Never use them outside development and tests.**

This directory is the development PKI of lienthong, written by `python -m hub.devpki certs/dev`
(`hub.devpki.generate_dev_pki`):

- `ca.crt` / `ca.key`: a self-signed development CA (20 years).
- `hub.crt` / `hub.key`: the hub's own signing identity (CN=lienthong).
- `<participant>.crt` / `<participant>.key`: one identity per sample participant (CN = participant id).
- `revoked.txt`: revoked certificate serials, one hexadecimal serial per line, `#` starts a comment.

Every certificate carries O="{org}"; the hub in production mode refuses to start
with any of them, and with the development bearer tokens (`dev-token-<participant id>`).
"""


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "VN"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, DEV_ORGANIZATION),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _new_key(key_type: Literal["rsa", "ec"]) -> PrivateKey:
    if key_type == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    if key_type == "ec":
        return ec.generate_private_key(ec.SECP256R1())
    raise ValueError(f"unknown key type {key_type!r}")


def create_ca(
    common_name: str = DEV_CA_COMMON_NAME,
    *,
    not_before: datetime | None = None,
    not_after: datetime | None = None,
) -> tuple[PrivateKey, x509.Certificate]:
    """A self-signed RSA-2048 CA certificate (default validity: 20 years, backdated one day)."""
    now = datetime.now(UTC)
    not_before = not_before or now - BACKDATE
    not_after = not_after or not_before + CA_VALIDITY
    key = _new_key("rsa")
    name = _name(common_name)
    public = key.public_key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )
    return key, cert


def issue_certificate(
    ca_cert: x509.Certificate,
    ca_key: PrivateKey,
    participant_id: str,
    *,
    not_before: datetime,
    not_after: datetime,
    key_type: Literal["rsa", "ec"] = "rsa",
    is_ca: bool = False,
) -> tuple[PrivateKey, x509.Certificate]:
    """A new key and a certificate (CN = participant_id) issued by ``ca_cert``.

    ``is_ca=True`` makes an intermediate CA instead of a signing (leaf) certificate.
    """
    key = _new_key(key_type)
    public = key.public_key()
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(participant_id))
        .issuer_name(ca_cert.subject)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=is_ca, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=not is_ca,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=is_ca,
                crl_sign=is_ca,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_cert.public_key()),  # type: ignore[arg-type]
            critical=False,
        )
    )
    if not is_ca:
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH, ExtendedKeyUsageOID.SERVER_AUTH]),
            critical=False,
        )
    return key, builder.sign(ca_key, hashes.SHA256())


def key_pem(key: PrivateKey) -> bytes:
    """PKCS#8 PEM, unencrypted (development keys only)."""
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _write(path: Path, data: bytes, *, private: bool = False) -> Path:
    path.write_bytes(data)
    if private:
        os.chmod(path, 0o600)
    return path


def generate_dev_pki(target: Path, participants: Iterable[str] = DEV_PARTICIPANTS) -> list[Path]:
    """Write a fresh development PKI into ``target`` and return the paths written.

    Files: ``ca.crt``/``ca.key``, ``hub.crt``/``hub.key`` (CN=lienthong), ``<id>.crt``/``<id>.key``
    per participant, an empty ``revoked.txt`` and a README saying DEVELOPMENT ONLY.
    """
    target.mkdir(parents=True, exist_ok=True)
    not_before = datetime.now(UTC).replace(microsecond=0) - BACKDATE
    ca_key, ca_cert = create_ca(not_before=not_before, not_after=not_before + CA_VALIDITY)
    written = [
        _write(target / "ca.crt", cert_pem(ca_cert)),
        _write(target / "ca.key", key_pem(ca_key), private=True),
    ]
    for file_stem, participant_id in [("hub", HUB_PARTICIPANT_ID), *((p, p) for p in participants)]:
        key, cert = issue_certificate(
            ca_cert, ca_key, participant_id, not_before=not_before, not_after=not_before + LEAF_VALIDITY
        )
        written.append(_write(target / f"{file_stem}.crt", cert_pem(cert)))
        written.append(_write(target / f"{file_stem}.key", key_pem(key), private=True))
    written.append(
        _write(
            target / "revoked.txt",
            b"# Revoked certificate serials of the development PKI: one hexadecimal serial per line.\n",
        )
    )
    written.append(_write(target / "README.md", _README.format(org=DEV_ORGANIZATION).encode()))
    return written


def is_development_certificate(cert: x509.Certificate) -> bool:
    """True when the certificate (or its issuer) belongs to a development PKI made here."""
    for name in (cert.subject, cert.issuer):
        for attribute in name.get_attributes_for_oid(NameOID.ORGANIZATION_NAME):
            if attribute.value == DEV_ORGANIZATION:
                return True
    return False


def dev_token(participant_id: str) -> str:
    """The development bearer token of a participant (public: development only)."""
    return f"dev-token-{participant_id}"


def is_development_token_hash(participant_id: str, token_hash: str) -> bool:
    """True when ``token_hash`` is the hash of the participant's public development token."""
    return hmac.compare_digest(hash_token(dev_token(participant_id)), token_hash.strip().lower())


if __name__ == "__main__":  # pragma: no cover - a maintenance command
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "certs/dev")
    for path in generate_dev_pki(out):
        print(path)
