"""The hub's own certificates, as published for outsiders who check its signatures.

Receipts and documents signed by the hub can be checked by anyone who holds the hub's
certificate and the CA that issued it. The hub publishes both (``GET /v1/hub/certificates.pem`` and
``GET /v1/hub/jwks.json``): the current signing certificate, the previous ones (set with
``LIENTHONG_HUB_PREVIOUS_CERT_FILES`` after a key roll-over, so older receipts still check), and the
CA chain each leads to. An outsider pins the leaf certificates and checks the chain themselves.
"""

from __future__ import annotations

import base64
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from joserfc.jwk import ECKey, RSAKey

from hub.trust import TrustStore

log = logging.getLogger("hub.certificates")
_EC_ALG = {"secp256r1": "ES256", "secp384r1": "ES384", "secp521r1": "ES512"}


def thumbprint(certificate: x509.Certificate) -> str:
    """base64url SHA-256 of the DER certificate: JOSE ``x5t#S256``, the ``kid`` of the hub's JWS."""
    return base64.urlsafe_b64encode(certificate.fingerprint(hashes.SHA256())).rstrip(b"=").decode()


@dataclass(frozen=True)
class PublishedCertificate:
    certificate: x509.Certificate
    status: str  # "current" or "previous"
    chain: tuple[x509.Certificate, ...]  # issuer first, up to and including the anchor


@dataclass(frozen=True)
class HubCertificates:
    hub_id: str
    published: tuple[PublishedCertificate, ...]

    @classmethod
    def collect(
        cls, hub_id: str, current: x509.Certificate, previous_files: list[Path], trust: TrustStore
    ) -> HubCertificates:
        previous = [
            cert for path in previous_files for cert in x509.load_pem_x509_certificates(path.read_bytes())
        ]
        items = [PublishedCertificate(current, "current", _chain(trust, current))]
        seen = {current.fingerprint(hashes.SHA256())}
        for cert in previous:
            if cert.fingerprint(hashes.SHA256()) not in seen:
                seen.add(cert.fingerprint(hashes.SHA256()))
                items.append(PublishedCertificate(cert, "previous", _chain(trust, cert)))
        return cls(hub_id, tuple(items))

    def leaves(self) -> list[x509.Certificate]:
        return [item.certificate for item in self.published]

    def pem(self) -> bytes:
        """The signing certificates (current first), then every CA certificate of their chains, once."""
        out: list[bytes] = []
        cas: list[x509.Certificate] = []
        for item in self.published:
            out.append(f"# {item.status} signing certificate of {self.hub_id}\n".encode())
            out.append(item.certificate.public_bytes(serialization.Encoding.PEM))
            cas.extend(ca for ca in item.chain if ca not in cas)
        for ca in cas:
            out.append(f"# CA: {ca.subject.rfc4514_string()}\n".encode())
            out.append(ca.public_bytes(serialization.Encoding.PEM))
        return b"".join(out)

    def jwks(self) -> dict[str, Any]:
        """RFC 7517 key set: one key per signing certificate, ``kid`` = ``x5t#S256``, ``x5c`` = chain."""
        return {"keys": [_jwk(item) for item in self.published]}


def _chain(trust: TrustStore, certificate: x509.Certificate) -> tuple[x509.Certificate, ...]:
    """The CA chain from the trust store; none (published alone, with a warning) when it has none."""
    try:
        return trust.chain_of(certificate)
    except ValueError as error:
        log.warning("the hub's certificate is published without its CA chain: %s", error)
        return ()


def _jwk(item: PublishedCertificate) -> dict[str, Any]:
    public_key = item.certificate.public_key()
    if isinstance(public_key, rsa.RSAPublicKey):
        key: dict[str, Any] = RSAKey.import_key(public_key).as_dict(private=False)
        alg = "RS256"
    elif isinstance(public_key, ec.EllipticCurvePublicKey):
        key = ECKey.import_key(public_key).as_dict(private=False)
        alg = _EC_ALG.get(public_key.curve.name, "ES256")
    else:  # pragma: no cover - identities are RSA or EC (hub.signing.keys)
        raise ValueError(f"unsupported key type {type(public_key).__name__}")
    chain = (item.certificate, *item.chain)
    kid = thumbprint(item.certificate)
    key.update(
        {
            "kid": kid,
            "x5t#S256": kid,
            "x5c": [base64.b64encode(c.public_bytes(serialization.Encoding.DER)).decode() for c in chain],
            "use": "sig",
            "alg": alg,
            "status": item.status,
            "not_after": item.certificate.not_valid_after_utc.isoformat(),
        }
    )
    return key
