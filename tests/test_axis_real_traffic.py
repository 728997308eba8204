"""Real axis traffic through the hub's HTTP door: the packets captured from the axis and the SDK's samples.

- each captured packet (pointed at a local agency) is accepted from the axis relay on the lenient
  profile, its deviations recorded with their places, its Vietnamese text and attachments intact;
- the hub's signature is inserted into the received bytes: a CRLF packet comes out byte for byte the
  same except for the ``ds:Signature``, and xmlsec1 verifies it against the development CA;
- the SDK's status packets, sent by a local agency whose document system uses the SDK (lenient
  profile), are accepted; the same agency on the strict profile is refused.
"""

from __future__ import annotations

import base64
import re
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from lxml import etree

from tests.hubtest import DEV_CERTS, FIXTURES, SAMPLES, RunningHub, running_hub
from tests.independent_verify import XMLSEC1, verify_with_xmlsec1, verify_xmldsig_independently

EDXML_NS = "http://www.mic.gov.vn/TBT/QCVN_102_2016"
NS = {"e": EDXML_NS}
SIGNATURE = re.compile(rb"<ds:Signature .*?</ds:Signature>", re.S)
REAL = sorted(p.name for p in SAMPLES.glob("real-*.edxml"))
SDK_AGENCY = "000.00.00.H41"  # the sender of the SDK's status samples; a local agency of this hub
# the SDK's status samples the agency writes (13, the recall request, is the ministry's)
STATUSES = sorted(
    p.name
    for p in SAMPLES.glob("status_*.edxml")
    if etree.fromstring(p.read_bytes()).findtext(".//e:From/e:OrganId", namespaces=NS).strip() == SDK_AGENCY
)


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningHub]:
    """A hub whose agency 000.00.00.H41 is on the lenient profile (its system uses the axis SDK)."""
    base = tmp_path_factory.mktemp("real-traffic")
    config = base / "config"
    shutil.copytree(Path(__file__).resolve().parents[1] / "config", config)
    participants = yaml.safe_load((config / "participants.yaml").read_text(encoding="utf-8"))
    for participant in participants["participants"]:
        if participant["id"] == SDK_AGENCY:
            participant["inbound_profile"] = "lenient"
    (config / "participants.yaml").write_text(
        yaml.safe_dump(participants, allow_unicode=True), encoding="utf-8"
    )
    with running_hub(base / "data", workers=0, config_dir=config) as running:
        running.app.state.runtime.services.set_directory(
            "gov_axis", {"000.00.00.G22": "Văn phòng Chính phủ", "vxp.saas.02": "Đơn vị test vxp 2"}
        )
        yield running


def to_local_agency(packet: bytes) -> bytes:
    """The captured packet with its first ``To`` organ replaced by a local agency, bytes otherwise kept."""
    start = packet.index(b"<edXML:To>")
    organ = re.compile(rb"(<edXML:OrganId>)[^<]*(</edXML:OrganId>)")
    return packet[:start] + organ.sub(rb"\g<1>000.01.02.H41\g<2>", packet[start:], count=1)


def stored_document(hub: RunningHub, message_id: str, as_: str) -> bytes:
    response = hub.get(f"/v1/messages/{message_id}/document", as_=as_)
    assert response.status_code == 200, response.text
    return response.content


@pytest.mark.parametrize("name", REAL)
def test_a_captured_axis_packet_is_accepted_with_its_deviations_and_forwarded_as_received(
    hub: RunningHub, name: str
) -> None:
    received = to_local_agency((SAMPLES / name).read_bytes())
    response = hub.post(received, as_="gov-axis")
    assert response.status_code == 202, response.text
    message = hub.get(f"/v1/messages/{response.json()['id']}", as_="gov-axis").json()
    assert [d["recipient"] for d in message["deliveries"]] == ["000.01.02.H41"]
    assert message["signer"] == "lienthong"
    warnings = message["warnings"]
    assert warnings and all(re.match(r"line [0-9]+ at /edXML", w) for w in warnings), warnings

    forwarded = stored_document(hub, message["id"], "000.01.02.H41")
    assert len(SIGNATURE.findall(forwarded)) == 1
    assert SIGNATURE.sub(b"", forwarded) == received, "every byte but the inserted signature is kept"
    assert verify_xmldsig_independently(forwarded).subject.rfc4514_string().find("lienthong") >= 0
    root = etree.fromstring(forwarded)
    assert root.findtext(".//e:PromulgationInfo/e:Place", namespaces=NS) == "Hà Nội"  # Vietnamese text intact
    for attachment in root.iterfind(".//e:Attachment", NS):
        encoded = attachment.findtext("e:ContentTransferEncoded", namespaces=NS)
        assert base64.b64decode(encoded, validate=True)[:2] == b"PK"  # the zipped files, intact


def test_the_order_deviation_of_a_captured_packet_is_named_where_it_is(hub: RunningHub) -> None:
    received = to_local_agency((SAMPLES / "real-1da394ba-2117-4354-a23f-6ec3e47ba81b.edxml").read_bytes())
    received = received.replace(b"1da394ba-2117", b"1da394ba-9999")  # a packet of its own
    response = hub.post(received, as_="gov-axis")
    assert response.status_code == 202, response.text
    warnings = hub.get(f"/v1/messages/{response.json()['id']}", as_="gov-axis").json()["warnings"]
    assert any(
        w.startswith(
            "line 45 at /edXML/edXMLEnvelope/edXMLHeader/TraceHeaderList: children in the order Bussiness"
        )
        for w in warnings
    ), warnings


def test_a_crlf_packet_keeps_every_byte_but_the_signature_and_xmlsec1_verifies_it(hub: RunningHub) -> None:
    received = to_local_agency((SAMPLES / "real-852e179c-8eca-4502-ac38-0b97321f29c3.edxml").read_bytes())
    received = received.replace(b"9fbfbad2-f1f8", b"9fbfbad2-0000")  # a packet of its own
    assert received.count(b"\r\n") > 100 and b"\n" not in received.replace(b"\r\n", b"")
    response = hub.post(received, as_="gov-axis")
    assert response.status_code == 202, response.text
    forwarded = stored_document(hub, response.json()["id"], "000.01.02.H41")
    signature = SIGNATURE.search(forwarded)
    assert signature is not None
    assert forwarded[: signature.start()] == received[: signature.start()]
    assert forwarded[signature.end() :] == received[signature.start() :]
    assert forwarded[signature.end() :].startswith(b"</edXML:edXMLHeader>"), "at the end of edXMLHeader"
    if XMLSEC1 is None:
        pytest.skip("xmlsec1 is not installed (make test installs it when run as root)")
    verify_with_xmlsec1(forwarded, DEV_CERTS / "ca.crt")


@pytest.mark.parametrize("name", STATUSES)
def test_an_agency_using_the_axis_sdk_sends_its_statuses_on_the_lenient_profile(
    hub: RunningHub, name: str
) -> None:
    packet = (SAMPLES / name).read_bytes()
    response = hub.post(packet, as_=SDK_AGENCY)
    assert response.status_code == 202, response.text
    message = hub.get(f"/v1/messages/{response.json()['id']}", as_=SDK_AGENCY).json()
    assert message["type"] == "edxml.status" and message["sender"] == SDK_AGENCY
    assert [(d["recipient"], d["adapter"]) for d in message["deliveries"]] == [("000.00.00.G22", "gov_axis")]
    warnings = " ".join(message["warnings"])
    assert "OrganName, OrganizationInCharge" in warnings and "Mobile, Email" in warnings
    assert "TraceHeaderList" in warnings


def test_the_real_packets_are_all_there() -> None:
    assert len(REAL) == 3 and len(STATUSES) == 4  # guards the parametrized tests against collecting nothing


def test_the_same_status_from_a_strict_agency_is_refused(hub: RunningHub) -> None:
    packet = (SAMPLES / "status_finish_06.edxml").read_bytes().replace(b"000.00.00.H41", b"000.01.02.H41")
    response = hub.post(packet, as_="000.01.02.H41")
    assert response.status_code == 422
    problem = response.json()
    assert problem["type"] == "/problems/schema-invalid" and "strict" in problem["detail"]


@pytest.mark.parametrize(
    ("encoding", "declared"), [("utf-16", "UTF-16"), ("utf-16-be", "UTF-16"), ("latin-1", "ISO-8859-1")]
)
def test_a_packet_in_another_encoding_is_refused_even_from_the_lenient_axis(
    hub: RunningHub, encoding: str, declared: str
) -> None:
    # edXML must be UTF-8 (issue 15): the lenient profile tolerates quirks of shape, not of encoding.
    text = (FIXTURES / "edxml" / "document_strict.edxml").read_text(encoding="utf-8")
    text = text.replace("123/UBND-VP", f"{uuid.uuid4().int % 10**6}/UBND-VP")  # a document of its own
    text = text.replace('encoding="UTF-8"', f'encoding="{declared}"')
    text = text.encode("ascii", "xmlcharrefreplace").decode("ascii")  # Vietnamese as character references
    received = text.encode(encoding)  # "utf-16": with a byte order mark; "utf-16-be": without
    response = hub.post(received, as_="000.01.02.H41")
    assert response.status_code == 400, response.text
    assert response.json()["type"] == "/problems/encoding-not-utf8"


def test_a_utf8_byte_order_mark_is_tolerated_with_a_warning(hub: RunningHub) -> None:
    text = (FIXTURES / "edxml" / "document_strict.edxml").read_text(encoding="utf-8")
    text = text.replace("123/UBND-VP", f"{uuid.uuid4().int % 10**6}/UBND-VP")
    response = hub.post(b"\xef\xbb\xbf" + text.encode("utf-8"), as_="000.01.02.H41")
    assert response.status_code == 202, response.text
    assert any("byte order mark" in warning for warning in response.json()["warnings"])
    forwarded = stored_document(hub, response.json()["id"], "000.01.02.H41")
    assert verify_xmldsig_independently(forwarded).subject.rfc4514_string().find("lienthong") >= 0


def test_what_a_signature_element_holds_does_not_decide_the_type(hub: RunningHub) -> None:
    # Content placed inside ds:Signature (outside SignedInfo) is not covered by the signature.
    from tests.test_intake_api import fresh_document, signed_by

    signed = signed_by("000.01.02.H41", fresh_document())
    injected = signed.replace(
        b"</ds:Signature>", b"<ds:Object><edXML:StatusCode>03</edXML:StatusCode></ds:Object></ds:Signature>"
    )
    assert injected != signed
    response = hub.post(injected, as_="000.01.02.H41")
    assert response.status_code == 202, response.text
    assert response.json()["type"] == "edxml.document"
