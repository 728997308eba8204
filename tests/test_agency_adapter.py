"""The agency adapter through the adapter contract, against the agency-system simulator on loopback;
its mapping without I/O; and the pull-mode helper against a small fake hub."""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from fastapi import FastAPI, Header, HTTPException
from fastapi.responses import Response
from pydantic import ValidationError

from adapters.agency import AgencyAdapter, AgencyOptions
from adapters.agency.mapping import (
    HEADER_CORRELATION_KEY,
    HEADER_JWS,
    MappingError,
    build_request,
    find_reference,
    interpret_response,
    is_json,
    parse_retry_after,
    peer_text,
)
from adapters.agency.simulator import Inbox, InboxPuller, SimulatorConfig, create_app
from hub.servers import RunningServer, run_in_thread
from hub.spi import (
    Delivered,
    OutboundMessage,
    ParticipantInfo,
    PermanentFailure,
    RetryableFailure,
)
from tests.fakehub import InMemoryHub

SO_TU_PHAP = "000.01.02.H41"
NGHI_LOC = "000.03.04.H41"
NO_WEBHOOK = "000.00.00.H41"
SENDER = "000.00.00.H41"

XML_DOC = (
    '<?xml version="1.0" encoding="UTF-8"?>\n<edXML:edXMLEnvelope xmlns:edXML="http://www.mic.gov.vn/TBT/QCVN_102_2016">'
    "<edXML:edXMLHeader/><edXML:edXMLBody>Công văn số 12/UBND</edXML:edXMLBody></edXML:edXMLEnvelope>\n"
).encode()
# Odd spacing, key order and non-ASCII text: the receiver must get exactly these bytes.
JSON_DOC = '{ "type":"payment.request",\n  "amount": 150000, "payer":"Nguyễn Văn A" }'.encode()
JWS = "eyJhbGciOiJSUzI1NiIsImI2NCI6ZmFsc2UsImNyaXQiOlsiYjY0Il19..c2lnbmF0dXJl"


class StubHub(InMemoryHub):
    """An outbound adapter only asks who the participants are (and keeps no state)."""

    def __init__(self, webhooks: dict[str, str | None]) -> None:
        super().__init__()
        self.webhooks = webhooks

    def participant(self, participant_id: str) -> ParticipantInfo | None:
        if participant_id not in self.webhooks:
            return None
        return ParticipantInfo(
            id=participant_id,
            name=f"agency {participant_id}",
            kind="agency",
            webhook_url=self.webhooks[participant_id],
            attributes={},
        )


def message(
    recipient: str = SO_TU_PHAP,
    *,
    document: bytes = XML_DOC,
    content_type: str = "application/xml",
    signature: str | None = None,
    message_id: str | None = None,
    correlation_key: str | None = "000.00.00.H41-250301-0007",
    attempt: int = 1,
) -> OutboundMessage:
    return OutboundMessage(
        message_id=message_id or str(uuid.uuid4()),
        delivery_id=str(uuid.uuid4()),
        doctype="edxml.document" if content_type.endswith("xml") else "payment.request",
        sender=SENDER,
        recipient=recipient,
        correlation_key=correlation_key,
        document=document,
        content_type=content_type,
        signature=signature,
        attempt=attempt,
    )


def json_message(**kwargs: Any) -> OutboundMessage:
    return message(document=JSON_DOC, content_type="application/json", signature=JWS, **kwargs)


@pytest.fixture
def simulator() -> Iterator[RunningServer]:
    config = SimulatorConfig(participants=[SO_TU_PHAP, NGHI_LOC])
    with run_in_thread(create_app(config)) as server:
        yield server


def make_adapter(server_url: str, **options: Any) -> AgencyAdapter:
    hub = StubHub(
        {
            SO_TU_PHAP: f"{server_url}/webhook/{SO_TU_PHAP}",
            NGHI_LOC: f"{server_url}/webhook/{NGHI_LOC}",
            NO_WEBHOOK: None,
            "000.09.99.H41": f"{server_url}/webhook/000.09.99.H41",  # not played by the simulator
        }
    )
    return AgencyAdapter(AgencyOptions.model_validate(options), hub)


@pytest.fixture
def adapter(simulator: RunningServer) -> Iterator[AgencyAdapter]:
    instance = make_adapter(simulator.base_url)
    yield instance
    instance.close()


def admin(server: RunningServer, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    with httpx.Client(base_url=server.base_url, trust_env=False) as client:
        answer = client.post(path, json=body) if path != "/_sim/state" else client.get(path)
        answer.raise_for_status()
        return answer.json()


def received(server: RunningServer, participant: str | None = None, **params: Any) -> list[dict[str, Any]]:
    query = {**params, **({"participant": participant} if participant else {})}
    with httpx.Client(base_url=server.base_url, trust_env=False) as client:
        return client.get("/_sim/received", params=query).raise_for_status().json()["items"]


# ---------------------------------------------------------------- through the contract, over HTTP


def test_registered_under_the_adapters_entry_point() -> None:
    (entry,) = [e for e in entry_points(group="lienthong.adapters") if e.name == "agency"]
    assert entry.load() is AgencyAdapter
    assert AgencyAdapter.capabilities.deduplicates and AgencyAdapter.capabilities.acknowledges
    assert AgencyAdapter.capabilities.receipt == "synchronous"


def test_delivered_with_the_receivers_reference(simulator: RunningServer, adapter: AgencyAdapter) -> None:
    msg = message(attempt=3)
    result = adapter.deliver(msg)

    assert isinstance(result, Delivered)
    assert result.peer_reference == f"VBDEN-{SO_TU_PHAP}-000001"
    (item,) = received(simulator, SO_TU_PHAP)
    headers = item["headers"]
    assert headers["x-lienthong-message-id"] == msg.message_id
    assert headers["x-lienthong-delivery-id"] == msg.delivery_id
    assert headers["x-lienthong-type"] == "edxml.document"
    assert headers["x-lienthong-sender"] == SENDER
    assert headers["x-lienthong-recipient"] == SO_TU_PHAP
    assert headers["x-lienthong-correlation-key"] == "000.00.00.H41-250301-0007"
    assert headers["x-lienthong-attempt"] == "3"
    assert headers["content-type"] == "application/xml"
    assert "x-jws-signature" not in headers  # XML carries its enveloped signature inside
    assert base64.b64decode(item["body_base64"]) == XML_DOC
    # RFC 9530: the receiver can tell a complete body (computed here independently of the adapter)
    assert headers["content-length"] == str(len(XML_DOC))
    assert (
        headers["content-digest"]
        == "sha-256=:" + base64.b64encode(hashlib.sha256(XML_DOC).digest()).decode() + ":"
    )
    assert received(simulator, NGHI_LOC) == []


def test_a_receiver_refuses_a_body_that_does_not_match_its_content_digest(simulator: RunningServer) -> None:
    """What a receiver should do (docs/adapters/agency.md), shown by the simulator: a truncated body is
    refused before its message id counts as seen, so the complete one is still taken afterwards."""
    message_id = str(uuid.uuid4())
    digest = "sha-256=:" + base64.b64encode(hashlib.sha256(XML_DOC).digest()).decode() + ":"
    headers = {
        "X-Lienthong-Message-Id": message_id,
        "Content-Type": "application/xml",
        "Content-Digest": digest,
    }
    with httpx.Client(base_url=simulator.base_url, trust_env=False) as client:
        truncated = client.post(f"/webhook/{SO_TU_PHAP}", content=XML_DOC[:-40], headers=headers)
        assert truncated.status_code == 400 and truncated.json()["error"] == "content_digest_mismatch"
        complete = client.post(f"/webhook/{SO_TU_PHAP}", content=XML_DOC, headers=headers)
        assert complete.status_code == 200 and complete.json()["duplicate"] is False


def test_json_delivery_carries_the_detached_jws_and_the_exact_bytes(
    simulator: RunningServer, adapter: AgencyAdapter
) -> None:
    result = adapter.deliver(json_message(recipient=NGHI_LOC, correlation_key=None))

    assert isinstance(result, Delivered)
    (item,) = received(simulator, NGHI_LOC)
    assert item["headers"]["x-jws-signature"] == JWS
    assert item["headers"]["content-type"] == "application/json"
    assert "x-lienthong-correlation-key" not in item["headers"]
    assert base64.b64decode(item["body_base64"]) == JSON_DOC
    assert item["body_sha256"] == hashlib.sha256(JSON_DOC).hexdigest()


def test_a_repeated_message_id_is_recorded_once_and_answered_with_the_same_reference(
    simulator: RunningServer, adapter: AgencyAdapter
) -> None:
    message_id = str(uuid.uuid4())
    first = adapter.deliver(message(message_id=message_id, attempt=1))
    again = adapter.deliver(message(message_id=message_id, attempt=2))
    other_message = message()
    other = adapter.deliver(other_message)

    assert isinstance(first, Delivered) and isinstance(again, Delivered) and isinstance(other, Delivered)
    assert again.peer_reference == first.peer_reference != other.peer_reference
    unique = received(simulator, SO_TU_PHAP, include_duplicates="false")
    assert [item["message_id"] for item in unique] == [message_id, other_message.message_id]
    assert [item["duplicate"] for item in received(simulator, SO_TU_PHAP)] == [False, True, False]
    assert admin(simulator, "/_sim/state")["received"] == {SO_TU_PHAP: {"unique": 2, "duplicates": 1}}


def test_503_is_retryable_and_retry_after_is_honoured(
    simulator: RunningServer, adapter: AgencyAdapter
) -> None:
    admin(simulator, "/_sim/fail-next", {"count": 1, "status": 503, "retry_after": 120})

    failed = adapter.deliver(message())
    assert isinstance(failed, RetryableFailure)
    assert failed.retry_after_seconds == 120.0
    assert failed.reason.startswith("HTTP 503")
    assert "injected failure" in failed.reason  # the peer's own words

    assert isinstance(adapter.deliver(message()), Delivered)  # only the next call was to fail
    assert len(received(simulator, SO_TU_PHAP)) == 1


@pytest.mark.parametrize("status", [500, 502, 408, 425, 429])
def test_busy_or_broken_peers_are_retryable(
    simulator: RunningServer, adapter: AgencyAdapter, status: int
) -> None:
    admin(simulator, "/_sim/always-fail", {"status": status})
    result = adapter.deliver(message())
    assert isinstance(result, RetryableFailure)
    assert result.reason.startswith(f"HTTP {status}")
    assert result.retry_after_seconds is None


@pytest.mark.parametrize("status", [400, 403, 409, 422])
def test_refusals_are_permanent(simulator: RunningServer, adapter: AgencyAdapter, status: int) -> None:
    admin(simulator, "/_sim/always-fail", {"status": status, "participant": SO_TU_PHAP})
    result = adapter.deliver(message())
    assert isinstance(result, PermanentFailure)
    assert result.reason.startswith(f"HTTP {status}")
    assert isinstance(adapter.deliver(message(NGHI_LOC)), Delivered)  # the other agency is unaffected


def test_a_down_agency_system_is_retryable_until_it_is_up(
    simulator: RunningServer, adapter: AgencyAdapter
) -> None:
    admin(simulator, "/_sim/down", {"participant": NGHI_LOC, "retry_after": 30})
    down = adapter.deliver(message(NGHI_LOC))
    assert isinstance(down, RetryableFailure) and down.retry_after_seconds == 30.0
    assert isinstance(adapter.deliver(message(SO_TU_PHAP)), Delivered)

    admin(simulator, "/_sim/up", {"participant": NGHI_LOC})
    assert isinstance(adapter.deliver(message(NGHI_LOC)), Delivered)


def test_a_stopped_server_is_a_retryable_connection_error() -> None:
    server = run_in_thread(create_app())
    adapter = make_adapter(server.base_url)
    try:
        assert isinstance(adapter.deliver(message()), Delivered)
        server.stop()
        result = adapter.deliver(message())
        assert isinstance(result, RetryableFailure)
        assert result.reason.startswith("connection error")
    finally:
        adapter.close()
        server.stop()


def test_a_slow_peer_times_out_retryably(simulator: RunningServer) -> None:
    adapter = make_adapter(simulator.base_url, timeout_seconds=0.2)
    try:
        admin(simulator, "/_sim/slow", {"seconds": 1.5, "count": 1})
        result = adapter.deliver(message())
        assert isinstance(result, RetryableFailure)
        assert result.reason.startswith("timeout")
    finally:
        adapter.close()


def _tls_files(directory: Path) -> tuple[Path, Path, Path]:
    """A throwaway CA and a server certificate for 127.0.0.1 it issued: (ca.pem, cert.pem, key.pem)."""
    now = datetime.now(UTC)

    def issue(
        subject: str,
        key: ec.EllipticCurvePrivateKey,
        issuer_key: ec.EllipticCurvePrivateKey,
        issuer: str,
        ca: bool,
    ) -> x509.Certificate:
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(hours=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if not ca:
            builder = builder.add_extension(
                x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                critical=False,
            )
        return builder.sign(issuer_key, hashes.SHA256())

    ca_key, server_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_cert = issue("test webhook CA", ca_key, ca_key, "test webhook CA", ca=True)
    server_cert = issue("127.0.0.1", server_key, ca_key, "test webhook CA", ca=False)
    files = (directory / "ca.pem", directory / "cert.pem", directory / "key.pem")
    files[0].write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    files[1].write_bytes(server_cert.public_bytes(serialization.Encoding.PEM))
    files[2].write_bytes(
        server_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return files


def test_https_webhooks_are_checked_against_the_configured_ca(tmp_path: Path) -> None:
    ca, cert, key = _tls_files(tmp_path)
    config = SimulatorConfig(participants=[SO_TU_PHAP])
    server = run_in_thread(create_app(config), ssl_certfile=str(cert), ssl_keyfile=str(key))
    https = server.base_url.replace("http://", "https://")
    trusting = make_adapter(https, ca_file=str(ca))
    default_bundle = make_adapter(https)  # a private CA is not in the public bundle
    unchecked = make_adapter(https, verify_tls=False)
    try:
        assert isinstance(trusting.deliver(message()), Delivered)
        refused = default_bundle.deliver(message())
        assert isinstance(refused, RetryableFailure) and refused.reason.startswith("connection error")
        assert "CERTIFICATE_VERIFY_FAILED" in refused.reason
        assert isinstance(unchecked.deliver(message()), Delivered)
    finally:
        for each in (trusting, default_bundle, unchecked):
            each.close()
        server.stop()


def test_recipients_without_a_usable_webhook_fail_permanently(
    simulator: RunningServer, adapter: AgencyAdapter
) -> None:
    no_webhook = adapter.deliver(message(NO_WEBHOOK))
    assert isinstance(no_webhook, PermanentFailure) and "no webhook_url" in no_webhook.reason

    unknown = adapter.deliver(message("000.99.99.H41"))
    assert isinstance(unknown, PermanentFailure) and "not a known participant" in unknown.reason

    not_served = adapter.deliver(message("000.09.99.H41"))  # the webhook answers 404
    assert isinstance(not_served, PermanentFailure) and not_served.reason.startswith("HTTP 404")
    assert received(simulator) == []


def test_unsigned_json_and_oversized_documents_are_not_sent(simulator: RunningServer) -> None:
    adapter = make_adapter(simulator.base_url, max_payload_bytes=1024)
    try:
        unsigned = adapter.deliver(message(document=JSON_DOC, content_type="application/json"))
        assert isinstance(unsigned, PermanentFailure) and "JWS" in unsigned.reason
        too_big = adapter.deliver(message(document=b"<a>" + b"x" * 1024 + b"</a>"))
        assert isinstance(too_big, PermanentFailure) and "exceeds" in too_big.reason
        assert received(simulator) == []
    finally:
        adapter.close()


def test_webhook_bearer_tokens_from_development_values_or_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = SimulatorConfig(tokens={SO_TU_PHAP: "stp-secret", NGHI_LOC: "nghiloc-secret"})
    monkeypatch.setenv("LIENTHONG_TEST_NGHILOC_TOKEN", "nghiloc-secret")
    with run_in_thread(create_app(config)) as server:
        with_tokens = make_adapter(
            server.base_url,
            webhook_tokens={SO_TU_PHAP: "dev:stp-secret", NGHI_LOC: "env:LIENTHONG_TEST_NGHILOC_TOKEN"},
        )
        without = make_adapter(server.base_url)
        try:
            assert isinstance(with_tokens.deliver(message(SO_TU_PHAP)), Delivered)
            assert isinstance(with_tokens.deliver(message(NGHI_LOC)), Delivered)
            refused = without.deliver(message(SO_TU_PHAP))
            assert isinstance(refused, PermanentFailure) and refused.reason.startswith("HTTP 401")
        finally:
            with_tokens.close()
            without.close()


def test_token_options_must_be_marked_and_resolvable(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValidationError, match="env:VARIABLE"):
        AgencyOptions(webhook_tokens={SO_TU_PHAP: "plain-secret"})
    monkeypatch.delenv("LIENTHONG_TEST_MISSING_TOKEN", raising=False)
    options = AgencyOptions(webhook_tokens={SO_TU_PHAP: "env:LIENTHONG_TEST_MISSING_TOKEN"})
    with pytest.raises(ValueError, match="LIENTHONG_TEST_MISSING_TOKEN is not set"):
        AgencyAdapter(options, StubHub({}))
    assert AgencyOptions(webhook_tokens={NGHI_LOC: "dev:x"}).development_tokens() == [NGHI_LOC]
    with pytest.raises(ValidationError):
        AgencyOptions.model_validate({"no_such_option": 1})


# ---------------------------------------------------------------- the simulator's own doors


def test_simulator_admin_controls_and_refusals(simulator: RunningServer) -> None:
    url = f"{simulator.base_url}/webhook/{SO_TU_PHAP}"
    headers = {"X-Lienthong-Message-Id": "m-1", "Content-Type": "application/xml"}
    with httpx.Client(trust_env=False) as client:
        no_id = client.post(url, content=b"<a/>", headers={"Content-Type": "application/xml"})
        assert no_id.status_code == 400 and no_id.json()["error"] == "missing_message_id"
        unsigned = client.post(url, content=b"{}", headers={**headers, "Content-Type": "application/json"})
        assert unsigned.json()["error"] == "missing_signature"
        admin(simulator, "/_sim/fail-next", {"count": 2, "status": 502})
        statuses = [client.post(url, content=b"<a/>", headers=headers).status_code for _ in range(3)]
        assert statuses == [502, 502, 200]
        admin(simulator, "/_sim/down", {})
        assert client.post(url, content=b"<a/>", headers=headers).status_code == 503
        assert admin(simulator, "/_sim/state")["behaviours"]["*"]["down"] is True
        admin(simulator, "/_sim/up", {})
        assert client.post(url, content=b"<a/>", headers=headers).json()["duplicate"] is True

    state = admin(simulator, "/_sim/state")
    assert state["answers"] == {"200": 2, "400": 2, "502": 2, "503": 1}
    assert state["received"] == {SO_TU_PHAP: {"unique": 1, "duplicates": 1}}
    admin(simulator, "/_sim/reset")
    assert received(simulator) == []
    assert admin(simulator, "/_sim/state")["answers"] == {}


# ---------------------------------------------------------------- mapping, without I/O


def test_build_request_carries_the_exact_body_and_hub_headers() -> None:
    msg = json_message(attempt=2)
    request = build_request(msg, "https://qlvb.example.vn/lienthong/inbox", token="abc")
    assert request.body is msg.document
    assert request.url == "https://qlvb.example.vn/lienthong/inbox"
    assert request.headers[HEADER_JWS] == JWS
    assert request.headers["Authorization"] == "Bearer abc"
    assert request.headers["X-Lienthong-Attempt"] == "2"
    assert request.headers["Content-Type"] == "application/json"
    assert "Authorization" not in build_request(msg, "http://h/x").headers


def test_header_values_are_percent_encoded_only_when_needed() -> None:
    plain = build_request(message(correlation_key="000.00.00.H41-250301-0007"), "http://h/x")
    assert plain.headers[HEADER_CORRELATION_KEY] == "000.00.00.H41-250301-0007"
    key = "Hồ sơ 12/ABC\r\nX-Injected: 1"
    encoded = build_request(message(correlation_key=key), "http://h/x").headers[HEADER_CORRELATION_KEY]
    assert encoded.isascii() and "\r" not in encoded and "\n" not in encoded
    assert unquote(encoded) == key
    assert HEADER_CORRELATION_KEY not in build_request(message(correlation_key=None), "http://h/x").headers


@pytest.mark.parametrize(
    ("content_type", "expected"),
    [
        ("application/json", True),
        ("application/json; charset=utf-8", True),
        ("application/vnd.lienthong.payment+json", True),
        ("application/xml", False),
        ("text/xml; charset=utf-8", False),
        ("application/jsonx", False),
    ],
)
def test_json_media_types(content_type: str, expected: bool) -> None:
    assert is_json(content_type) is expected


@pytest.mark.parametrize("url", [None, "", "ftp://host/x", "/webhook/relative", "http:///nohost"])
def test_unusable_webhook_urls_are_mapping_errors(url: str | None) -> None:
    with pytest.raises(MappingError):
        build_request(message(), url)


def test_unsigned_json_is_a_mapping_error() -> None:
    with pytest.raises(MappingError, match="JWS"):
        build_request(message(document=JSON_DOC, content_type="application/problem+json"), "http://h/x")


@pytest.mark.parametrize(
    ("status", "headers", "body", "expected"),
    [
        (200, {}, b'{"reference": "VB-7"}', Delivered(peer_reference="VB-7", detail="HTTP 200")),
        (201, {"Location": "/docs/9"}, b"", Delivered(peer_reference="/docs/9", detail="HTTP 201")),
        (202, {"x-receipt-id": "R1"}, b'{"ok": true}', Delivered(peer_reference="R1", detail="HTTP 202")),
        (200, {}, b'{"id": 42}', Delivered(peer_reference="42", detail="HTTP 200")),
        (204, {}, b"", Delivered(peer_reference=None, detail="HTTP 204")),
        (503, {"Retry-After": "15"}, b"busy", RetryableFailure("HTTP 503: busy", 15.0)),
        (429, {}, b"", RetryableFailure("HTTP 429", None)),
        (408, {}, b"", RetryableFailure("HTTP 408", None)),
        (425, {}, b"", RetryableFailure("HTTP 425", None)),
        (599, {}, b"", RetryableFailure("HTTP 599", None)),
        (400, {}, b'{"title": "Bad", "detail": "no number"}', PermanentFailure("HTTP 400: Bad: no number")),
        (404, {"Retry-After": "15"}, b"", PermanentFailure("HTTP 404")),
        (413, {}, b'{"error": "too_large"}', PermanentFailure("HTTP 413: too_large")),
    ],
)
def test_interpret_response(status: int, headers: dict[str, str], body: bytes, expected: object) -> None:
    assert interpret_response(status, headers, body) == expected


def test_redirects_are_permanent_and_not_followed() -> None:
    result = interpret_response(302, {"Location": "https://elsewhere/"}, b"")
    assert isinstance(result, PermanentFailure) and "https://elsewhere/" in result.reason


def test_retry_after_seconds_and_http_dates() -> None:
    now = datetime(2025, 3, 1, 8, 0, 0, tzinfo=UTC)
    assert parse_retry_after("120", now=now) == 120.0
    assert parse_retry_after("Sat, 01 Mar 2025 08:00:30 GMT", now=now) == 30.0
    assert parse_retry_after("Sat, 01 Mar 2025 07:00:00 GMT", now=now) == 0.0
    assert parse_retry_after("soon", now=now) is None
    assert parse_retry_after("-5", now=now) is None
    assert parse_retry_after(None, now=now) is None


def test_peer_text_is_short_and_on_one_line() -> None:
    html = b"<html>\n<body>\n" + b"Service Unavailable " * 50 + b"</body></html>"
    text = peer_text(html)
    assert len(text) == 200 and "\n" not in text and text.endswith("…")
    assert peer_text(b'{"message": "queue full", "error": "busy"}') == "queue full: busy"
    assert peer_text(b"\xff\xfe not utf-8") == "\ufffd\ufffd not utf-8"


def test_find_reference_prefers_the_json_answer_and_ignores_non_ids() -> None:
    assert find_reference({"X-Reference": "H-1"}, b'{"reference": "J-1"}') == "J-1"
    assert find_reference({"X-Reference": "H-1"}, b'{"reference": true, "id": null}') == "H-1"
    assert find_reference({}, b"[1, 2]") is None
    assert find_reference({}, b'{"docNo": "D-5"}', fields=["docNo"]) == "D-5"


# ---------------------------------------------------------------- pull mode against a fake hub


class FakeHub:
    """The hub's pull API with exactly its shapes: an inbox, documents, acknowledgements."""

    TOKEN = "dev-token-000.03.04.H41"

    def __init__(self) -> None:
        self.documents: dict[str, tuple[bytes, str]] = {}
        self.items: list[dict[str, Any]] = []
        self.acked: list[str] = []

    def add(
        self, body: bytes, content_type: str, *, signature: str | None = None, stored: bool = True
    ) -> str:
        message_id = str(uuid.uuid4())
        if stored:
            self.documents[message_id] = (body, content_type)
        self.items.append(
            {
                "delivery_id": str(uuid.uuid4()),
                "message_id": message_id,
                "type": "payment.request" if "json" in content_type else "edxml.document",
                "sender": SENDER,
                "correlation_key": "HS-1",
                "content_type": content_type,
                "document_url": f"/v1/messages/{message_id}/document",
                "signature": signature,
            }
        )
        return message_id

    def app(self) -> FastAPI:
        app = FastAPI()

        def check(authorization: str | None) -> None:
            if authorization != f"Bearer {self.TOKEN}":
                raise HTTPException(401, "unauthenticated")

        @app.get("/v1/inbox")
        def inbox(limit: int = 50, authorization: str | None = Header(default=None)) -> dict[str, Any]:
            check(authorization)
            return {"items": [i for i in self.items if i["delivery_id"] not in self.acked][:limit]}

        @app.get("/v1/messages/{message_id}/document")
        def document(message_id: str, authorization: str | None = Header(default=None)) -> Response:
            check(authorization)
            if message_id not in self.documents:
                raise HTTPException(404, "no such message")
            body, content_type = self.documents[message_id]
            return Response(body, media_type=content_type)

        @app.post("/v1/inbox/{delivery_id}/ack")
        def ack(delivery_id: str, authorization: str | None = Header(default=None)) -> dict[str, str]:
            check(authorization)
            self.acked.append(delivery_id)
            return {"id": delivery_id, "state": "delivered"}

        return app


def test_puller_fetches_records_and_acknowledges() -> None:
    hub = FakeHub()
    json_id = hub.add(JSON_DOC, "application/json", signature=JWS)
    xml_id = hub.add(XML_DOC, "application/xml")
    missing_id = hub.add(b"", "application/xml", stored=False)
    inbox = Inbox()
    with (
        run_in_thread(hub.app()) as server,
        InboxPuller(server.base_url, FakeHub.TOKEN, participant=NGHI_LOC, inbox=inbox, limit=10) as puller,
    ):
        taken = puller.pull_once()
        assert [t["message_id"] for t in taken] == [json_id, xml_id]
        assert [t["document"] for t in taken] == [JSON_DOC, XML_DOC]
        assert taken[0]["sha256"] == hashlib.sha256(JSON_DOC).hexdigest()
        assert taken[0]["signature"] == JWS
        # acknowledged only what was fetched; the unfetchable one stays in the inbox
        assert hub.acked == [taken[0]["delivery_id"], taken[1]["delivery_id"]]
        assert [i["message_id"] for i in hub.items if i["delivery_id"] not in hub.acked] == [missing_id]
        assert puller.pull_once() == []

        records = inbox.items(NGHI_LOC)
        assert [(r.message_id, r.via, r.body) for r in records] == [
            (json_id, "pull", JSON_DOC),
            (xml_id, "pull", XML_DOC),
        ]
        assert records[0].headers["x-jws-signature"] == JWS


def test_puller_with_a_wrong_token_raises() -> None:
    hub = FakeHub()
    hub.add(XML_DOC, "application/xml")
    with (
        run_in_thread(hub.app()) as server,
        InboxPuller(server.base_url, "wrong") as puller,
        pytest.raises(httpx.HTTPStatusError),
    ):
        puller.pull_once()
    assert hub.acked == []
