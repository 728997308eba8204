"""Re-check the whole ledger and report every fault found, with its kind and position.

1. The log: events in ``seq`` order, by key ranges (never the whole table). Each entry's leaf hash is
   recomputed from its content; the Merkle tree is rebuilt from the leaves and every stored
   checkpoint's root is compared with the tree at its size (so successive checkpoints are consistent
   exactly when both match). With the hub's key, each checkpoint's signature is checked too.
   Checkpoints held outside the database (the checkpoint file, a witness, a receipt) are compared the
   same way: that is what finds history rewritten together with its checkpoints.
2. The v1 chain of the events recorded before ledger v2 (``prev_hash``/``hash``).
3. Messages' bytes against the digests in their ``message.accepted`` event.
4. State: every ``messages`` and ``deliveries`` row is recomputed from its events and compared.

Fault kinds (stable codes):

- ``deleted``: a position is missing in the log;
- ``edited``: an entry's content does not hash to its stored leaf hash;
- ``checkpoint-mismatch``: the tree rebuilt from the leaves does not have a checkpoint's root
  (events edited and re-hashed, reordered, inserted or deleted up to that size);
- ``checkpoint-forged``: a checkpoint's signature or text is not the hub's for its size and root;
- ``truncated``: a checkpoint counts more events than the log holds;
- ``reordered`` / ``chain-edited`` / ``head-mismatch``: the v1 chain does not link, an old event's
  chain hash differs, or the frozen v1 head is not the last old event's hash;
- ``message-altered`` / ``message-missing``: a message's bytes differ from its accepted digests, or
  its row is gone;
- ``state-mismatch``: a message or delivery row differs from what its events say (field named);
- ``state-unrecorded``: a message or delivery row has no events at all.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from hub.ledger import merkle
from hub.ledger.chain import GENESIS_HASH, entry_leaf_hash, entry_text, event_hash
from hub.ledger.models import chain_head, checkpoints, deliveries, events, messages
from hub.ledger.note import Checkpoint, NoteError, PublicKey, verify_note
from hub.ledger.records import ChainReport, Fault

DELETED = "deleted"
EDITED = "edited"
CHECKPOINT_MISMATCH = "checkpoint-mismatch"
CHECKPOINT_FORGED = "checkpoint-forged"
TRUNCATED = "truncated"
REORDERED = "reordered"
CHAIN_EDITED = "chain-edited"
HEAD_MISMATCH = "head-mismatch"
MESSAGE_ALTERED = "message-altered"
MESSAGE_MISSING = "message-missing"
STATE_MISMATCH = "state-mismatch"
STATE_UNRECORDED = "state-unrecorded"

ACCEPTED_KIND = "message.accepted"
RECEIVED_KIND = "message.received"
DELIVERY_STATES = ("queued", "delivering", "delivered", "retrying", "dead")


@dataclass(frozen=True)
class KeyCheck:
    """What checkpoints must be signed by: the log's origin and the hub's public key.

    ``previous`` holds the hub's retired keys (a key moved into an HSM is a new key): a checkpoint
    signed by one of them is the hub's only while the current key has signed no smaller checkpoint,
    so a retired key cannot vouch for history written after the rotation.
    """

    origin: str
    key: PublicKey
    previous: tuple[PublicKey, ...] = ()


class _Enough(Exception):
    """Raised when only the first fault was asked for."""


class _Faults:
    def __init__(self, first_only: bool) -> None:
        self.found: list[Fault] = []
        self.first_only = first_only

    def add(self, kind: str, seq: int | None, detail: str, subject: str | None = None) -> None:
        self.found.append(Fault(kind, seq, detail, subject))
        if self.first_only:
            raise _Enough


def verify_ledger(
    conn: sa.Connection,
    *,
    batch_size: int = 1000,
    progress: Callable[[int, int], None] | None = None,
    first: bool = False,
    key: KeyCheck | None = None,
    external: Sequence[Checkpoint] = (),
) -> ChainReport:
    """Walk the ledger on ``conn`` (a read transaction); every fault, or with ``first`` the first."""
    faults = _Faults(first)
    checked = 0
    try:
        checked = _verify_log(conn, faults, batch_size, progress, key, external)
        _verify_state(conn, faults, batch_size)
    except _Enough:
        pass
    return ChainReport.of(checked, faults.found)


# -- the log ----------------------------------------------------------------------------------------


def _verify_log(
    conn: sa.Connection,
    faults: _Faults,
    batch_size: int,
    progress: Callable[[int, int], None] | None,
    key: KeyCheck | None,
    external: Sequence[Checkpoint],
) -> int:
    placed = sa.select(sa.func.max(events.c.seq)).where(events.c.seq.is_not(None))  # the partial index
    total = int(conn.execute(placed).scalar() or 0)
    stored = {
        int(r.tree_size): r for r in conn.execute(sa.select(checkpoints).order_by(checkpoints.c.tree_size))
    }
    if key is not None:
        _check_signatures(faults, stored, key)
    wanted: dict[int, list[tuple[str, bytes]]] = {}
    for size, row in stored.items():
        wanted.setdefault(size, []).append((f"checkpoint {size}", bytes.fromhex(row.root_hash)))
    for outside in external:
        wanted.setdefault(outside.size, []).append((f"external checkpoint {outside.size}", outside.root))
    for size in sorted(s for s in wanted if s > total):
        for label, _ in wanted[size]:
            faults.add(TRUNCATED, size, f"{label} counts {size} events but the log holds {total}", label)
    head = conn.execute(sa.select(chain_head.c.seq, chain_head.c.hash)).one_or_none()
    v1_head = (int(head.seq), str(head.hash)) if head is not None else (0, GENESIS_HASH)

    tree = merkle.CompactRange()
    _compare(faults, tree, wanted)  # a checkpoint of the empty tree
    prev_chain_hash, expected, checked, last_seq = GENESIS_HASH, 1, 0, 0
    while last_seq < total:
        rows = conn.execute(
            sa.select(events)
            .where(events.c.seq > last_seq, events.c.seq <= total)
            .order_by(events.c.seq)
            .limit(batch_size)
        ).all()
        if not rows:
            break
        digests = _message_digests(conn, [r.message_id for r in rows if r.kind == ACCEPTED_KIND])
        for row in rows:
            seq = int(row.seq)
            if seq != expected:
                faults.add(DELETED, expected, f"positions {expected}..{seq - 1} are missing from the log")
                while tree.size < seq - 1:  # keep positions aligned; the checkpoints then disagree
                    tree.extend([merkle.EMPTY_ROOT])
                    _compare(faults, tree, wanted)
            data = _check_entry(faults, row)
            tree.extend([bytes.fromhex(row.leaf_hash)])
            _compare(faults, tree, wanted)
            if row.hash is not None and seq <= v1_head[0]:
                _check_chain(faults, row, data, prev_chain_hash)
                prev_chain_hash = row.hash
            if row.kind == ACCEPTED_KIND and data is not None:
                _check_message(faults, seq, row.message_id, data, digests)
            expected, last_seq = seq + 1, seq
            checked += 1
        if progress is not None:
            progress(checked, total)
    checked += _verify_unplaced(conn, faults, batch_size)
    if v1_head[0] and prev_chain_hash != v1_head[1]:
        faults.add(HEAD_MISMATCH, v1_head[0], "the v1 chain head's hash is not the hash of its last event")
    return checked


def _verify_unplaced(conn: sa.Connection, faults: _Faults, batch_size: int) -> int:
    """Events not yet placed by the sequencer: their content must still match their leaf hash."""
    checked, last_id = 0, 0
    while True:
        rows = conn.execute(
            sa.select(events)
            .where(events.c.seq.is_(None), events.c.id > last_id)
            .order_by(events.c.id)
            .limit(batch_size)
        ).all()
        if not rows:
            return checked
        for row in rows:
            _check_entry(faults, row)
            checked += 1
        last_id = int(rows[-1].id)


def _compare(faults: _Faults, tree: merkle.CompactRange, wanted: dict[int, list[tuple[str, bytes]]]) -> None:
    for label, root in wanted.get(tree.size, ()):
        if tree.root() != root:
            faults.add(
                CHECKPOINT_MISMATCH,
                tree.size,
                f"the tree of the first {tree.size} events does not have the root of {label}",
                label,
            )


def _check_signatures(faults: _Faults, stored: dict[int, Any], key: KeyCheck) -> None:
    """Every stored checkpoint, smallest first, against the current key or, before the current key's
    first checkpoint, a retired one."""
    rotated_at: int | None = None  # the size of the first checkpoint the current key signed
    for size in sorted(stored):
        row = stored[size]
        error = _signature_error(size, row, key.origin, key.key)
        if error is None:
            if rotated_at is None:
                rotated_at = size
            continue
        retired = [k for k in key.previous if _signature_error(size, row, key.origin, k) is None]
        if retired and rotated_at is None:
            continue
        if retired:
            error = f"signed by a retired key after the current key signed checkpoint {rotated_at}"
        faults.add(CHECKPOINT_FORGED, size, f"checkpoint {size}: {error}", f"checkpoint {size}")


def _signature_error(size: int, row: Any, origin: str, key: PublicKey) -> str | None:
    """Why the row's note is not (origin, key)'s signature of its size and root; None when it is."""
    try:
        text = verify_note(row.note, origin, key)
    except NoteError as error:
        return str(error)
    if text != Checkpoint(origin, size, bytes.fromhex(row.root_hash)).text():
        return "the signed text is not its size and root"
    return None


def _check_entry(faults: _Faults, row: Any) -> dict[str, Any] | None:
    seq = None if row.seq is None else int(row.seq)
    name = f"event {row.id}" + (f" (#{seq})" if seq is not None else " (not yet placed)")
    try:
        data = json.loads(row.data)
    except ValueError:
        faults.add(EDITED, seq, f"{name}'s data is not JSON any more", f"event {row.id}")
        return None
    entry = entry_text(
        at=row.at, kind=row.kind, message_id=row.message_id, delivery_id=row.delivery_id, data=data
    )
    if entry_leaf_hash(entry) != row.leaf_hash:
        faults.add(EDITED, seq, f"{name}'s content does not match its leaf hash", f"event {row.id}")
    return data if isinstance(data, dict) else None


def _check_chain(faults: _Faults, row: Any, data: dict[str, Any] | None, prev_hash: str) -> None:
    if row.prev_hash != prev_hash:
        faults.add(REORDERED, int(row.seq), f"v1 event {row.seq} does not link to the event before it")
    if data is None:
        return
    recomputed = event_hash(
        row.prev_hash,
        seq=int(row.seq),
        at=row.at,
        kind=row.kind,
        message_id=row.message_id,
        delivery_id=row.delivery_id,
        data=data,
    )
    if recomputed != row.hash:
        faults.add(CHAIN_EDITED, int(row.seq), f"v1 event {row.seq}'s content does not match its chain hash")


def _check_message(
    faults: _Faults,
    seq: int,
    message_id: str | None,
    data: dict[str, Any],
    digests: dict[str, tuple[str, str]],
) -> None:
    if message_id is None or message_id not in digests:
        faults.add(
            MESSAGE_MISSING, seq, f"message {message_id} accepted at event {seq} is not stored", message_id
        )
        return
    original, document = digests[message_id]
    if data.get("digest") != original:
        faults.add(MESSAGE_ALTERED, seq, f"message {message_id}'s original bytes changed", message_id)
    if data.get("document_digest") != document:
        faults.add(MESSAGE_ALTERED, seq, f"message {message_id}'s document bytes changed", message_id)


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
    digests: dict[str, tuple[str, str]] = {}
    for row in conn.execute(stmt):
        original = hashlib.sha256(row.original).hexdigest()
        # An empty document is the original, stored once (what Ledger.get_document delivers then).
        digests[row.id] = (original, hashlib.sha256(row.document).hexdigest() if row.document else original)
    return digests


# -- state rows against their events ----------------------------------------------------------------


def _verify_state(conn: sa.Connection, faults: _Faults, batch_size: int) -> None:
    for batch in _pages(conn, messages, batch_size):
        ids = [r.id for r in batch]
        history = _events_by(conn, events.c.message_id, ids, (ACCEPTED_KIND, RECEIVED_KIND))
        for row in batch:
            _check_message_row(faults, row, history.get(row.id, []))
    for batch in _pages(conn, deliveries, batch_size):
        ids = [r.id for r in batch]
        history = _events_by(conn, events.c.delivery_id, ids, None)
        for row in batch:
            _check_delivery_row(faults, row, history.get(row.id, []))


def _pages(conn: sa.Connection, table: sa.Table, size: int) -> Iterable[Sequence[Any]]:
    columns = [c for c in table.c if c.name not in ("original", "document")]
    last = ""
    while True:
        rows = conn.execute(
            sa.select(*columns).where(table.c.id > last).order_by(table.c.id).limit(size)
        ).all()
        if not rows:
            return
        yield rows
        last = rows[-1].id


def _events_by(
    conn: sa.Connection, column: sa.Column[Any], ids: list[str], kinds: tuple[str, ...] | None
) -> dict[str, list[Any]]:
    query = sa.select(events).where(column.in_(ids)).order_by(events.c.id)
    if kinds is not None:
        query = query.where(events.c.kind.in_(kinds))
    found: dict[str, list[Any]] = {}
    for row in conn.execute(query):
        found.setdefault(getattr(row, column.name), []).append(row)
    return found


def _data(row: Any) -> dict[str, Any]:
    try:
        data = json.loads(row.data)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _check_message_row(faults: _Faults, row: Any, history: list[Any]) -> None:
    accepted = next((e for e in history if e.kind == ACCEPTED_KIND), None)
    if accepted is None:
        faults.add(STATE_UNRECORDED, None, f"message {row.id} has no message.accepted event", row.id)
        return
    said = _data(accepted)
    received = next((_data(e) for e in history if e.kind == RECEIVED_KIND), {})
    expected = {
        "sender": said.get("sender"),
        "doctype": said.get("doctype"),
        "recipients": said.get("recipients"),
        "correlation_key": said.get("correlation_key"),
        "digest": said.get("digest"),
        "document_digest": said.get("document_digest"),
        "submitted_by": received.get("submitted_by", row.submitted_by),
        "state": "accepted",
    }
    actual = {name: getattr(row, name) for name in expected}
    actual["recipients"] = list(row.recipients or [])
    seq = accepted.seq
    for name, value in expected.items():
        if actual[name] != value:
            faults.add(
                STATE_MISMATCH,
                seq,
                f"message {row.id}: {name} is {actual[name]!r} but its events say {value!r}",
                row.id,
            )


@dataclass
class _DeliveryState:
    recipient: str | None = None
    adapter: str | None = None
    state: str | None = None
    attempts: int = 0


def replay_delivery(history: Sequence[Any]) -> tuple[_DeliveryState, int | None]:
    """A delivery's recipient, adapter, state and attempts as its events tell them (oldest first),
    and the position of the last event that changed them."""
    state = _DeliveryState()
    last_seq = None
    for event in history:
        if not event.kind.startswith("delivery."):
            continue
        new_state = event.kind.removeprefix("delivery.")
        if new_state not in DELIVERY_STATES:
            continue
        data = _data(event)
        if state.state is None:
            state.recipient = data.get("recipient")
        if "adapter" in data:
            state.adapter = data["adapter"]
        if "attempt" in data:
            state.attempts = int(data["attempt"])
        elif "attempts" in data:
            state.attempts = int(data["attempts"])
        elif new_state == "queued":
            state.attempts = 0
        elif "acknowledged_by" in data:  # v1 inbox acknowledgements did not write the attempt
            state.attempts += 1
        if new_state == "queued" and "by" in data:  # an operator's requeue starts a fresh budget
            state.attempts = 0
        state.state = new_state
        last_seq = event.seq
    return state, last_seq


def _check_delivery_row(faults: _Faults, row: Any, history: list[Any]) -> None:
    replayed, seq = replay_delivery(history)
    if replayed.state is None:
        faults.add(STATE_UNRECORDED, None, f"delivery {row.id} has no delivery events", row.id)
        return
    for name in ("recipient", "adapter", "state", "attempts"):
        stored, said = getattr(row, name), getattr(replayed, name)
        if stored != said:
            faults.add(
                STATE_MISMATCH,
                seq,
                f"delivery {row.id}: {name} is {stored!r} but its events say {said!r}",
                row.id,
            )
