"""An independent verifier of the ledger's evidence, written from RFC 9162 §2.1, c2sp.org/signed-note,
c2sp.org/tlog-checkpoint and c2sp.org/tlog-cosignature — and from docs/ledger.md — without importing
anything from ``hub``. The tests hold the hub's proofs and checkpoints against it.

It takes a different road from hub/ledger/merkle.py on purpose: proofs are checked by rebuilding the
roots recursively along the RFC's own definitions of PATH and SUBPROOF (consuming the proof from its
end), not with the RFC's iterative bit-twiddling algorithm.
"""

from __future__ import annotations

import base64
import hashlib
import json
import struct
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def leaf(entry: bytes) -> bytes:
    return sha256(b"\x00" + entry)


def node(left: bytes, right: bytes) -> bytes:
    return sha256(b"\x01" + left + right)


def largest_power_of_two_below(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def mth(leaves: list[bytes]) -> bytes:
    """MTH(D[n]) over leaf hashes, straight from the definition."""
    if not leaves:
        return sha256(b"")
    if len(leaves) == 1:
        return leaves[0]
    k = largest_power_of_two_below(len(leaves))
    return node(mth(leaves[:k]), mth(leaves[k:]))


def root_from_inclusion(leaf_hash: bytes, index: int, size: int, proof: list[bytes]) -> bytes | None:
    """The root PATH(index, D[size]) leads to, or None when the proof has the wrong length."""
    if size == 1:
        return leaf_hash if not proof else None
    if not proof:
        return None
    k = largest_power_of_two_below(size)
    sibling, inner = proof[-1], proof[:-1]
    if index < k:
        below = root_from_inclusion(leaf_hash, index, k, inner)
        return None if below is None else node(below, sibling)
    below = root_from_inclusion(leaf_hash, index - k, size - k, inner)
    return None if below is None else node(sibling, below)


def inclusion_ok(leaf_hash: bytes, index: int, size: int, proof: list[bytes], root: bytes) -> bool:
    return 0 <= index < size and root_from_inclusion(leaf_hash, index, size, proof) == root


def _roots_from_subproof(
    m: int, n: int, proof: list[bytes], whole: bool, old_root: bytes
) -> tuple[bytes, bytes] | None:
    """(old subtree hash, new subtree hash) that SUBPROOF(m, D[n], whole) stands for."""
    if m == n:
        if whole:
            return (old_root, old_root) if not proof else None
        return (proof[0], proof[0]) if len(proof) == 1 else None
    if not proof:
        return None
    k = largest_power_of_two_below(n)
    sibling, inner = proof[-1], proof[:-1]
    if m <= k:
        below = _roots_from_subproof(m, k, inner, whole, old_root)
        return None if below is None else (below[0], node(below[1], sibling))
    below = _roots_from_subproof(m - k, n - k, inner, False, old_root)
    return None if below is None else (node(sibling, below[0]), node(sibling, below[1]))


def consistency_ok(
    first: int, second: int, first_root: bytes, second_root: bytes, proof: list[bytes]
) -> bool:
    if not 0 < first <= second:
        return first == 0 and not proof
    if first == second:
        return not proof and first_root == second_root
    roots = _roots_from_subproof(first, second, proof, True, first_root)
    return roots is not None and roots == (first_root, second_root)


# -- signed notes and checkpoints ---------------------------------------------------------------------


def split(note: str) -> tuple[str, list[tuple[str, bytes]]]:
    text, _, signatures = note.rpartition("\n\n")
    lines = []
    for line in signatures.rstrip("\n").split("\n"):
        dash, name, b64 = line.split(" ")
        assert dash == "\u2014"
        lines.append((name, base64.b64decode(b64)))
    return text + "\n", lines


def rsa_key_id(name: str, public_key: rsa.RSAPublicKey) -> bytes:
    spki = public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return sha256(name.encode() + b"\n" + b"\xff" + b"rsa-pkcs1-sha256" + spki)[:4]


def checkpoint_signed_by(note: str, origin: str, public_key: rsa.RSAPublicKey) -> tuple[int, bytes] | None:
    """(tree size, root) when the note is a checkpoint of `origin` signed by the hub's RSA key."""
    text, signatures = split(note)
    wanted = rsa_key_id(origin, public_key)
    for name, raw in signatures:
        if name == origin and raw[:4] == wanted:
            try:
                public_key.verify(raw[4:], text.encode(), padding.PKCS1v15(), hashes.SHA256())
            except InvalidSignature:
                return None
            lines = text.split("\n")
            if lines[0] != origin:
                return None
            return int(lines[1]), base64.b64decode(lines[2])
    return None


def cosignature_key_id(name: str, public_key: ed25519.Ed25519PublicKey) -> bytes:
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return sha256(name.encode() + b"\n" + b"\x04" + raw)[:4]


def cosign(text: str, name: str, key: ed25519.Ed25519PrivateKey, when: int) -> str:
    """A c2sp.org/tlog-cosignature line over a checkpoint's text."""
    message = f"cosignature/v1\ntime {when}\n{text}".encode()
    signature = key.sign(message)
    blob = cosignature_key_id(name, key.public_key()) + struct.pack(">Q", when) + signature
    return f"\u2014 {name} {base64.b64encode(blob).decode()}\n"


def cosigned_by(note: str, name: str, public_key: ed25519.Ed25519PublicKey) -> bool:
    text, signatures = split(note)
    for signer, raw in signatures:
        if signer == name and raw[:4] == cosignature_key_id(name, public_key):
            (when,) = struct.unpack(">Q", raw[4:12])
            try:
                public_key.verify(raw[12:], f"cosignature/v1\ntime {when}\n{text}".encode())
                return True
            except InvalidSignature:
                return False
    return False


# -- the hub's proof documents --------------------------------------------------------------------


def message_proof_ok(document: dict[str, Any], origin: str, public_key: rsa.RSAPublicKey) -> bool:
    """Everything a sender checks in GET /v1/messages/{id}/proof (docs/ledger.md, "Checking a proof")."""
    signed = checkpoint_signed_by(document["checkpoint"], origin, public_key)
    if signed is None:
        return False
    size, root = signed
    for event in document["events"]:
        entry = event["entry"].encode()
        if json.loads(entry)["message_id"] != document["message_id"]:
            return False
        leaf_hash = leaf(entry)
        if leaf_hash.hex() != event["leaf_hash"]:
            return False
        proof = [bytes.fromhex(h) for h in event["inclusion_proof"]]
        if not inclusion_ok(leaf_hash, event["leaf_index"], size, proof, root):
            return False
    return True
