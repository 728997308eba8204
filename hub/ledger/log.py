"""The event log: append, sequence, the Merkle tree, checkpoints and proofs (ledger v2).

- **Append** (every writer, inside its own transaction): an event row gets its id from the database
  and its RFC 9162 leaf hash from its own content; it has no position yet (``seq`` is null). No row
  is shared between writers, so no writer waits for another's events.
- **Sequence** (one process at a time, see :mod:`hub.ledger.sequencer`): in one transaction, take the
  oldest unplaced events in id order, give them the next positions, extend the tree and store a
  checkpoint signed by the hub. A crash rolls the whole batch back; the next sequencer takes the same
  events in the same order, so the tree is the one the first would have built.
- **Prove**: inclusion proofs of events and consistency proofs between tree sizes, against stored
  checkpoints (:mod:`hub.ledger.merkle`).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from hub.ledger import merkle
from hub.ledger.chain import entry_leaf_hash, entry_text, normalise_data
from hub.ledger.models import checkpoints, events
from hub.ledger.note import Checkpoint, PrivateKey, sign_note
from hub.ledger.records import CheckpointRecord, EventRecord, checkpoint_record, event_record

# Set to "sequencer-before-commit" to make a sequencer stop for good just before it commits a batch
# (positions assigned, checkpoint written): the crash tests kill it there. Never set in production.
FAILPOINT_ENV = "LIENTHONG_FAILPOINT"
DEFAULT_BATCH = 5000


def utcnow() -> datetime:
    return datetime.now(UTC)


class LogTruncated(RuntimeError):
    """Placed events are missing below the latest checkpoint: the sequencer stops (fail closed)."""


@dataclass(frozen=True)
class PendingEvent:
    """An event a writer is about to append (its data not yet serialised)."""

    kind: str
    message_id: str | None
    delivery_id: str | None
    data: dict[str, Any] | None


@dataclass(frozen=True)
class LogSigner:
    """Signs checkpoints as C2SP notes: the log's origin (also the key name) and the hub's key."""

    origin: str
    key: PrivateKey

    def sign(self, size: int, root: bytes) -> str:
        return sign_note(Checkpoint(self.origin, size, root).text(), self.origin, self.key)


@dataclass(frozen=True)
class InclusionProof:
    event: EventRecord
    entry: str  # the exact text the leaf hash covers
    leaf_index: int
    proof: tuple[bytes, ...]


@dataclass(frozen=True)
class MessageProof:
    checkpoint: CheckpointRecord | None
    included: tuple[InclusionProof, ...]
    pending: tuple[EventRecord, ...]  # not yet covered by the checkpoint (placed later)


_INSERT_EVENTS = sa.insert(events)
_INSERT_EVENTS_RETURNING = sa.insert(events).returning(events.c.id, sort_by_parameter_order=True)
# "seq IS NOT NULL" lets SQLite use uq_events_seq, which is partial (without the unplaced events).
_SIZE = sa.select(sa.func.max(events.c.seq)).where(events.c.seq.is_not(None))
_LATEST_CHECKPOINT = sa.select(checkpoints).order_by(checkpoints.c.tree_size.desc()).limit(1)
_PLACE = sa.update(events).where(events.c.id == sa.bindparam("_id")).values(seq=sa.bindparam("_seq"))


@dataclass(frozen=True)
class PreparedEvents:
    """Events ready to insert: their rows and normalised data (see :meth:`EventLog.prepare`)."""

    rows: list[dict[str, Any]]
    data: list[dict[str, Any]]

    @staticmethod
    def joined(parts: Sequence[PreparedEvents]) -> PreparedEvents:
        """Several messages' events as one insert (a group commit's batch)."""
        return PreparedEvents(
            [row for part in parts for row in part.rows],
            [data for part in parts for data in part.data],
        )


def entry_of(event: EventRecord) -> str:
    return entry_text(
        at=event.at,
        kind=event.kind,
        message_id=event.message_id,
        delivery_id=event.delivery_id,
        data=event.data,
    )


class EventLog:
    """The log on the ledger's engine (writes) and reader (reads)."""

    def __init__(self, engine: sa.Engine, reader: sa.Engine) -> None:
        self._engine = engine
        self._reader = reader
        self._tree: merkle.CompactRange | None = None  # the sequencer's view; rebuilt when stale

    # -- append -------------------------------------------------------------------------------------

    def append(
        self, conn: sa.Connection, pending: Sequence[PendingEvent], *, with_ids: bool = False
    ) -> list[EventRecord]:
        """Insert events inside the caller's transaction; with ``with_ids`` their records carry ids."""
        return self.insert(conn, self.prepare(pending), with_ids=with_ids)

    @staticmethod
    def prepare(pending: Sequence[PendingEvent]) -> PreparedEvents:
        """The events' rows, data normalised and leaf hashes computed: work done before the
        transaction, so that a writer holds the ledger's write lock for the inserts alone."""
        at = utcnow()
        rows: list[dict[str, Any]] = []
        normalised: list[dict[str, Any]] = []
        for p in pending:
            data, text = normalise_data(p.data)
            entry = entry_text(
                at=at, kind=p.kind, message_id=p.message_id, delivery_id=p.delivery_id, data=data
            )
            normalised.append(data)
            rows.append(
                {
                    "at": at,
                    "kind": p.kind,
                    "message_id": p.message_id,
                    "delivery_id": p.delivery_id,
                    "data": text,
                    "leaf_hash": entry_leaf_hash(entry),
                }
            )
        return PreparedEvents(rows, normalised)

    @staticmethod
    def insert(conn: sa.Connection, prepared: PreparedEvents, *, with_ids: bool = False) -> list[EventRecord]:
        """Insert prepared events (:meth:`prepare`) inside the caller's transaction."""
        rows = prepared.rows
        if not rows:
            return []
        if with_ids:
            ids = [int(i) for i in conn.execute(_INSERT_EVENTS_RETURNING, rows).scalars()]
        else:
            conn.execute(_INSERT_EVENTS, rows)
            ids = [0] * len(rows)
        return [
            EventRecord(
                id=i,
                seq=None,
                at=row["at"],
                kind=row["kind"],
                message_id=row["message_id"],
                delivery_id=row["delivery_id"],
                data=data,
                leaf_hash=row["leaf_hash"],
            )
            for i, row, data in zip(ids, rows, prepared.data, strict=True)
        ]

    # -- sequence -----------------------------------------------------------------------------------

    def sequence(self, signer: LogSigner, *, limit: int = DEFAULT_BATCH) -> CheckpointRecord | None:
        """Place up to ``limit`` unplaced events and sign a checkpoint of the grown tree.

        Also signs a checkpoint when the tree is larger than the latest one (after the migration from
        v1). Returns the new checkpoint, or None when there was nothing to do.
        """
        with self._engine.begin() as conn:
            size = int(conn.execute(_SIZE).scalar() or 0)
            latest = conn.execute(_LATEST_CHECKPOINT).one_or_none()
            rows = conn.execute(
                sa.select(events.c.id, events.c.leaf_hash)
                .where(events.c.seq.is_(None))
                .order_by(events.c.id)
                .limit(limit)
                .with_for_update()
            ).all()
            if latest is not None and int(latest.tree_size) > size:
                raise LogTruncated(
                    f"the log has {size} placed events but checkpoint {latest.tree_size} exists"
                )
            if not rows and latest is not None and int(latest.tree_size) == size:
                return None
            if not rows and size == 0:
                return None
            tree = self._tree_of(conn, size)
            if rows:
                conn.execute(_PLACE, [{"_id": r.id, "_seq": size + i} for i, r in enumerate(rows, start=1)])
                tree.extend([bytes.fromhex(r.leaf_hash) for r in rows])
            root = tree.root()
            row = {
                "tree_size": tree.size,
                "root_hash": root.hex(),
                "note": signer.sign(tree.size, root),
                "cosignatures": "",
                "timestamp": None,
                "created_at": utcnow(),
            }
            conn.execute(sa.insert(checkpoints), row)
            _failpoint("sequencer-before-commit")
        self._tree = tree
        return checkpoint_record(row)

    def _tree_of(self, conn: sa.Connection, size: int) -> merkle.CompactRange:
        """A copy of the cached tree if it is still the log's, else the tree rebuilt from the leaves."""
        if self._tree is None or self._tree.size != size:
            self._tree = merkle.CompactRange.of(self._leaves(conn, size))
        return self._tree.copy()

    @staticmethod
    def _leaves(conn: sa.Connection, size: int) -> list[bytes]:
        hashes = conn.execute(
            sa.select(events.c.leaf_hash).where(events.c.seq <= size).order_by(events.c.seq)
        ).scalars()
        return [bytes.fromhex(h) for h in hashes]

    def record_publication(
        self, tree_size: int, *, cosignatures: str | None = None, timestamp: bytes | None = None
    ) -> None:
        """Store what the checkpoint gained once published: witnesses' lines, a TSA's time-stamp."""
        values: dict[str, Any] = {}
        if cosignatures:
            values["cosignatures"] = cosignatures
        if timestamp is not None:
            values["timestamp"] = timestamp
        if values:
            with self._engine.begin() as conn:
                conn.execute(
                    sa.update(checkpoints).where(checkpoints.c.tree_size == tree_size).values(**values)
                )

    # -- read ---------------------------------------------------------------------------------------

    def latest_checkpoint(self) -> CheckpointRecord | None:
        with self._reader.connect() as conn:
            row = conn.execute(_LATEST_CHECKPOINT).one_or_none()
        return checkpoint_record(row._mapping) if row else None

    def checkpoint(self, tree_size: int) -> CheckpointRecord | None:
        with self._reader.connect() as conn:
            row = conn.execute(
                sa.select(checkpoints).where(checkpoints.c.tree_size == tree_size)
            ).one_or_none()
        return checkpoint_record(row._mapping) if row else None

    def checkpoints_after(self, tree_size: int, *, limit: int = 1000) -> list[CheckpointRecord]:
        with self._reader.connect() as conn:
            rows = conn.execute(
                sa.select(checkpoints)
                .where(checkpoints.c.tree_size > tree_size)
                .order_by(checkpoints.c.tree_size)
                .limit(limit)
            ).all()
        return [checkpoint_record(r._mapping) for r in rows]

    def unsequenced(self) -> int:
        """How many events wait for a position (a gauge: it should stay near zero)."""
        with self._reader.connect() as conn:
            return int(conn.execute(sa.select(sa.func.count()).where(events.c.seq.is_(None))).scalar() or 0)

    def prove_events(self, found: Sequence[EventRecord]) -> MessageProof:
        """Inclusion proofs of these events against the latest checkpoint."""
        with self._reader.connect() as conn:
            latest = conn.execute(_LATEST_CHECKPOINT).one_or_none()
            if latest is None:
                return MessageProof(None, (), tuple(found))
            size = int(latest.tree_size)
            builder = merkle.ProofBuilder(self._leaves(conn, size))
        included, pending = [], []
        for event in found:
            if event.seq is None or event.seq > size:
                pending.append(event)
                continue
            proof = builder.inclusion(event.seq - 1, size)
            included.append(InclusionProof(event, entry_of(event), event.seq - 1, tuple(proof)))
        return MessageProof(checkpoint_record(latest._mapping), tuple(included), tuple(pending))

    def consistency(
        self, first: int, second: int
    ) -> tuple[list[bytes], CheckpointRecord | None, CheckpointRecord]:
        """The consistency proof from tree size ``first`` to ``second`` (a checkpoint's size), with
        the checkpoints of both sizes. ValueError when ``second`` is no checkpoint or first > second."""
        with self._reader.connect() as conn:
            rows = {
                int(r.tree_size): r
                for r in conn.execute(
                    sa.select(checkpoints).where(checkpoints.c.tree_size.in_([first, second]))
                )
            }
            if second not in rows:
                raise ValueError(f"no checkpoint of tree size {second}")
            if not 0 <= first <= second:
                raise ValueError("the first tree size must lie between 0 and the second")
            builder = merkle.ProofBuilder(self._leaves(conn, second))
        if builder.size != second:
            raise ValueError(f"the log holds {builder.size} placed events, not {second}")
        older = checkpoint_record(rows[first]._mapping) if first in rows else None
        return builder.consistency(first, second), older, checkpoint_record(rows[second]._mapping)

    def leaf_hashes(self, size: int) -> list[bytes]:
        with self._reader.connect() as conn:
            return self._leaves(conn, size)

    def events_of(self, conn: sa.Connection, where: sa.ColumnElement[bool]) -> list[EventRecord]:
        rows = conn.execute(sa.select(events).where(where).order_by(events.c.id)).all()
        return [event_record(r._mapping) for r in rows]


def _failpoint(name: str) -> None:
    if os.environ.get(FAILPOINT_ENV) == name:
        print(f"failpoint {name} reached", file=sys.stderr, flush=True)
        while True:
            time.sleep(60)
