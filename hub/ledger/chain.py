"""The hash chain of the event log: canonical JSON and the hash of one event.

``hash = sha256(prev_hash + "\\n" + canonical_json({seq, at, kind, message_id, delivery_id, data}))``
with ``at`` in ISO 8601, UTC, microseconds. The first event links to :data:`GENESIS_HASH`.
These functions are pure, so anyone holding an export of the ``events`` table can re-check it.
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
    """The hex SHA-256 that links one event to the previous one."""
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
