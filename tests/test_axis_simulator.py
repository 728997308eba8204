"""The national document axis simulator, through its real doors on loopback (REST, SOAP with zeep, admin)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import zeep
from lxml import etree
from zeep.wsse.username import UsernameToken

from adapters.gov_axis.simulator import ErrorCode, create_app, default_config
from adapters.gov_axis.simulator.packets import (
    EDXML_NS,
    STATUS_CODES,
    build_document,
    build_status,
    response_for_document,
)
from adapters.gov_axis.simulator.peer import Attachment, AxisCallFailed, AxisPeer, OrganInfo
from adapters.gov_axis.simulator.signing import HASH_HEADER, hash_file, sign_headers
from hub.servers import RunningServer, run_in_thread
from tests.hubtest import SAMPLES

MINISTRY = OrganInfo("000.00.00.G10", "Bộ Nội vụ")
PROVINCE = OrganInfo("000.00.00.H41", "UBND tỉnh Nghệ An")
SECRETS = {s.systemid: s.secret for s in default_config().systems}
ZEEP_SETTINGS = zeep.Settings(strict=True, forbid_dtd=True, forbid_external=True, xml_huge_tree=False)


@pytest.fixture
def axis() -> Iterator[RunningServer]:
    with run_in_thread(create_app(default_config())) as server:
        yield server


@pytest.fixture
def ministry(axis: RunningServer) -> Iterator[AxisPeer]:
    with AxisPeer(axis.base_url, "bnv.qlvb", SECRETS["bnv.qlvb"], MINISTRY) as peer:
        yield peer


@pytest.fixture
def province(axis: RunningServer) -> Iterator[AxisPeer]:
    with AxisPeer(axis.base_url, "lienthong.h41", SECRETS["lienthong.h41"], PROVINCE) as peer:
        yield peer


def _document(peer: AxisPeer, number: str = "12") -> bytes:
    return build_document(
        peer.organ, [PROVINCE], number=number, notation="BNV-VP", subject="V/v thử liên thông",
        attachments=[Attachment("cv.pdf", b"%PDF-1.4\n\x00\x01binary", "application/pdf")],
    )  # fmt: skip


def _send_raw(peer: AxisPeer, body: bytes, to: list[str], overrides: dict[str, str] | None = None) -> dict:
    """sendEdoc with the peer's signed headers, then ``overrides`` applied to the final headers."""
    params = {"from": peer.organ.organ_id, "to": json.dumps(to), "servicetype": "eDoc", "messagetype": "edoc"}
    headers = peer.headers(params, body)
    headers.update(overrides or {})
    response = peer.client.post("/sendEdoc", content=body, headers=headers)
    assert response.status_code == 200
    return response.json()


def _body_with_small_byte_digest() -> bytes:
    for i in range(1000):
        body = f"<edXML xmlns='{EDXML_NS}'><n>{i}</n></edXML>".encode()
        if any(b < 0x10 for b in hashlib.sha256(body).digest()):
            return body
    raise AssertionError("no digest with a byte below 0x10")


# --- the hash-file quirk ---------------------------------------------------------------------------
def test_hash_file_writes_each_byte_without_zero_padding() -> None:
    body = _body_with_small_byte_digest()
    padded = hashlib.sha256(body).hexdigest()
    expected = "".join(padded[i : i + 2].lstrip("0") or "0" for i in range(0, 64, 2))
    assert hash_file(body) == expected
    assert hash_file(body) != padded
    assert len(hash_file(body)) < 64


def test_send_checks_the_quirky_hash_not_the_padded_one(ministry: AxisPeer) -> None:
    body = _body_with_small_byte_digest()
    assert _send_raw(ministry, body, [PROVINCE.organ_id])["status"] == "OK"
    params = {"from": MINISTRY.organ_id, "to": json.dumps([PROVINCE.organ_id]), "servicetype": "eDoc",
              "messagetype": "edoc", "hash-file": hashlib.sha256(body).hexdigest()}  # fmt: skip
    headers = sign_headers("bnv.qlvb", SECRETS["bnv.qlvb"], params)
    answer = ministry.client.post("/sendEdoc", content=body, headers=headers).json()
    assert answer["status"] == "FAIL"
    assert answer["ErrorCode"] == ErrorCode.HASH_FILE_MISMATCH


# --- REST round trip -------------------------------------------------------------------------------
def test_rest_round_trip_from_ministry_to_province_and_back(ministry: AxisPeer, province: AxisPeer) -> None:
    edxml = _document(ministry)
    doc_id = ministry.send_edoc(edxml, [PROVINCE.organ_id])

    rows = province.received("edoc")
    assert [(r["docId"], r["from"], r["to"], r["status"]) for r in rows] == [
        (doc_id, MINISTRY.organ_id, PROVINCE.organ_id, "initial")
    ]
    assert rows[0]["serviceType"] == "eDoc" and rows[0]["messageType"] == "edoc"
    assert province.count_received("edoc") == 1
    assert province.get_edoc(doc_id) == edxml

    province.update_status(doc_id, "processing")
    assert province.received("edoc")[0]["status"] == "processing"
    province.update_status(doc_id, "done")
    assert province.received("edoc") == []
    assert province.count_received() == 0
    sent = ministry.sent(doc_id)
    assert [(s["toCode"], s["receiveStatus"], s["notation"]) for s in sent] == [
        (PROVINCE.organ_id, "done", "12/BNV-VP")
    ]

    status_id = province.answer_status(edxml, MINISTRY.organ_id, "03", "Đã tiếp nhận")
    [(row, packet)] = ministry.take_all("status")
    assert row["docId"] == status_id and row["messageType"] == "status"
    root = etree.fromstring(packet)
    ns = {"e": EDXML_NS}
    assert root.findtext(".//e:StatusCode", namespaces=ns) == "03"
    day = response_for_document(edxml).promulgation_date
    assert (
        root.findtext(".//e:ResponseFor/e:DocumentId", namespaces=ns)
        == f"{MINISTRY.organ_id},{day},12/BNV-VP"
    )
    assert ministry.received("status") == []


def test_sample_packet_with_stray_bytes_passes_byte_for_byte(ministry: AxisPeer, province: AxisPeer) -> None:
    sample = (SAMPLES / "edoc_new.edxml").read_bytes()
    assert not sample.startswith(b"<")
    doc_id = ministry.send_edoc(sample, [PROVINCE.organ_id, "000.01.02.H41"])
    assert {r["to"] for r in province.received()} == {PROVINCE.organ_id, "000.01.02.H41"}
    assert province.get_edoc(doc_id) == sample
    province.update_status(doc_id, "done")
    assert province.received() == []


def test_status_transitions_and_visibility(
    ministry: AxisPeer, province: AxisPeer, axis: RunningServer
) -> None:
    doc_id = ministry.send_edoc(_document(ministry), [PROVINCE.organ_id])
    province.update_status(doc_id, "done")
    with pytest.raises(AxisCallFailed) as failed:
        province.update_status(doc_id, "fail")
    assert failed.value.error_code == ErrorCode.STATUS_CONFLICT
    with pytest.raises(AxisCallFailed) as bogus:
        province.update_status(doc_id, "archived")
    assert bogus.value.error_code == ErrorCode.INVALID_PARAMETER
    with AxisPeer(
        axis.base_url, "danang.lgsp", SECRETS["danang.lgsp"], OrganInfo("000.00.00.H13", "ĐN")
    ) as other:
        with pytest.raises(AxisCallFailed) as hidden:
            other.get_edoc(doc_id)
        assert hidden.value.error_code == ErrorCode.DOCUMENT_NOT_FOUND


# --- refusals --------------------------------------------------------------------------------------
def test_wrong_signature_is_refused(ministry: AxisPeer) -> None:
    body = _document(ministry)
    answer = _send_raw(ministry, body, [PROVINCE.organ_id], {HASH_HEADER: "00" * 32})
    assert (answer["status"], answer["ErrorCode"]) == ("FAIL", ErrorCode.SIGNATURE_INVALID)
    tampered = _send_raw(ministry, body, [PROVINCE.organ_id], {"to": json.dumps(["000.00.00.H13"])})
    assert tampered["ErrorCode"] == ErrorCode.SIGNATURE_INVALID
    forged = AxisPeer(
        ministry.client.base_url, "bnv.qlvb", "not-the-secret", MINISTRY, client=ministry.client
    )
    assert forged.call("getAgenciesList", {})["ErrorCode"] == ErrorCode.SIGNATURE_INVALID


def test_wrong_hash_file_is_refused(ministry: AxisPeer, province: AxisPeer) -> None:
    body = _document(ministry)
    params = {"from": MINISTRY.organ_id, "to": json.dumps([PROVINCE.organ_id]), "servicetype": "eDoc",
              "messagetype": "edoc", "hash-file": hash_file(body + b" ")}  # fmt: skip
    headers = sign_headers("bnv.qlvb", SECRETS["bnv.qlvb"], params)
    answer = ministry.client.post("/sendEdoc", content=body, headers=headers).json()
    assert (answer["status"], answer["ErrorCode"]) == ("FAIL", ErrorCode.HASH_FILE_MISMATCH)
    assert province.received() == []


def test_unknown_organ_and_unbound_organ_are_refused(ministry: AxisPeer) -> None:
    body = _document(ministry)
    unknown = _send_raw(ministry, body, ["999.99.99.X99"])
    assert (unknown["status"], unknown["ErrorCode"]) == ("FAIL", ErrorCode.UNKNOWN_ORGAN)
    headers = ministry.headers(
        {"from": PROVINCE.organ_id, "to": json.dumps([MINISTRY.organ_id]), "servicetype": "eDoc",
         "messagetype": "edoc"}, body,
    )  # fmt: skip
    unbound = ministry.client.post("/sendEdoc", content=body, headers=headers).json()
    assert unbound["ErrorCode"] == ErrorCode.ORGAN_NOT_BOUND


def test_unknown_system_and_stale_timestamp_are_refused(ministry: AxisPeer) -> None:
    stranger = AxisPeer(
        ministry.client.base_url, "nobody", "whatever-secret", MINISTRY, client=ministry.client
    )
    assert stranger.call("getAgenciesList", {})["ErrorCode"] == ErrorCode.UNKNOWN_SYSTEM
    stale = ministry.headers({}, now=datetime.now(UTC) - timedelta(days=8))
    answer = ministry.client.post("/getAgenciesList", headers=stale).json()
    assert (answer["status"], answer["ErrorCode"]) == ("FAIL", ErrorCode.TIMESTAMP_STALE)
    fresh = ministry.headers({}, now=datetime.now(UTC) - timedelta(seconds=30))
    assert ministry.client.post("/getAgenciesList", headers=fresh).json()["status"] == "OK"


def test_a_long_running_sdk_client_is_accepted_and_the_window_is_configurable(ministry: AxisPeer) -> None:
    # The SDK stamps `timestamp` once, when its service object is created, and keeps using it.
    created_two_days_ago = ministry.headers({}, now=datetime.now(UTC) - timedelta(days=2))
    assert ministry.client.post("/getAgenciesList", headers=created_two_days_ago).json()["status"] == "OK"
    with (
        run_in_thread(create_app(default_config(timestamp_window_seconds=300))) as strict_axis,
        AxisPeer(strict_axis.base_url, "bnv.qlvb", SECRETS["bnv.qlvb"], MINISTRY) as peer,
    ):
        hour_old = peer.headers({}, now=datetime.now(UTC) - timedelta(hours=1))
        answer = peer.client.post("/getAgenciesList", headers=hour_old).json()
        assert (answer["status"], answer["ErrorCode"]) == ("FAIL", ErrorCode.TIMESTAMP_STALE)
        assert "window 300s" in answer["ErrorDesc"]


def test_not_edxml_is_refused(ministry: AxisPeer) -> None:
    for body in (b"not xml", b"<other/>", b'<!DOCTYPE x [<!ENTITY a "b">]><edXML xmlns="' + EDXML_NS.encode()
                 + b'">&a;</edXML>'):  # fmt: skip
        assert _send_raw(ministry, body, [PROVINCE.organ_id])["ErrorCode"] == ErrorCode.PAYLOAD_INVALID


# --- directory -------------------------------------------------------------------------------------
def test_agencies_register_and_delete(province: AxisPeer, ministry: AxisPeer) -> None:
    codes = {a["code"] for a in province.agencies()}
    assert {MINISTRY.organ_id, PROVINCE.organ_id} <= codes
    body = json.dumps({"code": "000.03.00.H41", "name": "Sở Tư pháp", "mail": "stp@nghean.gov.vn",
                       "pcode": PROVINCE.organ_id}).encode()  # fmt: skip
    registered = province._ok("registerAgency", {}, body)["data"]
    assert registered["pid"] == "4"
    assert "000.03.00.H41" in {a["code"] for a in ministry.agencies()}
    ministry.send_edoc(_document(ministry), ["000.03.00.H41"])
    assert [r["to"] for r in province.received()] == ["000.03.00.H41"]
    assert (
        ministry.call("deleteAgency", {"AgencyCode": "000.03.00.H41"})["ErrorCode"]
        == ErrorCode.ORGAN_NOT_BOUND
    )
    province._ok("deleteAgency", {"AgencyCode": "000.03.00.H41"})
    assert "000.03.00.H41" not in {a["code"] for a in ministry.agencies()}


# --- SOAP face -------------------------------------------------------------------------------------
def _zeep(axis: RunningServer, systemid: str, secret: str, *, digest: bool = True) -> zeep.Client:
    token = UsernameToken(systemid, secret, use_digest=digest)
    return zeep.Client(f"{axis.base_url}/soap?wsdl", settings=ZEEP_SETTINGS, wsse=token)


def test_zeep_round_trip_through_the_soap_face(axis: RunningServer, ministry: AxisPeer) -> None:
    client = _zeep(axis, "lienthong.h41", SECRETS["lienthong.h41"])
    agencies = client.service.GetAgenciesList()
    assert PROVINCE.organ_id in {a.code for a in agencies}

    edxml = _document(ministry, "77")
    doc_id = ministry.send_edoc(edxml, [PROVINCE.organ_id])
    [item] = client.service.GetReceivedEdocList(messageType="edoc")
    assert (item.docId, item["from"], item.to, item.status) == (doc_id, MINISTRY.organ_id, PROVINCE.organ_id,
                                                                "initial")  # fmt: skip
    fetched = client.service.GetEdoc(docId=doc_id)
    assert fetched.content == edxml and fetched.messageType == "edoc"
    answer = client.service.UpdateStatus(docId=doc_id, status="done", reason="vào sổ")
    assert answer.status == "done"
    assert client.service.GetReceivedEdocList() == []

    status = build_status(PROVINCE, response_for_document(edxml), "01", "Đã đến")
    status_id = client.service.SendEdoc(**{"from": PROVINCE.organ_id}, to=[MINISTRY.organ_id],
                                        messageType="status", content=status)  # fmt: skip
    [(row, packet)] = ministry.take_all("status")
    assert (row["docId"], row["from"], row["messageType"], packet) == (
        status_id,
        PROVINCE.organ_id,
        "status",
        status,
    )


def _fault(excinfo: pytest.ExceptionInfo[zeep.exceptions.Fault]) -> str:
    detail = excinfo.value.detail
    return detail.findtext("{urn:lienthong:sim:gov-axis:1}AxisFault/{urn:lienthong:sim:gov-axis:1}errorCode")


def test_soap_faults_for_bad_credentials(axis: RunningServer) -> None:
    with pytest.raises(zeep.exceptions.Fault) as wrong:
        _zeep(axis, "lienthong.h41", "wrong-secret-123").service.GetAgenciesList()
    assert _fault(wrong) == ErrorCode.AUTHENTICATION_FAILED
    with pytest.raises(zeep.exceptions.Fault) as unknown:
        _zeep(axis, "nobody", "whatever-secret").service.GetAgenciesList()
    assert _fault(unknown) == ErrorCode.UNKNOWN_SYSTEM
    with pytest.raises(zeep.exceptions.Fault) as forbidden:
        _zeep(axis, "lienthong.h41", SECRETS["lienthong.h41"]).service.GetReceivedEdocList(
            organId="000.00.00.G10"
        )
    assert _fault(forbidden) == ErrorCode.ORGAN_NOT_BOUND
    plain = _zeep(axis, "lienthong.h41", SECRETS["lienthong.h41"], digest=False)
    assert len(plain.service.GetAgenciesList()) == len(default_config().organisations)


def _soap_post(axis: RunningServer, operation: str) -> etree._Element:
    envelope = f"""<?xml version="1.0"?>
<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" xmlns:ax="urn:lienthong:sim:gov-axis:1"
  xmlns:wsse="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd">
 <s:Header><wsse:Security><wsse:UsernameToken><wsse:Username>lienthong.h41</wsse:Username>
  <wsse:Password>{SECRETS["lienthong.h41"]}</wsse:Password></wsse:UsernameToken></wsse:Security></s:Header>
 <s:Body>{operation}</s:Body></s:Envelope>"""
    response = httpx.post(
        f"{axis.base_url}/soap", content=envelope.encode(), headers={"content-type": "text/xml"}
    )
    assert response.status_code == 500
    return etree.fromstring(response.content)


def test_soap_faults_for_malformed_and_hostile_requests(axis: RunningServer) -> None:
    ns = {"ax": "urn:lienthong:sim:gov-axis:1"}
    invalid = _soap_post(axis, "<ax:UpdateStatus><ax:docId>x</ax:docId><ax:status>archived</ax:status>"
                               "</ax:UpdateStatus>")  # fmt: skip
    assert invalid.findtext(".//ax:errorCode", namespaces=ns) == ErrorCode.INVALID_PARAMETER
    assert invalid.findtext(".//faultcode") == "soap:Client"
    unknown = _soap_post(axis, "<ax:DropTables/>")
    assert unknown.findtext(".//ax:errorCode", namespaces=ns) == ErrorCode.INVALID_PARAMETER
    hostile = (
        b'<?xml version="1.0"?><!DOCTYPE s [<!ENTITY x "y">]><s:Envelope '
        b'xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>&x;</s:Body></s:Envelope>'
    )
    response = httpx.post(f"{axis.base_url}/soap", content=hostile, headers={"content-type": "text/xml"})
    assert response.status_code == 500
    fault = etree.fromstring(response.content)
    assert fault.findtext(".//ax:errorCode", namespaces=ns) == ErrorCode.PAYLOAD_INVALID


# --- fault injection, state, snapshot -------------------------------------------------------------
def test_fault_injection_fail_next_down_up_and_delay(axis: RunningServer, province: AxisPeer) -> None:
    admin = httpx.Client(base_url=axis.base_url)
    admin.post("/_sim/faults", json={"fail_next": 2, "fail_status": 502}).raise_for_status()
    for _ in range(2):
        with pytest.raises(httpx.HTTPStatusError) as failed:
            province.agencies()
        assert failed.value.response.status_code == 502
    assert province.agencies()
    assert admin.get("/_sim/faults").json()["injected"] == 2

    admin.post("/_sim/down").raise_for_status()
    down = httpx.get(f"{axis.base_url}/soap?wsdl")
    assert (down.status_code, down.headers["x-sim-fault"]) == (503, "down")
    assert admin.get("/_sim/state").status_code == 200
    admin.post("/_sim/up").raise_for_status()
    assert province.agencies()

    admin.post("/_sim/faults", json={"delay_seconds": 3, "delay_next": 1}).raise_for_status()
    with pytest.raises(httpx.ReadTimeout):
        province.client.post("/getAgenciesList", headers=province.headers({}), timeout=0.2)
    assert province.agencies()
    assert admin.get("/_sim/faults").json()["delay_seconds"] == 0


def test_state_and_reset(axis: RunningServer, ministry: AxisPeer, province: AxisPeer) -> None:
    doc_id = ministry.send_edoc(_document(ministry), [PROVINCE.organ_id])
    state = httpx.get(f"{axis.base_url}/_sim/state").json()
    [packet] = state["packets"]
    assert packet["docId"] == doc_id and packet["deliveries"][PROVINCE.organ_id]["status"] == "initial"
    assert state["calls"]["sendEdoc"] == 1
    httpx.post(f"{axis.base_url}/_sim/reset").raise_for_status()
    assert httpx.get(f"{axis.base_url}/_sim/state").json()["packets"] == []
    assert province.received() == []


def test_snapshot_survives_a_restart(tmp_path: Path) -> None:
    config = default_config(snapshot_file=tmp_path / "axis.json")
    secret = SECRETS["bnv.qlvb"]
    with (
        run_in_thread(create_app(config)) as first,
        AxisPeer(first.base_url, "bnv.qlvb", secret, MINISTRY) as peer,
    ):
        edxml = _document(peer)
        doc_id = peer.send_edoc(edxml, [PROVINCE.organ_id])
    secret = SECRETS["lienthong.h41"]
    with (
        run_in_thread(create_app(config)) as second,
        AxisPeer(second.base_url, "lienthong.h41", secret, PROVINCE) as peer,
    ):
        assert [r["docId"] for r in peer.received()] == [doc_id]
        assert peer.get_edoc(doc_id) == edxml


# --- edXML status packets --------------------------------------------------------------------------
@pytest.mark.parametrize("code", sorted(STATUS_CODES))
def test_status_packets_follow_the_samples_structure(code: str) -> None:
    sample = (SAMPLES / "status_acceptance_03.edxml").read_bytes()
    packet = build_status(
        PROVINCE, response_for_document((SAMPLES / "edoc_new.edxml").read_bytes()), code, "x"
    )
    root = etree.fromstring(packet)
    envelope = root[0]
    assert envelope.tag == f"{{{EDXML_NS}}}edXMLEnvelope"
    assert all(e.prefix == "edXML" for e in envelope.iter())
    header = root.find(f".//{{{EDXML_NS}}}MessageHeader")
    reference = etree.fromstring(sample).find(f".//{{{EDXML_NS}}}MessageHeader")
    assert [etree.QName(c).localname for c in header] == [etree.QName(c).localname for c in reference]
    assert header.findtext(f"{{{EDXML_NS}}}StatusCode") == code


def test_status_builder_refuses_unknown_codes() -> None:
    with pytest.raises(ValueError):
        build_status(PROVINCE, response_for_document((SAMPLES / "edoc_new.edxml").read_bytes()), "07", "x")
