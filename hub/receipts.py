"""Receipts: the hub's signed statement of what it accepted, for whom, and when.

A receipt is a small JSON document (canonical: sorted keys, no spaces) signed with a detached JWS
(RFC 7797) by the hub's key, exactly like any JSON document the hub emits. Anyone holding the hub's
certificate can check it without trusting the hub's database.

Since version 2 a receipt carries the ledger's latest signed checkpoint at the time it is issued
(``ledger.checkpoint``, a C2SP signed note): its holder can later ask for the message's inclusion
proof (``GET /v1/messages/{id}/proof``) and for a consistency proof from that checkpoint, and so
detect any rewriting of the ledger's history since (docs/ledger.md).
"""

from __future__ import annotations

from typing import Any

from hub.ledger import CheckpointRecord, MessageRecord, canonical_json
from hub.signing.jws import sign_detached
from hub.signing.keys import SigningIdentity

RECEIPT_VERSION = 2


def receipt_payload(
    message: MessageRecord, hub_id: str, checkpoint: CheckpointRecord | None = None
) -> dict[str, Any]:
    return {
        "receipt_version": RECEIPT_VERSION,
        "hub": hub_id,
        "message_id": message.id,
        "type": message.doctype,
        "state": message.state,
        "sender": message.sender,
        "submitted_by": message.submitted_by,
        "recipients": list(message.recipients),
        "correlation_key": message.correlation_key,
        "digest": {"alg": "sha-256", "original": message.digest, "document": message.document_digest},
        "received_at": message.received_at.isoformat(),
        "accepted_at": message.accepted_at.isoformat() if message.accepted_at else None,
        "ledger": {
            "checkpoint": checkpoint.signed_note if checkpoint else None,
            "proof": f"/v1/messages/{message.id}/proof",
        },
    }


def signed_receipt(
    message: MessageRecord, identity: SigningIdentity, checkpoint: CheckpointRecord | None = None
) -> tuple[bytes, str]:
    """The receipt's bytes and their detached JWS."""
    body = canonical_json(receipt_payload(message, identity.participant_id, checkpoint)).encode("utf-8")
    return body, sign_detached(body, identity)
