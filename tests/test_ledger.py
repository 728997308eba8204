"""The ledger against SQLite (a file) and the real PostgreSQL: records, duplicates, tampering,
several processes appending at once, and the migrations."""
# The Merkle log's own tests: test_ledger_merkle.py (hashing, notes), test_ledger_log.py (sequencer,
# checkpoints, tampering, state), test_ledger_migration.py (v1 → v2).

from __future__ import annotations

import dataclasses
import hashlib
import json
import multiprocessing
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from hub.ledger import (
    GENESIS_HASH,
    ChainReport,
    DuplicateMessage,
    Ledger,
    NewMessage,
)
from hub.ledger import migrate as ledger_migrate
from hub.ledger.blobs import IN_PLACE_BYTES
from hub.ledger.models import metadata
from tests.ledgertest import KEY, sequence_all

LEDGER_TABLES = {"messages", "deliveries", "events", "chain_head", "adapter_state", "checkpoints"}


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def ledger_url(request: pytest.FixtureRequest, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'ledger.sqlite3'}"
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def ledger(ledger_url: str) -> Iterator[Ledger]:
    led = Ledger(ledger_url)
    led.migrate()
    yield led
    led.dispose()


def new_message(
    *,
    body: bytes | None = None,
    document: bytes | None = None,
    recipients: tuple[str, ...] = ("000.00.00.H41", "vnpost"),
    sender: str = "000.00.00.G22",
    doctype: str = "edxml.document",
    natural_key: str | None = None,
    idempotency_key: str | None = None,
    submitted_by: str = "000.00.00.G22",
) -> NewMessage:
    body = body if body is not None else f"<doc id='{uuid.uuid4()}'>Công văn</doc>".encode()
    document = document if document is not None else body
    return NewMessage(
        id=str(uuid.uuid4()),
        doctype=doctype,
        sender=sender,
        submitted_by=submitted_by,
        recipients=recipients,
        digest=hashlib.sha256(body).hexdigest(),
        original=body,
        document=document,
        document_digest=hashlib.sha256(document).hexdigest(),
        content_type="application/xml",
        correlation_key="HS-2025-0001",
        natural_key=natural_key,
        idempotency_key=idempotency_key,
        signature=None,
        signer=sender,
        warnings=["unsigned: signed by the hub"],
    )


def execute(ledger: Ledger, sql: str, **params: object) -> None:
    with ledger.engine.begin() as conn:
        conn.execute(sa.text(sql), params)


def scalar(ledger: Ledger, sql: str, **params: object) -> object:
    with ledger.engine.connect() as conn:
        return conn.execute(sa.text(sql), params).scalar()


# ---------------------------------------------------------------- schema and round trips


def test_migrate_creates_the_schema_and_the_genesis_head(ledger: Ledger) -> None:
    tables = set(sa.inspect(ledger.engine).get_table_names())
    assert tables >= LEDGER_TABLES
    with ledger.engine.connect() as conn:
        head = conn.execute(sa.text("SELECT id, seq, hash FROM chain_head")).all()
    assert [tuple(r) for r in head] == [(1, 0, GENESIS_HASH)]
    ledger.migrate()  # a second run is a no-op
    assert ledger.verify_chain() == ChainReport(True, 0, None, None)


def test_migrations_create_exactly_the_models(ledger: Ledger) -> None:
    with ledger.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == []


def test_record_then_read_back(ledger: Ledger) -> None:
    signed = b"<doc>signed by the hub</doc>"
    msg = new_message(document=signed, natural_key="123/UBND-VP", idempotency_key="k-1")
    record = ledger.record_message(msg)

    assert record.state == "accepted"
    assert record.recipients == ("000.00.00.H41", "vnpost")
    assert [d.state for d in record.deliveries] == ["queued", "queued"]

    got = ledger.get_message(msg.id)
    assert got == record
    assert got.size == len(msg.original)
    assert got.warnings == ("unsigned: signed by the hub",)
    assert got.received_at.tzinfo is not None and got.accepted_at is not None
    assert {d.recipient for d in got.deliveries} == {"000.00.00.H41", "vnpost"}
    assert all(d.attempts == 0 and d.adapter is None for d in got.deliveries)

    assert ledger.get_document(msg.id) == (signed, "application/xml", None)
    assert ledger.find_by_natural_key(msg.sender, msg.doctype, "123/UBND-VP") == record
    assert ledger.find_by_idempotency_key(msg.submitted_by, "k-1") == record
    assert ledger.find_by_natural_key(msg.sender, "edxml.status", "123/UBND-VP") is None
    assert ledger.find_by_idempotency_key("someone-else", "k-1") is None
    assert ledger.get_message(str(uuid.uuid4())) is None
    assert ledger.get_document(str(uuid.uuid4())) is None

    evs = ledger.list_events(msg.id)
    assert [e.kind for e in evs] == [
        "message.received",
        "message.accepted",
        "delivery.queued",
        "delivery.queued",
    ]
    assert [e.seq for e in evs] == [None] * 4, "placed by the sequencer, not by the writer"
    sequence_all(ledger)
    assert [e.seq for e in ledger.list_events(msg.id)] == [1, 2, 3, 4]
    accepted = evs[1].data
    assert accepted["digest"] == msg.digest
    assert accepted["document_digest"] == msg.document_digest
    assert accepted["recipients"] == list(record.recipients)
    assert accepted["warnings"] == 1
    assert {e.delivery_id for e in evs[2:]} == {d.id for d in record.deliveries}
    assert ledger.verify_chain().ok


def test_a_document_its_sender_signed_is_stored_once(ledger: Ledger) -> None:
    """Delivered unchanged, the bytes are kept once (``document`` empty); readers still get them."""
    as_sent = new_message()
    hub_signed = new_message(document=b"<doc>signed by the hub</doc>")
    ledger.record_message(as_sent)
    ledger.record_message(hub_signed)
    sequence_all(ledger)
    stored = {
        r.id: (bytes(r.original), bytes(r.document))
        for r in ledger.engine.connect().execute(sa.text("SELECT id, original, document FROM messages"))
    }
    assert stored[as_sent.id] == (as_sent.original, b""), "one copy"
    assert stored[hub_signed.id] == (hub_signed.original, hub_signed.document)
    assert ledger.get_document(as_sent.id) == (as_sent.original, "application/xml", None)
    assert ledger.get_document(hub_signed.id) == (hub_signed.document, "application/xml", None)
    assert ledger.get_original(as_sent.id) == (as_sent.original, "application/xml", None, as_sent.sender)
    accepted = {e.message_id: e.data for e in ledger.events_of_kinds(["message.accepted"], limit=10)}
    assert accepted[as_sent.id]["signed_by_hub"] is False and accepted[hub_signed.id]["signed_by_hub"] is True
    assert ledger.verify_chain(key=KEY).ok

    # tampering with either column is still found
    execute(ledger, "UPDATE messages SET document = :b WHERE id = :i", b=b"<x/>", i=as_sent.id)
    execute(ledger, "UPDATE messages SET document = :b WHERE id = :i", b=b"", i=hub_signed.id)
    faults = {(f.kind, f.subject, f.detail.split("'s ")[-1]) for f in ledger.verify_chain(key=KEY).faults}
    assert faults == {
        ("message-altered", as_sent.id, "document bytes changed"),
        ("message-altered", hub_signed.id, "document bytes changed"),
    }
    execute(ledger, "UPDATE messages SET document = :b WHERE id = :i", b=b"", i=as_sent.id)
    execute(ledger, "UPDATE messages SET original = :b WHERE id = :i", b=b"<x/>", i=as_sent.id)
    faults = {(f.kind, f.subject, f.detail.split("'s ")[-1]) for f in ledger.verify_chain(key=KEY).faults}
    assert ("message-altered", as_sent.id, "original bytes changed") in faults
    assert ("message-altered", as_sent.id, "document bytes changed") in faults


def test_a_group_commit_writes_its_batch_together_and_answers_duplicates_alone(ledger: Ledger) -> None:
    """Messages queued behind a busy writer go in one transaction; a duplicate among them (of an
    older message, or of another in the same batch) is refused alone, the others are recorded."""
    older = ledger.record_message(new_message(idempotency_key="older"))
    one_of_pair = new_message(natural_key="pair")
    batch = [
        new_message(),
        new_message(idempotency_key="older"),  # taken by an older message
        one_of_pair,
        new_message(natural_key="pair"),  # taken by a message of the same batch
        new_message(document=b"<doc>signed by the hub</doc>"),
    ]
    results: dict[str, object] = {}

    def record(msg: NewMessage) -> None:
        try:
            results[msg.id] = ledger.record_message(msg)
        except DuplicateMessage as duplicate:
            results[msg.id] = duplicate

    events_before = scalar(ledger, "SELECT count(*) FROM events")
    batches_before = ledger._committer.batches
    leader = threading.Thread(target=record, args=(new_message(),))
    followers = [threading.Thread(target=record, args=(msg,)) for msg in batch]
    with ledger.engine.begin() as blocker:  # holds the write lock: the leader waits, the others queue
        if blocker.dialect.name == "postgresql":
            blocker.execute(sa.text("LOCK TABLE messages IN EXCLUSIVE MODE"))
        leader.start()
        time.sleep(0.3)
        for thread in followers:
            thread.start()
        time.sleep(0.5)
    for thread in (leader, *followers):
        thread.join(30)
    assert ledger._committer.batches - batches_before == 2, "the leader's, then the five queued together"

    refused = {i: r for i, r in results.items() if isinstance(r, DuplicateMessage)}
    pair = {one_of_pair.id, batch[3].id}  # whichever of the two the batch held first wins
    (loser,) = pair & set(refused)
    (winner,) = pair - {loser}
    assert {(i, r.key, r.existing.id) for i, r in refused.items()} == {
        (batch[1].id, "idempotency_key", older.id),
        (loser, "natural_key", winner),
    }
    recorded = [i for i, r in results.items() if not isinstance(r, DuplicateMessage)]
    assert len(recorded) == 4 and all(ledger.get_message(i) is not None for i in recorded)
    assert all(ledger.get_message(i) is None for i in refused)
    assert scalar(ledger, "SELECT count(*) FROM events") == events_before + 4 * 4, "4 events per message"
    assert ledger.get_document(batch[4].id) == (b"<doc>signed by the hub</doc>", "application/xml", None)
    sequence_all(ledger)
    assert ledger.verify_chain(key=KEY).ok


def test_events_of_kinds_finds_every_kind(ledger: Ledger) -> None:
    """ix_events_kind_id leaves out the kinds every message writes; asking for them still works."""
    record = ledger.record_message(new_message())
    ledger.update_delivery(record.deliveries[0].id, state="dead", last_error="gone")
    note = ledger.append_event("operator.note", message_id=record.id, data={"text": "x"})
    kinds = lambda found: [e.kind for e in found]  # noqa: E731
    assert kinds(ledger.events_of_kinds(["message.accepted"])) == ["message.accepted"]
    assert kinds(ledger.events_of_kinds([], prefix="delivery.")) == [
        "delivery.dead",
        *["delivery.queued"] * 2,
    ]
    assert kinds(ledger.events_of_kinds(["delivery.dead"])) == ["delivery.dead"]
    assert [e.id for e in ledger.events_of_kinds(["message.received"], prefix="operator.")] == [
        note.id,
        ledger.list_events(record.id)[0].id,
    ]
    assert kinds(ledger.events_of_kinds(["delivery.dead"], prefix="operator.", after_id=0)) == [
        "delivery.dead",
        "operator.note",
    ]


def test_a_sqlite_ledger_is_durable_with_small_pages(tmp_path) -> None:
    """Every commit on disk before it returns (WAL, synchronous=FULL); 2 KiB pages for a new file,
    while a ledger made with other pages keeps them."""
    old = tmp_path / "old.sqlite3"
    with sqlite3.connect(old) as conn:
        conn.execute("PRAGMA page_size = 4096")
        conn.execute("CREATE TABLE t (x)")
    for path, page_size in ((tmp_path / "new.sqlite3", 2048), (old, 4096)):
        led = Ledger(f"sqlite:///{path}")
        led.migrate()
        with led.engine.connect() as conn:
            pragma = lambda name: conn.exec_driver_sql(f"PRAGMA {name}").scalar()  # noqa: E731
            assert pragma("journal_mode") == "wal"
            assert pragma("synchronous") == 2, "FULL"
            assert pragma("page_size") == page_size
            assert pragma("wal_autocheckpoint") == 8192
        led.dispose()


def test_leaf_hash_follows_the_documented_formula(ledger: Ledger) -> None:
    """Recomputed here from the written rule (docs/ledger.md), not with the ledger's own helper."""
    ledger.record_refusal(
        problem="schema-invalid",
        detail="thiếu trường",
        submitted_by="x",
        sender=None,
        doctype="ems.order",
        digest=None,
        size=10,
        errors=[{"path": "/a", "message": "required"}],
    )
    event = ledger.append_event("operator.note", data={"text": "đã kiểm tra", "n": 2})
    with ledger.engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT id, kind, data, leaf_hash FROM events ORDER BY id")).all()
    row = rows[-1]
    assert row.id == event.id
    body = {
        "at": event.at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f+00:00"),
        "kind": row.kind,
        "message_id": None,
        "delivery_id": None,
        "data": json.loads(row.data),
    }
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert row.leaf_hash == hashlib.sha256(b"\x00" + text.encode()).hexdigest() == event.leaf_hash


def test_record_refuses_a_wrong_digest(ledger: Ledger) -> None:
    msg = new_message()
    bad = NewMessage(**{**msg.__dict__, "digest": "0" * 64})
    with pytest.raises(ValueError, match="digest"):
        ledger.record_message(bad)
    assert ledger.get_message(msg.id) is None


@pytest.mark.parametrize("key", ["natural_key", "idempotency_key"])
def test_duplicate_keys_raise_with_the_original(ledger: Ledger, key: str) -> None:
    first = ledger.record_message(new_message(**{key: "same"}))
    events_before = scalar(ledger, "SELECT count(*) FROM events")
    second = new_message(**{key: "same"})
    with pytest.raises(DuplicateMessage) as caught:
        ledger.record_message(second)
    assert caught.value.existing == first
    assert caught.value.key == key
    assert ledger.get_message(second.id) is None
    assert scalar(ledger, "SELECT count(*) FROM deliveries WHERE message_id = :m", m=second.id) == 0
    assert scalar(ledger, "SELECT count(*) FROM events") == events_before
    # other senders or submitters may reuse the same key
    ledger.record_message(new_message(sender="other", submitted_by="other", **{key: "same"}))
    assert ledger.verify_chain().ok


def test_refusals_and_appended_events(ledger: Ledger) -> None:
    seq = ledger.record_refusal(
        problem="xml-forbidden-construct",
        detail="DTD",
        submitted_by="000.00.00.G22",
        sender=None,
        doctype=None,
        digest="ab" * 32,
        size=321,
    )
    assert seq == 1
    assert scalar(ledger, "SELECT count(*) FROM messages") == 0
    assert json.loads(str(scalar(ledger, "SELECT data FROM events WHERE id = 1")))["problem"] == (
        "xml-forbidden-construct"
    )

    record = ledger.record_message(new_message(recipients=("vnpost",)))
    delivery = record.deliveries[0]
    event = ledger.append_event("delivery.receipt", delivery_id=delivery.id, data={"ref": "EMS1"})
    assert event.message_id == record.id and event.id == 5 and event.seq is None
    assert ledger.list_events(record.id)[-1] == event
    for reserved in ("message.accepted", "delivery.delivered", "delivery.dead"):
        with pytest.raises(ValueError):  # only the ledger writes what the state rows are checked against
            ledger.append_event(reserved, message_id=record.id, delivery_id=delivery.id)
    assert ledger.verify_chain().ok


# ---------------------------------------------------------------- tampering: see test_ledger_log.py


# ---------------------------------------------------------------- several processes at once

WORKERS = 4
OPS_PER_WORKER = 50


def _worker(url: str, worker: int) -> tuple[int, int, str | None]:
    """Runs in a spawned process: 25 messages and 25 loose events, plus one contested natural key.

    Returns (messages recorded, events appended, id of the contested message or None if duplicate).
    """
    led = Ledger(url)
    try:
        records = appended = 0
        contested: str | None = None
        for i in range(OPS_PER_WORKER):
            if i == OPS_PER_WORKER // 2:
                try:
                    contested = led.record_message(new_message(recipients=("r",), natural_key="contested")).id
                except DuplicateMessage as dup:
                    assert dup.existing.natural_key == "contested"
            if i % 2:
                led.append_event("operator.note", data={"worker": worker, "i": i})
                appended += 1
            else:
                led.record_message(new_message(recipients=(f"r{worker}",), natural_key=f"{worker}-{i}"))
                records += 1
        return records, appended, contested
    finally:
        led.dispose()


def test_several_processes_append_to_one_log(ledger: Ledger, ledger_url: str) -> None:
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(WORKERS) as pool:
        results = pool.starmap(_worker, [(ledger_url, w) for w in range(WORKERS)])

    winners = [c for _, _, c in results if c is not None]
    assert len(winners) == 1
    records = sum(r for r, _, _ in results) + 1
    appended = sum(a for _, a, _ in results)
    expected_events = records * 3 + appended  # received, accepted, one delivery.queued each

    checkpoints = sequence_all(ledger, limit=100)
    with ledger.engine.connect() as conn:
        seqs = [r[0] for r in conn.execute(sa.text("SELECT seq FROM events ORDER BY seq"))]
        n_messages = conn.execute(sa.text("SELECT count(*) FROM messages")).scalar()
    assert seqs == list(range(1, expected_events + 1))
    assert checkpoints[-1].tree_size == expected_events
    assert n_messages == records == WORKERS * OPS_PER_WORKER // 2 + 1
    assert ledger.verify_chain(batch_size=97, key=KEY) == ChainReport(True, expected_events, None, None)


# ---------------------------------------------------------------- migrations


def test_downgrade_and_upgrade_round_trip(ledger: Ledger) -> None:
    ledger.record_message(new_message())
    assert ledger_migrate.current_revision(ledger.engine) == ledger_migrate.head_revision()

    ledger_migrate.downgrade(ledger.engine, "base")
    assert not LEDGER_TABLES & set(sa.inspect(ledger.engine).get_table_names())
    assert ledger_migrate.current_revision(ledger.engine) is None

    ledger.migrate()
    assert ledger_migrate.current_revision(ledger.engine) == ledger_migrate.head_revision()
    assert scalar(ledger, "SELECT count(*) FROM messages") == 0
    record = ledger.record_message(new_message())
    sequence_all(ledger)
    assert [e.seq for e in ledger.list_events(record.id)] == [1, 2, 3, 4]
    assert ledger.verify_chain().ok


# ---------------------------------------------------------------- delivery states


def test_delivery_moves_through_its_states_with_events(ledger: Ledger) -> None:
    from hub.problems import Problem

    record = ledger.record_message(new_message(recipients=("vnpost",)))
    delivery_id = record.deliveries[0].id
    later = datetime(2030, 1, 1, tzinfo=UTC)

    d = ledger.update_delivery(delivery_id, state="delivering", adapter="post_ems")
    assert (d.state, d.attempts, d.adapter) == ("delivering", 1, "post_ems")
    d = ledger.update_delivery(
        delivery_id, state="retrying", last_error="503 from peer", next_attempt_at=later
    )
    assert (d.state, d.attempts, d.last_error, d.next_attempt_at) == ("retrying", 1, "503 from peer", later)
    assert ledger.due_deliveries() == []
    assert [x.id for x in ledger.due_deliveries(now=later)] == [delivery_id]
    ledger.update_delivery(delivery_id, state="delivering")
    d = ledger.update_delivery(
        delivery_id, state="delivered", peer_reference="EMS123VN", data={"receipt": "r"}
    )
    assert (d.state, d.attempts, d.peer_reference, d.adapter) == ("delivered", 2, "EMS123VN", "post_ems")
    assert ledger.get_message(record.id).deliveries == (d,)

    with pytest.raises(Problem) as caught:
        ledger.update_delivery(delivery_id, state="retrying")
    assert caught.value.slug == "conflict"
    with pytest.raises(Problem) as caught:
        ledger.update_delivery(str(uuid.uuid4()), state="delivering")
    assert caught.value.slug == "not-found"

    kinds = [e.kind for e in ledger.list_events(record.id)]
    assert kinds[-4:] == [
        "delivery.delivering",
        "delivery.retrying",
        "delivery.delivering",
        "delivery.delivered",
    ]
    last = ledger.list_events(record.id)[-1]
    assert last.data["peer_reference"] == "EMS123VN" and last.data["receipt"] == "r"
    assert last.data["from"] == "delivering" and last.data["attempts"] == 2
    assert ledger.verify_chain().ok


def test_the_tickets_of_a_packed_message_are_claimed_together_by_the_single_claims_rules(
    ledger: Ledger, ledger_url: str
) -> None:
    """`claim_named` (a packed RabbitMQ message's tickets): one transaction claims what is due, in the
    order named, with each message; an already delivered delivery, one under another worker's live
    lease, a retry not yet due, an unknown id and a repeated id are dropped as the single claim drops
    them, and an orphan (lease expired) is reclaimed. On PostgreSQL a row another claimer holds
    locked at that moment is skipped, not waited for."""
    recipients = tuple(f"000.00.00.H{n:02d}" for n in range(7))
    new = new_message(recipients=recipients)
    record = ledger.record_message(dataclasses.replace(new, adapters=dict.fromkeys(recipients, "agency")))
    due, delivered, elsewhere, not_due, orphan, locked, also_due = (d.id for d in record.deliveries)
    work = ledger.work
    assert work.claim_attempt(delivered, "w-old", lease_seconds=60) is not None
    work.finish_attempt(delivered, "delivered")
    assert work.claim_attempt(elsewhere, "w-other", lease_seconds=600) is not None
    assert work.claim_attempt(not_due, "w-old", lease_seconds=60) is not None
    work.finish_attempt(not_due, "retrying", next_attempt_at=datetime(2099, 1, 1, tzinfo=UTC))
    assert work.claim_attempt(orphan, "w-dead", lease_seconds=-1) is not None  # its worker died

    named = [also_due, delivered, elsewhere, str(uuid.uuid4()), not_due, orphan, due, also_due]
    if ledger_url.startswith("sqlite"):
        claims = work.claim_named(named, "w-new", lease_seconds=60)
    else:  # another claimer holds `locked`'s row at this very moment: skipped, not waited for
        named.append(locked)
        with ledger.engine.connect() as other, other.begin():
            other.execute(sa.text("SELECT id FROM deliveries WHERE id = :id FOR UPDATE"), {"id": locked})
            claims = work.claim_named(named, "w-new", lease_seconds=60)
    assert [c.delivery.id for c in claims] == [also_due, orphan, due]
    assert all(c.delivery.state == "delivering" for c in claims)
    assert [c.delivery.attempts for c in claims] == [1, 2, 1]
    assert all(c.message is not None and c.message.document == new.document for c in claims)
    with ledger.engine.connect() as conn:
        rows = conn.execute(
            sa.text("SELECT id, state, lease_owner FROM deliveries WHERE message_id = :m"), {"m": record.id}
        ).all()
    states = {row.id: (row.state, row.lease_owner) for row in rows}
    assert {states[c.delivery.id] for c in claims} == {("delivering", "w-new")}
    assert states[delivered] == ("delivered", None)
    assert states[elsewhere] == ("delivering", "w-other")
    assert states[not_due] == ("retrying", None)
    assert states[locked] == ("queued", None)
    reclaimed = [
        e.data
        for e in ledger.list_events(record.id)
        if e.kind == "delivery.delivering" and e.delivery_id == orphan
    ]
    assert reclaimed[-1]["reclaimed_from"] == "w-dead" and reclaimed[-1]["worker"] == "w-new"
    # while the batch is delivered in turn, the claimer keeps the leases of what it still holds
    assert work.renew_leases([also_due, elsewhere, delivered, orphan], "w-new", lease_seconds=60) == {
        also_due,
        orphan,
    }
    again = work.claim_named(named, "w-again", lease_seconds=60)
    assert [c.delivery.id for c in again] == ([] if ledger_url.startswith("sqlite") else [locked])
    assert ledger.verify_chain().ok


# ---------------------------------------------------------------- leases and compare-and-set


def test_a_lease_is_held_by_one_owner_until_it_expires(ledger: Ledger) -> None:
    assert ledger.hold_lease("post_ems:tracking", "worker-a", seconds=60)
    assert ledger.hold_lease("post_ems:tracking", "worker-a", seconds=60), "the holder renews it"
    assert not ledger.hold_lease("post_ems:tracking", "worker-b", seconds=60), "held by another"
    assert ledger.hold_lease("bank:status", "worker-b", seconds=60), "leases are per name"
    assert ledger.hold_lease("gov_axis:inbound", "worker-a", seconds=-1)  # already expired
    assert ledger.hold_lease("gov_axis:inbound", "worker-b", seconds=60), "an expired lease is taken over"
    ledger.release_leases("worker-b")
    assert ledger.hold_lease("bank:status", "worker-c", seconds=60), "released at a clean shutdown"
    assert not ledger.hold_lease("post_ems:tracking", "worker-c", seconds=60), "worker-a's lease stands"


def test_compare_and_set_state_lets_one_writer_win(ledger: Ledger) -> None:
    assert ledger.compare_and_set_state("bank", "pending", None, "a")
    assert not ledger.compare_and_set_state("bank", "pending", None, "b"), "already set"
    assert not ledger.compare_and_set_state("bank", "pending", "stale", "c")
    assert ledger.compare_and_set_state("bank", "pending", "a", "a,b")
    assert ledger.get_state("bank", "pending") == "a,b"


def test_state_writes_from_many_threads_share_commits_and_the_last_write_wins(ledger: Ledger) -> None:
    """set_state returns once its value is committed; concurrent writes are group-committed (one upsert
    for a batch), and of several writes of one key in a batch the later one stands."""
    ledger.set_state("gov_axis", "sent:m0:r", "first")
    ledger.set_state("gov_axis", "sent:m0:r", "second")  # an existing key is updated, not refused
    assert ledger.get_state("gov_axis", "sent:m0:r") == "second"
    states = ledger.work._outcomes
    before = states.batches
    start = threading.Barrier(16)

    def write(thread: int) -> None:
        start.wait()
        for round_ in range(10):
            ledger.set_state("gov_axis", f"sent:m{thread}:{round_}", f"doc-{thread}-{round_}")
            ledger.set_state("gov_axis", f"last:{thread}", str(round_))

    threads = [threading.Thread(target=write, args=(n,)) for n in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    for thread in range(16):
        assert ledger.get_state("gov_axis", f"last:{thread}") == "9"
        for round_ in range(10):
            assert ledger.get_state("gov_axis", f"sent:m{thread}:{round_}") == f"doc-{thread}-{round_}"
    assert states.batches - before < 16 * 20, "concurrent writes shared transactions"


def test_big_documents_are_stored_whole_alone_or_in_a_batch_and_a_duplicate_rolls_back(
    ledger: Ledger,
) -> None:
    """Documents of IN_PLACE_BYTES and more are written in place on SQLite (a placeholder row, then
    its bytes, in one transaction; bound on PostgreSQL): stored once or twice, alone or in a group
    commit with small ones, each comes back byte for byte; a big duplicate rolls back whole and the
    write lock is free afterwards; the log and every document verify."""
    big = IN_PLACE_BYTES + 1
    stored_once = new_message(body=b"<doc>" + b"a" * (4 * big) + b"</doc>", natural_key="big-1")
    hub_signed = new_message(
        body=b"<doc>" + b"b" * big + b"</doc>", document=b"<s>" + b"c" * (2 * big) + b"</s>"
    )
    small_original_big_document = new_message(document=b"<s>" + b"d" * big + b"</s>")
    messages = [stored_once, hub_signed, small_original_big_document, *(new_message() for _ in range(5))]
    barrier = threading.Barrier(len(messages))

    def record(msg: NewMessage) -> None:
        barrier.wait(10)  # all at once: some of them share a group commit
        ledger.record_message(msg)

    writers = [threading.Thread(target=record, args=(msg,)) for msg in messages]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join(30)
    for msg in messages:
        assert ledger.get_document(msg.id) == (msg.document, msg.content_type, None)
        assert ledger.get_original(msg.id) == (msg.original, msg.content_type, None, msg.signer)
        assert ledger.get_message(msg.id).size == len(msg.original)

    with pytest.raises(DuplicateMessage):  # the same big document again: rolled back, lock released
        ledger.record_message(NewMessage(**{**stored_once.__dict__, "id": str(uuid.uuid4())}))
    done: list[str] = []
    writer = threading.Thread(target=lambda: done.append(ledger.record_message(new_message()).id))
    writer.start()
    writer.join(20)
    assert done, "the write lock was not released after a big write"
    assert scalar(ledger, "SELECT count(*) FROM messages") == len(messages) + 1
    sequence_all(ledger)
    assert ledger.verify_chain(key=KEY).ok


def test_a_writer_of_another_process_is_waited_for_on_the_lock_file_and_followed_at_once(tmp_path) -> None:
    """Writers of several processes on one SQLite file queue on an flock beside it (not in SQLite's
    busy handler, which sleeps in steps of up to 100 ms): a write waits while another process holds
    it, and goes on as soon as it is released."""
    import fcntl
    import os

    database = tmp_path / "ledger.sqlite3"
    led = Ledger(f"sqlite:///{database}")
    led.migrate()
    other = os.open(tmp_path / "ledger.sqlite3-writelock", os.O_RDWR)  # another process's open file
    try:
        fcntl.flock(other, fcntl.LOCK_EX)
        done: list[float] = []
        writer = threading.Thread(
            target=lambda: (led.set_state("test", "key", "value"), done.append(time.monotonic()))
        )
        writer.start()
        time.sleep(0.5)
        assert not done, "the write waited for the other process's write transaction"
        released = time.monotonic()
        fcntl.flock(other, fcntl.LOCK_UN)
        writer.join(10)
        assert done and done[0] - released < 2, "the write went on once the other process released it"
        assert led.get_state("test", "key") == "value"
    finally:
        os.close(other)
        led.dispose()
