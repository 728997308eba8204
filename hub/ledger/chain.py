"""How one event is encoded and hashed: canonical JSON, the v2 log entry and its leaf hash, and the
v1 chain hash (kept so that events recorded before the migration to v2 stay verifiable).

v2 (the Merkle log): ``entry = canonical_json({at, kind, message_id, delivery_id, data})`` as UTF-8;
``leaf_hash = SHA-256(0x00 || entry)`` (RFC 9162). The entry holds no position, so a writer computes
it in its own transaction, before anyone has decided where in the log the event will stand.

v1 (the chain): ``hash = sha256(prev_hash + "\\n" + canonical_json({seq, at, kind, message_id,
delivery_id, data}))``; the first event links to :data:`GENESIS_HASH`.

``at`` is ISO 8601, UTC, microseconds. These functions are pure: anyone holding an export of the
``events`` table can re-check it.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

GENESIS_HASH = "0" * 64


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return iso_utc(value)
    if isinstance(value, bytes | bytearray):
        raise TypeError("bytes do not belong in event data; record their digest instead")
    if isinstance(value, set | frozenset):
        return sorted(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def canonical_json(value: Any) -> str:
    """Sorted keys, no spaces, UTF-8 text (no ASCII escaping), no NaN."""
    return json.dumps(
        value,
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        allow_nan=False,
        default=_json_default,
    )


def normalise_data(data: dict[str, Any] | None) -> tuple[dict[str, Any], str]:
    """The event data as it will read back from the database, and its stored text.

    Tuples become lists and datetimes ISO strings, so the hash computed at append time is the hash
    a verifier recomputes from the stored text.
    """
    text = canonical_json(data or {})
    return json.loads(text), text


def iso_utc(at: datetime) -> str:
    """ISO 8601 in UTC with microseconds, e.g. ``2025-01-31T08:00:00.000123+00:00``."""
    if at.tzinfo is None:
        raise ValueError("event times must be timezone-aware")
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def entry_text(
    *, at: datetime, kind: str, message_id: str | None, delivery_id: str | None, data: dict[str, Any]
) -> str:
    """The v2 log entry of one event: what its leaf hash covers."""
    return canonical_json(
        {"at": iso_utc(at), "kind": kind, "message_id": message_id, "delivery_id": delivery_id, "data": data}
    )


def entry_leaf_hash(entry: str) -> str:
    """Hex RFC 9162 leaf hash of an entry: ``SHA-256(0x00 || entry)``."""
    return hashlib.sha256(b"\x00" + entry.encode("utf-8")).hexdigest()


def event_hash(
    prev_hash: str,
    *,
    seq: int,
    at: datetime,
    kind: str,
    message_id: str | None,
    delivery_id: str | None,
    data: dict[str, Any],
) -> str:
    """The v1 chain's hex SHA-256 that links one event to the previous one."""
    body = canonical_json(
        {
            "seq": seq,
            "at": iso_utc(at),
            "kind": kind,
            "message_id": message_id,
            "delivery_id": delivery_id,
            "data": data,
        }
    )
    return hashlib.sha256((prev_hash + "\n" + body).encode("utf-8")).hexdigest()
