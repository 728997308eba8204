"""Signing identities (private key + certificate), loaded once per process.

Loading an RSA PEM costs 40–60 ms, so :func:`load_identity` caches per resolved path pair and
signers receive ready key objects, never PEM text.
"""

from __future__ import annotations

import base64
import functools
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from hub.trust import common_name

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


class SigningUnavailable(RuntimeError):
    """The hub's key cannot sign now (an HSM unreachable): the hub's trouble, answered 503 and never
    recorded as the document's refusal."""


@dataclass(frozen=True)
class SigningIdentity:
    """Who signs (participant id = certificate CN), with what key and certificate."""

    participant_id: str
    private_key: PrivateKey
    certificate: x509.Certificate
    cert_der: bytes
    key_id: str  # base64url SHA-256 thumbprint of the certificate (same value as JOSE "x5t#S256")


def identity_from(private_key: PrivateKey, certificate: x509.Certificate) -> SigningIdentity:
    """Build an identity from loaded objects; refuses a key that does not match the certificate."""
    if not isinstance(private_key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        raise ValueError(f"unsupported signing key type {type(private_key).__name__}: use RSA or EC")
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    der = serialization.Encoding.DER
    if private_key.public_key().public_bytes(der, spki) != certificate.public_key().public_bytes(der, spki):
        raise ValueError("the private key does not match the certificate's public key")
    participant_id = common_name(certificate)
    if not participant_id:
        raise ValueError("the certificate has no single subject CN naming the participant")
    cert_der = certificate.public_bytes(serialization.Encoding.DER)
    thumbprint = base64.urlsafe_b64encode(certificate.fingerprint(hashes.SHA256())).rstrip(b"=").decode()
    return SigningIdentity(participant_id, private_key, certificate, cert_der, thumbprint)


def load_identity(key_file: Path, cert_file: Path) -> SigningIdentity:
    """Load an unencrypted PEM private key and its PEM certificate (first one in the file), cached."""
    return _load(Path(key_file).resolve(), Path(cert_file).resolve())


@functools.cache
def _load(key_file: Path, cert_file: Path) -> SigningIdentity:
    key = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
    if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        raise ValueError(f"{key_file}: unsupported key type {type(key).__name__}: use RSA or EC")
    cert = x509.load_pem_x509_certificates(cert_file.read_bytes())[0]
    try:
        return identity_from(key, cert)
    except ValueError as exc:
        raise ValueError(f"{key_file} / {cert_file}: {exc}") from exc
