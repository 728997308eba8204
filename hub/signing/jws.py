"""Detached JWS with unencoded payload (RFC 7515 appendix F + RFC 7797) over exact body bytes.

Wire form: ``<b64url(protected)>..<b64url(signature)>`` (carried in ``x-jws-signature``); the
protected header is ``{"alg", "b64": false, "crit": ["b64"], "x5c": [leaf, …], "kid"}`` and the
signing input is ``ASCII(b64url(protected)) || "." || payload``.

Written on ``cryptography`` directly: joserfc handles RFC 7797 but attaches URL-safe payloads on its
own, caps payload sizes and wants its own key objects; the format itself is a few lines.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature

from hub.problems import Problem
from hub.signing.keys import SigningIdentity
from hub.trust import TrustStore

MAX_HEADER_CHARS = 64 * 1024
_B64URL = re.compile(r"[A-Za-z0-9_-]*")


@dataclass(frozen=True)
class _Alg:
    family: str  # "RS" (PKCS#1 v1.5), "PS" (PSS) or "ES" (ECDSA)
    hash: type[hashes.HashAlgorithm]
    curve: type[ec.EllipticCurve] | None = None


ALGORITHMS: dict[str, _Alg] = {
    "RS256": _Alg("RS", hashes.SHA256),
    "RS384": _Alg("RS", hashes.SHA384),
    "RS512": _Alg("RS", hashes.SHA512),
    "PS256": _Alg("PS", hashes.SHA256),
    "PS384": _Alg("PS", hashes.SHA384),
    "PS512": _Alg("PS", hashes.SHA512),
    "ES256": _Alg("ES", hashes.SHA256, ec.SECP256R1),
    "ES384": _Alg("ES", hashes.SHA384, ec.SECP384R1),
    "ES512": _Alg("ES", hashes.SHA512, ec.SECP521R1),
}
_EC_ALG_BY_CURVE = {"secp256r1": "ES256", "secp384r1": "ES384", "secp521r1": "ES512"}


@dataclass(frozen=True)
class VerifiedJws:
    signer: str
    certificate: x509.Certificate
    algorithm: str  # JOSE "alg", e.g. "RS256"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64url_decode(text: str, what: str) -> bytes:
    if not _B64URL.fullmatch(text) or len(text) % 4 == 1:
        raise Problem("signature-invalid", f"the JWS {what} is not base64url without padding")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@functools.lru_cache(maxsize=64)
def _protected(alg: str, cert_der: bytes, key_id: str) -> str:
    header = {
        "alg": alg,
        "b64": False,
        "crit": ["b64"],
        "x5c": [base64.b64encode(cert_der).decode("ascii")],
        "kid": key_id,
    }
    return b64url(json.dumps(header, separators=(",", ":")).encode("utf-8"))


def _alg_for(identity: SigningIdentity) -> str:
    key = identity.private_key
    if isinstance(key, rsa.RSAPrivateKey):
        return "RS256"
    alg = _EC_ALG_BY_CURVE.get(key.curve.name)
    if alg is None:
        raise ValueError(f"no JWS algorithm for EC curve {key.curve.name}")
    return alg


def sign_detached(payload: bytes, identity: SigningIdentity) -> str:
    """The detached, unencoded-payload JWS of ``payload`` (RS256 for RSA keys, ES256 for P-256)."""
    alg = _alg_for(identity)
    protected = _protected(alg, identity.cert_der, identity.key_id)
    signing_input = protected.encode("ascii") + b"." + payload
    spec = ALGORITHMS[alg]
    key = identity.private_key
    if isinstance(key, rsa.RSAPrivateKey):
        signature = key.sign(signing_input, padding.PKCS1v15(), spec.hash())
    else:
        r, s = decode_dss_signature(key.sign(signing_input, ec.ECDSA(spec.hash())))
        size = (key.curve.key_size + 7) // 8
        signature = r.to_bytes(size, "big") + s.to_bytes(size, "big")
    return f"{protected}..{b64url(signature)}"


def verify_detached(
    payload: bytes, jws: str, trust: TrustStore, *, at: datetime | None = None
) -> VerifiedJws:
    """Verify a detached JWS over the exact ``payload`` bytes and identify the signer.

    Refusals: ``signature-invalid`` (malformed, not detached/unencoded, bad signature),
    ``signature-algorithm-forbidden`` (none, HS*, unknown) and the trust store's ``signer-*``.
    """
    parts = jws.strip().split(".") if isinstance(jws, str) else []
    if len(parts) != 3:
        raise Problem("signature-invalid", "a JWS has three dot-separated parts")
    protected_b64, attached, signature_b64 = parts
    if attached:
        raise Problem("signature-invalid", "the JWS must be detached: 'header..signature'")
    if len(protected_b64) > MAX_HEADER_CHARS:
        raise Problem("signature-invalid", "the JWS protected header is too large")
    header = _protected_header(protected_b64)

    alg = header.get("alg")
    if not isinstance(alg, str) or alg not in ALGORITHMS:
        raise Problem(
            "signature-algorithm-forbidden",
            f"JWS algorithm {alg!r} is not accepted (accepted: {', '.join(ALGORITHMS)})",
        )
    crit = header.get("crit")
    if header.get("b64") is not False or not isinstance(crit, list) or "b64" not in crit:
        raise Problem(
            "signature-invalid",
            'the JWS must use an unencoded payload: protected header "b64": false and "crit": ["b64"]',
        )
    unknown = [name for name in crit if name != "b64"]
    if unknown:
        raise Problem("signature-invalid", f"the JWS marks unsupported header parameters critical: {unknown}")

    x5c = header.get("x5c")
    if isinstance(x5c, list) and all(isinstance(item, str) for item in x5c):
        leaf, shared_chain = _certificates(tuple(x5c))
        chain = list(shared_chain)
    else:
        leaf, chain = _x5c(x5c)  # refused there, as before
    signer = trust.identify(leaf, at=at, intermediates=chain)
    signature = _b64url_decode(signature_b64, "signature")
    _verify(ALGORITHMS[alg], leaf, protected_b64.encode("ascii") + b"." + payload, signature)
    return VerifiedJws(signer, leaf, alg)


# A sender signs every document with the same protected header (its algorithm and certificate):
# decoding it and reading its certificates was half of verifying a 1 KB JSON document (~65 of
# ~140 us, bench/FINDINGS.md). Both are pure functions of the header's text, so the last few are
# remembered; a refusal is not (it is raised anew), and every trust decision is still made per call.
_PARSED_HEADERS = 64


@functools.lru_cache(maxsize=_PARSED_HEADERS)
def _protected_header(protected_b64: str) -> dict[str, Any]:
    """The protected header, decoded (callers only read it: it is shared)."""
    return _header(_b64url_decode(protected_b64, "protected header"))


@functools.lru_cache(maxsize=_PARSED_HEADERS)
def _certificates(x5c: tuple[str, ...]) -> tuple[x509.Certificate, list[x509.Certificate]]:
    return _x5c(list(x5c))


def _header(raw: bytes) -> dict[str, Any]:
    def no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        result = dict(pairs)
        if len(result) != len(pairs):
            raise ValueError("duplicate member in the protected header")
        return result

    try:
        header = json.loads(raw.decode("utf-8"), object_pairs_hook=no_duplicates)
    except (UnicodeDecodeError, ValueError) as exc:
        raise Problem("signature-invalid", f"the JWS protected header is not valid JSON: {exc}") from exc
    if not isinstance(header, dict):
        raise Problem("signature-invalid", "the JWS protected header is not a JSON object")
    return header


def _x5c(value: Any) -> tuple[x509.Certificate, list[x509.Certificate]]:
    if not isinstance(value, list) or not value or not all(isinstance(item, str) for item in value):
        raise Problem("signature-invalid", 'the JWS protected header needs "x5c": the signer\'s certificate')
    certs = []
    for item in value:
        try:
            certs.append(x509.load_der_x509_certificate(base64.b64decode(item, validate=True)))
        except (binascii.Error, ValueError) as exc:
            raise Problem("signature-invalid", f"a certificate in x5c cannot be read: {exc}") from exc
    return certs[0], certs[1:]


def _verify(spec: _Alg, cert: x509.Certificate, signing_input: bytes, signature: bytes) -> None:
    key = cert.public_key()
    try:
        if spec.family in ("RS", "PS") and isinstance(key, rsa.RSAPublicKey):
            pad = (
                padding.PKCS1v15()
                if spec.family == "RS"
                else padding.PSS(mgf=padding.MGF1(spec.hash()), salt_length=spec.hash().digest_size)
            )
            key.verify(signature, signing_input, pad, spec.hash())
        elif spec.family == "ES" and isinstance(key, ec.EllipticCurvePublicKey):
            assert spec.curve is not None
            size = (key.curve.key_size + 7) // 8
            if not isinstance(key.curve, spec.curve) or len(signature) != 2 * size:
                raise InvalidSignature("curve or signature length does not match the algorithm")
            r, s = int.from_bytes(signature[:size], "big"), int.from_bytes(signature[size:], "big")
            key.verify(encode_dss_signature(r, s), signing_input, ec.ECDSA(spec.hash()))
        else:
            raise InvalidSignature("the certificate's key type does not match the algorithm")
    except InvalidSignature as exc:
        detail = str(exc) or "the signature does not match the payload"
        raise Problem("signature-invalid", f"the JWS does not verify: {detail}") from exc
