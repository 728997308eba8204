"""Re-check the whole ledger: the hash chain, its head, and the bytes behind every accepted message.

Streams the event log in ``seq`` order by key ranges (never the whole table) and stops at the first
fault. Reasons start with a stable code:

- ``deleted``: a ``seq`` is missing, or the chain head counts more events than are present;
- ``reordered``: an event's ``prev_hash`` is not the previous event's hash (moved, swapped, relinked);
- ``edited``: an event's recomputed hash differs from the stored one (its content was changed);
- ``message-altered`` / ``message-missing``: the bytes of a message no longer match the digests
  in its ``message.accepted`` event, or the message row is gone (the event's seq is reported);
- ``head-mismatch``: the chain head's hash is not the last event's (the tail was rewritten);
- ``forged-append``: events exist beyond the chain head (written around the ledger).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from typing import Any

import sqlalchemy as sa

from hub.ledger.chain import GENESIS_HASH, event_hash
from hub.ledger.models import chain_head, events, messages
from hub.ledger.records import ChainReport

DELETED = "deleted"
REORDERED = "reordered"
EDITED = "edited"
MESSAGE_ALTERED = "message-altered"
MESSAGE_MISSING = "message-missing"
HEAD_MISMATCH = "head-mismatch"
FORGED_APPEND = "forged-append"

ACCEPTED_KIND = "message.accepted"


class _Fault(Exception):
    def __init__(self, seq: int, code: str, detail: str) -> None:
        super().__init__(detail)
        self.seq = seq
        self.reason = f"{code}: {detail}"


def verify_chain(
    conn: sa.Connection,
    *,
    batch_size: int = 1000,
    progress: Callable[[int, int], None] | None = None,
) -> ChainReport:
    """Walk the chain on ``conn`` (a read transaction) and report the first fault, if any."""
    head = conn.execute(
        sa.select(chain_head.c.seq, chain_head.c.hash).where(chain_head.c.id == 1)
    ).one_or_none()
    if head is None:
        return ChainReport(False, 0, None, f"{HEAD_MISMATCH}: the chain_head row is missing")
    total = int(head.seq)
    checked = 0
    last_seq = 0
    prev_hash = GENESIS_HASH
    try:
        while last_seq < total:
            rows = conn.execute(
                sa.select(events)
                .where(events.c.seq > last_seq, events.c.seq <= total)
                .order_by(events.c.seq)
                .limit(batch_size)
            ).all()
            if not rows:
                break
            actual = _message_digests(conn, [r.message_id for r in rows if r.kind == ACCEPTED_KIND])
            for row in rows:
                _check_event(row, last_seq + 1, prev_hash, actual)
                prev_hash = row.hash
                last_seq = int(row.seq)
                checked += 1
            if progress is not None:
                progress(checked, total)
        if last_seq < total:
            raise _Fault(
                last_seq + 1,
                DELETED,
                f"the chain head counts {total} events but the log ends at seq {last_seq}",
            )
        if prev_hash != head.hash:
            raise _Fault(total, HEAD_MISMATCH, f"the chain head's hash is not the hash of event {total}")
        max_seq, head_seq = conn.execute(
            sa.select(sa.func.max(events.c.seq), sa.select(chain_head.c.seq).scalar_subquery())
        ).one()
        if max_seq is not None and head_seq is not None and max_seq > head_seq:
            raise _Fault(
                int(head_seq) + 1, FORGED_APPEND, f"events up to seq {max_seq} lie beyond the chain head"
            )
    except _Fault as fault:
        return ChainReport(False, checked, fault.seq, fault.reason)
    return ChainReport(True, checked, None, None)


def _check_event(row: Any, expected_seq: int, prev_hash: str, actual: dict[str, tuple[str, str]]) -> None:
    if row.seq != expected_seq:
        raise _Fault(
            expected_seq, DELETED, f"event {expected_seq} is missing (the next present is {row.seq})"
        )
    if row.prev_hash != prev_hash:
        raise _Fault(row.seq, REORDERED, f"event {row.seq} does not link to the hash of the event before it")
    try:
        data = json.loads(row.data)
    except ValueError:
        raise _Fault(row.seq, EDITED, f"event {row.seq}'s data is not JSON any more") from None
    recomputed = event_hash(
        row.prev_hash,
        seq=row.seq,
        at=row.at,
        kind=row.kind,
        message_id=row.message_id,
        delivery_id=row.delivery_id,
        data=data,
    )
    if recomputed != row.hash:
        raise _Fault(row.seq, EDITED, f"event {row.seq}'s content does not match its hash")
    if row.kind == ACCEPTED_KIND:
        _check_message(row.seq, row.message_id, data, actual)


def _check_message(seq: int, message_id: str | None, data: Any, actual: dict[str, tuple[str, str]]) -> None:
    if message_id is None or message_id not in actual:
        raise _Fault(seq, MESSAGE_MISSING, f"message {message_id} accepted at event {seq} is not stored")
    original, document = actual[message_id]
    if not isinstance(data, dict) or data.get("digest") != original:
        raise _Fault(seq, MESSAGE_ALTERED, f"message {message_id}'s original bytes changed since event {seq}")
    if data.get("document_digest") != document:
        raise _Fault(seq, MESSAGE_ALTERED, f"message {message_id}'s document bytes changed since event {seq}")


def _message_digests(conn: sa.Connection, ids: Iterable[str | None]) -> dict[str, tuple[str, str]]:
    """SHA-256 of the stored bytes of these messages, reading one row at a time."""
    wanted = sorted({i for i in ids if i is not None})
    if not wanted:
        return {}
    stmt = (
        sa.select(messages.c.id, messages.c.original, messages.c.document)
        .where(messages.c.id.in_(wanted))
        .execution_options(stream_results=True, max_row_buffer=8)
    )
    return {
        row.id: (hashlib.sha256(row.original).hexdigest(), hashlib.sha256(row.document).hexdigest())
        for row in conn.execute(stmt)
    }
