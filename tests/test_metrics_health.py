"""/metrics, /healthz and /readyz over HTTP, JSON logs with the message id, and the ledger's
operations queries (keyset paging of the exchange log) on SQLite and PostgreSQL."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from hub.ledger import Ledger
from hub.ledger.queries import MessageFilter
from hub.logging import configure_logging
from hub.servers import free_port
from tests.deliverytest import make_config, wait_for
from tests.hubtest import RunningHub, running_hub
from tests.test_intake_api import AGENCY, fresh_document, json_example
from tests.test_ledger import new_message


def metric(text: str, name: str, **labels: str) -> float:
    """The value of one sample in Prometheus text (0 when absent)."""
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        match = re.match(r"^([a-z_]+)(?:\{(.*)\})? (\S+)$", line)
        if not match or match.group(1) != name:
            continue
        found = ",".join(sorted((match.group(2) or "").split(","))) if match.group(2) else ""
        if found == wanted:
            return float(match.group(3))
    return 0.0


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningHub]:
    base = tmp_path_factory.mktemp("hub")
    dead_port = free_port()  # nothing listens here: the agency webhooks are unreachable
    config = make_config(
        base / "config",
        webhook_base=f"http://127.0.0.1:{dead_port}",
        agency_retry={"max_attempts": 1},
        adapters={"post_ems": {"base_url": f"http://127.0.0.1:{dead_port}"}},
    )
    with running_hub(base, config_dir=config, workers=1, poll_interval_seconds=0.1) as running:
        yield running


def test_healthz_answers_while_the_process_is_up(hub: RunningHub) -> None:
    assert hub.client.get("/healthz").json()["status"] == "ok"


def test_metrics_count_intake_by_type_and_outcome_and_deliveries_by_adapter(hub: RunningHub) -> None:
    before = hub.client.get("/metrics").text
    accepted = hub.post(fresh_document(), as_=AGENCY)
    assert accepted.status_code == 202
    refused = hub.post(b"<not-xml", as_=AGENCY)
    assert refused.status_code == 400
    message_id = accepted.json()["id"]
    wait_for(
        lambda: any(
            d["state"] == "dead"
            for d in hub.get(f"/v1/messages/{message_id}", as_=AGENCY).json()["deliveries"]
        ),
        what="the delivery to the unreachable webhook to die",
    )
    response = hub.client.get("/metrics")
    assert response.headers["content-type"].startswith("text/plain")
    after = response.text

    def grew(name: str, **labels: str) -> float:
        return metric(after, name, **labels) - metric(before, name, **labels)

    assert grew("lienthong_intake_total", type="edxml.document", outcome="accepted") == 1
    assert grew("lienthong_intake_total", type="unknown", outcome="refused") == 1
    assert grew("lienthong_intake_refusals_total", problem="xml-malformed") == 1
    assert grew("lienthong_intake_seconds_count", type="edxml.document", outcome="accepted") == 1
    assert grew("lienthong_delivery_attempts_total", adapter="agency", outcome="dead") >= 1
    assert metric(after, "lienthong_deliveries", adapter="agency", state="dead") >= 1
    # the inbox delivery to the pulling agency waits: it is queue depth and has an age of its own, but
    # it is not "stuck": the gauge operators alert on counts only what the hub itself must push
    assert metric(after, "lienthong_queue_depth", adapter="inbox") >= 1
    assert metric(after, "lienthong_oldest_in_inbox_seconds") > 0
    assert metric(after, "lienthong_oldest_undelivered_by_adapter_seconds", adapter="inbox") > 0
    assert metric(after, "lienthong_oldest_undelivered_seconds") == 0
    assert metric(after, "lienthong_ledger_events") > metric(before, "lienthong_ledger_events")
    # the ledger's sequencer places every event and signs a checkpoint of them all
    size = hub.wait_sequenced()
    placed = hub.client.get("/metrics").text
    assert metric(placed, "lienthong_ledger_tree_size") >= size >= metric(after, "lienthong_ledger_events")
    assert (
        metric(placed, "lienthong_ledger_unsequenced_events")
        <= metric(placed, "lienthong_ledger_events") - size
    )


def test_a_peer_down_is_reported_but_leaves_the_hub_ready(hub: RunningHub) -> None:
    health = hub.client.get("/healthz")
    assert health.status_code == 200 and health.json()["status"] == "ok"
    post_ems = [p for p in health.json()["peers"] if p["adapter"] == "post_ems"]
    assert post_ems and not post_ems[0]["ok"] and "does not answer" in post_ems[0]["detail"]
    assert post_ems[0]["down_since"]

    ready = hub.client.get("/readyz")
    assert ready.status_code == 200, ready.text  # VNPost down must not stop every agency's intake
    checks = ready.json()["checks"]
    assert set(checks) == {"database", "queue", "keys"}
    assert checks["database"]["ok"] and checks["keys"]["ok"]
    assert checks["queue"]["detail"].startswith("embedded")

    scraped = hub.client.get("/metrics").text
    assert metric(scraped, "lienthong_peer_up", adapter="post_ems", url=post_ems[0]["url"]) == 0
    assert f'lienthong_peer_up{{adapter="post_ems",url="{post_ems[0]["url"]}"}} 0.0' in scraped


def test_only_urls_the_hub_calls_are_watched(tmp_path: Path) -> None:
    with running_hub(tmp_path, workers=0) as plain:  # the development config: the simulators
        watched = {url for urls in plain.app.state.peers.peers.values() for url in urls}
        assert watched, "the development adapters call their simulators"
        assert not any("payment-return" in url for url in watched), watched  # the citizen's browser page


def test_readyz_is_not_ready_while_the_ledger_cannot_be_written(tmp_path: Path, postgres_url: str) -> None:
    import sqlalchemy as sa

    database = postgres_url.rsplit("/", 1)[1]
    admin = sa.create_engine(postgres_url.rsplit("/", 1)[0] + "/test", isolation_level="AUTOCOMMIT")

    def read_only(on: bool) -> None:
        with admin.connect() as conn:
            conn.execute(sa.text(f'ALTER DATABASE "{database}" SET default_transaction_read_only = {on}'))
            conn.execute(
                sa.text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :d"),
                {"d": database},
            )

    try:
        with running_hub(tmp_path, workers=0, database_url=postgres_url) as running:
            assert running.client.get("/readyz").status_code == 200
            read_only(True)
            wait_for(
                lambda: running.client.get("/readyz").status_code == 503,
                what="readiness to notice the read-only ledger",
            )
            problem = running.client.get("/readyz").json()
            assert problem["type"] == "/problems/not-ready"
            assert not problem["checks"]["database"]["ok"]
            assert "cannot be written" in problem["checks"]["database"]["detail"]
            refused = running.post(fresh_document(), as_=AGENCY)  # intake says so clearly, no 500
            assert refused.status_code == 503, refused.text
            assert refused.json()["type"] == "/problems/storage-unavailable"
            assert "read-only" in refused.json()["detail"] and refused.headers["Retry-After"]
            read_only(False)
            wait_for(
                lambda: running.client.get("/readyz").status_code == 200,
                what="readiness to come back by itself once the ledger takes writes",
            )
    finally:
        read_only(False)
        admin.dispose()


def test_every_log_line_about_a_message_carries_its_id(hub: RunningHub) -> None:
    stream = io.StringIO()
    handler = configure_logging("json", "INFO", stream)
    try:
        message_id = hub.post(fresh_document(), as_=AGENCY).json()["id"]
        wait_for(lambda: "delivery_id" in stream.getvalue(), what="a log line about the delivery")
    finally:
        logging.getLogger().removeHandler(handler)
    lines = [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]
    about = [line for line in lines if line.get("message_id") == message_id]
    assert about, lines
    assert all(line["level"] and line["logger"] and line["time"] for line in about)
    assert any(line.get("delivery_id") for line in about)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def ledger(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Ledger]:
    url = f"sqlite:///{tmp_path / 'l.sqlite3'}"
    if request.param == "postgres":
        url = request.getfixturevalue("postgres_url")
    ledger = Ledger(url)
    ledger.migrate()
    yield ledger
    ledger.dispose()


def test_the_exchange_log_pages_by_keyset_newest_first_with_filters(ledger: Ledger) -> None:
    for i in range(7):
        message = replace(new_message(recipients=("000.03.04.H41",)), correlation_key=f"HS-{i % 2}")
        ledger.record_message(message)
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        page = ledger.search_messages(after=cursor, limit=3)
        seen += [m.id for m in page.items]
        pages += 1
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert pages == 3 and len(seen) == len(set(seen)) == 7
    received = [ledger.get_message(i).received_at for i in seen]  # type: ignore[union-attr]
    assert received == sorted(received, reverse=True)

    odd = ledger.search_messages(MessageFilter(correlation_key="HS-1"), limit=10).items
    assert len(odd) == 3 and all(m.correlation_key == "HS-1" for m in odd)
    assert len(ledger.search_messages(MessageFilter(participant="000.03.04.H41")).items) == 7
    assert len(ledger.search_messages(MessageFilter(state="queued")).items) == 7
    assert not ledger.search_messages(MessageFilter(state="dead")).items
    figures = ledger.queue_figures()
    assert figures.depth() == 7 and figures.oldest_undelivered_by_adapter
    assert figures.ledger_events == 7 * 3


def test_a_json_document_counts_under_its_own_type(hub: RunningHub) -> None:
    body = json_example("payment.confirmation", recipients=["000.03.04.H41"])
    sender = json.loads(body)["sender"]
    before = metric(
        hub.client.get("/metrics").text,
        "lienthong_intake_total",
        type="payment.confirmation",
        outcome="accepted",
    )
    assert hub.post(body, as_=sender, content_type="application/json").status_code == 202
    after = metric(
        hub.client.get("/metrics").text,
        "lienthong_intake_total",
        type="payment.confirmation",
        outcome="accepted",
    )
    assert after == before + 1


def test_bulk_send_of_a_directory_and_replay_of_many_ids_count_every_document(
    hub: RunningHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from hub.cli import app as cli_app

    folder = tmp_path / "outbox"
    folder.mkdir()
    for i in range(3):
        (folder / f"doc-{i}.edxml").write_bytes(fresh_document())
    (folder / "broken.edxml").write_bytes(b"<not-xml")
    before = hub.client.get("/metrics").text
    runner = CliRunner()
    sent = runner.invoke(cli_app, ["send", str(folder), "--as", AGENCY, "--hub", hub.url])
    assert sent.exit_code == 1, sent.output  # one of the four is refused
    lines = [line.split() for line in sent.stdout.splitlines() if line.strip()]
    assert len(lines) == 3 and all(path.endswith(".edxml") for _, path in lines)
    assert "3 sent, 1 refused" in sent.stderr and "xml-malformed" in sent.stderr
    after = hub.client.get("/metrics").text
    grown = metric(after, "lienthong_intake_total", type="edxml.document", outcome="accepted") - metric(
        before, "lienthong_intake_total", type="edxml.document", outcome="accepted"
    )
    assert grown == 3

    monkeypatch.setenv("LIENTHONG_DATA_DIR", str(hub.settings.data_dir))
    monkeypatch.setenv("LIENTHONG_CONFIG_DIR", str(hub.settings.config_dir))
    ids = [message_id for message_id, _ in lines]
    replayed = runner.invoke(cli_app, ["replay", *ids, "no-such-message"])
    assert replayed.exit_code == 1 and "3 replayed, 1 refused" in replayed.stderr
    pairs = [line.split() for line in replayed.stdout.splitlines() if line.strip()]
    assert [original for _, original in pairs] == ids
    ledger = hub.app.state.hub.ledger
    assert all(ledger.get_message(new) is not None for new, _ in pairs)
