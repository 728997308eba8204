"""The `lienthong` command as a user drives it: exit codes, what is printed, what is written.

Most cases go through typer's CliRunner on `hub.cli.app`; a few run the installed console script
in a subprocess. Exit codes: 0 success, 1 refused or invalid (reason on stderr), 2 usage error.
Also checks that docs/api.md lists every problem type and docs/operations.md every setting.
"""

from __future__ import annotations

import base64
import json
import os
import re
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import Result
from cryptography import x509
from lxml import etree
from typer.testing import CliRunner

from hub.cli import app
from hub.devpki import dev_token, is_development_certificate
from hub.problems import PROBLEM_TYPES
from hub.servers import free_port, run_in_thread
from hub.settings import PROJECT_ROOT, Settings
from tests.deliverytest import make_config, wait_for
from tests.hubtest import EXAMPLES, FIXTURES, SAMPLES, RunningHub, running_hub

LIENTHONG = Path(sys.executable).parent / "lienthong"
EDXML_NS = "http://www.mic.gov.vn/TBT/QCVN_102_2016"
NS = {"e": EDXML_NS}
AGENCY = "000.01.02.H41"
OTHER_AGENCY = "000.03.04.H41"
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
ANSI_RE = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")

SAMPLE_FILES = sorted(SAMPLES.glob("*.edxml"))
STRICT_FIXTURES = sorted((FIXTURES / "edxml").glob("*.edxml"))
JSON_EXAMPLES = sorted(EXAMPLES.glob("*.json"))


@pytest.fixture(autouse=True)
def _isolated_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every command of a test sees its own data dir and none of the caller's LIENTHONG_ settings."""
    monkeypatch.setenv("LIENTHONG_DATA_DIR", str(tmp_path / "data"))
    for name in ("LIENTHONG_MODE", "LIENTHONG_DATABASE_URL", "LIENTHONG_HUB_URL", "LIENTHONG_QUEUE_URL"):
        monkeypatch.delenv(name, raising=False)


def plain(text: str) -> str:
    return ANSI_RE.sub("", text)


def cli(*args: str | Path, env: dict[str, str] | None = None) -> Result:
    """Run `lienthong ARGS` in-process; unexpected exceptions propagate instead of posing as exit 1."""
    return CliRunner().invoke(app, [str(a) for a in args], env=env, catch_exceptions=False)


def script(
    *args: str | Path, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess:
    """Run the installed console script, as a user's shell would."""
    return subprocess.run(
        [str(LIENTHONG), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )


def assert_ok(result: Result) -> str:
    assert result.exit_code == 0, f"exit {result.exit_code}\nstdout: {result.stdout}\nstderr: {result.stderr}"
    return plain(result.stdout)


def assert_refused(result: Result, *words: str) -> str:
    """Exit 1 with every word in the reason printed on stderr (not stdout)."""
    stderr = plain(result.stderr)
    assert result.exit_code == 1, f"exit {result.exit_code}\nstdout: {result.stdout}\nstderr: {stderr}"
    assert "refused:" in stderr
    for word in words:
        assert word in stderr, f"{word!r} not in {stderr!r}"
    return stderr


def fresh_document(sender: str = AGENCY) -> bytes:
    """The strict edXML fixture with a new DocumentId number (a new natural key) from `sender`."""
    number = uuid.uuid4().int % 10**12  # a collision would make a "duplicate" of an unrelated test
    root = etree.fromstring((FIXTURES / "edxml" / "document_strict.edxml").read_bytes())
    for node in root.iterfind(".//e:DocumentId", NS):
        organ, date, _ = node.text.split(",", 2)
        node.text = f"{organ},{date},{number}/UBND-VP"
    root.find(".//e:Code/e:CodeNumber", NS).text = str(number)
    root.find(".//e:MessageHeader/e:From/e:OrganId", NS).text = sender
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


# -- validate ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("fixture", STRICT_FIXTURES, ids=lambda p: p.name)
def test_strict_fixtures_pass_the_strict_profile(fixture: Path) -> None:
    stdout = assert_ok(cli("validate", fixture))
    assert re.search(r"valid edxml\.(document|status) \(strict\)", stdout)
    assert "warning" not in stdout


@pytest.mark.parametrize("sample", SAMPLE_FILES, ids=lambda p: p.name)
def test_every_real_sample_passes_lenient_with_its_deviations_printed_as_warnings(sample: Path) -> None:
    stdout = assert_ok(cli("validate", "--profile", "lenient", sample))
    assert re.search(r"valid edxml\.(document|status) \(lenient\)", stdout)
    warnings = [line for line in stdout.splitlines() if line.startswith("warning:")]
    assert warnings, "the real packets all deviate from strict somewhere"
    if sample.name == "edoc_new.edxml":
        text = "\n".join(warnings)
        assert "stray byte" in text
        assert "28.22.H17" in text and "/edXMLHeader/MessageHeader/To/OrganId" in text


def test_edoc_new_fails_strict_first_on_its_stray_bytes_then_on_the_three_group_organ_id(
    tmp_path: Path,
) -> None:
    sample = SAMPLES / "edoc_new.edxml"
    assert_refused(cli("validate", sample), "xml-malformed")
    # Without the stray bytes before the declaration, strict names the schema deviations.
    data = sample.read_bytes()
    stripped = write(tmp_path / "edoc_new_stripped.edxml", data[data.index(b"<") :])
    stderr = assert_refused(cli("validate", "--profile", "strict", stripped), "schema-invalid", "28.22.H17")
    assert "/edXML/edXMLEnvelope/edXMLHeader/MessageHeader/To/OrganId" in stderr


@pytest.mark.parametrize("example", JSON_EXAMPLES, ids=lambda p: p.name)
def test_json_examples_pass(example: Path) -> None:
    assert f"valid {example.stem} (strict)" in assert_ok(cli("validate", example))


def test_an_edxml_schema_violation_exits_1_with_its_location(tmp_path: Path) -> None:
    bad = write(tmp_path / "bad.edxml", fresh_document(sender="not-an-organ-id"))
    result = cli("validate", bad)
    stderr = assert_refused(result, "schema-invalid", "not-an-organ-id")
    assert "/edXML/edXMLEnvelope/edXMLHeader/MessageHeader/From/OrganId" in stderr
    assert "valid" not in plain(result.stdout)


def test_a_json_schema_violation_exits_1_with_its_json_pointer(tmp_path: Path) -> None:
    order = json.loads((EXAMPLES / "ems.order.json").read_text(encoding="utf-8"))
    del order["order"]["OrderNumber"]
    bad = write(tmp_path / "bad.json", json.dumps(order, ensure_ascii=False).encode())
    assert_refused(cli("validate", bad), "schema-invalid", "/order/OrderNumber")


def test_hostile_and_unknown_documents_are_refused(tmp_path: Path) -> None:
    bomb = write(tmp_path / "bomb.xml", b'<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>')
    assert_refused(cli("validate", bomb), "xml-forbidden-construct")
    dup = write(tmp_path / "dup.json", b'{"type": "ems.order", "type": "ems.order"}')
    assert_refused(cli("validate", dup), "json-duplicate-key")
    unknown = write(tmp_path / "invoice.xml", b"<invoice xmlns='urn:example'/>")
    assert_refused(cli("validate", unknown), "unknown-type")
    assert_refused(cli("validate", tmp_path / "missing.edxml"), "cannot read")


# -- sign and verify ---------------------------------------------------------------------------------


def test_sign_then_verify_edxml_with_the_hub_key_through_the_console_script(tmp_path: Path) -> None:
    signed = tmp_path / "signed.edxml"
    done = script("sign", FIXTURES / "edxml" / "document_strict.edxml", "-o", signed)
    assert done.returncode == 0, done.stderr
    assert signed.exists() and b"SignatureValue" in signed.read_bytes()
    checked = script("verify", signed)
    assert checked.returncode == 0, checked.stderr
    assert "valid signature by lienthong" in checked.stdout


def test_sign_as_a_participant_then_verify_names_that_participant(tmp_path: Path) -> None:
    result = cli("sign", "--as", AGENCY, FIXTURES / "edxml" / "document_strict.edxml")
    assert result.exit_code == 0, result.stderr
    signed = write(tmp_path / "signed.edxml", result.stdout_bytes)
    root = etree.fromstring(signed.read_bytes())
    assert root.find(".//e:edXMLHeader/{http://www.w3.org/2000/09/xmldsig#}Signature", NS) is not None
    assert f"valid signature by {AGENCY}" in assert_ok(cli("verify", signed))


def test_sign_as_a_participant_without_a_key_exits_1_naming_it() -> None:
    result = cli("sign", "--as", "nobody", FIXTURES / "edxml" / "document_strict.edxml")
    assert_refused(result, "nobody")
    assert result.stdout == ""


def test_sign_with_key_and_cert_files_uses_that_key(tmp_path: Path) -> None:
    pki = tmp_path / "pki"  # another PKI than certs/dev: its CA is not in the default trust store
    assert_ok(cli("certs", "dev", "--target", pki))
    key, cert = pki / f"{AGENCY}.key", pki / f"{AGENCY}.crt"
    signed = tmp_path / "signed.edxml"
    document = FIXTURES / "edxml" / "document_strict.edxml"
    assert_ok(cli("sign", document, "--key", key, "--cert", cert, "-o", signed))
    assert_refused(cli("verify", signed), "signer-untrusted", "does not chain to a trusted CA")
    trusted = cli("verify", signed, env={"LIENTHONG_CERTS_DIR": str(pki)})
    assert f"valid signature by {AGENCY}" in assert_ok(trusted)
    mismatched = cli("sign", document, "--key", key, "--cert", pki / "hub.crt")
    assert_refused(mismatched, "no signing key")
    alone = cli("sign", document, "--key", key)
    assert alone.exit_code == 2 and "--key and --cert go together" in plain(alone.output)


def test_verify_of_a_tampered_file_exits_1_with_signature_invalid(tmp_path: Path) -> None:
    signed = tmp_path / "signed.edxml"
    assert_ok(cli("sign", FIXTURES / "edxml" / "document_strict.edxml", "-o", signed))
    tampered = write(
        tmp_path / "tampered.edxml",
        signed.read_bytes().replace(b"Nghi L\xe1\xbb\x99c", b"Nghi Xu\xc3\xa2n"),
    )
    assert tampered.read_bytes() != signed.read_bytes()
    assert_refused(cli("verify", tampered), "signature-invalid")


def test_verify_of_an_unsigned_document_exits_1(tmp_path: Path) -> None:
    assert_refused(cli("verify", FIXTURES / "edxml" / "document_strict.edxml"), "no XMLDSig signature")


def test_json_sign_prints_a_detached_jws_that_verify_accepts_for_that_body_only() -> None:
    body = EXAMPLES / "payment.request.json"
    result = cli("sign", body)
    jws = assert_ok(result).strip()
    header, payload, _signature = jws.split(".")
    assert payload == "", "detached: the payload part is empty"
    assert json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))["b64"] is False
    assert "valid signature by lienthong" in assert_ok(cli("verify", "--jws", jws, body))
    assert_refused(cli("verify", "--jws", jws, EXAMPLES / "ems.order.json"), "signature-invalid")
    assert_refused(cli("verify", body), "--jws")


# -- send, status, fetch against a running hub ---------------------------------------------------------


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningHub]:
    # No delivery workers: deliveries stay `queued`, as intake leaves them.
    with running_hub(tmp_path_factory.mktemp("hub"), workers=0) as running:
        yield running


def hub_env(hub: RunningHub, token: str | None = None) -> dict[str, str]:
    """The environment of a participant's shell: the hub's URL and, if given, its token."""
    return {"LIENTHONG_HUB_URL": hub.url, **({"LIENTHONG_TOKEN": token} if token else {})}


def test_send_prints_the_id_status_shows_it_accepted_and_fetch_writes_the_hub_signed_document(
    hub: RunningHub, tmp_path: Path
) -> None:
    document = write(tmp_path / "document.edxml", fresh_document())
    sent = cli("send", document, "--as", AGENCY, "--hub", hub.url)
    message_id = assert_ok(sent).strip()
    assert UUID_RE.match(message_id), sent.stdout

    status = assert_ok(cli("status", message_id, "--as", AGENCY, env=hub_env(hub)))
    assert message_id in status and "edxml.document" in status and "accepted" in status
    assert "→ 000.00.00.H41: queued via agency (0 attempts)" in status
    assert f"→ {OTHER_AGENCY}: queued via inbox (0 attempts)" in status

    view = json.loads(assert_ok(cli("status", message_id, "--json", env=hub_env(hub, dev_token(AGENCY)))))
    assert view["state"] == "accepted" and view["sender"] == AGENCY
    assert sorted((d["recipient"], d["state"]) for d in view["deliveries"]) == [
        ("000.00.00.H41", "queued"),
        (OTHER_AGENCY, "queued"),
    ]
    assert [e["kind"] for e in view["events"]][:2] == ["message.received", "message.accepted"]

    fetched = tmp_path / "fetched.edxml"
    assert_ok(cli("fetch", message_id, "-o", fetched, "--as", OTHER_AGENCY, "--hub", hub.url))
    assert fetched.read_bytes() == hub.get(f"/v1/messages/{message_id}/document", as_=AGENCY).content
    verified = script("verify", fetched)
    assert verified.returncode == 0, verified.stderr
    assert "valid signature by lienthong" in verified.stdout


def test_fetch_of_a_json_message_writes_the_body_and_its_jws_beside_it(
    hub: RunningHub, tmp_path: Path
) -> None:
    example = json.loads((EXAMPLES / "ems.order.json").read_text(encoding="utf-8"))
    example["dossier_number"] = example["order"]["OrderNumber"] = f"H41-{uuid.uuid4().hex[:12]}"
    body = json.dumps(example, ensure_ascii=False).encode()
    message_id = assert_ok(
        cli("send", write(tmp_path / "order.json", body), "--as", example["sender"], env=hub_env(hub))
    ).strip()
    fetched = tmp_path / "order-fetched.json"
    assert_ok(cli("fetch", message_id, "-o", fetched, env=hub_env(hub, dev_token(example["sender"]))))
    assert fetched.read_bytes() == body
    jws = (tmp_path / "order-fetched.json.jws").read_text()
    assert "valid signature by lienthong" in assert_ok(cli("verify", "--jws", jws, fetched))


def test_resending_prints_the_original_id_and_says_duplicate(hub: RunningHub, tmp_path: Path) -> None:
    document = write(tmp_path / "document.edxml", fresh_document())
    first = assert_ok(cli("send", document, "--as", AGENCY, env=hub_env(hub))).strip()
    again = cli("send", document, "--as", AGENCY, env=hub_env(hub))
    assert assert_ok(again).strip() == first
    assert "duplicate" in plain(again.stderr)


def test_send_of_an_invalid_document_exits_1_with_the_problem_and_its_location(
    hub: RunningHub, tmp_path: Path
) -> None:
    bad = write(tmp_path / "bad.edxml", fresh_document().replace(b">2026/11/20 09:30:00<", b">yesterday<"))
    result = cli("send", bad, "--as", AGENCY, env=hub_env(hub))
    stderr = assert_refused(result, "schema-invalid", "yesterday")
    assert "/TraceHeaderList/TraceHeader/Timestamp" in stderr
    assert plain(result.stdout).strip() == "", "no id is printed for a refusal"


def test_sending_as_a_participant_that_is_not_the_sender_exits_1_with_forbidden_sender(
    hub: RunningHub, tmp_path: Path
) -> None:
    document = write(tmp_path / "document.edxml", fresh_document(sender=AGENCY))
    assert_refused(cli("send", document, "--as", OTHER_AGENCY, env=hub_env(hub)), "forbidden-sender", AGENCY)


def test_send_with_an_unknown_participant_exits_1_unauthenticated(hub: RunningHub, tmp_path: Path) -> None:
    document = write(tmp_path / "document.edxml", fresh_document())
    assert_refused(cli("send", document, "--as", "nobody", env=hub_env(hub)), "unauthenticated")


def test_send_to_a_hub_that_does_not_answer_exits_1(tmp_path: Path) -> None:
    document = write(tmp_path / "document.edxml", fresh_document())
    url = f"http://127.0.0.1:{free_port()}"
    assert_refused(cli("send", document, "--as", AGENCY, "--hub", url), "cannot reach the hub", url)


def test_send_to_something_that_is_not_the_hub_exits_1_with_its_http_status(tmp_path: Path) -> None:
    from starlette.applications import Starlette
    from starlette.responses import HTMLResponse
    from starlette.routing import Route

    async def gateway_error(_request: object) -> HTMLResponse:
        return HTMLResponse("<html><body>502 Bad Gateway</body></html>", status_code=502)

    proxy = run_in_thread(Starlette(routes=[Route("/v1/messages", gateway_error, methods=["POST"])]))
    try:
        document = write(tmp_path / "document.edxml", fresh_document())
        assert_refused(cli("send", document, "--as", AGENCY, "--hub", proxy.base_url), "502", "Bad Gateway")
    finally:
        proxy.stop()


def test_status_and_fetch_of_an_unknown_message_exit_1_with_the_hubs_problem(
    hub: RunningHub, tmp_path: Path
) -> None:
    unknown = str(uuid.uuid4())
    env = hub_env(hub, dev_token(AGENCY))
    assert_refused(cli("status", unknown, env=env), "not-found:", f"no message {unknown}")
    assert_refused(
        cli("fetch", unknown, "-o", tmp_path / "x", env=env), "not-found:", f"no message {unknown}"
    )
    assert not (tmp_path / "x").exists()


def test_a_message_of_others_is_not_found_for_a_participant_that_is_no_party(hub: RunningHub) -> None:
    message_id = hub.post(fresh_document(), as_=AGENCY).json()["id"]
    assert_refused(cli("status", message_id, "--as", "vnpost", env=hub_env(hub)), "not-found")


def test_fetch_into_a_directory_that_does_not_exist_exits_1(hub: RunningHub, tmp_path: Path) -> None:
    message_id = hub.post(fresh_document(), as_=AGENCY).json()["id"]
    target = tmp_path / "missing" / "document.edxml"
    refused = cli("fetch", message_id, "-o", target, env=hub_env(hub, dev_token(AGENCY)))
    assert_refused(refused, "cannot write", str(target))


def test_send_with_a_token_or_lienthong_token_and_a_wrong_token_is_refused(
    hub: RunningHub, tmp_path: Path
) -> None:
    document = write(tmp_path / "document.edxml", fresh_document())
    token = dev_token(AGENCY)  # the token participants.yaml holds the hash of, as a secret token would be
    message_id = assert_ok(cli("send", document, "--token", token, "--hub", hub.url)).strip()
    assert hub.get(f"/v1/messages/{message_id}", as_=AGENCY).json()["sender"] == AGENCY
    other = write(tmp_path / "other.edxml", fresh_document())
    assert UUID_RE.match(assert_ok(cli("send", other, env=hub_env(hub, token))).strip())
    wrong = cli("send", other, "--token", "not-a-token", "--hub", hub.url)
    assert_refused(wrong, "unauthenticated", "not known")
    both = cli("send", other, "--token", token, "--as", AGENCY, "--hub", hub.url)
    assert both.exit_code == 2 and "not both" in plain(both.output)


def test_receipt_is_written_with_its_jws_and_verifies_as_signed_by_the_hub(
    hub: RunningHub, tmp_path: Path
) -> None:
    message_id = hub.post(fresh_document(), as_=AGENCY).json()["id"]
    target = tmp_path / "receipt.json"
    assert_ok(cli("receipt", message_id, "-o", target, "--as", AGENCY, "--hub", hub.url))
    receipt = json.loads(target.read_text(encoding="utf-8"))
    assert message_id in json.dumps(receipt)
    jws = (tmp_path / "receipt.json.jws").read_text()
    assert "valid signature by lienthong" in assert_ok(cli("verify", "--jws", jws, target))


def test_a_pulling_agency_lists_fetches_and_acknowledges_its_inbox(hub: RunningHub, tmp_path: Path) -> None:
    message_id = hub.post(fresh_document(), as_=AGENCY).json()["id"]
    env = hub_env(hub, dev_token(OTHER_AGENCY))  # routes.yaml: it pulls from /v1/inbox
    listed = assert_ok(cli("inbox", "--limit", "500", env=env))
    (line,) = [line for line in listed.splitlines() if message_id in line]
    delivery_id, listed_message, doctype, _, sender = line.split()
    assert (listed_message, doctype, sender) == (message_id, "edxml.document", AGENCY)
    assert_ok(cli("fetch", message_id, "-o", tmp_path / "doc.edxml", env=env))
    assert f"{delivery_id} delivered" in assert_ok(cli("inbox", "--ack", delivery_id, env=env))
    assert message_id not in assert_ok(cli("inbox", "--limit", "500", env=env))
    status = assert_ok(cli("status", message_id, env=env))
    assert f"→ {OTHER_AGENCY}: delivered via inbox (1 attempt)" in status
    assert_refused(cli("inbox", "--ack", delivery_id, env=hub_env(hub, dev_token(AGENCY))), "not-found")


def test_timeline_shows_the_messages_about_a_document_to_a_party_only(hub: RunningHub) -> None:
    message_id = hub.post(fresh_document(), as_=AGENCY).json()["id"]
    key = hub.get(f"/v1/messages/{message_id}", as_=AGENCY).json()["correlation_key"]
    assert "/" in key, "an edXML DocumentId holds '/' and ','"
    shown = assert_ok(cli("timeline", key, "--as", AGENCY, "--hub", hub.url))
    assert key in shown and message_id in shown and "message.accepted" in shown
    view = json.loads(assert_ok(cli("timeline", key, "--json", "--as", AGENCY, "--hub", hub.url)))
    assert [m["id"] for m in view["messages"]] == [message_id]
    assert_refused(cli("timeline", key, "--as", "vnpost", "--hub", hub.url), "not-found")


# -- ledger verify -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def populated_ledger(hub: RunningHub) -> Path:
    """The shared hub's ledger after a few more exchanges (the other tests add theirs), every event
    placed in the log by the hub's sequencer."""
    for _ in range(3):
        assert hub.post(fresh_document(), as_=AGENCY).status_code == 202
    assert hub.post(b"<broken", as_=AGENCY).status_code == 400  # a refusal is an event too
    hub.wait_sequenced()
    return hub.settings.data_dir / "ledger.sqlite3"


@pytest.fixture
def ledger_copy(populated_ledger: Path, tmp_path: Path) -> Path:
    """A data dir holding a consistent copy of the live WAL ledger, made with SQLite's backup API."""
    data_dir = tmp_path / "copy"
    data_dir.mkdir()
    source = sqlite3.connect(populated_ledger)
    target = sqlite3.connect(data_dir / "ledger.sqlite3")
    with target:
        source.backup(target)
    source.close()
    target.close()
    return data_dir


def event_rows(data_dir: Path) -> list[tuple]:
    """(seq, kind, data) of the events placed in the log, in log order."""
    with sqlite3.connect(data_dir / "ledger.sqlite3") as conn:
        return conn.execute(
            "SELECT seq, kind, data FROM events WHERE seq IS NOT NULL ORDER BY seq"
        ).fetchall()


def tamper(data_dir: Path, *statements: tuple[str, tuple]) -> None:
    conn = sqlite3.connect(data_dir / "ledger.sqlite3")
    with conn:
        for sql, params in statements:
            assert conn.execute(sql, params).rowcount == 1
    conn.close()


def test_ledger_verify_says_intact(populated_ledger: Path, ledger_copy: Path) -> None:
    with sqlite3.connect(ledger_copy / "ledger.sqlite3") as conn:
        events = conn.execute("SELECT count(*) FROM events").fetchone()[0]
    assert events >= 10
    stdout = assert_ok(cli("ledger", "verify", "--data-dir", ledger_copy))
    assert f"ledger intact: {events} events verified" in stdout
    assert "intact" in assert_ok(
        cli("ledger", "verify", env={"LIENTHONG_DATA_DIR": str(populated_ledger.parent)})
    )


def test_ledger_verify_names_an_edited_event(ledger_copy: Path) -> None:
    rows = event_rows(ledger_copy)
    seq, _, data = next(r for r in rows[len(rows) // 2 :] if r[1] == "delivery.queued")
    changed = json.loads(data)
    changed["recipient"] = "000.99.99.H41"
    tamper(ledger_copy, ("UPDATE events SET data = ? WHERE seq = ?", (json.dumps(changed), seq)))
    assert_refused(cli("ledger", "verify", "--first", "--data-dir", ledger_copy), f"#{seq}:", "edited")


def test_ledger_verify_names_a_deleted_event(ledger_copy: Path) -> None:
    rows = event_rows(ledger_copy)
    seq = rows[len(rows) // 2][0]
    tamper(ledger_copy, ("DELETE FROM events WHERE seq = ?", (seq,)))
    assert_refused(cli("ledger", "verify", "--first", "--data-dir", ledger_copy), f"#{seq}:", "deleted")


def test_ledger_verify_reports_every_fault_of_two_reordered_events(ledger_copy: Path) -> None:
    rows = event_rows(ledger_copy)
    first = rows[len(rows) // 2][0]
    second = first + 1
    # Swap the two rows' positions: the log now reads them in the other order.
    tamper(
        ledger_copy,
        ("UPDATE events SET seq = -1 WHERE seq = ?", (first,)),
        ("UPDATE events SET seq = ? WHERE seq = ?", (first, second)),
        ("UPDATE events SET seq = ? WHERE seq = -1", (second,)),
    )
    with sqlite3.connect(ledger_copy / "ledger.sqlite3") as conn:
        swapped = conn.execute("SELECT data FROM events WHERE seq IN (?, ?) ORDER BY seq", (first, second))
        assert [r[0] for r in swapped] == [rows[second - 1][2], rows[first - 1][2]]
    result = cli("ledger", "verify", "--data-dir", ledger_copy)
    assert_refused(result, "checkpoint-mismatch")
    # every checkpoint from the first that covers the swapped pair on is named, not only the first
    assert result.stderr.count("checkpoint-mismatch") >= 1
    assert "fault(s)" in result.stderr


# -- certificates and production mode ------------------------------------------------------------------


def test_certs_dev_regenerates_a_development_pki_in_a_directory(tmp_path: Path) -> None:
    target = tmp_path / "pki"
    stdout = assert_ok(cli("certs", "dev", "--target", target))
    assert "development PKI written" in stdout
    names = {p.name for p in target.iterdir()}
    for participant in ("hub", AGENCY, OTHER_AGENCY, "000.00.00.H41", "vnpost", "gov-axis"):
        assert {f"{participant}.crt", f"{participant}.key"} <= names
    assert {"ca.crt", "ca.key", "revoked.txt", "README.md"} <= names
    ca = x509.load_pem_x509_certificate((target / "ca.crt").read_bytes())
    assert is_development_certificate(ca)
    assert "DEVELOPMENT" in ca.subject.rfc4514_string()
    hub_cert = x509.load_pem_x509_certificate((target / "hub.crt").read_bytes())
    assert hub_cert.issuer == ca.subject and is_development_certificate(hub_cert)
    assert "DEVELOPMENT ONLY" in (target / "README.md").read_text(encoding="utf-8")


def test_certs_dev_refuses_in_production_mode(tmp_path: Path) -> None:
    result = cli("certs", "dev", "--target", tmp_path / "pki", env={"LIENTHONG_MODE": "production"})
    assert_refused(result, "production")
    assert not (tmp_path / "pki").exists()


def test_production_mode_refuses_to_serve_with_development_certificate_and_tokens(tmp_path: Path) -> None:
    env = {"LIENTHONG_MODE": "production", "LIENTHONG_LEASE_SECONDS": "25"}
    done = script("serve", "--port", str(free_port()), env=env, timeout=60)
    stderr = plain(done.stderr)
    assert done.returncode == 1, stderr
    assert "refusing to start in production mode" in stderr
    assert "hub.crt is from the development PKI" in stderr
    assert "development CA" in stderr
    assert "still has its development token" in stderr
    # the axis adapter's 30 s timeout outlasts a 25 s lease: two workers could send one delivery at once
    assert "adapter gov_axis: timeout_seconds 30 is not shorter than the delivery lease" in stderr
    assert "adapter post_ems: timeout_seconds" not in stderr  # 20 s < 25 s: fine
    assert "listening" not in done.stdout


def test_an_adapter_timeout_longer_than_the_lease_is_warned_of_in_development(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from tests.hubtest import running_hub

    with running_hub(tmp_path, workers=0, lease_seconds=25):
        pass
    warned = sorted(r.getMessage() for r in caplog.records if r.name == "hub.startup")
    assert [w.split(":")[0] for w in warned] == ["adapter agency", "adapter gov_axis"], warned  # both 30 s
    assert all("not shorter than the delivery lease" in w for w in warned)


# -- operators: over HTTP with an operator token, or on the local ledger ----------------------------------


@pytest.fixture(scope="module")
def failing_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningHub]:
    """A hub with a delivery worker whose webhook agency (000.00.00.H41) never answers and whose
    agency deliveries get one attempt each: they go dead at once."""
    base = tmp_path_factory.mktemp("failing")
    config = make_config(
        base / "config", webhook_base=f"http://127.0.0.1:{free_port()}", agency_retry={"max_attempts": 1}
    )
    with running_hub(base, config_dir=config, workers=1, poll_interval_seconds=0.1) as running:
        yield running


def dead_delivery(hub: RunningHub) -> tuple[str, str]:
    """(message id, delivery id) of a new message whose webhook delivery is dead."""
    message_id = hub.post(fresh_document(), as_=AGENCY).json()["id"]

    def dead() -> str | None:
        deliveries = hub.get(f"/v1/messages/{message_id}", as_=AGENCY).json()["deliveries"]
        found = [d["id"] for d in deliveries if d["recipient"] == WEBHOOK_AGENCY and d["state"] == "dead"]
        return found[0] if found else None

    return message_id, wait_for(dead, timeout=20, what="a dead delivery")


WEBHOOK_AGENCY = "000.00.00.H41"


def test_status_counts_every_attempt_across_an_operator_retry(failing_hub: RunningHub) -> None:
    message_id, delivery_id = dead_delivery(failing_hub)
    env = hub_env(failing_hub, dev_token(AGENCY))
    assert f"→ {WEBHOOK_AGENCY}: dead via agency (1 attempt)" in assert_ok(cli("status", message_id, env=env))
    operator = ["--hub", failing_hub.url, "--as", "operator"]
    assert f"{delivery_id} queued again" in assert_ok(cli("deliveries", "retry", delivery_id, *operator))

    def dead_again() -> bool:
        deliveries = failing_hub.get(f"/v1/messages/{message_id}", as_=AGENCY).json()["deliveries"]
        return any(d["id"] == delivery_id and d["state"] == "dead" and d["attempts"] == 1 for d in deliveries)

    wait_for(dead_again, timeout=20, what="the retried delivery to fail again")
    status = assert_ok(cli("status", message_id, env=env))
    assert f"→ {WEBHOOK_AGENCY}: dead via agency (2 attempts)" in status, status
    view = json.loads(assert_ok(cli("status", message_id, "--json", env=env)))
    (delivery,) = [d for d in view["deliveries"] if d["id"] == delivery_id]
    assert (delivery["attempts"], delivery["attempts_total"]) == (1, 2)


def test_operators_list_and_replay_over_http_and_other_participants_are_forbidden(
    failing_hub: RunningHub,
) -> None:
    message_id, delivery_id = dead_delivery(failing_hub)
    operator = ["--hub", failing_hub.url, "--token", dev_token("operator")]
    listed = assert_ok(cli("deliveries", "list", "--state", "dead", "--limit", "500", *operator))
    assert any(line.startswith(f"{delivery_id}  dead") for line in listed.splitlines())
    views = json.loads(
        assert_ok(cli("deliveries", "list", "--recipient", WEBHOOK_AGENCY, "--json", *operator))
    )
    assert views and {v["recipient"] for v in views} == {WEBHOOK_AGENCY}
    replayed = assert_ok(cli("replay", message_id, *operator)).strip()
    assert UUID_RE.match(replayed) and replayed != message_id
    assert failing_hub.get(f"/v1/messages/{replayed}", as_=AGENCY).status_code == 200
    for command in (["deliveries", "list"], ["deliveries", "retry", delivery_id], ["replay", message_id]):
        assert_refused(cli(*command, "--hub", failing_hub.url, "--as", AGENCY), "forbidden-operator")
    assert_refused(cli("replay", str(uuid.uuid4()), *operator), "not-found")
    unnamed = cli("deliveries", "list", "--as", "operator")
    assert unnamed.exit_code == 2 and "which hub" in plain(unnamed.output)


def test_operators_on_the_hubs_machine_use_the_local_ledger_with_data_dir(failing_hub: RunningHub) -> None:
    message_id, delivery_id = dead_delivery(failing_hub)
    data_dir = ["--data-dir", str(failing_hub.settings.data_dir)]
    # an operator's shell may hold a token for remote use: --data-dir works without it all the same
    env = {"LIENTHONG_CONFIG_DIR": str(failing_hub.settings.config_dir), "LIENTHONG_TOKEN": "remote-only"}
    listed = assert_ok(cli("deliveries", "list", "--state", "dead", "--limit", "500", *data_dir, env=env))
    assert delivery_id in listed
    retried = assert_ok(cli("deliveries", "retry", delivery_id, *data_dir, env=env))
    assert f"{delivery_id} queued again for {WEBHOOK_AGENCY}" in retried
    again = cli("deliveries", "retry", "no-such-delivery", *data_dir, env=env)
    assert_refused(again, "not-found")
    replayed = assert_ok(cli("replay", message_id, *data_dir, env=env)).strip()
    assert failing_hub.get(f"/v1/messages/{replayed}", as_=AGENCY).json()["state"] == "accepted"


def test_bulk_retry_by_filter_on_the_local_ledger_retries_only_what_matches(failing_hub: RunningHub) -> None:
    dead = [dead_delivery(failing_hub)[1] for _ in range(2)]
    data_dir = ["--data-dir", str(failing_hub.settings.data_dir)]
    env = {"LIENTHONG_CONFIG_DIR": str(failing_hub.settings.config_dir)}
    other = cli("deliveries", "retry", "--state", "dead", "--recipient", OTHER_AGENCY, *data_dir, env=env)
    assert assert_ok(other).strip() == "" and "0 deliveries queued again" in plain(other.stderr)
    result = cli(
        "deliveries", "retry", "--state", "dead", "--adapter", "agency", "--recipient", WEBHOOK_AGENCY,
        "--limit", "500", *data_dir, env=env,
    )  # fmt: skip
    retried = assert_ok(result).split()
    assert set(dead) <= set(retried)
    assert f"{len(retried)} deliveries queued again" in plain(result.stderr)
    ledger = failing_hub.app.state.runtime.hub.ledger
    events = [e for d in dead for e in ledger.list_events(ledger.get_delivery(d).message_id)]
    assert [e.data["by"] for e in events if e.kind == "delivery.queued" and "by" in e.data] == ["cli", "cli"]


def test_bulk_retry_over_http_sends_the_filter_to_the_hub_and_prints_the_retried_ids(
    failing_hub: RunningHub,
) -> None:
    dead = [dead_delivery(failing_hub)[1] for _ in range(2)]
    operator = ["--hub", failing_hub.url, "--as", "operator"]
    nothing = cli("deliveries", "retry", "--state", "dead", "--recipient", OTHER_AGENCY, *operator)
    assert assert_ok(nothing).strip() == "" and "0 deliveries queued again" in plain(nothing.stderr)
    result = cli(
        "deliveries", "retry", "--state", "dead", "--adapter", "agency", "--recipient", WEBHOOK_AGENCY,
        "--limit", "500", *operator,
    )  # fmt: skip
    retried = assert_ok(result).split()
    assert set(dead) <= set(retried)
    assert f"{len(retried)} deliveries queued again" in plain(result.stderr)
    ledger = failing_hub.app.state.runtime.hub.ledger
    events = [e for d in dead for e in ledger.list_events(ledger.get_delivery(d).message_id)]
    assert [e.data["by"] for e in events if e.kind == "delivery.queued" and "by" in e.data] == [
        "operator",
        "operator",
    ]
    refused = cli("deliveries", "retry", "--state", "dead", "--hub", failing_hub.url, "--as", AGENCY)
    assert_refused(refused, "forbidden-operator")
    for args in (["deliveries", "retry"], ["deliveries", "retry", "some-id", "--state", "dead"]):
        assert cli(*args).exit_code == 2
    assert "only dead or retrying" in plain(cli("deliveries", "retry", "--state", "delivered").output)


# -- version -------------------------------------------------------------------------------------------


def test_version_is_the_installed_distributions() -> None:
    from importlib.metadata import version

    done = script("--version")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"lienthong {version('lienthong')}"


def test_core_commands_run_without_loading_adapters_and_help_lists_the_adapters_groups() -> None:
    probe = (
        "import sys, typer\nfrom hub.cli import app, core_commands, main\n"
        "assert core_commands() == set(typer.main.get_command(app).commands), core_commands()\n"
        f"sys.argv = ['lienthong', 'validate', {str(FIXTURES / 'edxml' / 'document_strict.edxml')!r}]\n"
        "try:\n    main()\nexcept SystemExit as done:\n    code = done.code\n"
        "print(code, sorted(m for m in sys.modules if m.startswith('adapters')))"
    )
    ran = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert ran.stdout.strip().splitlines()[-1] == "0 []", ran.stdout + ran.stderr
    helped = script("--help")
    assert helped.returncode == 0 and "payments" in plain(helped.stdout)  # the bank adapter's group


# -- usage errors --------------------------------------------------------------------------------------


def test_an_unknown_command_is_a_usage_error() -> None:
    done = script("frobnicate")
    assert done.returncode == 2
    assert "No such command" in plain(done.stderr)


@pytest.mark.parametrize(
    "args",
    [
        ["validate"],
        ["send", "document.edxml"],
        ["fetch", "some-id"],
        ["ledger"],
        ["ledger", "rewrite"],
        ["validate", "--profile", "loose", "x.edxml"],
        ["status", "--frobnicate", "x"],
    ],
    ids=" ".join,
)
def test_missing_or_wrong_arguments_are_usage_errors(args: list[str]) -> None:
    result = cli(*args)
    assert result.exit_code == 2, result.output
    assert "Usage:" in plain(result.output)


# -- the docs keep up with the code --------------------------------------------------------------------


def test_every_problem_type_is_documented_in_the_api_docs() -> None:
    api = (PROJECT_ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    rows = {m.group(1): int(m.group(2)) for m in re.finditer(r"^\| `([a-z0-9-]+)` \| (\d{3}) \|", api, re.M)}
    missing = sorted(set(PROBLEM_TYPES) - set(rows))
    assert not missing, f"docs/api.md lacks problem types {missing}"
    wrong = {slug: rows[slug] for slug, t in PROBLEM_TYPES.items() if rows[slug] != t.status}
    assert not wrong, f"docs/api.md gives the wrong status for {wrong}"
    assert not set(rows) - set(PROBLEM_TYPES), "docs/api.md lists problem types the hub does not have"


def test_every_setting_is_documented_in_the_operations_docs() -> None:
    operations = (PROJECT_ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
    missing = [
        f"LIENTHONG_{name.upper()}"
        for name in Settings.model_fields
        if f"LIENTHONG_{name.upper()}" not in operations
    ]
    assert not missing, f"docs/operations.md lacks {missing}"
