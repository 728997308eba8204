"""The national document axis end to end: a real hub on loopback, the axis simulator (both faces), the
agency simulator receiving webhooks, and a test acting as a ministry on the axis (Bộ Nội vụ, 000.00.00.G10).
"""

from __future__ import annotations

import base64
import json
import re
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from cryptography import x509
from lxml import etree

from adapters.agency.simulator import create_app as create_agency_simulator
from adapters.gov_axis.mapping import document_facts
from adapters.gov_axis.simulator import create_app as create_axis_simulator
from adapters.gov_axis.simulator.packets import Attachment, OrganInfo, as_business, build_document
from adapters.gov_axis.simulator.peer import AxisPeer
from adapters.gov_axis.status import build_status
from hub.servers import RunningServer, run_in_thread
from tests.deliverytest import make_config, wait_for
from tests.hubtest import DEV_CERTS, SAMPLES, RunningHub, running_hub
from tests.independent_verify import XMLSEC1, verify_with_xmlsec1, verify_xmldsig_independently
from tests.test_intake_api import NS, fresh_document, signed_by

AGENCY = "000.01.02.H41"  # Sở Tư pháp: webhook agency
WEBHOOK_AGENCY = "000.00.00.H41"
MINISTRY = OrganInfo("000.00.00.G10", "Bộ Nội vụ")
MINISTRY_SYSTEM = ("bnv.qlvb", "dev-secret-bnv-00002")
RETRY = {
    "max_attempts": 6,
    "initial_delay_seconds": 0.2,
    "multiplier": 2,
    "max_delay_seconds": 1,
    "jitter": 0.1,
}


@pytest.fixture(scope="module")
def axis() -> Iterator[RunningServer]:
    with run_in_thread(create_axis_simulator()) as server:
        yield server


@pytest.fixture(scope="module")
def agency_sim() -> Iterator[RunningServer]:
    with run_in_thread(create_agency_simulator()) as server:
        yield server


@pytest.fixture(scope="module", params=["soap", "rest"])
def hub(
    request: pytest.FixtureRequest,
    axis: RunningServer,
    agency_sim: RunningServer,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[RunningHub]:
    httpx.post(axis.base_url + "/_sim/reset")
    base = tmp_path_factory.mktemp(f"hub-{request.param}")
    options = {
        "face": request.param,
        "base_url": axis.base_url,
        "poll_interval_seconds": 0.1,
        "directory_refresh_seconds": 2,
        "retry": RETRY,
        "timeout_seconds": 5,
    }
    config = make_config(base / "config", webhook_base=agency_sim.base_url, adapters={"gov_axis": options})
    with running_hub(base, config_dir=config, workers=2, poll_interval_seconds=0.1) as running:
        directories = running.app.state.runtime.services.hub.directories
        wait_for(
            lambda: MINISTRY.organ_id in directories.entries("gov_axis"), what="the axis directory in the hub"
        )
        yield running


@pytest.fixture
def ministry(axis: RunningServer) -> Iterator[AxisPeer]:
    with AxisPeer(axis.base_url, *MINISTRY_SYSTEM, MINISTRY) as peer:
        yield peer


@pytest.fixture
def agency_inbox(agency_sim: RunningServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=agency_sim.base_url, timeout=10) as client:
        client.post("/_sim/reset")  # forget what earlier tests delivered
        yield client


def to_ministry(document: bytes) -> bytes:
    """The strict fixture addressed to the ministry only (a fresh DocumentId)."""
    root = etree.fromstring(document)
    first, *others = root.findall(".//e:MessageHeader/e:To", NS)
    for extra in others:
        extra.getparent().remove(extra)
    first.find("e:OrganId", NS).text = MINISTRY.organ_id
    first.find("e:OrganizationInCharge", NS).text = MINISTRY.organ_name
    first.find("e:OrganName", NS).text = MINISTRY.organ_name
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def delivery_to(hub: RunningHub, message_id: str, recipient: str, as_: str = AGENCY) -> dict[str, Any]:
    message = hub.get(f"/v1/messages/{message_id}", as_=as_).json()
    return next(d for d in message["deliveries"] if d["recipient"] == recipient)


def wait_delivered(hub: RunningHub, message_id: str, recipient: str, as_: str = AGENCY) -> dict[str, Any]:
    return wait_for(
        lambda: (d := delivery_to(hub, message_id, recipient, as_))["state"] == "delivered" and d,
        timeout=20,
        what=f"delivery of {message_id} to {recipient}",
    )


def packets_for(peer: AxisPeer, message_type: str) -> list[tuple[dict[str, Any], bytes]]:
    return [(row, peer.get_edoc(row["docId"])) for row in peer.received(message_type)]


def webhook_items(inbox: httpx.Client, participant: str) -> list[dict[str, Any]]:
    items = inbox.get("/_sim/received", params={"participant": participant}).json()["items"]
    return [i for i in items if not i.get("duplicate")]


def header_text(packet: bytes, path: str) -> str:
    root = etree.fromstring(packet[packet.find(b"<") :])
    return (root.findtext(f".//e:MessageHeader/{path}", namespaces=NS) or "").strip()


def ledger_events(hub: RunningHub, kind: str) -> list[dict[str, Any]]:
    engine = sa.create_engine(hub.settings.effective_database_url)
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT data FROM events WHERE kind = :kind"), {"kind": kind}).all()
    engine.dispose()
    return [json.loads(row[0]) for row in rows]


def send_to_ministry(hub: RunningHub) -> tuple[str, bytes]:
    signed = signed_by(AGENCY, to_ministry(fresh_document()))
    response = hub.post(signed, as_=AGENCY)
    assert response.status_code == 202, response.text
    return response.json()["id"], signed


# -- outbound: a local agency's document reaches a ministry, and the ministry's statuses come back ----


def test_a_document_reaches_the_ministry_with_attachments_and_signature_intact_and_statuses_come_back(
    hub: RunningHub, ministry: AxisPeer, agency_inbox: httpx.Client
) -> None:
    message_id, signed = send_to_ministry(hub)
    delivery = wait_delivered(hub, message_id, MINISTRY.organ_id)
    assert delivery["adapter"] == "gov_axis" and delivery["attempts"] == 1

    ((row, packet),) = [
        (r, p) for r, p in packets_for(ministry, "edoc") if r["docId"] == delivery["peer_reference"]
    ]
    assert row["from"] == AGENCY and row["to"] == MINISTRY.organ_id
    assert packet == signed, "the agency's signed bytes travel unchanged"
    assert verify_xmldsig_independently(packet) == certificate(AGENCY)
    original = etree.fromstring(signed).findtext(".//e:ContentTransferEncoded", namespaces=NS)
    assert etree.fromstring(packet).findtext(".//e:ContentTransferEncoded", namespaces=NS) == original
    ministry.update_status(row["docId"], "done")

    status_ids = [ministry.answer_status(packet, AGENCY, code, f"Bộ Nội vụ: {code}") for code in
                  ("01", "03", "04", "05", "06")]  # fmt: skip
    key = hub.get(f"/v1/messages/{message_id}", as_=AGENCY).json()["correlation_key"]

    def statuses_delivered() -> list[str]:
        timeline = hub.get(f"/v1/timeline/{key}", as_=AGENCY).json()
        codes = []
        for message in timeline["messages"]:
            states = {d["recipient"]: d["state"] for d in message["deliveries"]}
            if message["type"] == "edxml.status" and states.get(AGENCY) == "delivered":
                document = hub.get(f"/v1/messages/{message['id']}/document", as_=AGENCY).content
                codes.append(header_text(document, "e:StatusCode"))
        return sorted(codes) if len(codes) == 5 else []

    assert wait_for(statuses_delivered, what="the five statuses on the timeline") == [
        "01",
        "03",
        "04",
        "05",
        "06",
    ]
    received = webhook_items(agency_inbox, AGENCY)
    assert sorted(header_text(base64.b64decode(i["body_base64"]), "e:StatusCode") for i in received) == [
        "01", "03", "04", "05", "06"
    ]  # fmt: skip
    sent = {r["senderDocId"]: r["receiveStatus"] for r in ministry.sent()}
    assert all(sent[doc_id] == "done" for doc_id in status_ids), "the hub marked each status packet done"


def certificate(participant: str) -> x509.Certificate:
    return x509.load_pem_x509_certificate((DEV_CERTS / f"{participant}.crt").read_bytes())


def test_a_document_to_an_organ_the_axis_does_not_know_is_refused_at_intake(hub: RunningHub) -> None:
    document = to_ministry(fresh_document()).replace(MINISTRY.organ_id.encode(), b"000.99.99.G99")
    response = hub.post(document, as_=AGENCY)
    assert response.status_code == 422 and response.json()["type"] == "/problems/unknown-recipient"


def test_the_axis_down_for_a_while_is_retried_then_delivered(
    hub: RunningHub, axis: RunningServer, ministry: AxisPeer
) -> None:
    httpx.post(axis.base_url + "/_sim/down")
    try:
        message_id, signed = send_to_ministry(hub)
        wait_for(
            lambda: delivery_to(hub, message_id, MINISTRY.organ_id)["attempts"] >= 2,
            what="two attempts against the axis while it is down",
        )
        assert delivery_to(hub, message_id, MINISTRY.organ_id)["state"] in ("retrying", "delivering")
    finally:
        httpx.post(axis.base_url + "/_sim/up")
    delivery = wait_delivered(hub, message_id, MINISTRY.organ_id)
    assert delivery["attempts"] >= 3
    events = hub.get(f"/v1/messages/{message_id}", as_=AGENCY).json()["events"]
    assert any(e["kind"] == "delivery.retrying" and "503" in e["data"]["error"] for e in events)
    assert ministry.get_edoc(delivery["peer_reference"]) == signed


# -- inbound: a ministry's document reaches the right local agency, which answers 01 through the hub --


def ministry_document(recipient: OrganInfo, *, signed: bool) -> bytes:
    number = str(uuid.uuid4().int % 10**6)
    document = build_document(
        MINISTRY, [recipient], number=number, notation="BNV-VP", subject="V/v liên thông thử nghiệm",
        attachments=[Attachment("quyet-dinh.zip", bytes(range(256)) * 40, "application/zip")],
    )  # fmt: skip
    return signed_by("gov-axis", document) if signed else document


def test_a_ministry_document_reaches_the_right_agency_which_answers_arrived(
    hub: RunningHub, ministry: AxisPeer, agency_inbox: httpx.Client
) -> None:
    document = ministry_document(OrganInfo(WEBHOOK_AGENCY, "UBND tỉnh Nghệ An"), signed=True)
    doc_id = ministry.send_edoc(document, [WEBHOOK_AGENCY])

    (item,) = wait_for(lambda: webhook_items(agency_inbox, WEBHOOK_AGENCY), what="the webhook delivery")
    assert base64.b64decode(item["body_base64"]) == document, (
        "the axis-verified signature is kept, byte for byte"
    )
    assert webhook_items(agency_inbox, AGENCY) == [], "only the addressed agency receives it"
    assert {r["senderDocId"]: r["receiveStatus"] for r in ministry.sent(doc_id)}[doc_id] == "done"

    ((row, status),) = wait_for(lambda: packets_for(ministry, "status"), what="status 01 on the axis")
    assert row["from"] == WEBHOOK_AGENCY
    assert header_text(status, "e:StatusCode") == "01"
    assert header_text(status, "e:ResponseFor/e:DocumentId") == header_text(document, "e:DocumentId")
    assert header_text(status, "e:ResponseFor/e:OrganId") == MINISTRY.organ_id
    assert verify_xmldsig_independently(status) == certificate("hub"), "the hub signed the status it wrote"
    ministry.update_status(row["docId"], "done")

    # the agency's own later statuses travel through the hub to the ministry
    facts = document_facts(document)
    for code in ("03", "06"):
        own = build_status(facts, organ_id=WEBHOOK_AGENCY, organ_name="UBND tỉnh Nghệ An", status_code=code,
                           description=f"Văn thư: {code}", staff="Lê Thị Cúc")  # fmt: skip
        assert hub.post(own, as_=WEBHOOK_AGENCY).status_code == 202
    later = wait_for(
        lambda: len(packets := packets_for(ministry, "status")) == 2 and packets, what="03 and 06"
    )
    assert sorted(header_text(p, "e:StatusCode") for _, p in later) == ["03", "06"]
    assert {r["from"] for r, _ in later} == {WEBHOOK_AGENCY}
    for r, _ in later:
        ministry.update_status(r["docId"], "done")


def test_a_ministry_document_to_a_pulling_agency_is_answered_when_it_acknowledges(
    hub: RunningHub, ministry: AxisPeer
) -> None:
    puller = "000.03.04.H41"
    document = ministry_document(OrganInfo(puller, "UBND huyện Nghi Lộc"), signed=False)
    ministry.send_edoc(document, [puller])
    (item,) = wait_for(lambda: hub.get("/v1/inbox", as_=puller).json()["items"], what="the inbox item")
    assert packets_for(ministry, "status") == [], "no 01 before the agency's system has taken it"
    ack = hub.client.post(
        f"/v1/inbox/{item['delivery_id']}/ack", headers={"Authorization": f"Bearer dev-token-{puller}"}
    )
    assert ack.status_code == 200, ack.text
    ((row, status),) = wait_for(lambda: packets_for(ministry, "status"), what="status 01 after the ack")
    assert row["from"] == puller and header_text(status, "e:StatusCode") == "01"
    ministry.update_status(row["docId"], "done")


# -- hostile or invalid packets from the axis ----------------------------------------------------------


def test_hostile_or_invalid_packets_are_refused_marked_failed_on_the_axis_and_recorded(
    hub: RunningHub, ministry: AxisPeer, agency_inbox: httpx.Client
) -> None:
    recipient = OrganInfo(WEBHOOK_AGENCY, "UBND tỉnh Nghệ An")
    tampered = ministry_document(recipient, signed=True).replace(
        "liên thông thử nghiệm".encode(), "liên thông GIẢ MẠO".encode()
    )
    spoofed = ministry_document(recipient, signed=False).replace(
        b"<edXML:OrganId>000.00.00.G10</edXML:OrganId>", b"<edXML:OrganId>000.00.00.G22</edXML:OrganId>", 1
    )
    not_edxml_content = b'<edXML xmlns="http://www.mic.gov.vn/TBT/QCVN_102_2016"><Nothing/></edXML>'
    cases = {
        ministry.send_edoc(tampered, [WEBHOOK_AGENCY]): "signature-invalid",
        ministry.send_edoc(spoofed, [WEBHOOK_AGENCY]): "axis-sender-mismatch",
        ministry.send_edoc(not_edxml_content, [WEBHOOK_AGENCY]): "",
    }

    def settled() -> dict[str, dict[str, Any]]:
        rows = {r["senderDocId"]: r for r in ministry.sent() if r["senderDocId"] in cases}
        return rows if all(r["receiveStatus"] != "initial" for r in rows.values()) else {}

    rows = wait_for(settled, what="the axis packets marked")
    for doc_id, problem in cases.items():
        assert rows[doc_id]["receiveStatus"] == "fail", rows[doc_id]
        assert problem in rows[doc_id]["receiveStatusDesc"]
    recorded = {e["doc_id"]: e for e in ledger_events(hub, "adapter.inbound-refused")}
    assert set(cases) <= set(recorded)
    assert recorded[next(iter(cases))]["problem"] == "signature-invalid"
    assert webhook_items(agency_inbox, WEBHOOK_AGENCY) == [], "nothing refused reaches the agency"


# -- statuses: which the hub sends for an agency, which only the agency's own system sends -----------
# One test per row of the table in docs/adapters/gov-axis.md ("Statuses"); the row "new document" is
# test_a_ministry_document_reaches_the_right_agency_which_answers_arrived above.

PROVINCE_OFFICE = OrganInfo(WEBHOOK_AGENCY, "UBND tỉnh Nghệ An")
JUSTICE = OrganInfo(AGENCY, "Sở Tư pháp tỉnh Nghệ An")


class StatusLog:
    """The status packets the ministry received on the axis (taken and marked done as they come)."""

    def __init__(self, ministry: AxisPeer) -> None:
        self.ministry = ministry
        self.packets: list[bytes] = []

    def about(self, document: bytes) -> list[tuple[str, str]]:
        """(sending organ, status code) of every status about ``document``, in arrival order."""
        self.packets += [packet for _, packet in self.ministry.take_all("status")]
        document_id = header_text(document, "e:DocumentId")
        return [
            (header_text(p, "e:From/e:OrganId"), header_text(p, "e:StatusCode"))
            for p in self.packets
            if header_text(p, "e:ResponseFor/e:DocumentId") == document_id
        ]

    def wait(self, document: bytes, expected: list[tuple[str, str]]) -> None:
        wait_for(
            lambda: sorted(self.about(document)) == sorted(expected), timeout=20, what=f"statuses {expected}"
        )

    def settle(self, agency: OrganInfo) -> None:
        """A fresh document to ``agency`` and its 01: whatever the hub was to send before has been sent."""
        marker = ministry_document(agency, signed=False)
        self.ministry.send_edoc(marker, [agency.organ_id])
        self.wait(marker, [(agency.organ_id, "01")])


def statuses_recorded(hub: RunningHub, document: bytes) -> list[tuple[str, str]]:
    """(sender, submitted by) of the status messages the hub recorded about ``document``."""
    engine = sa.create_engine(hub.settings.effective_database_url)
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT sender, submitted_by FROM messages"
                " WHERE doctype = 'edxml.status' AND correlation_key = :d"
            ),
            {"d": header_text(document, "e:DocumentId")},
        ).all()
    engine.dispose()
    return [(row[0], row[1]) for row in rows]


def next_second() -> None:
    """Status timestamps have a resolution of one second, and the hub deduplicates a status on
    (DocumentId, code, timestamp): a second 01 written in the same second as the first would be taken
    for a repeat and hide the rule under test. Let the clock move on."""
    time.sleep(1.05)


def wait_webhook_count(inbox: httpx.Client, agency: str, count: int) -> None:
    wait_for(
        lambda: len(webhook_items(inbox, agency)) >= count, what=f"{count} webhook deliveries to {agency}"
    )


def test_status_rules_a_recall_gets_no_01_and_only_the_agency_answers_it_15_or_16(
    hub: RunningHub, ministry: AxisPeer, agency_inbox: httpx.Client
) -> None:
    statuses = StatusLog(ministry)
    document = ministry_document(PROVINCE_OFFICE, signed=False)
    ministry.send_edoc(document, [WEBHOOK_AGENCY])
    statuses.wait(document, [(WEBHOOK_AGENCY, "01")])

    next_second()
    ministry.send_edoc(as_business(document, "1"), [WEBHOOK_AGENCY])
    wait_webhook_count(agency_inbox, WEBHOOK_AGENCY, 2)  # the recall reached the agency's system
    statuses.settle(PROVINCE_OFFICE)
    assert statuses.about(document) == [(WEBHOOK_AGENCY, "01")], "the hub does not answer a recall"

    accepted = build_status(document_facts(document), organ_id=WEBHOOK_AGENCY, organ_name="UBND tỉnh Nghệ An",
                            status_code="15", description="Đồng ý thu hồi", staff="Văn thư")  # fmt: skip
    assert hub.post(accepted, as_=WEBHOOK_AGENCY).status_code == 202
    statuses.wait(document, [(WEBHOOK_AGENCY, "01"), (WEBHOOK_AGENCY, "15")])
    assert sorted(statuses_recorded(hub, document)) == [("000.00.00.H41", "000.00.00.H41")] * 2


@pytest.mark.parametrize("business_type", ["2", "3"])
def test_status_rules_an_update_or_replacement_keeping_the_document_id_gets_no_second_01(
    hub: RunningHub, ministry: AxisPeer, agency_inbox: httpx.Client, business_type: str
) -> None:
    statuses = StatusLog(ministry)
    document = ministry_document(PROVINCE_OFFICE, signed=False)
    ministry.send_edoc(document, [WEBHOOK_AGENCY])
    statuses.wait(document, [(WEBHOOK_AGENCY, "01")])

    next_second()
    ministry.send_edoc(as_business(document, business_type), [WEBHOOK_AGENCY])
    wait_webhook_count(agency_inbox, WEBHOOK_AGENCY, 2)
    statuses.settle(PROVINCE_OFFICE)
    assert statuses.about(document) == [(WEBHOOK_AGENCY, "01")], "one 01 per document and agency"


def test_status_rules_an_update_adding_a_receiver_gets_01_from_that_receiver_only(
    hub: RunningHub, ministry: AxisPeer, agency_inbox: httpx.Client
) -> None:
    statuses = StatusLog(ministry)
    document = ministry_document(PROVINCE_OFFICE, signed=False)
    ministry.send_edoc(document, [WEBHOOK_AGENCY])
    statuses.wait(document, [(WEBHOOK_AGENCY, "01")])

    next_second()
    update = as_business(document, "2", receivers={AGENCY: "1"})
    ministry.send_edoc(update, [WEBHOOK_AGENCY, AGENCY])
    statuses.wait(document, [(WEBHOOK_AGENCY, "01"), (AGENCY, "01")])  # the document arrived at Justice
    statuses.settle(PROVINCE_OFFICE)
    statuses.settle(JUSTICE)
    assert sorted(statuses.about(document)) == sorted([(AGENCY, "01"), (WEBHOOK_AGENCY, "01")])


def test_status_rules_a_status_from_the_axis_is_never_answered(
    hub: RunningHub, ministry: AxisPeer, agency_inbox: httpx.Client
) -> None:
    statuses = StatusLog(ministry)
    _, agency_document = send_to_ministry(hub)  # Justice's document, which the ministry asks back (13)
    ministry.answer_status(agency_document, AGENCY, "13", "Đề nghị lấy lại văn bản")
    wait_webhook_count(agency_inbox, AGENCY, 1)
    statuses.settle(JUSTICE)
    assert statuses.about(agency_document) == []
    assert statuses_recorded(hub, agency_document) == [("000.00.00.G10", "gov-axis")], "only the 13 itself"


def test_a_document_with_an_axis_uuid_document_id_is_answered_with_that_id(
    hub: RunningHub, ministry: AxisPeer, agency_inbox: httpx.Client
) -> None:
    # Real axis gateways issue UUID DocumentIds (tests/fixtures/samples-edxml/real-*): the 01 must echo it.
    document = ministry_document(PROVINCE_OFFICE, signed=False)
    uuid_id = str(uuid.uuid4())
    document = document.replace(
        f"<edXML:DocumentId>{header_text(document, 'e:DocumentId')}</edXML:DocumentId>".encode(),
        f"<edXML:DocumentId>{uuid_id}</edXML:DocumentId>".encode(),
    )
    assert header_text(document, "e:DocumentId") == uuid_id
    statuses = StatusLog(ministry)
    ministry.send_edoc(document, [WEBHOOK_AGENCY])
    statuses.wait(document, [(WEBHOOK_AGENCY, "01")])


def test_a_captured_axis_packet_goes_through_end_to_end_byte_for_byte_and_is_answered(
    hub: RunningHub, ministry: AxisPeer, agency_inbox: httpx.Client
) -> None:
    # The Government Office's packet captured from a test gateway (CRLF, ResponseFor before SteeringType,
    # UUID DocumentId, an edXML-namespace Signature), sent by the ministry to the province office.
    captured = (SAMPLES / "real-852e179c-8eca-4502-ac38-0b97321f29c3.edxml").read_bytes()
    packet = captured.replace(b"<edXML:OrganId>000.00.15.H51<", b"<edXML:OrganId>000.00.00.G10<", 1)
    packet = packet.replace(b"<edXML:OrganId>000.00.15.H51<", f"<edXML:OrganId>{WEBHOOK_AGENCY}<".encode(), 1)
    packet = packet.replace(
        b"9fbfbad2-f1f8-4256-a2eb", str(uuid.uuid4())[:23].encode()
    )  # a packet of its own
    statuses = StatusLog(ministry)
    ministry.send_edoc(packet, [WEBHOOK_AGENCY])

    (item,) = wait_for(lambda: webhook_items(agency_inbox, WEBHOOK_AGENCY), what="the webhook delivery")
    delivered = base64.b64decode(item["body_base64"])
    signature = re.search(rb"<ds:Signature .*?</ds:Signature>", delivered, re.S)
    assert signature is not None and delivered.count(b"<ds:Signature ") == 1
    assert delivered[: signature.start()] + delivered[signature.end() :] == packet, "all else as received"
    assert "Văn bản liên thông chỉ đạo" in delivered.decode("utf-8")
    assert verify_xmldsig_independently(delivered) == certificate("hub")
    if XMLSEC1 is not None:
        verify_with_xmlsec1(delivered, DEV_CERTS / "ca.crt")
    statuses.wait(packet, [(WEBHOOK_AGENCY, "01")])
