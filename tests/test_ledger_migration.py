"""Migration 0004 turns a ledger made by v1 (hash chain under one head row) into the v2 Merkle log,
on SQLite and PostgreSQL: old events become the first leaves, in their order; their chain stays
verifiable; new events continue after them."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from hub.ledger import Ledger
from hub.ledger import migrate as ledger_migrate
from hub.ledger.engine import create_ledger_engine
from tests import independent_tlog as ind
from tests.ledgertest import KEY, sequence_all
from tests.test_ledger import new_message

GENESIS = "0" * 64


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'ledger.sqlite3'}"
    return request.getfixturevalue("postgres_url")


def canonical(value: object) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


class V1Writer:
    """Writes what ledger v1 wrote (schema of revision 0003): rows, and events chained under the
    single chain_head row, ``hash = sha256(prev + "\\n" + canonical({seq, at, kind, ...}))``."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self.at = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)

    def _events(self, conn: sa.Connection, items: list[tuple[str, str | None, str | None, dict]]) -> None:
        seq, prev = conn.execute(sa.text("SELECT seq, hash FROM chain_head WHERE id = 1")).one()
        for kind, message_id, delivery_id, data in items:
            seq += 1
            self.at += timedelta(milliseconds=1)
            at = self.at.isoformat(timespec="microseconds")
            body = {"seq": seq, "at": at, "kind": kind, "message_id": message_id, "delivery_id": delivery_id}
            link = hashlib.sha256((prev + "\n" + canonical({**body, "data": data})).encode()).hexdigest()
            conn.execute(
                sa.text(
                    "INSERT INTO events (seq, at, kind, message_id, delivery_id, data, prev_hash, hash) "
                    "VALUES (:seq, :at, :kind, :m, :d, :data, :prev, :hash)"
                ),
                {"seq": seq, "at": self.at, "kind": kind, "m": message_id, "d": delivery_id,
                 "data": canonical(data), "prev": prev, "hash": link},
            )  # fmt: skip
            prev = link
        conn.execute(sa.text("UPDATE chain_head SET seq = :s, hash = :h WHERE id = 1"), {"s": seq, "h": prev})

    def message(self, delivered: bool) -> str:
        msg = new_message()
        deliveries = [(str(uuid.uuid4()), r) for r in msg.recipients]
        now = self.at
        with self.engine.begin() as conn:
            conn.execute(
                sa.text(
                    "INSERT INTO messages (id, doctype, sender, submitted_by, recipients, correlation_key, "
                    "digest, original, document, document_digest, content_type, signer, state, warnings, "
                    "received_at, accepted_at) VALUES (:id, :doctype, :sender, :sub, :rcp, :ck, :dg, :orig, "
                    ":doc, :ddg, :ct, :signer, 'accepted', '[]', :now, :now)"
                ),
                {"id": msg.id, "doctype": msg.doctype, "sender": msg.sender, "sub": msg.submitted_by,
                 "rcp": json.dumps(list(msg.recipients)), "ck": msg.correlation_key, "dg": msg.digest,
                 "orig": msg.original, "doc": msg.document, "ddg": msg.document_digest,
                 "ct": msg.content_type, "signer": msg.signer, "now": now},
            )  # fmt: skip
            for delivery_id, recipient in deliveries:
                state, attempts = ("delivered", 1) if delivered else ("queued", 0)
                conn.execute(
                    sa.text(
                        "INSERT INTO deliveries (id, message_id, recipient, adapter, state, attempts, "
                        "created_at, updated_at) VALUES (:id, :m, :r, 'agency', :s, :a, :now, :now)"
                    ),
                    {"id": delivery_id, "m": msg.id, "r": recipient, "s": state, "a": attempts, "now": now},
                )
            received = {"digest": msg.digest, "size": len(msg.original), "content_type": msg.content_type,
                        "submitted_by": msg.submitted_by, "received_at": now.isoformat()}  # fmt: skip
            accepted = {"digest": msg.digest, "document_digest": msg.document_digest, "doctype": msg.doctype,
                        "sender": msg.sender, "recipients": list(msg.recipients),
                        "correlation_key": msg.correlation_key, "signer": msg.signer,
                        "signed_by_hub": False, "warnings": 1}  # fmt: skip
            items = [
                ("message.received", msg.id, None, received),
                ("message.accepted", msg.id, None, accepted),
            ]
            items += [
                ("delivery.queued", msg.id, d, {"recipient": r, "adapter": "agency"}) for d, r in deliveries
            ]
            if delivered:
                for d, r in deliveries:
                    items.append(
                        (
                            "delivery.delivering",
                            msg.id,
                            d,
                            {"recipient": r, "adapter": "agency", "attempt": 1},
                        )
                    )
                    items.append(
                        ("delivery.delivered", msg.id, d, {"recipient": r, "adapter": "agency", "attempt": 1})
                    )
            self._events(conn, items)
        return msg.id

    def refusal(self) -> None:
        with self.engine.begin() as conn:
            self._events(conn, [("message.refused", None, None, {"problem": "xml-malformed", "size": 3})])


@pytest.fixture
def v1_ledger(url: str) -> Iterator[tuple[str, int]]:
    """A ledger built at revision 0003 by the v1 writer: 3 messages (one delivered) and a refusal."""
    engine = create_ledger_engine(url)
    ledger_migrate.upgrade(engine, "0003")
    writer = V1Writer(engine)
    writer.message(delivered=False)
    writer.message(delivered=True)
    writer.refusal()
    writer.message(delivered=False)
    with engine.connect() as conn:
        count = conn.execute(sa.text("SELECT count(*) FROM events")).scalar_one()
    engine.dispose()
    yield url, count


def test_a_v1_chain_becomes_the_first_leaves_of_the_log_and_stays_verifiable(
    v1_ledger: tuple[str, int],
) -> None:
    url, count = v1_ledger
    with sa.create_engine(url).connect() as conn:
        before = conn.execute(sa.text("SELECT seq, at, kind, data, hash FROM events ORDER BY seq")).all()
    ledger = Ledger(url)
    ledger.migrate()
    assert ledger_migrate.current_revision(ledger.engine) == ledger_migrate.head_revision()
    with ledger.engine.connect() as conn:
        after = conn.execute(
            sa.text("SELECT id, seq, kind, data, hash, leaf_hash FROM events ORDER BY seq")
        ).all()
    assert [(r.id, r.seq) for r in after] == [(s, s) for s in range(1, count + 1)], "in their order, ids kept"
    assert [(r.kind, r.data, r.hash) for r in after] == [(r.kind, r.data, r.hash) for r in before]
    for old, new in zip(before, after, strict=True):  # the leaf is the v2 entry of the old content
        at = old.at if isinstance(old.at, datetime) else datetime.fromisoformat(old.at)
        at = (at if at.tzinfo else at.replace(tzinfo=UTC)).astimezone(UTC)
        row = {"at": at.isoformat(timespec="microseconds"), "kind": old.kind, "data": json.loads(old.data)}
        with ledger.engine.connect() as conn:
            ids = conn.execute(
                sa.text("SELECT message_id, delivery_id FROM events WHERE seq = :s"), {"s": old.seq}
            ).one()
        entry = canonical({**row, "message_id": ids.message_id, "delivery_id": ids.delivery_id}).encode()
        assert new.leaf_hash == ind.leaf(entry).hex()

    assert ledger.verify_chain(key=KEY).ok, "old chain, leaves and state rows all agree"
    (first,) = sequence_all(ledger)
    assert first.tree_size == count, "the migrated log gets its first checkpoint"
    assert first.root_hash == ind.mth([bytes.fromhex(r.leaf_hash) for r in after]).hex()

    record = ledger.record_message(new_message())
    assert min(e.id for e in ledger.list_events(record.id)) == count + 1, "new ids continue after the old"
    (second,) = sequence_all(ledger)
    proof, _, _ = ledger.log.consistency(count, second.tree_size)
    assert ind.consistency_ok(
        count, second.tree_size, bytes.fromhex(first.root_hash), bytes.fromhex(second.root_hash), proof
    )
    assert ledger.verify_chain(key=KEY).ok

    with ledger.engine.begin() as conn:  # the v1 chain is still checked: re-link an old event
        conn.execute(sa.text("UPDATE events SET hash = :h WHERE seq = 3"), {"h": "f" * 64})
    kinds = {(f.kind, f.seq) for f in ledger.verify_chain(key=KEY).faults}
    assert ("chain-edited", 3) in kinds and ("reordered", 4) in kinds
    ledger.dispose()


def test_downgrade_rechains_every_event_for_v1(v1_ledger: tuple[str, int]) -> None:
    url, count = v1_ledger
    ledger = Ledger(url)
    ledger.migrate()
    ledger.record_message(new_message())
    ledger_migrate.downgrade(ledger.engine, "0003")
    with ledger.engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT * FROM events ORDER BY seq")).all()
        head = conn.execute(sa.text("SELECT seq, hash FROM chain_head")).one()
    assert len(rows) == count + 4 and (head.seq, head.hash) == (count + 4, rows[-1].hash)
    prev = GENESIS
    for row in rows:
        at = row.at if isinstance(row.at, datetime) else datetime.fromisoformat(row.at)
        at = (at if at.tzinfo else at.replace(tzinfo=UTC)).astimezone(UTC)
        body = {"seq": row.seq, "at": at.isoformat(timespec="microseconds"), "kind": row.kind}
        body |= {"message_id": row.message_id, "delivery_id": row.delivery_id, "data": json.loads(row.data)}
        assert row.prev_hash == prev
        assert row.hash == hashlib.sha256((prev + "\n" + canonical(body)).encode()).hexdigest()
        prev = row.hash
    ledger.dispose()


def test_0005_keeps_a_document_delivered_unchanged_once_and_back(v1_ledger: tuple[str, int]) -> None:
    """Migration 0005 empties ``document`` where it equals ``original``; every reader still gets the
    same bytes; downgrading writes the copies back."""
    url, _count = v1_ledger
    ledger = Ledger(url)
    ledger_migrate.upgrade(ledger.engine, "0004")
    hub_signed = new_message(document=b"<doc>signed by the hub</doc>")
    ledger.record_message(hub_signed)  # the only message whose two columns differ

    def columns() -> dict[str, tuple[bytes, bytes]]:
        with ledger.engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT id, original, document FROM messages")).all()
        return {r.id: (bytes(r.original), bytes(r.document)) for r in rows}

    before = columns()
    assert len(before) == 4 and sum(doc == orig for orig, doc in before.values()) == 3
    ledger.migrate()
    after = columns()
    for message_id, (original, document) in before.items():
        expected = b"" if document == original else document
        assert after[message_id] == (original, expected)
        assert ledger.get_document(message_id)[0] == document, "the bytes as delivered, as before"
        assert ledger.get_original(message_id)[0] == original
    sequence_all(ledger)
    assert ledger.verify_chain(key=KEY).ok

    ledger_migrate.downgrade(ledger.engine, "0004")
    assert columns() == before
    ledger.dispose()


def test_0006_puts_the_documents_last_on_sqlite_and_keeps_every_byte(v1_ledger: tuple[str, int]) -> None:
    """Migration 0006 moves ``original`` and ``document`` to the end of ``messages`` on SQLite (where a
    big document is then written in place); every document reads back the same, before and after, on
    both databases; the log still verifies; the downgrade leaves everything readable."""
    url, _count = v1_ledger
    ledger = Ledger(url)
    ledger_migrate.upgrade(ledger.engine, "0005")
    hub_signed = new_message(document=b"<doc>signed by the hub</doc>")
    ledger.record_message(hub_signed)

    def columns() -> list[str]:
        return [c["name"] for c in sa.inspect(ledger.engine).get_columns("messages")]

    def documents() -> dict[str, tuple[bytes, bytes]]:
        with ledger.engine.connect() as conn:
            ids = conn.execute(sa.text("SELECT id FROM messages")).scalars().all()
        return {i: (ledger.get_original(i)[0], ledger.get_document(i)[0]) for i in ids}

    before, order_before = documents(), columns()
    assert len(before) == 4 and order_before[-2:] != ["original", "document"]
    ledger.migrate()
    assert documents() == before
    if ledger.engine.dialect.name == "sqlite":
        assert columns() == [c for c in order_before if c not in ("original", "document")] + [
            "original",
            "document",
        ]
    else:
        assert columns() == order_before  # nothing to do on PostgreSQL
    big = new_message(body=b"<doc>" + b"x" * (3 * 1024 * 1024) + b"</doc>")
    ledger.record_message(big)
    assert ledger.get_document(big.id)[0] == big.original
    sequence_all(ledger)
    assert ledger.verify_chain(key=KEY).ok

    ledger_migrate.downgrade(ledger.engine, "0005")
    assert documents() == {**before, big.id: (big.original, big.original)}
    ledger.migrate()
    assert ledger.verify_chain(key=KEY).ok
    ledger.dispose()
