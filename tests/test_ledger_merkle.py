"""The Merkle tree and the signed notes, held against RFC 6962 test vectors (as published with
Certificate Transparency's reference implementation) and against an independent re-implementation."""

from __future__ import annotations

import base64
import random

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from hub.ledger import merkle
from hub.ledger.note import Checkpoint, NoteError, key_id, sign_note, verify_note
from tests import independent_tlog as ind
from tests.ledgertest import IDENTITY, ORIGIN, SIGNER

# RFC 6962 reference leaves and the root of the tree of the first n of them (n = 1..8).
LEAF_INPUTS = [
    "",
    "00",
    "10",
    "2021",
    "3031",
    "40414243",
    "5051525354555657",
    "606162636465666768696a6b6c6d6e6f",
]
ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
INCLUSION = {  # (leaf index, tree size) → audit path
    (0, 8): [
        "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    ],
    (5, 8): [
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    ],
}
CONSISTENCY = {  # (first size, second size) → proof
    (2, 5): [
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
    ],
    (2, 8): [
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    ],
    (6, 8): [
        "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    ],
}
LEAVES = [merkle.leaf_hash(bytes.fromhex(x)) for x in LEAF_INPUTS]


def test_roots_are_the_rfc_6962_reference_roots() -> None:
    assert (
        merkle.root([])
        == merkle.EMPTY_ROOT
        == bytes.fromhex("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    )
    builder = merkle.ProofBuilder(LEAVES)
    for n in range(1, 9):
        assert builder.root(n).hex() == ROOTS[n - 1]
        assert merkle.CompactRange.of(LEAVES[:n]).root().hex() == ROOTS[n - 1], "grown one leaf at a time"
        assert ind.mth(LEAVES[:n]).hex() == ROOTS[n - 1]


@pytest.mark.parametrize(("index", "size"), list(INCLUSION))
def test_inclusion_proofs_are_the_reference_paths(index: int, size: int) -> None:
    proof = merkle.ProofBuilder(LEAVES).inclusion(index, size)
    assert [p.hex() for p in proof] == INCLUSION[(index, size)]
    root = bytes.fromhex(ROOTS[size - 1])
    assert merkle.verify_inclusion(LEAVES[index], index, size, proof, root)
    assert ind.inclusion_ok(LEAVES[index], index, size, proof, root)


@pytest.mark.parametrize(("first", "second"), list(CONSISTENCY))
def test_consistency_proofs_are_the_reference_proofs(first: int, second: int) -> None:
    proof = merkle.ProofBuilder(LEAVES).consistency(first, second)
    assert [p.hex() for p in proof] == CONSISTENCY[(first, second)]
    old, new = bytes.fromhex(ROOTS[first - 1]), bytes.fromhex(ROOTS[second - 1])
    assert merkle.verify_consistency(first, second, old, new, proof)
    assert ind.consistency_ok(first, second, old, new, proof)


def test_every_proof_of_trees_up_to_40_leaves_agrees_with_the_independent_verifier() -> None:
    leaves = [merkle.leaf_hash(i.to_bytes(2, "big")) for i in range(40)]
    builder = merkle.ProofBuilder(leaves)
    for n in range(1, 41):
        root = builder.root(n)
        assert root == ind.mth(leaves[:n])
        for i in range(n):
            proof = builder.inclusion(i, n)
            assert ind.inclusion_ok(leaves[i], i, n, proof, root)
            assert not ind.inclusion_ok(leaves[i], (i + 1) % n, n, proof, root) or n == 1
        for m in range(0, n + 1):
            proof = builder.consistency(m, n)
            assert ind.consistency_ok(m, n, builder.root(m), root, proof), (m, n)


def test_mangled_proofs_are_refused_by_both_verifiers() -> None:
    rng = random.Random(7)
    leaves = [merkle.leaf_hash(bytes([i])) for i in range(29)]
    builder = merkle.ProofBuilder(leaves)
    for _ in range(200):
        n = rng.randrange(2, 30)
        i = rng.randrange(n)
        root = builder.root(n)
        proof = builder.inclusion(i, n)
        flipped = list(proof)
        k = rng.randrange(len(flipped))
        flipped[k] = bytes([flipped[k][0] ^ 1]) + flipped[k][1:]
        for bad in (flipped, proof[:-1], [*proof, leaves[0]]):
            assert not merkle.verify_inclusion(leaves[i], i, n, bad, root)
            assert not ind.inclusion_ok(leaves[i], i, n, bad, root)
        m = rng.randrange(1, n)
        cproof = builder.consistency(m, n)
        if cproof:
            broken = [bytes(32), *cproof[1:]]
            assert not merkle.verify_consistency(m, n, builder.root(m), root, broken)
            assert not ind.consistency_ok(m, n, builder.root(m), root, broken)
        other_root = builder.root(m - 1) if m > 1 else bytes(32)
        assert not merkle.verify_consistency(m, n, other_root, root, cproof)


def test_a_checkpoint_is_a_signed_note_an_outsider_can_check() -> None:
    note = SIGNER.sign(8, bytes.fromhex(ROOTS[7]))
    text, _, signature = note.partition("\n\n")
    root_b64 = base64.b64encode(bytes.fromhex(ROOTS[7])).decode()
    assert text == f"{ORIGIN}\n8\n{root_b64}"
    assert signature.startswith(f"\u2014 {ORIGIN} ") and signature.endswith("\n")
    public = IDENTITY.certificate.public_key()
    assert ind.checkpoint_signed_by(note, ORIGIN, public) == (8, bytes.fromhex(ROOTS[7]))
    assert Checkpoint.parse(verify_note(note, ORIGIN, public)) == Checkpoint(
        ORIGIN, 8, bytes.fromhex(ROOTS[7])
    )
    forged = note.replace(f"\n8\n{root_b64}", f"\n9\n{root_b64}")
    assert ind.checkpoint_signed_by(forged, ORIGIN, public) is None
    with pytest.raises(NoteError):
        verify_note(forged, ORIGIN, public)
    with pytest.raises(NoteError):
        verify_note(note, "someone.else/ledger", public)


@pytest.mark.parametrize(
    "make_key", [ed25519.Ed25519PrivateKey.generate, lambda: ec.generate_private_key(ec.SECP256R1())]
)
def test_ed25519_and_ecdsa_hub_keys_sign_notes_of_their_registered_types(make_key) -> None:  # type: ignore[no-untyped-def]
    key = make_key()
    note = sign_note(
        "example.org/log\n1\n" + base64.b64encode(bytes(32)).decode() + "\n", "example.org/log", key
    )
    assert verify_note(note, "example.org/log", key.public_key()).startswith("example.org/log\n")
    blob = base64.b64decode(note.rsplit(" ", 1)[1])
    assert blob[:4] == key_id("example.org/log", key.public_key())
    if isinstance(key, ed25519.Ed25519PrivateKey):  # c2sp signed-note: type 0x01, raw 32-byte key
        raw = key.public_key().public_bytes_raw()
        assert blob[:4] == ind.sha256(b"example.org/log\n\x01" + raw)[:4]
        assert len(blob) == 4 + 64
    else:  # type 0x02: the key id is the hash of the SPKI alone; ECDSA over SHA-256 of the text
        spki = key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        assert blob[:4] == ind.sha256(spki)[:4]
        text = note.split("\n\n")[0] + "\n"
        key.public_key().verify(blob[4:], text.encode(), ec.ECDSA(hashes.SHA256()))
