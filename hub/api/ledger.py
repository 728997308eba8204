"""The ledger's evidence over HTTP: the latest signed checkpoint, checkpoints by size, consistency
proofs between tree sizes, and inclusion proofs of a message's events (docs/ledger.md).

Checkpoints and consistency proofs hold only sizes and hashes: anyone may fetch them (auditors,
witnesses, senders who kept a receipt). A message's proof shows its events' content, so only a
participant who may see the message gets it.
"""

from __future__ import annotations

import base64
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import PlainTextResponse
from starlette.concurrency import run_in_threadpool

from hub.api.auth import current_participant
from hub.api.messages import visible_message
from hub.ledger import CheckpointRecord, Ledger, MessageProof
from hub.participants import Participant
from hub.problems import Problem

router = APIRouter(tags=["ledger"])


def _ledger(request: Request) -> Ledger:
    return request.app.state.hub.ledger


def checkpoint_view(checkpoint: CheckpointRecord) -> dict[str, Any]:
    return {
        "tree_size": checkpoint.tree_size,
        "root_hash": checkpoint.root_hash,
        "note": checkpoint.signed_note,
        # the RFC 3161 time-stamp covers the note as the hub signed it (before witnesses' lines)
        "timestamped_note": checkpoint.note,
        "timestamp": base64.b64encode(checkpoint.timestamp).decode() if checkpoint.timestamp else None,
        "created_at": checkpoint.created_at.isoformat(),
    }


def proof_view(message_id: str, origin: str, proof: MessageProof) -> dict[str, Any]:
    checkpoint = proof.checkpoint
    return {
        "message_id": message_id,
        "origin": origin,
        "checkpoint": checkpoint.signed_note if checkpoint else None,
        "tree_size": checkpoint.tree_size if checkpoint else 0,
        "events": [
            {
                "id": p.event.id,
                "seq": p.event.seq,
                "leaf_index": p.leaf_index,
                "kind": p.event.kind,
                "entry": p.entry,
                "leaf_hash": p.event.leaf_hash,
                "inclusion_proof": [h.hex() for h in p.proof],
            }
            for p in proof.included
        ],
        "pending": [{"id": e.id, "kind": e.kind} for e in proof.pending],
    }


@router.get("/v1/ledger/checkpoint", response_class=PlainTextResponse)
def latest_checkpoint(request: Request) -> PlainTextResponse:
    """The latest checkpoint: a C2SP signed note (origin, tree size, root hash; the hub's signature and
    the witnesses' cosignatures)."""
    checkpoint = _ledger(request).latest_checkpoint()
    if checkpoint is None:
        raise Problem("not-found", "the ledger has signed no checkpoint yet")
    return PlainTextResponse(checkpoint.signed_note, media_type="text/plain; charset=utf-8")


# A tree size the database can hold (SQLite's integers are 64-bit): larger is a 400, not an overflow.
MAX_TREE_SIZE = 2**62


@router.get("/v1/ledger/checkpoints/{tree_size}")
def checkpoint_of_size(
    request: Request, tree_size: Annotated[int, Path(ge=0, le=MAX_TREE_SIZE)]
) -> dict[str, Any]:
    """One stored checkpoint, with its RFC 3161 time-stamp (base64 TimeStampResp) if it has one."""
    checkpoint = _ledger(request).log.checkpoint(tree_size)
    if checkpoint is None:
        raise Problem("not-found", f"no checkpoint of tree size {tree_size}")
    return checkpoint_view(checkpoint)


@router.get("/v1/ledger/consistency")
async def consistency(
    request: Request,
    first: Annotated[int, Query(alias="from", ge=0, le=MAX_TREE_SIZE)],
    second: Annotated[int | None, Query(alias="to", ge=0, le=MAX_TREE_SIZE)] = None,
) -> dict[str, Any]:
    """RFC 9162 consistency proof from tree size `from` to `to` (a checkpoint's size; default the
    latest), with the checkpoints of both sizes when they exist."""
    ledger = _ledger(request)
    if second is None:
        latest = ledger.latest_checkpoint()
        if latest is None:
            raise Problem("not-found", "the ledger has signed no checkpoint yet")
        second = latest.tree_size
    try:
        proof, older, newer = await run_in_threadpool(ledger.log.consistency, first, second)
    except ValueError as error:
        raise Problem("invalid-request", str(error)) from None
    return {
        "from": first,
        "to": second,
        "proof": [h.hex() for h in proof],
        "checkpoint_from": older.signed_note if older else None,
        "checkpoint_to": newer.signed_note,
    }


@router.get("/v1/messages/{message_id}/proof")
async def message_proof(
    request: Request, message_id: str, participant: Participant = Depends(current_participant)
) -> dict[str, Any]:
    """Every event of the message with its leaf and an inclusion proof against the latest checkpoint;
    events placed after it are listed under `pending` (ask again a second later)."""
    visible_message(request, participant, message_id)
    ledger = _ledger(request)
    found = await run_in_threadpool(ledger.list_events, message_id)
    proof = await run_in_threadpool(ledger.log.prove_events, found)
    return proof_view(message_id, request.app.state.hub.settings.effective_ledger_origin, proof)
