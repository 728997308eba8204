"""The ledger: messages, deliveries and the Merkle event log with signed checkpoints (docs/ledger.md)."""

from hub.ledger.chain import GENESIS_HASH, canonical_json, entry_leaf_hash, entry_text, event_hash
from hub.ledger.log import EventLog, LogSigner, MessageProof
from hub.ledger.note import Checkpoint
from hub.ledger.records import (
    ChainReport,
    CheckpointRecord,
    DeliveryRecord,
    DuplicateMessage,
    EventRecord,
    Fault,
    MessageRecord,
    NewMessage,
)
from hub.ledger.store import DELIVERY_TRANSITIONS, UNSET, Ledger
from hub.ledger.work import INBOX_ADAPTER, InboxItem, Timeline

__all__ = [
    "DELIVERY_TRANSITIONS",
    "GENESIS_HASH",
    "INBOX_ADAPTER",
    "UNSET",
    "ChainReport",
    "Checkpoint",
    "CheckpointRecord",
    "DeliveryRecord",
    "DuplicateMessage",
    "EventLog",
    "EventRecord",
    "Fault",
    "InboxItem",
    "Ledger",
    "LogSigner",
    "MessageProof",
    "MessageRecord",
    "NewMessage",
    "Timeline",
    "canonical_json",
    "entry_leaf_hash",
    "entry_text",
    "event_hash",
]
