"""The hub's signing key in a hardware security module, through PKCS#11.

X-Road's hwtoken add-on and the government's token-held certificates keep signing keys in an HSM or
a USB token: the key is created there and never leaves. This module presents such a key to the rest
of the hub as a ``cryptography`` private-key object whose ``sign`` is a PKCS#11 ``C_Sign`` on the
token, so the XMLDSig signer (signxml), the JWS signer and everything above them work unchanged.
Exporting the key (``private_bytes``, ``private_numbers``) is impossible by construction; the public
key is read from the token and must match the hub's certificate (checked by ``identity_from``).

Library: python-pkcs11 (typed, Pythonic sessions and attributes; 0.60 ms per RSA-2048 signature on
SoftHSM2 against 0.69 ms for PyKCS11, both maintained). One session per process, signing under a
lock: a PKCS#11 session is not to be used by two threads at once, and a signature takes under a
millisecond. RSA (PKCS#1 v1.5 with SHA-256/384/512) and EC (ECDSA, P-256/384/521) keys.
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

import pkcs11
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from pkcs11 import Attribute, KeyType, Mechanism, ObjectClass
from pkcs11.util.ec import decode_ec_public_key

from hub.signing.keys import SigningIdentity, SigningUnavailable, identity_from

_RSA_MECHANISMS = {
    "sha256": Mechanism.SHA256_RSA_PKCS,
    "sha384": Mechanism.SHA384_RSA_PKCS,
    "sha512": Mechanism.SHA512_RSA_PKCS,
}
_CURVES: dict[str, type[ec.EllipticCurve]] = {
    "secp256r1": ec.SECP256R1,
    "secp384r1": ec.SECP384R1,
    "secp521r1": ec.SECP521R1,
}


class HsmError(RuntimeError):
    """The token cannot be opened, or holds no usable key of that label."""


def _never_leaves(*_: object, **__: object) -> NoReturn:
    raise TypeError("the hub's key lives in the HSM and never leaves it")


class _TokenKey:
    """The private key object on the token, used under one lock.

    A PKCS#11 session can die under the hub (the HSM restarted, a network HSM's link dropped): a
    failed signature reopens the session and finds the key again, once; if that fails too, the
    signature is :class:`SigningUnavailable` — the hub's trouble, not the document's.
    """

    def __init__(self, find: Callable[[bool], Any]) -> None:
        self._find = find  # find(reopen) -> the key object, on a fresh session when reopen is true
        self._key = find(False)
        self.lock = threading.Lock()

    @property
    def key(self) -> Any:
        return self._key

    def sign(self, data: bytes, mechanism: Mechanism) -> bytes:
        with self.lock:
            try:
                return bytes(self._key.sign(data, mechanism=mechanism))
            except pkcs11.PKCS11Error:
                pass
            try:
                self._key = self._find(True)
                return bytes(self._key.sign(data, mechanism=mechanism))
            except (pkcs11.PKCS11Error, HsmError) as error:
                raise SigningUnavailable(
                    f"the HSM cannot sign now: {type(error).__name__}: {error}"
                ) from None


class Pkcs11RsaPrivateKey(rsa.RSAPrivateKey):
    """An RSA key on the token: signs there (PKCS#1 v1.5), cannot be exported."""

    def __init__(self, token_key: _TokenKey, public: rsa.RSAPublicKey) -> None:
        self._token_key = token_key
        self._public = public

    def sign(self, data: Any, padding: Any, algorithm: Any) -> bytes:
        mechanism = _RSA_MECHANISMS.get(getattr(algorithm, "name", ""))
        if not isinstance(padding, PKCS1v15) or mechanism is None:
            raise ValueError(f"the HSM key signs PKCS#1 v1.5 with SHA-2 only, not {padding.name}/{algorithm}")
        return self._token_key.sign(bytes(data), mechanism)

    def public_key(self) -> rsa.RSAPublicKey:
        return self._public

    @property
    def key_size(self) -> int:
        return self._public.key_size

    decrypt = private_numbers = private_bytes = _never_leaves

    def __copy__(self) -> Pkcs11RsaPrivateKey:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> Pkcs11RsaPrivateKey:
        return self


class Pkcs11EcPrivateKey(ec.EllipticCurvePrivateKey):
    """An EC key on the token: ECDSA over a digest computed here, DER-encoded like cryptography's."""

    def __init__(self, token_key: _TokenKey, public: ec.EllipticCurvePublicKey) -> None:
        self._token_key = token_key
        self._public = public

    def sign(self, data: Any, signature_algorithm: Any) -> bytes:
        algorithm = getattr(signature_algorithm, "algorithm", None)
        if not isinstance(signature_algorithm, ec.ECDSA) or not isinstance(algorithm, hashes.HashAlgorithm):
            raise ValueError("the HSM key signs ECDSA with a hash algorithm only")
        raw = self._token_key.sign(hashlib.new(algorithm.name, bytes(data)).digest(), Mechanism.ECDSA)
        half = len(raw) // 2
        return encode_dss_signature(int.from_bytes(raw[:half], "big"), int.from_bytes(raw[half:], "big"))

    def public_key(self) -> ec.EllipticCurvePublicKey:
        return self._public

    @property
    def curve(self) -> ec.EllipticCurve:
        return self._public.curve

    @property
    def key_size(self) -> int:
        return self._public.curve.key_size

    exchange = private_numbers = private_bytes = _never_leaves

    def __copy__(self) -> Pkcs11EcPrivateKey:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> Pkcs11EcPrivateKey:
        return self


def public_key_of(key: Any) -> rsa.RSAPublicKey | ec.EllipticCurvePublicKey:
    """The public half of a token key object, read from its attributes (or its public twin)."""
    if key.key_type == KeyType.RSA:
        modulus = int.from_bytes(key[Attribute.MODULUS], "big")
        exponent = int.from_bytes(key[Attribute.PUBLIC_EXPONENT], "big")
        return rsa.RSAPublicNumbers(exponent, modulus).public_key()
    if key.key_type == KeyType.EC:
        der = decode_ec_public_key_der(key)
        public = serialization.load_der_public_key(der)
        assert isinstance(public, ec.EllipticCurvePublicKey)
        return public
    raise HsmError(f"the token key is of type {key.key_type!r}; use RSA or EC")


def decode_ec_public_key_der(key: Any) -> bytes:
    """SubjectPublicKeyInfo DER of an EC key; private EC objects carry no point, so the public
    object of the same label holds it."""
    public = key if key.object_class == ObjectClass.PUBLIC_KEY else None
    if public is None:
        session = key.session
        found = list(
            session.get_objects({Attribute.CLASS: ObjectClass.PUBLIC_KEY, Attribute.LABEL: key.label})
        )
        if not found:
            raise HsmError(f"no public key labelled {key.label!r} beside the private one")
        public = found[0]
    return bytes(decode_ec_public_key(public))


_sessions: dict[tuple[str, str], Any] = {}
_sessions_lock = threading.Lock()


def _session(module: Path, token_label: str, pin: str, *, reopen: bool = False) -> Any:
    """The process's logged-in session on the token (PKCS#11 logins are per process), opened once."""
    key = (str(module), token_label)
    with _sessions_lock:
        session = _sessions.get(key)
        if session is not None and reopen:
            with contextlib.suppress(pkcs11.PKCS11Error):
                session.close()
            session = None
        if session is None:
            token = pkcs11.lib(str(module)).get_token(token_label=token_label)
            session = _sessions[key] = token.open(user_pin=pin)
        return session


def load_pkcs11_identity(
    module: Path, token_label: str, key_label: str, pin: str, cert_file: Path
) -> SigningIdentity:
    """The hub's identity with its private key on the token; the certificate comes from a file."""

    def find(reopen: bool) -> Any:
        try:
            session = _session(module, token_label, pin, reopen=reopen)
            template = {Attribute.CLASS: ObjectClass.PRIVATE_KEY, Attribute.LABEL: key_label}
            keys = list(session.get_objects(template))
        except pkcs11.PKCS11Error as error:
            raise HsmError(
                f"cannot open token {token_label!r} with {module}: {type(error).__name__}"
            ) from None
        if len(keys) != 1:
            raise HsmError(
                f"token {token_label!r} holds {len(keys)} private keys labelled {key_label!r}; one"
            )
        return keys[0]

    token_key = _TokenKey(find)
    public = public_key_of(token_key.key)
    private: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
    if isinstance(public, rsa.RSAPublicKey):
        private = Pkcs11RsaPrivateKey(token_key, public)
    else:
        if public.curve.name not in _CURVES:
            raise HsmError(f"the EC key is on curve {public.curve.name}; use P-256, P-384 or P-521")
        private = Pkcs11EcPrivateKey(token_key, public)
    certificate = x509.load_pem_x509_certificates(Path(cert_file).read_bytes())[0]
    try:
        return identity_from(private, certificate)
    except ValueError as error:
        raise HsmError(f"token key {key_label!r} / {cert_file}: {error}") from None
