"""The ledger's log on SQLite and PostgreSQL: the sequencer (and its kill -9 mid-batch), checkpoints
in and outside the database, and every tampering an insider with SQL access might try — each found,
by `verify` or by comparison with a checkpoint exported before."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from hub.ledger import Checkpoint, Ledger, MessageRecord, entry_leaf_hash, entry_text
from hub.ledger.publish import CheckpointFile
from hub.ledger.sequencer import Sequencer
from tests import independent_tlog as ind
from tests.ledgertest import KEY, ORIGIN, SIGNER, sequence_all
from tests.test_ledger import new_message

ADAPTERS = {"000.00.00.H41": "agency", "vnpost": "post_ems"}


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def ledger_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'ledger.sqlite3'}"
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def ledger(ledger_url: str) -> Iterator[Ledger]:
    led = Ledger(ledger_url)
    led.migrate()
    yield led
    led.dispose()


def execute(ledger: Ledger, sql: str, **params: object) -> int:
    with ledger.engine.begin() as conn:
        return conn.execute(sa.text(sql), params).rowcount


def populate(ledger: Ledger) -> list[MessageRecord]:
    """Three messages of two recipients, each delivery claimed and delivered, a refusal and five
    operator notes: 30 events, placed five at a time (checkpoints at 5, 10, … 30)."""
    records = [ledger.record_message(dataclasses.replace(new_message(), adapters=ADAPTERS)) for _ in range(3)]
    for delivery in ledger.claim_due("worker-1", lease_seconds=60):
        ledger.finish_attempt(delivery.id, "delivered", peer_reference="REF-1")
    ledger.record_refusal(
        problem="schema-invalid", detail="x", submitted_by="a", sender="a", doctype="t", digest=None, size=1
    )
    for i in range(5):
        ledger.append_event("operator.note", data={"i": i})
    assert [c.tree_size for c in sequence_all(ledger, limit=5)] == [5, 10, 15, 20, 25, 30]
    return records


def kinds_at(ledger: Ledger, **kw: object) -> set[tuple[str, int | None]]:
    report = ledger.verify_chain(key=KEY, batch_size=7, **kw)  # type: ignore[arg-type]
    return {(f.kind, f.seq) for f in report.faults}


def event_at(ledger: Ledger, seq: int) -> sa.Row:
    with ledger.engine.connect() as conn:
        return conn.execute(sa.text("SELECT * FROM events WHERE seq = :s"), {"s": seq}).one()


def relabel(ledger: Ledger, seq: int, data: dict) -> None:
    """An insider who knows the formula edits an event and recomputes its leaf hash."""
    row = event_at(ledger, seq)
    at = row.at if isinstance(row.at, datetime) else datetime.fromisoformat(row.at)
    at = at.replace(tzinfo=UTC) if at.tzinfo is None else at
    leaf = entry_leaf_hash(
        entry_text(at=at, kind=row.kind, message_id=row.message_id, delivery_id=row.delivery_id, data=data)
    )
    execute(
        ledger,
        "UPDATE events SET data = :d, leaf_hash = :h WHERE seq = :s",
        d=json.dumps(data),
        h=leaf,
        s=seq,
    )


# ---------------------------------------------------------------- the sequencer


def test_writers_leave_positions_to_the_sequencer_which_signs_checkpoints(
    ledger: Ledger, tmp_path: Path
) -> None:
    record = ledger.record_message(new_message())
    assert {e.seq for e in ledger.list_events(record.id)} == {None}
    assert ledger.log.unsequenced() == 4 and ledger.latest_checkpoint() is None
    out = CheckpointFile(tmp_path / "checkpoints.jsonl")
    sequencer = Sequencer(ledger, SIGNER, checkpoint_file=out, interval=0.1, owner="seq-a")
    (checkpoint,) = sequencer.run_once()
    assert checkpoint.tree_size == 4 and ledger.log.unsequenced() == 0
    assert [e.seq for e in ledger.list_events(record.id)] == [1, 2, 3, 4]
    leaves = [bytes.fromhex(e.leaf_hash) for e in ledger.list_events(record.id)]
    assert checkpoint.root_hash == ind.mth(leaves).hex()
    assert ind.checkpoint_signed_by(checkpoint.note, ORIGIN, KEY.key) == (4, ind.mth(leaves))  # type: ignore[arg-type]
    assert out.read() == [Checkpoint(ORIGIN, 4, ind.mth(leaves))]
    assert sequencer.run_once() == [], "nothing new: no checkpoint"
    assert Sequencer(ledger, SIGNER, owner="seq-b").run_once() == [], "seq-a holds the lease"
    ledger.append_event("operator.note", data={})
    assert [c.tree_size for c in sequencer.run_once()] == [5]
    assert [c.size for c in out.read()] == [4, 5]


def test_sequencers_taking_turns_publish_each_checkpoint_once(ledger: Ledger, tmp_path: Path) -> None:
    shared = CheckpointFile(tmp_path / "checkpoints.jsonl")  # two processes of one hub, one data dir
    a = Sequencer(ledger, SIGNER, checkpoint_file=shared, owner="seq-a")
    b = Sequencer(ledger, SIGNER, checkpoint_file=shared, owner="seq-b")
    for turn in (a, b, a, b):
        ledger.append_event("operator.note", data={})
        assert len(turn.run_once()) == 1
        ledger.release_leases(turn.owner)  # a clean shutdown: the other takes over at once
    assert [c.size for c in shared.read()] == [1, 2, 3, 4]


SEQUENCE_CLI = [sys.executable, "-c", "from hub.cli import main; main()", "ledger", "sequence"]


def test_a_sequencer_killed_mid_batch_loses_nothing_and_its_successor_builds_the_same_tree(
    ledger: Ledger, ledger_url: str, tmp_path: Path
) -> None:
    for _ in range(60):
        ledger.record_message(new_message())
    with ledger.engine.connect() as conn:
        ids = [r[0] for r in conn.execute(sa.text("SELECT id FROM events ORDER BY id"))]
    env = {
        **os.environ,
        "LIENTHONG_DATABASE_URL": ledger_url,
        "LIENTHONG_DATA_DIR": str(tmp_path),
        "LIENTHONG_LEDGER_ORIGIN": ORIGIN,
        "LIENTHONG_SEQUENCER_LEASE_SECONDS": "1",
        "LIENTHONG_CHECKPOINT_INTERVAL": "0.1",
        "LIENTHONG_FAILPOINT": "sequencer-before-commit",
    }
    child = subprocess.Popen(SEQUENCE_CLI, env=env, stderr=subprocess.PIPE, text=True)
    try:
        assert child.stderr is not None
        line = child.stderr.readline()
        while line and "failpoint sequencer-before-commit reached" not in line:
            line = child.stderr.readline()
        assert line, "the sequencer never reached the point before its commit"
        # it has placed all 240 events and written their checkpoint, and not committed: kill -9 now
        os.kill(child.pid, signal.SIGKILL)
        child.wait(10)
    finally:
        if child.poll() is None:
            child.kill()
    assert ledger.log.unsequenced() == len(ids) and ledger.latest_checkpoint() is None, "nothing half-done"

    successor = Sequencer(ledger, SIGNER, interval=0.1, lease_seconds=1, owner="successor")
    deadline = time.monotonic() + 10
    signed = successor.run_once()
    while not signed and time.monotonic() < deadline:  # the dead sequencer's lease runs out first
        time.sleep(0.2)
        signed = successor.run_once()
    assert [c.tree_size for c in signed] == [len(ids)]
    with ledger.engine.connect() as conn:
        placed = conn.execute(sa.text("SELECT id, data, leaf_hash FROM events ORDER BY seq")).all()
    assert [r.id for r in placed] == ids, "positions follow the writers' ids, as the first would have"
    assert signed[0].root_hash == ind.mth([bytes.fromhex(r.leaf_hash) for r in placed]).hex()
    assert ledger.verify_chain(key=KEY).ok


# ---------------------------------------------------------------- tampering found by verify

Tamper = Callable[[Ledger, list[MessageRecord]], None]


def _swap(ledger: Ledger, a: int, b: int) -> None:
    execute(ledger, "UPDATE events SET seq = -1 WHERE seq = :a", a=a)
    execute(ledger, "UPDATE events SET seq = :a WHERE seq = :b", a=a, b=b)
    execute(ledger, "UPDATE events SET seq = :b WHERE seq = -1", b=b)


def _delivered(records: list[MessageRecord]) -> str:
    return records[1].deliveries[0].id


TAMPERINGS: dict[str, tuple[Tamper, set[tuple[str, int | None]]]] = {
    "edit an event's data": (
        lambda led, recs: execute(led, "UPDATE events SET data = :d WHERE seq = 26", d='{"i": 9}'),
        {("edited", 26)},
    ),
    "edit an event's kind": (
        lambda led, recs: execute(led, "UPDATE events SET kind = 'operator.other' WHERE seq = 27"),
        {("edited", 27)},
    ),
    "edit an event and recompute its leaf": (
        lambda led, recs: relabel(led, 27, {"i": 99}),
        {("checkpoint-mismatch", 30)},
    ),
    "delete an event in the middle": (
        lambda led, recs: execute(led, "DELETE FROM events WHERE seq = 26"),
        {("deleted", 26), ("checkpoint-mismatch", 30)},
    ),
    "reorder two events": (lambda led, recs: _swap(led, 27, 28), {("checkpoint-mismatch", 30)}),
    "truncate the newest events": (
        lambda led, recs: execute(led, "DELETE FROM events WHERE seq > 26"),
        {("truncated", 30)},
    ),
    "change a delivery's recipient": (
        lambda led, recs: execute(
            led, "UPDATE deliveries SET recipient = 'x.attacker' WHERE id = :i", i=_delivered(recs)
        ),
        {("state-mismatch", None)},
    ),
    "change a delivery's state": (
        lambda led, recs: execute(
            led, "UPDATE deliveries SET state = 'dead' WHERE id = :i", i=_delivered(recs)
        ),
        {("state-mismatch", None)},
    ),
    "change a delivery's adapter and attempts": (
        lambda led, recs: execute(
            led, "UPDATE deliveries SET adapter = 'bank', attempts = 7 WHERE id = :i", i=_delivered(recs)
        ),
        {("state-mismatch", None)},
    ),
    "change a message's sender": (
        lambda led, recs: execute(
            led, "UPDATE messages SET sender = 'x.attacker' WHERE id = :i", i=recs[2].id
        ),
        {("state-mismatch", None)},
    ),
    "change a message's delivered bytes": (
        lambda led, recs: execute(
            led, "UPDATE messages SET document = :b WHERE id = :i", b=b"<x/>", i=recs[0].id
        ),
        {("message-altered", None)},
    ),
    "forge a checkpoint row": (
        lambda led, recs: execute(
            led, "UPDATE checkpoints SET root_hash = :r WHERE tree_size = 10", r="ab" * 32
        ),
        {("checkpoint-forged", 10), ("checkpoint-mismatch", 10)},
    ),
}


@pytest.mark.parametrize("name", list(TAMPERINGS))
def test_each_tampering_is_found_with_its_kind_and_position(ledger: Ledger, name: str) -> None:
    records = populate(ledger)
    assert ledger.verify_chain(key=KEY).ok
    tamper, expected = TAMPERINGS[name]
    tamper(ledger, records)
    report = ledger.verify_chain(key=KEY, batch_size=7)
    assert not report.ok
    found = {
        (f.kind, f.seq if f.kind not in ("state-mismatch", "message-altered") else None)
        for f in report.faults
    }
    assert expected <= found, report.faults


def test_verify_reports_every_fault_and_first_only_the_first(ledger: Ledger) -> None:
    records = populate(ledger)
    execute(ledger, "UPDATE events SET data = :d WHERE seq = 26", d='{"i": 9}')
    execute(ledger, "UPDATE messages SET sender = 'x.attacker' WHERE id = :i", i=records[2].id)
    execute(ledger, "UPDATE deliveries SET state = 'queued' WHERE id = :i", i=records[0].deliveries[1].id)
    report = ledger.verify_chain(key=KEY)
    kinds = [f.kind for f in report.faults]
    assert kinds.count("edited") == 1 and kinds.count("state-mismatch") == 2, report.faults
    assert {f.subject for f in report.faults if f.kind == "state-mismatch"} == {
        records[2].id,
        records[0].deliveries[1].id,
    }
    first = ledger.verify_chain(key=KEY, first=True)
    assert len(first.faults) == 1 and (first.first_bad_seq, first.reason.split(":")[0]) == (26, "edited")


def test_a_rewritten_history_with_its_checkpoints_is_found_by_an_exported_checkpoint(
    ledger: Ledger, tmp_path: Path
) -> None:
    """The insider deletes the newest events *and* the checkpoints that cover them, then — holding
    the hub's key — writes a different tail and signs new checkpoints: the database is consistent
    again, but a checkpoint kept outside (the checkpoint file, a receipt) no longer matches."""
    populate(ledger)
    exported = CheckpointFile(tmp_path / "checkpoints.jsonl")
    exported.append(ledger.log.checkpoints_after(0))
    execute(ledger, "DELETE FROM events WHERE seq > 25")
    execute(ledger, "DELETE FROM checkpoints WHERE tree_size > 25")
    restarted = Ledger(ledger.url)  # the insider's hub, restarted: it knows only the database
    try:
        assert restarted.verify_chain(key=KEY).ok, "inside the database alone the truncation is invisible"
        assert ("truncated", 30) in kinds_at(restarted, external=exported.read())
        for i in range(5):
            restarted.append_event("operator.note", data={"rewritten": i})
        sequence_all(restarted)
        assert restarted.verify_chain(key=KEY).ok, "re-signed with the hub's key: consistent inside"
        assert ("checkpoint-mismatch", 30) in kinds_at(restarted, external=exported.read())
        assert ("checkpoint-mismatch", 30) not in kinds_at(restarted, external=exported.read()[:5])
    finally:
        restarted.dispose()
