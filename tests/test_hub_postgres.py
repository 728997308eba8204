"""The same intake on the real PostgreSQL: a hub whose ledger is a fresh PostgreSQL database.

Documents of every type go in over HTTP and come back out; the operator CLI reads the same
database (`LIENTHONG_DATABASE_URL`); concurrent submitters are each accepted exactly once and the
hash chain stays linear and intact.
"""

from __future__ import annotations

import json
import random
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from click.testing import Result
from lxml import etree
from typer.testing import CliRunner

from hub.cli import app
from tests.hubtest import EXAMPLES, FIXTURES, SAMPLES, RunningHub, auth, running_hub

pytestmark = pytest.mark.postgres

NS = {"e": "http://www.mic.gov.vn/TBT/QCVN_102_2016"}
AGENCY = "000.01.02.H41"
THREADS = 4
PER_THREAD = 20


@pytest.fixture
def hub(postgres_url: str, tmp_path: Path) -> Iterator[RunningHub]:
    # No delivery workers: deliveries stay `queued`, so what the ledger holds is intake's alone.
    with running_hub(tmp_path / "data", database_url=postgres_url, workers=0) as running:
        assert running.settings.effective_database_url == postgres_url
        yield running


def cli(*args: str, database_url: str) -> Result:
    return CliRunner().invoke(
        app, list(args), env={"LIENTHONG_DATABASE_URL": database_url}, catch_exceptions=False
    )


def fresh_document() -> bytes:
    """The strict edXML document with a new DocumentId number (a new natural key)."""
    number = uuid.uuid4().int % 10**12  # a collision would make a "duplicate" of an unrelated test
    root = etree.fromstring((FIXTURES / "edxml" / "document_strict.edxml").read_bytes())
    for node in root.iterfind(".//e:DocumentId", NS):
        organ, date, _ = node.text.split(",", 2)
        node.text = f"{organ},{date},{number}/UBND-VP"
    root.find(".//e:Code/e:CodeNumber", NS).text = str(number)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def fresh_status() -> bytes:
    """The strict status packet answering another (new) DocumentId."""
    number = uuid.uuid4().int % 10**12  # a collision would make a "duplicate" of an unrelated test
    root = etree.fromstring((FIXTURES / "edxml" / "status_strict.edxml").read_bytes())
    root.find(".//e:ResponseFor/e:DocumentId", NS).text = f"{AGENCY},2026/11/20,{number}/UBND-VP"
    root.find(".//e:ResponseFor/e:Code", NS).text = f"{number}/UBND-VP"
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def fresh_json(name: str) -> tuple[bytes, str]:
    """An example of a JSON type with new business ids, and its sender."""
    obj = json.loads((EXAMPLES / f"{name}.json").read_text(encoding="utf-8"))
    unique = uuid.uuid4().hex[:12]
    obj["dossier_number"] = f"H41-{unique}"
    for key, value in (("request_id", f"REQ-{unique}"), ("transaction_ref", f"TX{unique}")):
        if key in obj:
            obj[key] = value
    if "event" in obj:
        obj["event"]["id"] = uuid.uuid4().hex[:24]
    if "order" in obj:
        obj["order"]["OrderNumber"] = obj["dossier_number"]
    return json.dumps(obj, ensure_ascii=False).encode(), obj["sender"]


def scalar(url: str, sql: str, **params: object) -> object:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text(sql), params).scalar_one()
    finally:
        engine.dispose()


def assert_log_complete_and_intact(hub: RunningHub) -> int:
    """The sequencer placed every event at positions 1..n without gaps, signed a checkpoint of all
    n, and `lienthong ledger verify` on the database says intact."""
    url = hub.settings.effective_database_url
    signed = hub.wait_sequenced()
    count, low, high = (
        scalar(url, "SELECT count(*) FROM events"),
        scalar(url, "SELECT min(seq) FROM events"),
        scalar(url, "SELECT max(seq) FROM events"),
    )
    assert (low, high) == (1, count), "gapless positions from 1"
    assert signed == count
    result = cli("ledger", "verify", database_url=url)
    assert result.exit_code == 0, result.stderr
    assert f"ledger intact: {count} events verified" in result.stdout
    return int(count)


def test_documents_of_every_type_go_in_and_come_back_out(hub: RunningHub) -> None:
    # The organs the update is addressed to outside the province are known to the national axis.
    hub.app.state.runtime.services.set_directory(
        "gov_axis", {"000.00.00.H14": "UBND Tỉnh Cao Bằng", "000.00.00.G17": "Sở TTTT Hải Phòng"}
    )
    url = hub.settings.effective_database_url
    submissions: list[tuple[bytes, str, str, str]] = [
        (fresh_document(), AGENCY, "application/xml", "edxml.document"),
        (fresh_status(), "000.00.00.H41", "application/xml", "edxml.status"),
        ((SAMPLES / "edoc_update.edxml").read_bytes(), "gov-axis", "application/xml", "edxml.document"),
    ]
    for name in ("ems.order", "ems.tracking", "payment.request", "payment.confirmation"):
        body, sender = fresh_json(name)
        submissions.append((body, sender, "application/json", name))

    accepted: dict[str, tuple[bytes, str, str]] = {}
    for body, submitter, content_type, doctype in submissions:
        response = hub.post(body, as_=submitter, content_type=content_type)
        assert response.status_code == 202, response.text
        assert response.json()["type"] == doctype
        accepted[response.json()["id"]] = (body, submitter, content_type)

    for message_id, (body, submitter, content_type) in accepted.items():
        message = hub.get(f"/v1/messages/{message_id}", as_=submitter).json()
        assert message["state"] == "accepted" and message["submitted_by"] == submitter
        assert message["deliveries"] and {d["state"] for d in message["deliveries"]} == {"queued"}
        document = hub.get(f"/v1/messages/{message_id}/document", as_=submitter)
        assert document.status_code == 200
        if content_type == "application/json":
            assert document.content == body and document.headers["x-jws-signature"]
        else:
            assert b"SignatureValue" in document.content
        # the participant's view over HTTP, and the operators' local view of the same PostgreSQL database
        status = cli("status", message_id, "--json", "--hub", hub.url, "--as", submitter, database_url=url)
        assert status.exit_code == 0, status.stderr
        assert json.loads(status.stdout)["state"] == "accepted"
    listed = cli("deliveries", "list", "--state", "queued", "--limit", "1000", "--json", database_url=url)
    assert listed.exit_code == 0, listed.stderr
    assert set(accepted) <= {d["message_id"] for d in json.loads(listed.stdout)}

    lenient = next(i for i, (_, who, _) in accepted.items() if who == "gov-axis")
    assert hub.get(f"/v1/messages/{lenient}", as_="gov-axis").json()["warnings"], "deviations kept"

    # duplicates and refusals behave as on SQLite, and are evidence too
    body, submitter, content_type, _ = submissions[0]
    again = hub.post(body, as_=submitter, content_type=content_type)
    assert again.status_code == 200 and again.json()["duplicate"] and again.json()["id"] in accepted
    refused = hub.post(b"<edXML><unclosed></edXML>", as_=AGENCY)
    assert refused.status_code == 400 and refused.json()["type"] == "/problems/xml-malformed"

    assert scalar(url, "SELECT count(*) FROM messages") == len(submissions)
    assert scalar(url, "SELECT count(*) FROM events WHERE kind = 'message.duplicate'") == 1
    assert scalar(url, "SELECT count(*) FROM events WHERE kind = 'message.refused'") == 1
    assert_log_complete_and_intact(hub)


def _submit_all(hub: RunningHub, bodies: list[bytes], start: threading.Barrier) -> list[tuple[int, str]]:
    answers = []
    with httpx.Client(base_url=hub.url, timeout=60) as client:
        start.wait()
        for body in bodies:
            response = client.post(
                "/v1/messages", content=body, headers={**auth(AGENCY), "Content-Type": "application/xml"}
            )
            answers.append((response.status_code, response.json().get("id", response.text)))
    return answers


def _in_threads(hub: RunningHub, work: list[list[bytes]]) -> list[list[tuple[int, str]]]:
    results: list[list[tuple[int, str]]] = [[] for _ in work]
    errors: list[BaseException] = []
    start = threading.Barrier(len(work))

    def run(index: int) -> None:
        try:
            results[index] = _submit_all(hub, work[index], start)
        except BaseException as error:
            errors.append(error)
            start.abort()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(work))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    assert not any(t.is_alive() for t in threads)
    return results


def test_concurrent_submitters_are_each_accepted_exactly_once_and_the_chain_stays_intact(
    hub: RunningHub,
) -> None:
    url = hub.settings.effective_database_url
    work = [[fresh_document() for _ in range(PER_THREAD)] for _ in range(THREADS)]
    answers = [answer for thread in _in_threads(hub, work) for answer in thread]

    assert [status for status, _ in answers] == [202] * (THREADS * PER_THREAD)
    ids = [message_id for _, message_id in answers]
    assert len(set(ids)) == THREADS * PER_THREAD
    assert scalar(url, "SELECT count(*) FROM messages") == THREADS * PER_THREAD
    assert scalar(url, "SELECT count(*) FROM events WHERE kind = 'message.accepted'") == THREADS * PER_THREAD
    assert scalar(url, "SELECT count(*) FROM deliveries WHERE state = 'queued'") == 2 * THREADS * PER_THREAD
    # each message: received, accepted, two deliveries queued
    assert assert_log_complete_and_intact(hub) == 4 * THREADS * PER_THREAD


def test_the_same_documents_racing_from_several_threads_become_one_message_each(hub: RunningHub) -> None:
    url = hub.settings.effective_database_url
    documents = [fresh_document() for _ in range(10)]
    work = [random.sample(documents, len(documents)) for _ in range(THREADS)]
    answers = [answer for thread in _in_threads(hub, work) for answer in thread]

    assert {status for status, _ in answers} <= {200, 202}
    by_id: dict[str, list[int]] = {}
    for status, message_id in answers:
        by_id.setdefault(message_id, []).append(status)
    assert len(by_id) == len(documents), "one message per document, whoever won the race"
    for statuses in by_id.values():
        assert sorted(statuses) == [200] * (THREADS - 1) + [202], "exactly one submission is the original"
    assert scalar(url, "SELECT count(*) FROM messages") == len(documents)
    duplicates = scalar(url, "SELECT count(*) FROM events WHERE kind = 'message.duplicate'")
    assert duplicates == (THREADS - 1) * len(documents)
    assert_log_complete_and_intact(hub)


def test_ledger_verify_finds_an_event_edited_in_postgresql(hub: RunningHub) -> None:
    url = hub.settings.effective_database_url
    for _ in range(3):
        assert hub.post(fresh_document(), as_=AGENCY).status_code == 202
    hub.wait_sequenced()
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        seq, data = conn.execute(
            sa.text(
                "SELECT seq, data FROM events WHERE kind = 'delivery.queued' ORDER BY seq OFFSET 2 LIMIT 1"
            )
        ).one()
        changed = json.loads(data)
        changed["recipient"] = "000.99.99.H41"
        conn.execute(
            sa.text("UPDATE events SET data = :d WHERE seq = :s"), {"d": json.dumps(changed), "s": seq}
        )
    engine.dispose()
    result = cli("ledger", "verify", "--first", database_url=url)
    assert result.exit_code == 1
    assert f"ledger broken at event #{seq}: edited" in result.stderr
