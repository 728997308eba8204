"""Document types, schemas and validation: the shipped types against real and hand-written packets."""

from __future__ import annotations

import copy
import json
import re
import shutil
import threading
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from hub.doctypes import (
    DocTypeConfigError,
    DocTypeRegistry,
    Extracted,
    extract_json,
    extract_xml,
)
from hub.problems import Problem
from hub.settings import PROJECT_ROOT, Settings
from hub.validation import Issue, Validator
from tests.hubtest import SAMPLES

FIXTURES = PROJECT_ROOT / "tests" / "fixtures" / "edxml"
EXAMPLES = PROJECT_ROOT / "schemas" / "examples"
SAMPLE_NAMES = [
    "edoc_new.edxml",
    "edoc_update.edxml",
    "status_acceptance_03.edxml",
    "status_cancellation_13.edxml",
    "status_finish_06.edxml",
    "status_inbox_01.edxml",
    "status_rejection_02.edxml",
    "real-1da394ba-2117-4354-a23f-6ec3e47ba81b.edxml",
    "real-1f881896-6e3a-4a5f-87f1-c380878e148e.edxml",
    "real-852e179c-8eca-4502-ac38-0b97321f29c3.edxml",
]
JSON_TYPES = ["ems.order", "ems.tracking", "payment.request", "payment.confirmation", "dossier.status"]
DSIG_SIGNATURE = (
    '<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo/>'
    "<ds:SignatureValue>AAAA</ds:SignatureValue></ds:Signature>"
)


def parse(data: bytes | str) -> etree._Element:
    if isinstance(data, str):
        data = data.encode("utf-8")
    data = data[data.index(b"<") :]  # the parser strips stray bytes before '<'; here we do it ourselves
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    return etree.fromstring(data, parser)


def fixture_text(name: str) -> str:
    return (FIXTURES / name).read_text(encoding="utf-8")


def line_of(text: str, needle: str) -> int:
    index = text.index(needle)
    return text.count("\n", 0, index) + 1


def example(name: str) -> dict[str, Any]:
    return json.loads((EXAMPLES / f"{name}.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def registry() -> DocTypeRegistry:
    settings = Settings()
    return DocTypeRegistry.load(settings.doctypes_file, settings.schemas_dir)


@pytest.fixture(scope="module")
def validator(registry: DocTypeRegistry) -> Validator:
    return Validator(registry)


def refusal(call: Any, *args: Any, **kwargs: Any) -> Problem:
    with pytest.raises(Problem) as caught:
        call(*args, **kwargs)
    assert caught.value.slug == "schema-invalid", caught.value
    assert caught.value.errors
    return caught.value


# ------------------------------------------------------------------------------------------------
# registry


def test_registry_ships_seven_types(registry: DocTypeRegistry) -> None:
    assert set(registry.names()) == {"edxml.document", "edxml.status", *JSON_TYPES}
    document = registry.get("edxml.document")
    assert document.format == "xml" and document.signing == "xmldsig-enveloped"
    assert document.signature_parent == "e:edXMLEnvelope/e:edXMLHeader"
    assert document.schema_file.is_file()
    for name in JSON_TYPES:
        doctype = registry.get(name)
        assert doctype.format == "json" and doctype.signing == "jws-detached"
        assert "application/json" in doctype.content_types


def test_get_unknown_name_is_unknown_type(registry: DocTypeRegistry) -> None:
    with pytest.raises(Problem) as caught:
        registry.get("fax.document")
    assert caught.value.slug == "unknown-type"


def test_signature_parent_points_at_the_header(registry: DocTypeRegistry) -> None:
    root = parse((FIXTURES / "document_strict.edxml").read_bytes())
    doctype = registry.get("edxml.document")
    found = root.xpath(doctype.signature_parent, namespaces={"e": "http://www.mic.gov.vn/TBT/QCVN_102_2016"})
    assert [etree.QName(el).localname for el in found] == ["edXMLHeader"]


# ------------------------------------------------------------------------------------------------
# identification


@pytest.mark.parametrize(
    ("name", "expected"),
    [(n, "edxml.status" if n.startswith("status") else "edxml.document") for n in SAMPLE_NAMES]
    + [("document_strict.edxml", "edxml.document"), ("status_strict.edxml", "edxml.status")],
)
def test_identify_xml(registry: DocTypeRegistry, name: str, expected: str) -> None:
    path = SAMPLES / name if (SAMPLES / name).exists() else FIXTURES / name
    assert registry.identify_xml(parse(path.read_bytes())).name == expected


@pytest.mark.parametrize("name", JSON_TYPES)
def test_identify_json(registry: DocTypeRegistry, name: str) -> None:
    assert registry.identify_json(example(name)).name == name


@pytest.mark.parametrize(
    "xml",
    [
        "<edXML/>",  # right local name, no namespace
        '<other xmlns="http://www.mic.gov.vn/TBT/QCVN_102_2016"/>',
        '<Envelope xmlns="http://schemas.xmlsoap.org/soap/envelope/"/>',
    ],
)
def test_unknown_xml_is_refused(registry: DocTypeRegistry, xml: str) -> None:
    with pytest.raises(Problem) as caught:
        registry.identify_xml(parse(xml))
    assert caught.value.slug == "unknown-type"


@pytest.mark.parametrize("obj", [{"type": "ems.unknown"}, {"kind": "ems.order"}, {"type": 3}, ["ems.order"]])
def test_unknown_json_is_refused(registry: DocTypeRegistry, obj: Any) -> None:
    with pytest.raises(Problem) as caught:
        registry.identify_json(obj)
    assert caught.value.slug == "unknown-type"


# ------------------------------------------------------------------------------------------------
# the real packets: lenient with recorded deviations, refused by strict


@pytest.mark.parametrize("name", SAMPLE_NAMES)
def test_samples_pass_lenient_with_warnings_and_fail_strict(
    registry: DocTypeRegistry, validator: Validator, name: str
) -> None:
    root = parse((SAMPLES / name).read_bytes())
    doctype = registry.identify_xml(root)
    warnings = validator.validate_xml(doctype, root, profile="lenient")
    assert warnings and all(isinstance(w, Issue) for w in warnings)
    assert all(re.match(r"line [0-9]+ at /edXML", w.location) for w in warnings), warnings
    refusal(validator.validate_xml, doctype, root, profile="strict")


def _warnings(registry: DocTypeRegistry, validator: Validator, name: str) -> list[str]:
    root = parse((SAMPLES / name).read_bytes())
    return [str(w) for w in validator.validate_xml(registry.identify_xml(root), root, profile="lenient")]


def test_edoc_new_warnings_name_each_deviation(registry: DocTypeRegistry, validator: Validator) -> None:
    warnings = _warnings(registry, validator, "edoc_new.edxml")
    three_groups = [w for w in warnings if "'28.22.H17'" in w]
    assert len(three_groups) == 1
    assert three_groups[0].startswith("line 18 at /edXML/edXMLEnvelope/edXMLHeader/MessageHeader/To/OrganId")
    assert "OrganIdType" in three_groups[0]
    assert any("2014/02/30" in w and "DocumentIdType" in w for w in warnings)
    assert any("edXML:Signature" in w and w.startswith("line 84") for w in warnings)


def test_status_sample_warnings(registry: DocTypeRegistry, validator: Validator) -> None:
    warnings = _warnings(registry, validator, "status_acceptance_03.edxml")
    assert any("TraceHeaderList" in w for w in warnings)
    # the SDK's own order: OrganName before OrganizationInCharge, Mobile before Email
    assert any(
        w.startswith("line 6 at /edXML/edXMLEnvelope/edXMLHeader/MessageHeader/From: children in the order")
        and "OrganId, OrganName, OrganizationInCharge" in w
        for w in warnings
    ), warnings
    assert any(w.startswith("line 22 ") and "Staff, Mobile, Email" in w for w in warnings), warnings


# ------------------------------------------------------------------------------------------------
# strict fixtures


@pytest.mark.parametrize("name", ["document_strict.edxml", "status_strict.edxml"])
@pytest.mark.parametrize("profile", ["strict", "lenient"])
def test_strict_fixtures_are_clean(
    registry: DocTypeRegistry, validator: Validator, name: str, profile: Any
) -> None:
    root = parse((FIXTURES / name).read_bytes())
    assert validator.validate_xml(registry.identify_xml(root), root, profile=profile) == []


def test_validate_document_identifies_then_validates(validator: Validator) -> None:
    doctype, warnings = validator.validate_document(
        parse((SAMPLES / "status_inbox_01.edxml").read_bytes()), profile="lenient"
    )
    assert doctype.name == "edxml.status" and warnings
    doctype, warnings = validator.validate_document(example("payment.request"))
    assert doctype.name == "payment.request" and warnings == []


# ------------------------------------------------------------------------------------------------
# XML refusals, located


def _refuse_document(
    validator: Validator, registry: DocTypeRegistry, text: str, profile: Any = "strict"
) -> Problem:
    root = parse(text)
    return refusal(validator.validate_xml, registry.identify_xml(root), root, profile=profile)


@pytest.mark.parametrize(
    ("fixture", "old", "new", "field"),
    [
        ("document_strict.edxml", "<edXML:OrganId>000.03.04.H41<", "<edXML:OrganId>000.03.H41<", "OrganId"),
        ("document_strict.edxml", "<edXML:Priority>0<", "<edXML:Priority>7<", "Priority"),
        (
            "document_strict.edxml",
            "<edXML:BussinessDocType>0<",
            "<edXML:BussinessDocType>4<",
            "BussinessDocType",
        ),
        ("document_strict.edxml", "<edXML:DueDate>2026/11/30<", "<edXML:DueDate>2026/11/31<", "DueDate"),
        ("document_strict.edxml", "<edXML:DueDate>2026/11/30<", "<edXML:DueDate>2026-11-30<", "DueDate"),
        (
            "document_strict.edxml",
            "<edXML:Timestamp>2026/11/20 09:30:00<",
            "<edXML:Timestamp>2026/11/20 24:30:00<",
            "Timestamp",
        ),
        (
            "document_strict.edxml",
            "<edXML:DocumentId>000.01.02.H41,2026/11/20,123/UBND-VP</edXML:DocumentId>\n        <edXML:Code>",
            "<edXML:DocumentId>000.01.02.H41,20/11/2026,123/UBND-VP</edXML:DocumentId>\n        <edXML:Code>",
            "DocumentId",
        ),
        ("document_strict.edxml", "<edXML:Email>stp@nghean.gov.vn<", "<edXML:Email>stp at nghean<", "Email"),
        ("status_strict.edxml", "<edXML:StatusCode>03<", "<edXML:StatusCode>07<", "StatusCode"),
        (
            "status_strict.edxml",
            "<edXML:Timestamp>2026/11/20 10:15:00<",
            "<edXML:Timestamp>2026/02/29 10:15:00<",
            "Timestamp",
        ),
    ],
)
def test_strict_refuses_bad_values_at_their_line(
    registry: DocTypeRegistry, validator: Validator, fixture: str, old: str, new: str, field: str
) -> None:
    text = fixture_text(fixture)
    assert old in text
    bad = text.replace(old, new, 1)
    problem = _refuse_document(validator, registry, bad)
    line = line_of(bad, new)
    located = [e for e in problem.errors if e["location"].startswith(f"line {line} at ")]
    assert located, problem.errors
    assert located[0]["location"].endswith("/" + field)
    body = problem.to_dict()
    assert body["type"] == "/problems/schema-invalid" and body["errors"] == problem.errors


def test_a_status_may_echo_an_axis_uuid_document_id_but_nothing_else(
    registry: DocTypeRegistry, validator: Validator
) -> None:
    text = fixture_text("status_strict.edxml")
    answered = parse(text).findtext(".//{*}ResponseFor/{*}DocumentId")
    assert answered and answered in text
    uuid_answer = parse(text.replace(answered, "9fbfbad2-f1f8-4256-a2eb-50fb1061cddb"))
    assert validator.validate_xml(registry.get("edxml.status"), uuid_answer, profile="strict") == []
    refusal(
        validator.validate_xml, registry.get("edxml.status"), parse(text.replace(answered, "not-an-id")),
        profile="strict",
    )  # fmt: skip


def test_leap_day_is_a_real_date(registry: DocTypeRegistry, validator: Validator) -> None:
    text = fixture_text("status_strict.edxml").replace("2026/11/20 10:15:00", "2028/02/29 10:15:00")
    root = parse(text)
    assert validator.validate_xml(registry.identify_xml(root), root, profile="strict") == []


def test_element_order_is_enforced(registry: DocTypeRegistry, validator: Validator) -> None:
    text = fixture_text("document_strict.edxml")
    start = text.index("        <edXML:Subject>")
    subject = text[start : text.index("</edXML:Subject>\n") + len("</edXML:Subject>\n")]
    assert subject in text
    moved = text.replace(subject, "").replace(
        "        <edXML:DocumentId>", subject + "        <edXML:DocumentId>", 1
    )
    problem = _refuse_document(validator, registry, moved)
    assert any("Subject" in e["message"] for e in problem.errors)


def test_manifest_reference_needs_its_attachment(registry: DocTypeRegistry, validator: Validator) -> None:
    text = fixture_text("document_strict.edxml").replace(
        "<ContentId>cid:1</ContentId>", "<ContentId>cid:2</ContentId>"
    )
    problem = _refuse_document(validator, registry, text)
    reference_line = line_of(text, "<edXML:Reference>")
    assert {"location": f"line {reference_line}", "message": problem.errors[0]["message"]} in problem.errors
    assert "cid:1" in problem.errors[0]["message"]
    # lenient keeps content ids unique but records a dangling reference only as a warning
    root = parse(text)
    warnings = validator.validate_xml(registry.get("edxml.document"), root, profile="lenient")
    assert any("ManifestReferenceHasAttachment" in w.message for w in warnings)
    duplicated = fixture_text("document_strict.edxml").replace(
        "<AttachmentEncoded>\n    <Attachment>",
        (
            "<AttachmentEncoded>\n    <Attachment><ContentId>cid:1</ContentId>"
            "<ContentTransferEncoded>QUJD</ContentTransferEncoded></Attachment>\n    <Attachment>"
        ),
    )
    _refuse_document(validator, registry, duplicated, "lenient")


def test_attachment_must_be_base64(registry: DocTypeRegistry, validator: Validator) -> None:
    text = fixture_text("document_strict.edxml").replace(
        "<ContentTransferEncoded>QsOh", "<ContentTransferEncoded>**not base64**QsOh"
    )
    for profile in ("strict", "lenient"):
        problem = _refuse_document(validator, registry, text, profile)
        assert any("ContentTransferEncoded" in e["location"] for e in problem.errors)


def _with_header_tail(tail_before: str, tail_after: str) -> str:
    text = fixture_text("document_strict.edxml")
    return text.replace(
        "      </edXML:TraceHeaderList>\n    </edXML:edXMLHeader>",
        f"      </edXML:TraceHeaderList>{tail_before}\n    </edXML:edXMLHeader>{tail_after}",
        1,
    )


def test_xmldsig_signature_slot(registry: DocTypeRegistry, validator: Validator) -> None:
    doctype = registry.get("edxml.document")
    signed = parse(_with_header_tail(DSIG_SIGNATURE, ""))
    assert validator.validate_xml(doctype, signed, profile="strict") == []
    twice = parse(_with_header_tail(DSIG_SIGNATURE + DSIG_SIGNATURE, ""))
    refusal(validator.validate_xml, doctype, twice, profile="strict")
    misplaced = fixture_text("document_strict.edxml").replace(
        "      <edXML:TraceHeaderList>", DSIG_SIGNATURE + "\n      <edXML:TraceHeaderList>", 1
    )
    refusal(validator.validate_xml, doctype, parse(misplaced), profile="strict")


def test_status_signature_slot(registry: DocTypeRegistry, validator: Validator) -> None:
    text = fixture_text("status_strict.edxml").replace(
        "</edXML:TraceHeaderList>", "</edXML:TraceHeaderList>" + DSIG_SIGNATURE, 1
    )
    root = parse(text)
    assert validator.validate_xml(registry.get("edxml.status"), root, profile="strict") == []


@pytest.mark.parametrize(
    ("replacements", "reason"),
    [
        # no recipient at all
        ([("<edXML:To>", "<edXML:Cc>"), ("</edXML:To>", "</edXML:Cc>")], "no recipient"),
        # a recipient that is written as null
        (
            [
                ("<edXML:OrganId>000.00.00.H41<", "<edXML:OrganId>null<"),
                ("<edXML:OrganId>000.03.04.H41<", "<edXML:OrganId> NULL <"),
            ],
            "no recipient",
        ),
        # an id with spaces and punctuation
        ([("<edXML:OrganId>000.03.04.H41<", "<edXML:OrganId>; DROP TABLE organs<")], "cannot be routed"),
        # no sender
        ([("<edXML:From>", "<edXML:Sender>"), ("</edXML:From>", "</edXML:Sender>")], "no sender"),
        # no DocumentId
        (
            [
                (
                    "<edXML:DocumentId>000.01.02.H41,2026/11/20,123/UBND-VP</edXML:DocumentId>\n"
                    "        <edXML:Code>",
                    "<edXML:Code>",
                )
            ],
            "no document id",
        ),
        # a business type outside 0-3
        ([("<edXML:BussinessDocType>0<", "<edXML:BussinessDocType>7<")], "BussinessDocType '7'"),
        # no header at all
        (
            [("<edXML:edXMLHeader>", "<edXML:Header>"), ("</edXML:edXMLHeader>", "</edXML:Header>")],
            "nothing to route",
        ),
    ],
)
def test_lenient_refuses_what_makes_a_packet_unusable(
    registry: DocTypeRegistry, validator: Validator, replacements: list[tuple[str, str]], reason: str
) -> None:
    bad = fixture_text("document_strict.edxml")
    for old, new in replacements:
        assert old in bad
        bad = bad.replace(old, new)
    root = parse(bad)
    problem = refusal(validator.validate_xml, registry.get("edxml.document"), root, profile="lenient")
    assert "unusable even under the lenient profile" in problem.detail
    assert any(reason in e["message"] for e in problem.errors), problem.errors
    assert all(e["location"].startswith("line ") for e in problem.errors)


def test_a_status_code_in_a_document_makes_it_a_status_that_answers_nothing(
    registry: DocTypeRegistry, validator: Validator
) -> None:
    bad = fixture_text("document_strict.edxml").replace(
        "<edXML:SteeringType>0</edXML:SteeringType>", "<edXML:StatusCode>03</edXML:StatusCode>"
    )
    root = parse(bad)
    doctype = registry.identify_xml(root)
    assert doctype.name == "edxml.status"
    problem = refusal(validator.validate_xml, doctype, root, profile="lenient")
    assert any("no recipient" in e["message"] for e in problem.errors)


@pytest.mark.parametrize(
    ("replacements", "deviation"),
    [
        # an unknown element in the message header
        ([("<edXML:Subject>", "<edXML:Foo>x</edXML:Foo><edXML:Subject>")], "Foo"),
        # the message header under another name: fields are still found by name under the header
        (
            [("<edXML:MessageHeader>", "<edXML:Header>"), ("</edXML:MessageHeader>", "</edXML:Header>")],
            "Header",
        ),
        # a priority outside 0-4 (nothing the hub routes on)
        ([("<edXML:Priority>0<", "<edXML:Priority>9<")], "Priority"),
    ],
)
def test_lenient_records_what_the_hub_does_not_need_as_a_warning(
    registry: DocTypeRegistry, validator: Validator, replacements: list[tuple[str, str]], deviation: str
) -> None:
    odd = fixture_text("document_strict.edxml")
    for old, new in replacements:
        odd = odd.replace(old, new)
    root = parse(odd)
    doctype = registry.get("edxml.document")
    warnings = validator.validate_xml(doctype, root, profile="lenient")
    assert any(deviation in str(w) for w in warnings), warnings
    assert extract_xml(doctype, root).sender == "000.01.02.H41"
    refusal(validator.validate_xml, doctype, root, profile="strict")


@pytest.mark.parametrize(
    ("old", "new", "deviation"),
    [
        ("<edXML:OrganId>000.03.04.H41<", "<edXML:OrganId>vxp.saas.03<", "vxp.saas.03"),
        (
            "<edXML:DocumentId>000.01.02.H41,2026/11/20,123/UBND-VP</edXML:DocumentId>\n        <edXML:Code>",
            "<edXML:DocumentId>3f2b8c1e-5d4a-4e8f-9b7c-2a1d0e6f4c3b</edXML:DocumentId>\n        <edXML:Code>",
            "3f2b8c1e-5d4a-4e8f-9b7c-2a1d0e6f4c3b",
        ),
        ("<edXML:SignerInfo>", "<edXML:SignerInfoX>", None),
    ],
)
def test_lenient_accepts_axis_deviations(
    registry: DocTypeRegistry, validator: Validator, old: str, new: str, deviation: str | None
) -> None:
    text = fixture_text("document_strict.edxml")
    if deviation is None:  # a missing header field: drop SignerInfo entirely
        start = text.index("        <edXML:SignerInfo>")
        end = text.index("</edXML:SignerInfo>\n") + len("</edXML:SignerInfo>\n")
        bad = text[:start] + text[end:]
        deviation = "SignerInfo"
    else:
        bad = text.replace(old, new, 1)
    root = parse(bad)
    doctype = registry.identify_xml(root)
    warnings = validator.validate_xml(doctype, root, profile="lenient")
    assert any(deviation in str(w) for w in warnings), warnings
    refusal(validator.validate_xml, doctype, root, profile="strict")


# ------------------------------------------------------------------------------------------------
# JSON


@pytest.mark.parametrize("name", JSON_TYPES)
def test_json_examples_pass(registry: DocTypeRegistry, validator: Validator, name: str) -> None:
    validator.validate_json(registry.get(name), example(name))


def _json_errors(
    registry: DocTypeRegistry, validator: Validator, name: str, obj: dict[str, Any]
) -> dict[str, str]:
    problem = refusal(validator.validate_json, registry.get(name), obj)
    return {e["location"]: e["message"] for e in problem.errors}


def test_json_errors_are_located_by_pointer(registry: DocTypeRegistry, validator: Validator) -> None:
    obj = example("ems.order")
    obj["order"]["ReceiverTel"] = "call me"
    obj["order"]["SenderEmail"] = "not-an-email"
    obj["order"]["CODAmount"] = -1
    del obj["flow"]
    obj["note"] = "extra"
    errors = _json_errors(registry, validator, "ems.order", obj)
    assert set(errors) == {"/order/ReceiverTel", "/order/SenderEmail", "/order/CODAmount", "/flow", "/note"}


@pytest.mark.parametrize(
    ("name", "change", "location"),
    [
        ("ems.order", lambda o: o.update(type="ems.order", recipients=[]), "/recipients"),
        ("ems.order", lambda o: o.update(sender="Vnpost!"), "/sender"),
        ("ems.order", lambda o: o.update(dossier_number="x"), "/dossier_number"),
        ("ems.order", lambda o: o.update(flow="deliver"), "/flow"),
        ("ems.order", lambda o: o["order"].pop("ReceiverAddress"), "/order/ReceiverAddress"),
        ("ems.tracking", lambda o: o["event"].update(id="65a1f3c2"), "/event/id"),
        ("ems.tracking", lambda o: o["event"].update(event_time="yesterday"), "/event/event_time"),
        ("ems.tracking", lambda o: o.update(state="lost"), "/state"),
        ("payment.request", lambda o: o["fees"][1].update(amount=0), "/fees/1/amount"),
        ("payment.request", lambda o: o.update(currency="USD"), "/currency"),
        ("payment.request", lambda o: o.update(amount=1.5), "/amount"),
        ("payment.request", lambda o: o["payer"].update(id_number="12345"), "/payer/id_number"),
        ("payment.confirmation", lambda o: o.pop("paid_at"), "/paid_at"),
        ("payment.confirmation", lambda o: o.update(gateway="paypal"), "/gateway"),
        (
            "payment.confirmation",
            lambda o: o["gateway_response"].update(nested={"a": 1}),
            "/gateway_response/nested",
        ),
    ],
)
def test_json_violations(
    registry: DocTypeRegistry, validator: Validator, name: str, change: Any, location: str
) -> None:
    obj = example(name)
    change(obj)
    assert location in _json_errors(registry, validator, name, obj)


def test_cancel_order_needs_only_its_keys(registry: DocTypeRegistry, validator: Validator) -> None:
    obj = example("ems.order")
    obj["action"] = "cancel"
    obj["order"] = {"CustomerCode": "STPNA01", "OrderNumber": obj["dossier_number"]}
    validator.validate_json(registry.get("ems.order"), obj)
    del obj["action"]  # default create: the full order is required again
    assert "/order/ReceiverName" in _json_errors(registry, validator, "ems.order", obj)


def test_failed_payment_needs_no_paid_at(registry: DocTypeRegistry, validator: Validator) -> None:
    obj = example("payment.confirmation")
    obj["status"] = "failed"
    del obj["paid_at"]
    validator.validate_json(registry.get("payment.confirmation"), obj)


def test_errors_are_capped(registry: DocTypeRegistry) -> None:
    small = Validator(registry, max_errors=3)
    obj = example("payment.request")
    obj["fees"] = [{"code": "", "name": "", "amount": 0} for _ in range(10)]
    problem = refusal(small.validate_json, registry.get("payment.request"), obj)
    assert len(problem.errors) == 3
    text = fixture_text("document_strict.edxml").replace("000.0", "0.0")
    root = parse(text)
    problem = refusal(small.validate_xml, registry.get("edxml.document"), root, profile="strict")
    assert len(problem.errors) <= 3


# ------------------------------------------------------------------------------------------------
# extraction


def test_extract_document_fixture(registry: DocTypeRegistry) -> None:
    root = parse((FIXTURES / "document_strict.edxml").read_bytes())
    assert extract_xml(registry.get("edxml.document"), root) == Extracted(
        sender="000.01.02.H41",
        recipients=("000.00.00.H41", "000.03.04.H41"),
        correlation_key="000.01.02.H41,2026/11/20,123/UBND-VP",
        natural_key="000.01.02.H41,2026/11/20,123/UBND-VP|0|2026/11/20 09:30:00",
    )


def test_extract_status_fixture(registry: DocTypeRegistry) -> None:
    root = parse((FIXTURES / "status_strict.edxml").read_bytes())
    assert extract_xml(registry.get("edxml.status"), root) == Extracted(
        sender="000.00.00.H41",
        recipients=("000.01.02.H41",),
        correlation_key="000.01.02.H41,2026/11/20,123/UBND-VP",
        natural_key="000.01.02.H41,2026/11/20,123/UBND-VP|03|2026/11/20 10:15:00",
    )


def test_extract_sample_strips_whitespace_and_handles_missing_parts(registry: DocTypeRegistry) -> None:
    text = (SAMPLES / "status_inbox_01.edxml").read_text(encoding="utf-8")
    root = parse(
        text.replace(
            "<edXML:OrganId>000.00.00.H41</edXML:OrganId>",
            "<edXML:OrganId>\n  000.00.00.H41 \n</edXML:OrganId>",
        )
    )
    extracted = extract_xml(registry.get("edxml.status"), root)
    assert extracted.sender == "000.00.00.H41"
    assert extracted.recipients == ("000.00.00.G22",)
    assert extracted.natural_key == "000.00.00.G22,2015/09/30,7816/VPCP-TTĐT|01|2015/09/20 11:08:36"
    no_timestamp = parse(text.replace("<edXML:Timestamp>2015/09/20 11:08:36</edXML:Timestamp>", ""))
    assert extract_xml(registry.get("edxml.status"), no_timestamp).natural_key is None


def test_extract_refuses_missing_sender_or_recipients(registry: DocTypeRegistry) -> None:
    text = fixture_text("document_strict.edxml")
    no_sender = parse(
        text.replace("<edXML:OrganId>000.01.02.H41</edXML:OrganId>", "<edXML:OrganId> </edXML:OrganId>", 1)
    )
    with pytest.raises(Problem) as caught:
        extract_xml(registry.get("edxml.document"), no_sender)
    assert caught.value.slug == "schema-invalid" and "sender" in caught.value.detail
    obj = example("ems.tracking")
    obj["recipients"] = []
    with pytest.raises(Problem) as caught:
        extract_json(registry.get("ems.tracking"), obj)
    assert caught.value.slug == "schema-invalid" and "recipient" in caught.value.detail


@pytest.mark.parametrize(
    ("name", "natural_key"),
    [
        ("ems.order", "000.01.02.H41-261120-0001|return|create"),
        ("ems.tracking", "65a1f3c2e4b0a1b2c3d4e5f6"),
        ("payment.request", "PR-20261120-0001"),
        ("payment.confirmation", "PR-20261120-0001|14226112|paid|-"),
    ],
)
def test_extract_json(registry: DocTypeRegistry, name: str, natural_key: str) -> None:
    obj = example(name)
    extracted = extract_json(registry.get(name), obj)
    assert extracted.sender == obj["sender"]
    assert extracted.recipients == tuple(obj["recipients"])
    assert extracted.correlation_key == "000.01.02.H41-261120-0001"
    assert extracted.natural_key == natural_key


def test_natural_key_default(registry: DocTypeRegistry) -> None:
    obj = example("ems.order")
    del obj["action"]
    assert (
        extract_json(registry.get("ems.order"), obj).natural_key == "000.01.02.H41-261120-0001|return|create"
    )
    obj["action"] = "cancel"
    assert (
        extract_json(registry.get("ems.order"), obj).natural_key == "000.01.02.H41-261120-0001|return|cancel"
    )


# ------------------------------------------------------------------------------------------------
# configuration as data


def _copy_config(tmp_path: Path) -> tuple[Path, Path]:
    schemas = tmp_path / "schemas"
    shutil.copytree(PROJECT_ROOT / "schemas", schemas)
    config = tmp_path / "doctypes.yaml"
    shutil.copy(PROJECT_ROOT / "config" / "doctypes.yaml", config)
    return config, schemas


def test_adding_a_type_is_yaml_plus_schema(tmp_path: Path) -> None:
    config, schemas = _copy_config(tmp_path)
    (schemas / "appointment").mkdir()
    (schemas / "appointment" / "slot-1.0.schema.json").write_text(
        json.dumps(
            {
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "$id": "https://schemas.lienthong.invalid/appointment/slot-1.0.schema.json",
                "type": "object",
                "additionalProperties": False,
                "required": ["type", "sender", "recipients", "dossier_number", "state"],
                "properties": {
                    "type": {"const": "appointment.slot"},
                    "sender": {"$ref": "../common/defs-1.0.schema.json#/$defs/participantId"},
                    "recipients": {"$ref": "../common/defs-1.0.schema.json#/$defs/recipients"},
                    "dossier_number": {"$ref": "../common/defs-1.0.schema.json#/$defs/dossierNumber"},
                    "state": {"type": "integer", "minimum": 1, "maximum": 10},
                },
            }
        )
    )
    with config.open("a", encoding="utf-8") as out:
        out.write(
            "\n  - name: appointment.slot\n    format: json\n    content_types: [application/json]\n"
            "    identify: {pointer: /type, equals: appointment.slot}\n"
            "    schema: appointment/slot-1.0.schema.json\n    sender: /sender\n    recipients: /recipients\n"
            "    correlation_key: /dossier_number\n    natural_key: [/dossier_number, /state]\n"
            "    signing: jws-detached\n"
        )
    registry = DocTypeRegistry.load(config, schemas)
    validator = Validator(registry)
    obj = {
        "type": "appointment.slot",
        "sender": "000.01.02.H41",
        "recipients": ["gov-axis"],
        "dossier_number": "H41.01-2026-0001",
        "state": 4,
    }
    doctype, _ = validator.validate_document(obj)
    assert doctype.name == "appointment.slot"
    assert extract_json(doctype, obj).natural_key == "H41.01-2026-0001|4"
    obj["state"] = 11
    assert "/state" in _json_errors(registry, validator, "appointment.slot", obj)


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("schema: ems/order-1.0.schema.json", "schema: ems/missing.schema.json"),
        ("sender: /sender", "sender: sender"),
        (
            "correlation_key: e:edXMLEnvelope/e:edXMLHeader//e:ResponseFor/e:DocumentId",
            "correlation_key: e:edXMLEnvelope[[",
        ),
        ("signing: jws-detached", "signing: xmldsig-enveloped"),
        ("format: json", "format: yaml"),
        ("name: ems.tracking", "name: ems.order"),
    ],
)
def test_bad_configuration_fails_at_load(tmp_path: Path, old: str, new: str) -> None:
    config, schemas = _copy_config(tmp_path)
    text = config.read_text(encoding="utf-8")
    assert old in text
    config.write_text(text.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(DocTypeConfigError):
        DocTypeRegistry.load(config, schemas)


def test_broken_schema_fails_when_compiling(tmp_path: Path) -> None:
    config, schemas = _copy_config(tmp_path)
    (schemas / "edxml" / "status-strict.xsd").write_text(
        "<xs:schema xmlns:xs='http://www.w3.org/2001/XMLSchema'><xs:element/></xs:schema>"
    )
    registry = DocTypeRegistry.load(config, schemas)
    with pytest.raises(DocTypeConfigError):
        Validator(registry)


# ------------------------------------------------------------------------------------------------
# concurrency: one validator shared by threads gives each caller its own errors


def test_shared_validator_across_threads(registry: DocTypeRegistry, validator: Validator) -> None:
    good = (FIXTURES / "document_strict.edxml").read_bytes()
    bad = fixture_text("document_strict.edxml").replace("<edXML:Priority>0<", "<edXML:Priority>8<").encode()
    doctype = registry.get("edxml.document")
    outcomes: list[tuple[bool, bool]] = []
    lock = threading.Lock()

    def work(index: int) -> None:
        for round_ in range(30):
            expect_valid = (index + round_) % 2 == 0
            root = parse(good if expect_valid else bad)
            try:
                validator.validate_xml(doctype, root, profile="strict")
                ok = True
            except Problem as problem:
                ok = False
                assert any("Priority" in e["location"] for e in problem.errors)
            with lock:
                outcomes.append((expect_valid, ok))

    threads = [threading.Thread(target=work, args=(i,)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(outcomes) == 180
    assert all(expected == got for expected, got in outcomes)


def test_examples_are_not_mutated_by_validation(registry: DocTypeRegistry, validator: Validator) -> None:
    obj = example("ems.order")
    before = copy.deepcopy(obj)
    validator.validate_json(registry.get("ems.order"), obj)
    assert obj == before
