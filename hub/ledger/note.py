"""Checkpoints as C2SP signed notes (c2sp.org/tlog-checkpoint, c2sp.org/signed-note).

A checkpoint's text is three lines, each ending in a newline::

    <origin>
    <tree size, decimal>
    <root hash, standard base64>

followed by a blank line and one signature line per signer: ``— <key name> base64(key id || sig)``.
The key id is ``SHA-256(key name || 0x0A || signature type || public key)[:4]``, big-endian.

How the hub's key maps to a note signature (the key name is the log's origin):

=========== ========================== =================================================
hub key     signature type byte(s)     signature over the note text; public key bytes
=========== ========================== =================================================
Ed25519     ``0x01``                   RFC 8032 Ed25519; the 32-byte raw public key
ECDSA       ``0x02``                   ECDSA over SHA-256 of the text, DER; key id = SHA-256(SPKI DER)[:4]
RSA         ``0xff`` + ``rsa-pkcs1-sha256`` RSASSA-PKCS1-v1_5 with SHA-256; SPKI DER
=========== ========================== =================================================

Ed25519 and ECDSA are the types signed-note assigns; RSA has no byte of its own, so it uses the
``0xff`` escape followed by a long identifier, as the specification recommends. Verifiers need only
the hub's certificate (its public key) and the origin.
"""

from __future__ import annotations

import base64
import hashlib
import struct
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

RSA_TYPE = b"\xffrsa-pkcs1-sha256"
DASH = "\u2014"

PublicKey = ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey | rsa.RSAPublicKey
PrivateKey = ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey


class NoteError(ValueError):
    """Not a well-formed note or checkpoint, or no valid signature by the expected key."""


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes

    def text(self) -> str:
        return f"{self.origin}\n{self.size}\n{base64.b64encode(self.root).decode()}\n"

    @classmethod
    def parse(cls, text: str) -> Checkpoint:
        lines = text.split("\n")
        if len(lines) < 4 or lines[-1] != "" or not lines[0]:
            raise NoteError("a checkpoint is an origin, a size and a root hash, one per line")
        origin, size, root = lines[0], lines[1], lines[2]
        if not size.isdigit() or (size != "0" and size.startswith("0")):
            raise NoteError(f"tree size {size!r} is not a decimal number")
        try:
            raw = base64.b64decode(root, validate=True)
        except ValueError:
            raise NoteError("the root hash is not base64") from None
        if len(raw) != 32:
            raise NoteError("the root hash is not 32 bytes")
        return cls(origin, int(size), raw)


def _key_material(key: PublicKey) -> tuple[bytes, bytes]:
    """(signature type bytes, public key bytes) for the key id."""
    if isinstance(key, ed25519.Ed25519PublicKey):
        return b"\x01", key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    spki = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    if isinstance(key, ec.EllipticCurvePublicKey):
        return b"\x02", spki
    if isinstance(key, rsa.RSAPublicKey):
        return RSA_TYPE, spki
    raise NoteError(f"no note signature type for a {type(key).__name__}")


def key_id(name: str, key: PublicKey) -> bytes:
    kind, public = _key_material(key)
    if kind == b"\x02":  # as github.com/transparency-dev/formats/note does: the SPKI's hash alone
        return hashlib.sha256(public).digest()[:4]
    return hashlib.sha256(name.encode() + b"\n" + kind + public).digest()[:4]


def _ecdsa_hash(_curve: ec.EllipticCurve) -> hashes.HashAlgorithm:
    """SHA-256 on every curve, as transparency-dev's ECDSA note verifier expects."""
    return hashes.SHA256()


def sign_note(text: str, name: str, key: PrivateKey) -> str:
    """The note: ``text`` (ending in a newline), a blank line, and the signature line by ``key``."""
    if not text.endswith("\n"):
        raise NoteError("a note's text ends with a newline")
    message = text.encode()
    if isinstance(key, ed25519.Ed25519PrivateKey):
        signature = key.sign(message)
    elif isinstance(key, ec.EllipticCurvePrivateKey):
        signature = key.sign(message, ec.ECDSA(_ecdsa_hash(key.curve)))
    elif isinstance(key, rsa.RSAPrivateKey):
        signature = key.sign(message, padding.PKCS1v15(), hashes.SHA256())
    else:
        raise NoteError(f"cannot sign a note with a {type(key).__name__}")
    line = base64.b64encode(key_id(name, key.public_key()) + signature).decode()
    return f"{text}\n{DASH} {name} {line}\n"


def split_note(note: str) -> tuple[str, list[tuple[str, bytes]]]:
    """The text and the (key name, raw signature incl. key id) of every signature line."""
    text, sep, signatures = note.rpartition("\n\n")
    if not sep or not signatures.endswith("\n"):
        raise NoteError("a note is its text, a blank line and signature lines")
    lines = []
    for line in signatures[:-1].split("\n"):
        parts = line.split(" ")
        if len(parts) != 3 or parts[0] != DASH:
            raise NoteError(f"not a signature line: {line!r}")
        try:
            lines.append((parts[1], base64.b64decode(parts[2], validate=True)))
        except ValueError:
            raise NoteError("a signature is not base64") from None
    return text + "\n", lines


def verify_note(note: str, name: str, key: PublicKey) -> str:
    """The note's text if it carries a valid signature by (``name``, ``key``); else NoteError."""
    text, signatures = split_note(note)
    wanted = key_id(name, key)
    found = [sig[4:] for signer, sig in signatures if signer == name and sig[:4] == wanted]
    if not found:
        raise NoteError(f"the note is not signed by {name}")
    message = text.encode()
    for signature in found:
        try:
            if isinstance(key, ed25519.Ed25519PublicKey):
                key.verify(signature, message)
            elif isinstance(key, ec.EllipticCurvePublicKey):
                key.verify(signature, message, ec.ECDSA(_ecdsa_hash(key.curve)))
            else:
                key.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
        except InvalidSignature:
            raise NoteError(f"the signature by {name} does not verify") from None
    return text


def add_signature_lines(note: str, lines: str) -> str:
    """The note with more signature lines (a witness's cosignatures) appended."""
    split_note(note)
    extra = "".join(f"{line}\n" for line in lines.splitlines() if line.startswith(DASH + " "))
    return note + extra


def cosignature_time(signature: bytes) -> int:
    """The Unix time in a c2sp.org/tlog-cosignature signature (key id, then 8 bytes of time)."""
    (seconds,) = struct.unpack(">Q", signature[4:12])
    return int(seconds)
