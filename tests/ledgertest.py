"""Helpers for the ledger's tests: the development hub key as the log's signer, sequencing to the end."""

from __future__ import annotations

from hub.ledger import CheckpointRecord, Ledger, LogSigner
from hub.ledger.verify import KeyCheck
from hub.settings import PROJECT_ROOT
from hub.signing.keys import load_identity

CERTS = PROJECT_ROOT / "certs" / "dev"
IDENTITY = load_identity(CERTS / "hub.key", CERTS / "hub.crt")
ORIGIN = "lienthong.test/ledger"
SIGNER = LogSigner(ORIGIN, IDENTITY.private_key)
KEY = KeyCheck(ORIGIN, IDENTITY.certificate.public_key())


def sequence_all(ledger: Ledger, *, limit: int = 5000) -> list[CheckpointRecord]:
    """Run the sequencer until every event has a position; the checkpoints it signed."""
    signed = []
    while (checkpoint := ledger.log.sequence(SIGNER, limit=limit)) is not None:
        signed.append(checkpoint)
    return signed
