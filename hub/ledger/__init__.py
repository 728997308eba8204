"""The ledger: the append-only, hash-chained log of every event of every message (see docs/ledger.md)."""

from hub.ledger.chain import GENESIS_HASH, canonical_json, event_hash
from hub.ledger.records import (
    ChainReport,
    DeliveryRecord,
    DuplicateMessage,
    EventRecord,
    MessageRecord,
    NewMessage,
)
from hub.ledger.store import Ledger

__all__ = [
    "GENESIS_HASH",
    "ChainReport",
    "DeliveryRecord",
    "DuplicateMessage",
    "EventRecord",
    "Ledger",
    "MessageRecord",
    "NewMessage",
    "canonical_json",
    "event_hash",
]
