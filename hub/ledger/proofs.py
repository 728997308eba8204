"""Checking the ledger's proofs with only a checkpoint and the hub's certificate (no database).

What ``lienthong ledger verify-proof`` runs, on the JSON of ``GET /v1/messages/{id}/proof`` or
``GET /v1/ledger/consistency``; the algorithm is written out in docs/ledger.md for outsiders.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from hub.ledger import merkle
from hub.ledger.chain import entry_leaf_hash
from hub.ledger.note import Checkpoint, NoteError, PublicKey, verify_note


@dataclass
class ProofVerdict:
    ok: bool
    summary: str
    problems: list[str] = field(default_factory=list)


def signed_checkpoint(note: str, origin: str, key: PublicKey) -> Checkpoint:
    """The checkpoint in a note signed by (origin, key); NoteError otherwise."""
    checkpoint = Checkpoint.parse(verify_note(note, origin, key))
    if checkpoint.origin != origin:
        raise NoteError(f"the checkpoint is of the log {checkpoint.origin!r}, not {origin!r}")
    return checkpoint


def check_message_proof(document: dict[str, Any], key: PublicKey, origin: str | None = None) -> ProofVerdict:
    """Every event's entry hashes to its leaf, and each leaf is in the signed checkpoint's tree."""
    origin = origin or str(document.get("origin"))
    try:
        checkpoint = signed_checkpoint(str(document["checkpoint"]), origin, key)
    except (KeyError, NoteError) as error:
        return ProofVerdict(False, f"no valid checkpoint: {error}", [str(error)])
    problems = []
    message_id = document.get("message_id")
    for event in document.get("events", []):
        name = f"event {event.get('id')} ({event.get('kind')})"
        leaf = entry_leaf_hash(str(event["entry"]))
        if leaf != event.get("leaf_hash"):
            problems.append(f"{name}: its entry does not hash to its leaf")
            continue
        proof = [bytes.fromhex(h) for h in event.get("inclusion_proof", [])]
        index = int(event["leaf_index"])
        if not merkle.verify_inclusion(bytes.fromhex(leaf), index, checkpoint.size, proof, checkpoint.root):
            problems.append(f"{name}: not included at leaf {index} of the tree of {checkpoint.size}")
        if message_id and json.loads(event["entry"]).get("message_id") != message_id:
            problems.append(f"{name}: its entry is not about message {message_id}")
    count = len(document.get("events", []))
    if problems:
        return ProofVerdict(False, f"{len(problems)} of {count} events do not verify", problems)
    pending = len(document.get("pending", []))
    more = f"; {pending} more not yet in a checkpoint" if pending else ""
    return ProofVerdict(
        True, f"{count} events of message {message_id} are in the log of size {checkpoint.size}{more}"
    )


def check_consistency_proof(
    document: dict[str, Any], key: PublicKey, origin: str, held: str | None = None
) -> ProofVerdict:
    """The newer signed checkpoint's tree extends the older one (``held``: a note you kept)."""
    try:
        newer = signed_checkpoint(str(document["checkpoint_to"]), origin, key)
        older_note = held or document.get("checkpoint_from")
        first = int(document["from"])
        if older_note is None:
            return ProofVerdict(False, f"no checkpoint of size {first} to compare with")
        older = signed_checkpoint(str(older_note), origin, key)
    except (KeyError, ValueError, NoteError) as error:
        return ProofVerdict(False, f"no valid checkpoint: {error}", [str(error)])
    if older.size != first or newer.size != int(document["to"]):
        return ProofVerdict(False, "the proof is for other tree sizes than the checkpoints'")
    proof = [bytes.fromhex(h) for h in document.get("proof", [])]
    if merkle.verify_consistency(older.size, newer.size, older.root, newer.root, proof):
        return ProofVerdict(
            True, f"consistent: the log of size {older.size} is a prefix of size {newer.size}"
        )
    return ProofVerdict(
        False,
        f"NOT consistent: the log of size {newer.size} does not extend the checkpoint of size {older.size}",
        ["consistency proof fails"],
    )
