"""The intake path through the public HTTP door, against a real hub on loopback.

Valid documents of each type are accepted and signed so that an independent verifier accepts the
signature; a corpus of hostile inputs is refused, each with its own problem type, nothing accepted,
every refusal recorded; duplicates return the original.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from lxml import etree

from hub.devpki import generate_dev_pki, issue_certificate
from hub.signing.jws import sign_detached
from hub.signing.keys import load_identity
from hub.signing.xmldsig import sign_enveloped
from tests.hubtest import DEV_CERTS, EXAMPLES, FIXTURES, SAMPLES, RunningHub, ledger_counts, running_hub
from tests.independent_verify import verify_detached_jws_independently, verify_xmldsig_independently

EDXML_NS = "http://www.mic.gov.vn/TBT/QCVN_102_2016"
NS = {"e": EDXML_NS}
AGENCY = "000.01.02.H41"
OTHER_AGENCY = "000.03.04.H41"


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningHub]:
    # No delivery workers: this file is about intake, which ends with deliveries `queued`.
    with running_hub(tmp_path_factory.mktemp("hub"), workers=0) as running:
        yield running


def document_bytes() -> bytes:
    return (FIXTURES / "edxml" / "document_strict.edxml").read_bytes()


def status_bytes() -> bytes:
    return (FIXTURES / "edxml" / "status_strict.edxml").read_bytes()


def fresh_document(document_number: int | None = None) -> bytes:
    """The strict fixture with a new DocumentId number, so each test has its own natural key."""
    number = document_number or uuid.uuid4().int % 10**6
    root = etree.fromstring(document_bytes())
    for node in root.iterfind(".//e:DocumentId", NS):
        organ, date, _ = node.text.split(",", 2)
        node.text = f"{organ},{date},{number}/UBND-VP"
    code = root.find(".//e:Code/e:CodeNumber", NS)
    if code is not None:
        code.text = str(number)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def json_example(name: str, **changes: object) -> bytes:
    """An example of a JSON type with fresh business ids (so its natural key is new) and `changes`."""
    obj = json.loads((EXAMPLES / f"{name}.json").read_text(encoding="utf-8"))
    unique = uuid.uuid4().hex
    obj["dossier_number"] = f"H41-{unique[:12]}"
    if "request_id" in obj:
        obj["request_id"] = f"REQ-{unique[:12]}"
    if "transaction_ref" in obj:
        obj["transaction_ref"] = f"TX{unique[:12]}"
    if "event" in obj:
        obj["event"]["id"] = unique[:24]
    if "order" in obj:
        obj["order"]["OrderNumber"] = obj["dossier_number"]
    obj.update(changes)
    return json.dumps(obj, ensure_ascii=False).encode()


def signed_by(participant: str, data: bytes, *, certs_dir: Path = DEV_CERTS) -> bytes:
    identity = load_identity(certs_dir / f"{participant}.key", certs_dir / f"{participant}.crt")
    root = etree.fromstring(data)
    return sign_enveloped(root, identity, parent=root.find(".//e:edXMLHeader", NS))


def hub_certificate() -> x509.Certificate:
    return x509.load_pem_x509_certificate((DEV_CERTS / "hub.crt").read_bytes())


# -- accepted ----------------------------------------------------------------------------------------


def test_unsigned_edxml_document_is_accepted_signed_by_the_hub_and_queued_per_recipient(
    hub: RunningHub,
) -> None:
    response = hub.post(fresh_document(), as_=AGENCY)
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["state"] == "accepted" and body["type"] == "edxml.document" and not body["duplicate"]
    assert response.headers["location"] == f"/v1/messages/{body['id']}"

    message = hub.get(f"/v1/messages/{body['id']}", as_=AGENCY).json()
    assert message["sender"] == AGENCY
    assert sorted(d["recipient"] for d in message["deliveries"]) == ["000.00.00.H41", OTHER_AGENCY]
    assert {d["state"] for d in message["deliveries"]} == {"queued"}
    kinds = [e["kind"] for e in message["events"]]
    assert kinds[:2] == ["message.received", "message.accepted"] and kinds.count("delivery.queued") == 2

    document = hub.get(f"/v1/messages/{body['id']}/document", as_=AGENCY)
    assert document.status_code == 200
    root = etree.fromstring(document.content)
    signature = root.find("e:edXMLEnvelope/e:edXMLHeader/{http://www.w3.org/2000/09/xmldsig#}Signature", NS)
    assert signature is not None, "the hub's signature sits in edXML:edXMLHeader"
    assert verify_xmldsig_independently(document.content) == hub_certificate()


def test_status_packet_is_accepted_and_routed_to_the_original_sender(hub: RunningHub) -> None:
    response = hub.post(status_bytes(), as_="000.00.00.H41")
    assert response.status_code == 202, response.text
    message = hub.get(f"/v1/messages/{response.json()['id']}", as_="000.00.00.H41").json()
    assert message["type"] == "edxml.status"
    assert [d["recipient"] for d in message["deliveries"]] == [AGENCY]


@pytest.mark.parametrize("name", ["ems.order", "ems.tracking", "payment.request", "payment.confirmation"])
def test_json_types_are_accepted_with_a_detached_jws_by_the_hub(hub: RunningHub, name: str) -> None:
    example = json.loads((EXAMPLES / f"{name}.json").read_text(encoding="utf-8"))
    body = json_example(name)
    sender = example["sender"]
    response = hub.post(body, as_=sender, content_type="application/json")
    assert response.status_code == 202, response.text
    document = hub.get(f"/v1/messages/{response.json()['id']}/document", as_=sender)
    assert document.content == body, "JSON bodies stay byte for byte; the signature is detached"
    jws = document.headers["x-jws-signature"]
    assert verify_detached_jws_independently(document.content, jws, hub_certificate())


def test_document_signed_by_a_trusted_participant_passes_unchanged(hub: RunningHub) -> None:
    signed = signed_by(AGENCY, fresh_document())
    response = hub.post(signed, as_=AGENCY)
    assert response.status_code == 202, response.text
    message = hub.get(f"/v1/messages/{response.json()['id']}", as_=AGENCY).json()
    assert message["signer"] == AGENCY
    assert hub.get(f"/v1/messages/{message['id']}/document", as_=AGENCY).content == signed


def test_json_signed_by_the_sender_keeps_its_own_signature(hub: RunningHub) -> None:
    body = json_example("payment.request")
    sender = json.loads(body)["sender"]
    identity = load_identity(DEV_CERTS / f"{sender}.key", DEV_CERTS / f"{sender}.crt")
    jws = sign_detached(body, identity)
    response = hub.post(body, as_=sender, content_type="application/json", **{"x-jws-signature": jws})
    assert response.status_code == 202, response.text
    document = hub.get(f"/v1/messages/{response.json()['id']}/document", as_=sender)
    assert document.headers["x-jws-signature"] == jws


def sample_sender(sample: str) -> str:
    root = etree.fromstring((SAMPLES / sample).read_bytes().lstrip(b"0123456789"))
    return root.findtext(".//e:MessageHeader/e:From/e:OrganId", namespaces=NS).strip()


def publish_axis_directory(hub: RunningHub) -> None:
    """Routes reach axis organs through `directory:gov_axis`, which the gov_axis adapter publishes."""
    hub.app.state.runtime.services.set_directory(
        "gov_axis",
        {
            "28.22.H17": "Đơn vị nhận (mẫu SDK)",
            "000.00.00.G22": "Văn phòng Chính phủ",
            "000.00.00.H14": "…",
            "000.00.00.G17": "…",
        },
    )


SAMPLE_NAMES = sorted(p.name for p in SAMPLES.glob("*.edxml"))
LOCAL_AGENCIES = {"000.00.00.H41", AGENCY, OTHER_AGENCY}


def sample_recipients(sample: str) -> set[str]:
    root = etree.fromstring((SAMPLES / sample).read_bytes().lstrip(b"0123456789"))
    paths = (".//e:MessageHeader/e:To/e:OrganId", ".//e:MessageHeader/e:ResponseFor/e:OrganId")
    return {node.text.strip() for path in paths for node in root.iterfind(path, NS)}


FOR_THIS_PROVINCE = [
    s
    for s in SAMPLE_NAMES
    if sample_sender(s) not in LOCAL_AGENCIES and sample_recipients(s) & LOCAL_AGENCIES
]


@pytest.mark.parametrize("sample", FOR_THIS_PROVINCE)
def test_real_axis_samples_for_this_province_are_accepted_leniently_with_deviations_recorded(
    hub: RunningHub, sample: str
) -> None:
    publish_axis_directory(hub)
    response = hub.post((SAMPLES / sample).read_bytes(), as_="gov-axis")
    assert response.status_code in (200, 202), response.text
    message = hub.get(f"/v1/messages/{response.json()['id']}", as_="gov-axis").json()
    assert message["sender"] == sample_sender(sample) and message["signer"] == "lienthong"
    delivered_to = {d["recipient"] for d in message["deliveries"]}
    assert delivered_to == sample_recipients(sample) & LOCAL_AGENCIES, "the axis already reached the others"
    if sample == "edoc_update.edxml":
        warnings = " ".join(message["warnings"])
        assert "2014/02/30" in warnings and "Signature" in warnings, warnings
        assert set(message["recipients"]) == {"000.00.00.H41", "000.00.00.H14", "000.00.00.G17"}


def test_a_real_axis_packet_for_no_organ_of_this_province_is_refused_after_passing_lenient(
    hub: RunningHub,
) -> None:
    # edoc_new.edxml is addressed to a commune of Đà Nẵng (28.22.H17): its deviations pass the lenient
    # profile (stray bytes, three-group organ id), but the axis should never hand it to this hub.
    publish_axis_directory(hub)
    response = hub.post((SAMPLES / "edoc_new.edxml").read_bytes(), as_="gov-axis")
    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["type"] == "/problems/unknown-recipient" and "28.22.H17" in problem["detail"]


@pytest.mark.parametrize("sample", [s for s in SAMPLE_NAMES if sample_sender(s) in LOCAL_AGENCIES])
def test_the_axis_cannot_relay_a_packet_claiming_a_local_agency_as_sender(
    hub: RunningHub, sample: str
) -> None:
    publish_axis_directory(hub)
    # These samples are statuses written by Nghệ An (000.00.00.H41) — in this hub a local agency, which
    # speaks for itself; the axis relay may not put words in its mouth.
    response = hub.post((SAMPLES / sample).read_bytes(), as_="gov-axis")
    assert response.status_code == 403 and response.json()["type"] == "/problems/forbidden-sender"


def test_the_same_samples_fail_a_strict_participant(hub: RunningHub) -> None:
    response = hub.post((SAMPLES / "edoc_new.edxml").read_bytes(), as_="000.00.00.H41")
    assert response.status_code in (400, 422)


def test_receipt_is_signed_by_the_hub_and_states_what_was_accepted(hub: RunningHub) -> None:
    data = fresh_document()
    message_id = hub.post(data, as_=AGENCY).json()["id"]
    receipt = hub.get(f"/v1/messages/{message_id}/receipt", as_=AGENCY)
    assert receipt.status_code == 200
    assert verify_detached_jws_independently(
        receipt.content, receipt.headers["x-jws-signature"], hub_certificate()
    )
    body = receipt.json()
    import hashlib

    assert body["message_id"] == message_id and body["sender"] == AGENCY
    assert body["digest"]["original"] == hashlib.sha256(data).hexdigest()
    assert sorted(body["recipients"]) == ["000.00.00.H41", OTHER_AGENCY]
    assert datetime.fromisoformat(body["accepted_at"]) <= datetime.now(UTC)


def test_recipients_see_the_message_strangers_do_not(hub: RunningHub) -> None:
    message_id = hub.post(fresh_document(), as_=AGENCY).json()["id"]
    assert hub.get(f"/v1/messages/{message_id}", as_=OTHER_AGENCY).status_code == 200
    stranger = hub.get(f"/v1/messages/{message_id}", as_="vnpost")
    assert stranger.status_code == 404
    assert stranger.headers["content-type"].startswith("application/problem+json")


# -- duplicates --------------------------------------------------------------------------------------


def test_resending_the_same_document_returns_the_original(hub: RunningHub) -> None:
    data = fresh_document()
    first = hub.post(data, as_=AGENCY)
    again = hub.post(data, as_=AGENCY)
    assert first.status_code == 202 and again.status_code == 200
    assert again.json()["id"] == first.json()["id"] and again.json()["duplicate"] is True
    events = hub.get(f"/v1/messages/{first.json()['id']}", as_=AGENCY).json()["events"]
    assert [e["kind"] for e in events].count("message.duplicate") == 1


def test_idempotency_key_returns_the_original_and_refuses_reuse_for_another_document(hub: RunningHub) -> None:
    key = str(uuid.uuid4())
    data = fresh_document()
    first = hub.post(data, as_=AGENCY, **{"Idempotency-Key": key})
    assert first.status_code == 202
    same = hub.post(data, as_=AGENCY, **{"Idempotency-Key": key})
    assert same.status_code == 200 and same.json()["id"] == first.json()["id"]
    other = hub.post(fresh_document(), as_=AGENCY, **{"Idempotency-Key": key})  # another document
    assert other.status_code == 422 and other.json()["type"] == "/problems/idempotency-key-reused"
    by_someone_else = hub.post(fresh_document(), as_=OTHER_AGENCY, **{"Idempotency-Key": key})
    assert by_someone_else.json()["type"] != "/problems/idempotency-key-reused", "keys are per participant"


# -- refused -----------------------------------------------------------------------------------------


def _swap_recipient(data: bytes) -> bytes:
    return data.replace(
        b"<edXML:OrganId>000.03.04.H41</edXML:OrganId>", b"<edXML:OrganId>000.00.00.H40</edXML:OrganId>"
    )


def _reference_uri(data: bytes) -> bytes:
    return data.replace(b'URI=""', b'URI="#xpointer(/)"')


def _with_certificate(data: bytes, key_pem: bytes, cert_pem: bytes, tmp: Path, participant: str) -> bytes:
    (tmp / f"{participant}.key").write_bytes(key_pem)
    (tmp / f"{participant}.crt").write_bytes(cert_pem)
    load_identity.cache_clear() if hasattr(load_identity, "cache_clear") else None
    return signed_by(participant, data, certs_dir=tmp)


def _pem(key: object, cert: x509.Certificate) -> tuple[bytes, bytes]:
    key_pem = key.private_bytes(  # type: ignore[attr-defined]
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return key_pem, cert.public_bytes(serialization.Encoding.PEM)


def _expired_signature(data: bytes, tmp: Path) -> bytes:
    ca_cert = x509.load_pem_x509_certificate((DEV_CERTS / "ca.crt").read_bytes())
    ca_key = serialization.load_pem_private_key((DEV_CERTS / "ca.key").read_bytes(), None)
    now = datetime.now(UTC)
    key, cert = issue_certificate(
        ca_cert, ca_key, AGENCY, not_before=now - timedelta(days=400), not_after=now - timedelta(days=1)
    )
    return _with_certificate(data, *_pem(key, cert), tmp, AGENCY)


def _foreign_ca_signature(data: bytes, tmp: Path) -> bytes:
    generate_dev_pki(tmp, participants=(AGENCY,))
    return signed_by(AGENCY, data, certs_dir=tmp)


def _sha1_signature(data: bytes, tmp: Path) -> bytes:
    from signxml import DigestAlgorithm, SignatureMethod, XMLSigner
    from signxml.algorithms import CanonicalizationMethod

    root = etree.fromstring(data)
    header = root.find(".//e:edXMLHeader", NS)
    etree.SubElement(header, "{http://www.w3.org/2000/09/xmldsig#}Signature", Id="placeholder")

    class Sha1Signer(XMLSigner):
        def check_deprecated_methods(self) -> None:  # signxml refuses SHA-1 by default; a sender may not
            pass

    signer = Sha1Signer(
        signature_algorithm=SignatureMethod.RSA_SHA1,
        digest_algorithm=DigestAlgorithm.SHA1,
        c14n_algorithm=CanonicalizationMethod.EXCLUSIVE_XML_CANONICALIZATION_1_0,
    )
    signed = signer.sign(
        root,
        key=(DEV_CERTS / f"{AGENCY}.key").read_bytes(),
        cert=(DEV_CERTS / f"{AGENCY}.crt").read_text(),
    )
    return etree.tostring(signed, xml_declaration=True, encoding="UTF-8")


HOSTILE_XML = {
    "external entity": (
        b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>',
        "xml-forbidden-construct",
    ),
    "entity bomb": (
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;'
        b'&lol;&lol;&lol;&lol;&lol;"><!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>'
        b"<lolz>&lol3;</lolz>",
        "xml-forbidden-construct",
    ),
    "external DTD": (
        b'<?xml version="1.0"?><!DOCTYPE r SYSTEM "http://127.0.0.1:9/x.dtd"><r/>',
        "xml-forbidden-construct",
    ),
    "deep nesting": (b"<a>" * 5000 + b"</a>" * 5000, "xml-too-deep"),
    "invalid UTF-8": (b'<?xml version="1.0" encoding="UTF-8"?><edXML>\xc3\x28</edXML>', "invalid-encoding"),
    "not well-formed": (b"<edXML><unclosed></edXML>", "xml-malformed"),
    "unknown type": (b"<invoice xmlns='urn:example'/>", "unknown-type"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE_XML))
def test_hostile_xml_is_refused_with_its_own_problem_type_and_recorded(hub: RunningHub, case: str) -> None:
    body, slug = HOSTILE_XML[case]
    before = ledger_counts(hub)
    response = hub.post(body, as_=AGENCY)
    assert response.status_code in (400, 413, 422), response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["type"] == f"/problems/{slug}" and problem["detail"]
    after = ledger_counts(hub)
    assert after[0] == before[0], "nothing accepted"
    assert after[1] == before[1] + 1, "the refusal is recorded"
    assert hub.client.get("/healthz").status_code == 200, "the hub keeps serving"


SIGNATURE_CASES = {
    "content changed after signing": (
        lambda d, t: _swap_recipient(signed_by(AGENCY, d)),
        "signature-invalid",
    ),
    "reference to part of the document": (
        lambda d, t: _reference_uri(signed_by(AGENCY, d)),
        "signature-reference-invalid",
    ),
    "expired signer": (_expired_signature, "signer-expired"),
    "signer from an unknown CA": (_foreign_ca_signature, "signer-untrusted"),
    "SHA-1 signature": (_sha1_signature, "signature-algorithm-forbidden"),
    "signed by a participant that is not the sender": (
        lambda d, t: signed_by("vnpost", d),
        "signer-mismatch",
    ),
}


@pytest.mark.parametrize("case", sorted(SIGNATURE_CASES))
def test_bad_signatures_are_refused(hub: RunningHub, case: str, tmp_path: Path) -> None:
    make, slug = SIGNATURE_CASES[case]
    before = ledger_counts(hub)
    response = hub.post(make(fresh_document(), tmp_path), as_=AGENCY)
    assert response.status_code == 422, response.text
    assert response.json()["type"] == f"/problems/{slug}"
    assert ledger_counts(hub)[0] == before[0]


def test_schema_violations_name_their_location(hub: RunningHub) -> None:
    root = etree.fromstring(fresh_document())
    root.find(".//e:From/e:OrganId", NS).text = "not-an-organ-id"
    response = hub.post(etree.tostring(root), as_=AGENCY)
    assert response.status_code == 422
    problem = response.json()
    assert problem["type"] == "/problems/schema-invalid"
    assert any(e["location"].startswith("line ") for e in problem["errors"])

    bad_json = json_example("ems.order", recipients="vnpost")
    response = hub.post(bad_json, as_=json.loads(bad_json)["sender"], content_type="application/json")
    assert response.status_code == 422
    assert any(e["location"] == "/recipients" for e in response.json()["errors"])


JSON_CASES = {
    "duplicate key": (b'{"type": "ems.order", "type": "payment.request"}', "json-duplicate-key"),
    "deep nesting": (b'{"a":' * 200 + b"1" + b"}" * 200, "json-too-deep"),
    "invalid UTF-8": (b'{"type": "\xff"}', "invalid-encoding"),
    "not JSON": (b'{"type": ', "json-malformed"),
}


@pytest.mark.parametrize("case", sorted(JSON_CASES))
def test_hostile_json_is_refused(hub: RunningHub, case: str) -> None:
    body, slug = JSON_CASES[case]
    response = hub.post(body, as_=AGENCY, content_type="application/json")
    assert response.status_code == 400, response.text
    assert response.json()["type"] == f"/problems/{slug}"


def test_participant_cannot_send_as_another(hub: RunningHub) -> None:
    before = ledger_counts(hub)
    response = hub.post(fresh_document(), as_=OTHER_AGENCY)  # the document's sender is AGENCY
    assert response.status_code == 403 and response.json()["type"] == "/problems/forbidden-sender"
    assert ledger_counts(hub) == (before[0], before[1] + 1)


def test_unauthenticated_and_unknown_tokens_are_refused(hub: RunningHub) -> None:
    missing = hub.client.post(
        "/v1/messages", content=fresh_document(), headers={"Content-Type": "application/xml"}
    )
    assert missing.status_code == 401 and missing.json()["type"] == "/problems/unauthenticated"
    wrong = hub.client.post(
        "/v1/messages",
        content=fresh_document(),
        headers={"Content-Type": "application/xml", "Authorization": "Bearer guessed"},
    )
    assert wrong.status_code == 401


def test_oversized_body_and_wrong_media_type_are_refused(tmp_path: Path) -> None:
    with running_hub(tmp_path, max_body_bytes=4096, workers=0) as small:
        big = small.post(b"<a>" + b"x" * 10_000 + b"</a>", as_=AGENCY)
        assert big.status_code == 413 and big.json()["type"] == "/problems/body-too-large"
        text = small.post(b"hello", as_=AGENCY, content_type="text/plain")
        assert text.status_code == 415 and text.json()["type"] == "/problems/unsupported-media-type"


def test_openapi_describes_the_api(hub: RunningHub) -> None:
    spec = hub.client.get("/openapi.json").json()
    assert "/v1/messages" in spec["paths"] and "/v1/messages/{message_id}/receipt" in spec["paths"]
    assert {"application/xml", "application/json"} <= set(
        spec["paths"]["/v1/messages"]["post"]["requestBody"]["content"]
    )


def test_certificate_embedded_in_hub_signature_is_the_hub_certificate(hub: RunningHub) -> None:
    message_id = hub.post(fresh_document(), as_=AGENCY).json()["id"]
    document = etree.fromstring(hub.get(f"/v1/messages/{message_id}/document", as_=AGENCY).content)
    text = document.findtext(".//{http://www.w3.org/2000/09/xmldsig#}X509Certificate")
    embedded = x509.load_der_x509_certificate(base64.b64decode(text))
    assert embedded == hub_certificate()


def test_the_real_sample_packets_are_all_there() -> None:
    # Guards the parametrized sample tests above against silently collecting nothing.
    assert len(SAMPLE_NAMES) == 10
    assert FOR_THIS_PROVINCE == ["edoc_update.edxml", "status_cancellation_13.edxml"]


# -- recall, update, replacement (BussinessDocType 1, 2, 3) ------------------------------------------

E = f"{{{EDXML_NS}}}"


def business_document(
    doc_type: int,
    *,
    to: list[str],
    receivers: dict[str, int] | None = None,
    replacement_organs: list[str] | None = None,
) -> bytes:
    """The strict fixture as a recall (1), update (2) or replacement (3) addressed `to` these organs."""
    root = etree.fromstring(fresh_document())
    header = root.find(".//e:MessageHeader", NS)
    existing = header.findall("e:To", NS)
    for organ, template in zip(to, existing, strict=False):
        template.find("e:OrganId", NS).text = organ
    for extra in existing[len(to) :]:
        header.remove(extra)
    business = root.find(".//e:Bussiness", NS)
    business.find("e:BussinessDocType", NS).text = str(doc_type)
    anchor = business.find("e:Paper", NS)
    if receivers:
        info = etree.Element(E + "BussinessDocumentInfo")
        etree.SubElement(info, E + "DocumentInfo").text = "0"
        etree.SubElement(info, E + "DocumentReceiver").text = "1"
        listing = etree.SubElement(info, E + "ReceiverList")
        for organ, kind in receivers.items():
            receiver = etree.SubElement(listing, E + "Receiver")
            etree.SubElement(receiver, E + "OrganId").text = organ
            etree.SubElement(receiver, E + "ReceiverType").text = str(kind)
        anchor.addnext(info)
    if replacement_organs:
        replacements = etree.Element(E + "ReplacementInfoList")
        replacement = etree.SubElement(replacements, E + "ReplacementInfo")
        etree.SubElement(replacement, E + "DocumentId").text = root.findtext(
            ".//e:MessageHeader/e:DocumentId", namespaces=NS
        )
        organs = etree.SubElement(replacement, E + "OrganIdList")
        for organ in replacement_organs:
            etree.SubElement(organs, E + "OrganId").text = organ
        anchor.addnext(replacements)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def recipients_of(hub: RunningHub, response_body: dict) -> set[str]:
    message = hub.get(f"/v1/messages/{response_body['id']}", as_=AGENCY).json()
    return {d["recipient"] for d in message["deliveries"]}


def test_an_update_reaches_the_receivers_it_adds_and_removes(hub: RunningHub) -> None:
    update = business_document(2, to=[OTHER_AGENCY], receivers={"000.00.00.H41": 1, OTHER_AGENCY: 0})
    response = hub.post(update, as_=AGENCY)
    assert response.status_code == 202, response.text
    assert recipients_of(hub, response.json()) == {"000.00.00.H41", OTHER_AGENCY}


def test_a_recall_reaches_the_original_recipients(hub: RunningHub) -> None:
    recall = business_document(1, to=["000.00.00.H41", OTHER_AGENCY])
    response = hub.post(recall, as_=AGENCY)
    assert response.status_code == 202, response.text
    assert recipients_of(hub, response.json()) == {"000.00.00.H41", OTHER_AGENCY}


def test_a_replacement_reaches_the_organs_it_lists(hub: RunningHub) -> None:
    replacement = business_document(3, to=[OTHER_AGENCY], replacement_organs=["000.00.00.H41"])
    response = hub.post(replacement, as_=AGENCY)
    assert response.status_code == 202, response.text
    assert recipients_of(hub, response.json()) == {"000.00.00.H41", OTHER_AGENCY}


def test_a_recall_request_from_a_ministry_reaches_the_agency_it_names(hub: RunningHub) -> None:
    hub.app.state.runtime.services.set_directory("gov_axis", {"000.00.00.G22": "Văn phòng Chính phủ"})
    response = hub.post((SAMPLES / "status_cancellation_13.edxml").read_bytes(), as_="gov-axis")
    assert response.status_code in (200, 202), response.text
    message = hub.get(f"/v1/messages/{response.json()['id']}", as_="gov-axis").json()
    assert message["type"] == "edxml.status" and message["sender"] == "000.00.00.G22"
    assert [(d["recipient"], d["adapter"]) for d in message["deliveries"]] == [("000.00.00.H41", "agency")]


@pytest.mark.parametrize(
    ("header", "limit", "content_type"),
    [("Idempotency-Key", 200, "application/xml"), ("x-jws-signature", 20000, "application/json")],
)
def test_an_over_long_intake_header_is_a_malformed_request_naming_it(
    hub: RunningHub, header: str, limit: int, content_type: str
) -> None:
    """The intake route reads its two headers itself (hub.api.messages): too long is 400 invalid-request
    with the header's location, as FastAPI's header model answered; at the limit it is read."""
    too_long = hub.post(b"<a/>", as_=AGENCY, content_type=content_type, **{header: "k" * (limit + 1)})
    assert too_long.status_code == 400
    problem = too_long.json()
    assert problem["type"] == "/problems/invalid-request"
    assert problem["errors"] == [
        {"location": f"header/{header.lower()}", "message": f"String should have at most {limit} characters"}
    ]
    at_limit = hub.post(b"<a/>", as_=AGENCY, content_type=content_type, **{header: "k" * limit})
    assert at_limit.json()["type"] != "/problems/invalid-request", at_limit.text
