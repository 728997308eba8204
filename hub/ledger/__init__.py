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
from hub.ledger.store import DELIVERY_TRANSITIONS, UNSET, Ledger

__all__ = [
    "DELIVERY_TRANSITIONS",
    "GENESIS_HASH",
    "INBOX_ADAPTER",
    "UNSET",
    "ChainReport",
    "DeliveryRecord",
    "DuplicateMessage",
    "EventRecord",
    "InboxItem",
    "Ledger",
    "MessageRecord",
    "NewMessage",
    "Timeline",
    "canonical_json",
    "event_hash",
]
