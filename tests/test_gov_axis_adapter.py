"""The gov_axis adapter through its contract: wire rules and mapping without I/O, deliveries against the
axis simulator on both faces, the inbound poller and the status 01 observer against a recording hub."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import yaml
from lxml import etree

from adapters.gov_axis import (
    AxisRefused,
    AxisUnavailable,
    DirectoryPoller,
    GovAxisAdapter,
    GovAxisOptions,
    InboundPoller,
    MappingError,
    make_client,
)
from adapters.gov_axis.mapping import (
    DocumentFacts,
    check_outbound,
    delivery_result,
    document_facts,
    message_type,
    rest_answer,
)
from adapters.gov_axis.simulator import create_app
from adapters.gov_axis.simulator.packets import OrganInfo, build_document
from adapters.gov_axis.simulator.peer import AxisPeer
from adapters.gov_axis.simulator.signing import verify_request
from adapters.gov_axis.status import build_status
from adapters.gov_axis.wire import hash_file, header_text, sign_headers
from hub.problems import Problem
from hub.servers import RunningServer, run_in_thread
from hub.settings import PROJECT_ROOT
from hub.spi import (
    Delivered,
    DeliveryOutcome,
    OutboundMessage,
    ParticipantInfo,
    PermanentFailure,
    RetryableFailure,
    SubmitResult,
)
from tests.fakehub import InMemoryHub
from tests.test_intake_api import signed_by

MINISTRY = OrganInfo("000.00.00.G10", "Bộ Nội vụ")
PROVINCE = OrganInfo("000.00.00.H41", "UBND tỉnh Nghệ An")
AGENCY = "000.01.02.H41"


# -- a recording hub (the HubServices side of the contract) --------------------------------------------


@dataclass
class RecordingHub(InMemoryHub):
    """Keeps what adapters hand to the hub; dedupes by the body's digest like intake's natural key."""

    refuse_with: Problem | None = None
    submitted: list[tuple[bytes, str]] = field(default_factory=list)
    messages: dict[str, str] = field(default_factory=dict)

    def submit(self, body: bytes, *, content_type: str, as_participant: str, **_: Any) -> SubmitResult:
        self.submitted.append((body, as_participant))
        if self.refuse_with is not None:
            raise self.refuse_with
        digest = hashlib.sha256(body).hexdigest()
        duplicate = digest in self.messages
        message_id = self.messages.setdefault(digest, str(uuid.uuid4()))
        return SubmitResult(message_id=message_id, duplicate=duplicate, state="accepted")

    def participant(self, participant_id: str) -> ParticipantInfo | None:
        kinds = {AGENCY: "agency", "000.00.00.H41": "agency", "vnpost": "partner"}
        if participant_id not in kinds:
            return None
        return ParticipantInfo(participant_id, f"Đơn vị {participant_id}", kinds[participant_id], None, {})

    @property
    def directory(self) -> dict[str, str] | None:
        return self.directories.get("gov_axis")


# -- fixtures ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def axis() -> Iterator[RunningServer]:
    with run_in_thread(create_app()) as server:
        yield server


@pytest.fixture
def ministry(axis: RunningServer) -> Iterator[AxisPeer]:
    httpx.post(axis.base_url + "/_sim/reset")
    with AxisPeer(axis.base_url, "bnv.qlvb", "dev-secret-bnv-00002", MINISTRY) as peer:
        yield peer


def options(axis: RunningServer, face: str = "rest", **changes: Any) -> GovAxisOptions:
    return GovAxisOptions(base_url=axis.base_url, face=face, timeout_seconds=5, **changes)


def adapter_for(opts: GovAxisOptions, hub: RecordingHub | None = None) -> GovAxisAdapter:
    return GovAxisAdapter(opts, hub or RecordingHub())


def province_document(sender: str = AGENCY, *, signed: bool = True) -> bytes:
    document = build_document(
        OrganInfo(sender, "Sở Tư pháp tỉnh Nghệ An"), [MINISTRY], number=str(uuid.uuid4().int % 10**6),
        notation="STP-VP", subject="V/v thử",
    )  # fmt: skip
    return signed_by(sender, document) if signed else document


def outbound(document: bytes, *, sender: str = AGENCY, recipient: str = MINISTRY.organ_id) -> OutboundMessage:
    return OutboundMessage(
        message_id=str(uuid.uuid4()), delivery_id=str(uuid.uuid4()), doctype="edxml.document", sender=sender,
        recipient=recipient, correlation_key=None, document=document, content_type="application/xml",
        signature=None, attempt=1,
    )  # fmt: skip


# -- wire rules and mapping, without I/O ------------------------------------------------------------------


def test_hash_file_drops_the_zero_padding_of_each_byte() -> None:
    for n in range(200):
        data = f"packet {n}".encode()
        digest = hashlib.sha256(data).digest()
        assert hash_file(data) == "".join(format(b, "x") for b in digest)
        if any(b < 0x10 for b in digest):
            assert hash_file(data) != digest.hex()
            return
    pytest.fail("no digest with a small byte among 200 samples")


def test_signed_headers_verify_with_the_simulators_independent_checker() -> None:
    headers = sign_headers("lienthong.h41", "s3cret-value", {"docId": "abc", "status": "done"}, body=b"<x/>")
    verified = verify_request(
        httpx.Headers(headers),
        {"lienthong.h41": "s3cret-value"}.get,
        now=datetime.now(UTC),
        window_seconds=60,
    )
    assert verified.params["docid"] == "abc" and verified.params["hash-file"] == hash_file(b"<x/>")
    tampered = {**headers, "XroadVnpt-hash-header": "0" * 64}
    with pytest.raises(Exception, match="hash-header"):
        verify_request(httpx.Headers(tampered), {"lienthong.h41": "s3cret-value"}.get,
                       now=datetime.now(UTC), window_seconds=60)  # fmt: skip


def test_header_text_is_printable_ascii() -> None:
    assert header_text("signature-invalid: chữ ký không hợp lệ\nĐơn vị") == (
        "signature-invalid: chu ky khong hop le Don vi"
    )
    assert len(header_text("x" * 1000)) == 500


def test_rest_answers_map_to_ok_refusal_or_unavailable() -> None:
    assert rest_answer(200, {}, b'{"status":"OK","ErrorCode":"0","DocId":"d1"}')["DocId"] == "d1"
    with pytest.raises(AxisRefused) as refused:
        rest_answer(200, {}, b'{"status":"FAIL","ErrorCode":"30","ErrorDesc":"unknown organ"}')
    assert refused.value.code == "30" and not refused.value.retryable
    with pytest.raises(AxisUnavailable) as down:
        rest_answer(503, {"retry-after": "7"}, b"busy")
    assert down.value.retry_after_seconds == 7
    with pytest.raises(AxisUnavailable):
        rest_answer(200, {}, b"<html>proxy page</html>")
    with pytest.raises(AxisRefused):
        rest_answer(404, {}, b"not here")


def test_delivery_results_follow_the_axis_answer() -> None:
    assert delivery_result("d1", face="soap") == Delivered(
        peer_reference="d1", detail="accepted by the axis (soap face), DocId d1"
    )
    permanent = delivery_result(None, face="rest", error=AxisRefused("21", "bad signature"))
    assert isinstance(permanent, PermanentFailure) and "ErrorCode 21: bad signature" in permanent.reason
    assert isinstance(delivery_result(None, face="rest", error=AxisRefused("22", "clock")), RetryableFailure)
    retry = delivery_result(None, face="rest", error=AxisUnavailable("HTTP 503", 2.0))
    assert isinstance(retry, RetryableFailure) and retry.retry_after_seconds == 2.0
    assert message_type("edxml.status") == "status"
    with pytest.raises(MappingError):
        message_type("ems.order")


def test_only_signed_packets_leave() -> None:
    check_outbound(province_document(signed=True))
    with pytest.raises(MappingError, match="0 XMLDSig"):
        check_outbound(province_document(signed=False))


def test_status_01_is_strict_and_answers_the_document() -> None:
    document = build_document(MINISTRY, [PROVINCE], number="77", notation="BNV-VP", subject="V/v thử")
    facts = document_facts(document)
    packet = build_status(facts, organ_id=AGENCY, organ_name="Sở Tư pháp tỉnh Nghệ An")
    schema = etree.XMLSchema(etree.parse(str(PROJECT_ROOT / "schemas" / "edxml" / "status-strict.xsd")))
    root = etree.fromstring(packet)
    assert schema.validate(root), schema.error_log
    ns = {"e": "http://www.mic.gov.vn/TBT/QCVN_102_2016"}
    assert root.findtext(".//e:StatusCode", namespaces=ns) == "01"
    assert root.findtext(".//e:ResponseFor/e:OrganId", namespaces=ns) == MINISTRY.organ_id
    assert root.findtext(".//e:ResponseFor/e:DocumentId", namespaces=ns) == facts.document_id
    assert root.findtext(".//e:ResponseFor/e:Code", namespaces=ns) == "77/BNV-VP"
    with pytest.raises(MappingError, match="four groups"):
        build_status(DocumentFacts("28.22.H17", "1/X", "2015/09/30", "x"), organ_id=AGENCY, organ_name="x")


def test_options_mark_development_secrets_and_read_real_ones_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert GovAxisOptions().development_values() == ["secret"]
    monkeypatch.setenv("AXIS_SECRET_TEST", "from-env")
    real = GovAxisOptions(secret="env:AXIS_SECRET_TEST")
    assert real.development_values() == [] and real.resolve_secret() == "from-env"
    with pytest.raises(ValueError):
        GovAxisOptions(secret="plain-secret")
    monkeypatch.delenv("AXIS_SECRET_TEST")
    with pytest.raises(ValueError, match="not set"):
        real.resolve_secret()


# -- deliveries against the simulator, both faces --------------------------------------------------------


@pytest.mark.parametrize("face", ["soap", "rest"])
def test_deliver_sends_the_exact_bytes_and_returns_the_axis_docid(
    axis: RunningServer, ministry: AxisPeer, face: str
) -> None:
    adapter = adapter_for(options(axis, face))
    document = province_document()
    result = adapter.deliver(outbound(document))
    assert isinstance(result, Delivered) and result.peer_reference
    ((row, packet),) = [(r, ministry.get_edoc(r["docId"])) for r in ministry.received("edoc")]
    assert row["docId"] == result.peer_reference and row["from"] == AGENCY and packet == document
    adapter.close()


@pytest.mark.parametrize("face", ["soap", "rest"])
def test_definitive_refusals_are_permanent_with_the_axis_words(
    axis: RunningServer, ministry: AxisPeer, face: str
) -> None:
    adapter = adapter_for(options(axis, face))
    unknown = adapter.deliver(outbound(province_document(), recipient="000.99.99.G99"))
    assert isinstance(unknown, PermanentFailure) and "ErrorCode 30" in unknown.reason
    adapter.close()
    wrong = adapter_for(options(axis, face, secret="dev:not-the-secret"))
    refused = wrong.deliver(outbound(province_document()))
    assert isinstance(refused, PermanentFailure)
    assert ("ErrorCode 24" if face == "soap" else "ErrorCode 21") in refused.reason
    wrong.close()
    assert ministry.received() == []


def test_what_cannot_go_fails_permanently_without_calling_the_axis(axis: RunningServer) -> None:
    adapter = adapter_for(options(axis, "rest"))
    before = httpx.get(axis.base_url + "/_sim/state").json()["calls"]
    unsigned = adapter.deliver(outbound(province_document(signed=False)))
    foreign = adapter.deliver(outbound(province_document(), sender="000.00.00.H13"))
    assert isinstance(unsigned, PermanentFailure) and "signed" in unsigned.reason
    assert isinstance(foreign, PermanentFailure) and "not an organ this hub speaks for" in foreign.reason
    assert httpx.get(axis.base_url + "/_sim/state").json()["calls"] == before


@pytest.mark.parametrize("face", ["soap", "rest"])
def test_an_axis_that_is_down_or_gone_is_retryable(
    axis: RunningServer, ministry: AxisPeer, face: str
) -> None:
    adapter = adapter_for(options(axis, face))
    httpx.post(axis.base_url + "/_sim/down")
    try:
        down = adapter.deliver(outbound(province_document()))
    finally:
        httpx.post(axis.base_url + "/_sim/up")
    assert isinstance(down, RetryableFailure) and "503" in down.reason
    adapter.close()
    gone = GovAxisOptions(
        base_url="http://127.0.0.1:9", face=face, timeout_seconds=2, connect_timeout_seconds=1
    )
    refused = adapter_for(gone).deliver(outbound(province_document()))
    assert isinstance(refused, RetryableFailure) and "unavailable" in refused.reason


# -- inbound: the poller and the directory ----------------------------------------------------------------


class FlakyDone:
    """Wraps a client so that the first `updateStatus done` is lost, as if the hub died before it."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.lost = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)

    def update_status(self, doc_id: str, status: str, reason: str | None = None) -> None:
        if status == "done" and not self.lost:
            self.lost += 1
            raise AxisUnavailable("connection reset")
        self.client.update_status(doc_id, status, reason)


@pytest.mark.parametrize("face", ["soap", "rest"])
def test_a_poller_restart_neither_loses_nor_double_delivers(
    axis: RunningServer, ministry: AxisPeer, face: str
) -> None:
    opts = options(axis, face)
    hub = RecordingHub()
    document = build_document(MINISTRY, [PROVINCE], number="5", notation="BNV-VP", subject="V/v thử")
    doc_id = ministry.send_edoc(document, [PROVINCE.organ_id])
    status_id = ministry.answer_status(province_document(), AGENCY, "03", "Đã tiếp nhận")

    first = InboundPoller(FlakyDone(make_client(opts, "dev-secret-h41-000004")), hub, opts)
    assert first.poll_once() == 1, "one packet settled, the other left pending"
    restarted = InboundPoller(make_client(opts, "dev-secret-h41-000004"), hub, opts)
    assert restarted.poll_once() == 1
    assert restarted.poll_once() == 0

    assert len(hub.messages) == 2, "each packet recorded once"
    assert len(hub.submitted) == 3, "the packet whose 'done' was lost was submitted again (a duplicate)"
    assert {body for body, _ in hub.submitted} == {document, ministry.get_edoc(status_id)}
    assert {as_ for _, as_ in hub.submitted} == {"gov-axis"}
    assert {r["senderDocId"]: r["receiveStatus"] for r in ministry.sent()} == {
        doc_id: "done",
        status_id: "done",
    }


def test_a_refused_packet_is_marked_fail_with_the_problem_and_recorded(
    axis: RunningServer, ministry: AxisPeer
) -> None:
    opts = options(axis, "rest")
    hub = RecordingHub(refuse_with=Problem("schema-invalid", "MessageHeader/To is missing"))
    doc_id = ministry.send_edoc(build_document(MINISTRY, [PROVINCE], number="6", notation="X", subject="s"),
                                [PROVINCE.organ_id])  # fmt: skip
    assert InboundPoller(make_client(opts, "dev-secret-h41-000004"), hub, opts).poll_once() == 1
    (row,) = ministry.sent(doc_id)
    assert (
        row["receiveStatus"] == "fail"
        and "schema-invalid: MessageHeader/To is missing" in row["receiveStatusDesc"]
    )
    ((kind, data),) = hub.events
    assert kind == "inbound-refused" and data["doc_id"] == doc_id and data["problem"] == "schema-invalid"


def test_a_hub_failure_leaves_the_packet_pending(axis: RunningServer, ministry: AxisPeer) -> None:
    opts = options(axis, "soap")
    hub = RecordingHub(refuse_with=Problem("internal-error", "database unavailable"))
    doc_id = ministry.send_edoc(build_document(MINISTRY, [PROVINCE], number="8", notation="X", subject="s"),
                                [PROVINCE.organ_id])  # fmt: skip
    assert InboundPoller(make_client(opts, "dev-secret-h41-000004"), hub, opts).poll_once() == 0
    assert ministry.sent(doc_id)[0]["receiveStatus"] == "initial" and hub.events == []


def test_the_directory_is_published_without_the_hubs_own_organs(axis: RunningServer) -> None:
    opts = options(axis, "soap")
    hub = RecordingHub()
    poller = DirectoryPoller(make_client(opts, "dev-secret-h41-000004"), hub, opts)
    assert poller.poll_once() == len(hub.directory or {})
    assert hub.directory is not None and MINISTRY.organ_id in hub.directory
    assert not set(opts.organs) & set(hub.directory)
    assert hub.directory["000.00.00.G22"] == "Văn phòng Chính phủ"


# -- status 01 on an agency's behalf ----------------------------------------------------------------------


def outcome(message_id: str, **changes: Any) -> DeliveryOutcome:
    values: dict[str, Any] = {
        "message_id": message_id, "delivery_id": str(uuid.uuid4()), "doctype": "edxml.document",
        "sender": MINISTRY.organ_id, "submitted_by": "gov-axis", "recipient": AGENCY, "adapter": "agency",
        "correlation_key": None, "state": "delivered", "peer_reference": "ref", "error": None,
    }  # fmt: skip
    values.update(changes)
    return DeliveryOutcome(**values)


def test_observe_sends_status_01_once_for_an_axis_document_taken_by_an_agency(axis: RunningServer) -> None:
    hub = RecordingHub()
    adapter = adapter_for(options(axis), hub)
    document = build_document(MINISTRY, [PROVINCE], number="9", notation="BNV-VP", subject="V/v thử")
    hub.documents["m1"] = document
    for ignored in (
        outcome("m1", submitted_by=AGENCY),
        outcome("m1", state="dead"),
        outcome("m1", adapter="gov_axis", recipient="000.00.00.G22"),
        outcome("m1", doctype="edxml.status"),
        outcome("m1", recipient="vnpost"),
    ):
        adapter.observe(ignored)
    assert hub.submitted == []
    adapter.observe(outcome("m1"))
    adapter.observe(outcome("m1"))
    ((packet, as_),) = hub.submitted
    assert as_ == AGENCY
    assert (
        b"<edXML:StatusCode>01</edXML:StatusCode>" in packet
        and document_facts(document).document_id.encode() in packet
    )


def test_observe_records_why_it_could_not_answer(axis: RunningServer) -> None:
    hub = RecordingHub()
    adapter = adapter_for(options(axis), hub)
    hub.documents["m2"] = build_document(
        OrganInfo("28.22.H17", "Đơn vị ba nhóm"), [PROVINCE], number="1", notation="X", subject="s"
    )
    adapter.observe(outcome("m2"))
    assert hub.submitted == []
    ((kind, data),) = hub.events
    assert kind == "arrival-status-not-sent" and "four groups" in data["reason"]


def test_the_rest_face_modelled_on_the_sdk_is_the_default() -> None:
    from adapters.gov_axis.client import RestAxisClient

    assert GovAxisOptions().face == "rest"
    shipped = yaml.safe_load((PROJECT_ROOT / "config" / "adapters.yaml").read_text(encoding="utf-8"))
    assert shipped["adapters"]["gov_axis"]["face"] == "rest"
    client = make_client(GovAxisOptions(), "a-secret-of-the-test")
    try:
        assert isinstance(client, RestAxisClient) and client.face == "rest"
    finally:
        client.close()
