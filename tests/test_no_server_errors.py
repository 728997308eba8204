"""No input yields a 5xx, and a mutated document is accepted only while it is still valid.

Hypothesis mutates valid documents — their bytes, their structure, the parts of their signature,
the strings of JSON documents (lone surrogates included) — and posts each to a live hub. Every answer
is below 500 (a refusal is problem+json, recorded); whatever the hub accepts must still pass checks
written without the hub's code: the signature by tests.independent_verify, the XML by libxml2's XSD
validator (the hub uses xmlschema), the JSON by python-jsonschema (the hub uses jsonschema-rs).
Bounded by example counts, never by time: 40 per property (``LIENTHONG_TEST_MUTATIONS=400`` for a
deeper search; that search found the unreadable-certificate and non-ASCII base64 cases).
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree
from referencing import Registry, Resource

from tests.hubtest import EXAMPLES, FIXTURES, RunningHub, running_hub
from tests.independent_verify import verify_xmldsig_independently
from tests.test_intake_api import AGENCY, NS, signed_by

SCHEMAS = Path(__file__).resolve().parent.parent / "schemas"
DS = "{http://www.w3.org/2000/09/xmldsig#}"
EXAMPLES_BUDGET = settings(
    max_examples=int(os.environ.get("LIENTHONG_TEST_MUTATIONS", "40")),  # 400+ for a deeper search
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    database=None,
)


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningHub]:
    with running_hub(tmp_path_factory.mktemp("hub"), workers=0) as running:
        yield running


UNSIGNED = (
    (FIXTURES / "edxml" / "document_strict.edxml").read_bytes().replace(b"123/UBND-VP", b"9191/UBND-VP")
)
SIGNED = signed_by(AGENCY, UNSIGNED.replace(b"9191/UBND-VP", b"9292/UBND-VP"))
XSD = etree.XMLSchema(etree.parse(str(SCHEMAS / "edxml" / "document-strict.xsd")))


def json_schemas() -> tuple[Registry, dict[str, dict]]:
    resources, by_type = [], {}
    for path in SCHEMAS.glob("*/*.schema.json"):
        schema = json.loads(path.read_text(encoding="utf-8"))
        resources.append((schema["$id"], Resource.from_contents(schema)))
    registry = Registry().with_resources(resources)
    for name, relative in {
        "ems.order": "ems/order-1.0.schema.json",
        "ems.tracking": "ems/tracking-1.0.schema.json",
        "payment.request": "payment/request-1.0.schema.json",
        "payment.confirmation": "payment/confirmation-1.0.schema.json",
    }.items():
        by_type[name] = json.loads((SCHEMAS / relative).read_text(encoding="utf-8"))
    return registry, by_type


REGISTRY, JSON_SCHEMAS = json_schemas()


def answered_without_failing(response: httpx.Response) -> bool:
    """Below 500; a refusal is problem+json with a type. True when the document was accepted."""
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        assert response.headers["content-type"].startswith("application/problem+json"), response.text
        assert response.json()["type"].startswith("/problems/")
        return False
    assert response.status_code in (200, 202), response.text
    return True


def still_valid_xml(data: bytes, *, signed: bool) -> None:
    """What the hub accepted, checked by implementations we did not write."""
    data.decode("utf-8")  # UTF-8 only
    root = etree.fromstring(data, etree.XMLParser(resolve_entities=False, no_network=True))
    header = root.find(".//e:edXMLHeader", NS)
    assert header is not None
    assert not list(header.iter(etree.Comment, etree.ProcessingInstruction)), "no comment in the header"
    if signed:
        verify_xmldsig_independently(data)
        for signature in root.iter(f"{DS}Signature"):
            signature.getparent().remove(signature)
    assert XSD.validate(root), XSD.error_log


def still_valid_json(data: bytes) -> None:
    obj = json.loads(data.decode("utf-8"))
    json.dumps(obj, ensure_ascii=False).encode("utf-8")  # no lone surrogate anywhere
    validator = jsonschema.Draft202012Validator(JSON_SCHEMAS[obj["type"]], registry=REGISTRY)
    errors = [error.message for error in validator.iter_errors(obj)]
    assert not errors, errors


# -- byte mutations ----------------------------------------------------------------------------------


@st.composite
def mutated_bytes(draw: st.DrawFn, original: bytes) -> bytes:
    data = bytearray(original)
    for _ in range(draw(st.integers(1, 3))):
        position = draw(st.integers(0, len(data)))
        operation = draw(st.sampled_from(["flip", "insert", "delete"]))
        if operation == "flip" and position < len(data):
            data[position] = draw(st.integers(0, 255))
        elif operation == "insert":
            data[position:position] = draw(st.binary(min_size=1, max_size=8))
        else:
            del data[position : position + draw(st.integers(1, 16))]
    return bytes(data)


@EXAMPLES_BUDGET
@given(data=st.data())
def test_mutated_bytes_of_a_signed_document(hub: RunningHub, data: st.DataObject) -> None:
    mutated = data.draw(mutated_bytes(SIGNED))
    if answered_without_failing(hub.post(mutated, as_=AGENCY)):
        still_valid_xml(mutated, signed=True)


@EXAMPLES_BUDGET
@given(data=st.data())
def test_mutated_bytes_of_an_unsigned_document(hub: RunningHub, data: st.DataObject) -> None:
    mutated = data.draw(mutated_bytes(UNSIGNED))
    if answered_without_failing(hub.post(mutated, as_=AGENCY)):
        still_valid_xml(mutated, signed=False)


# -- structural mutations ----------------------------------------------------------------------------

ODD_TEXT = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["", " ", "000.01.02.H41", "000.00.00.H40", "x" * 300, "\u0000", "]]>", "<a/>", "&amp;"]),
)


def _text_ok(text: str) -> bool:
    try:
        etree.Element("x").text = text  # XML 1.0 cannot hold every character
    except ValueError:
        return False
    return True


@EXAMPLES_BUDGET
@given(data=st.data())
def test_structural_mutations_of_a_document(hub: RunningHub, data: st.DataObject) -> None:
    root = etree.fromstring(UNSIGNED)
    elements = list(root.iter(etree.Element))[1:]
    target = data.draw(st.sampled_from(elements))
    operation = data.draw(
        st.sampled_from(["remove", "duplicate", "text", "comment", "pi", "attribute", "rename"])
    )
    if operation == "remove":
        target.getparent().remove(target)
    elif operation == "duplicate":
        target.addnext(etree.fromstring(etree.tostring(target)))
    elif operation == "text":
        text = data.draw(ODD_TEXT.filter(_text_ok))
        target.text = text
    elif operation == "comment":
        target.insert(0, etree.Comment("inserted"))
    elif operation == "pi":
        target.insert(0, etree.ProcessingInstruction("target", "data"))
    elif operation == "attribute":
        target.set("injected", "1")
    else:
        target.tag = target.tag + "X"
    mutated = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
    if answered_without_failing(hub.post(mutated, as_=AGENCY)):
        still_valid_xml(mutated, signed=False)


# -- signature parts ---------------------------------------------------------------------------------

SIGNATURE_PARTS = [
    f"{DS}SignatureValue",
    f"{DS}SignedInfo/{DS}Reference/{DS}DigestValue",
    f"{DS}KeyInfo/{DS}X509Data/{DS}X509Certificate",
    f"{DS}SignedInfo/{DS}SignatureMethod",
    f"{DS}SignedInfo/{DS}CanonicalizationMethod",
    f"{DS}SignedInfo/{DS}Reference",
    f"{DS}SignedInfo/{DS}Reference/{DS}Transforms/{DS}Transform",
    f"{DS}SignedInfo/{DS}Reference/{DS}DigestMethod",
    f"{DS}KeyInfo",
    f"{DS}SignedInfo",
]
ALGORITHM_VALUES = st.sampled_from(
    [
        "",
        "http://www.w3.org/2000/09/xmldsig#rsa-sha1",
        "http://www.w3.org/2000/09/xmldsig#hmac-sha1",
        "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
        "http://www.w3.org/2001/04/xmlenc#sha256",
        "http://www.w3.org/TR/1999/REC-xpath-19991116",
        "http://www.w3.org/TR/1999/REC-xslt-19991116",
        "http://www.w3.org/2000/09/xmldsig#base64",
        "urn:nonsense",
    ]
)


@EXAMPLES_BUDGET
@given(data=st.data())
def test_mutated_signature_parts(hub: RunningHub, data: st.DataObject) -> None:
    root = etree.fromstring(SIGNED)
    signature = next(root.iter(f"{DS}Signature"))
    part = signature.find(data.draw(st.sampled_from(SIGNATURE_PARTS)))
    operation = data.draw(st.sampled_from(["remove", "empty", "text", "base64", "algorithm", "uri", "twice"]))
    if operation == "remove":
        part.getparent().remove(part)
    elif operation == "empty":
        part.text = None
        for child in list(part):
            part.remove(child)
    elif operation == "text":
        part.text = data.draw(ODD_TEXT.filter(_text_ok))
    elif operation == "base64":
        part.text = base64.b64encode(data.draw(st.binary(max_size=300))).decode()
    elif operation == "algorithm":
        part.set("Algorithm", data.draw(ALGORITHM_VALUES))
    elif operation == "uri":
        part.set("URI", data.draw(st.sampled_from(["", "#", "#x", "#xpointer(/)", "http://127.0.0.1:9/x"])))
    else:
        part.addnext(etree.fromstring(etree.tostring(part)))
    mutated = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
    if answered_without_failing(hub.post(mutated, as_=AGENCY)):
        still_valid_xml(mutated, signed=True)


# -- JSON strings, surrogates included ---------------------------------------------------------------

JSON_NAMES = ["ems.order", "ems.tracking", "payment.request", "payment.confirmation"]
ESCAPES = st.lists(
    st.sampled_from(["\\ud800", "\\udfff", "\\ud83d\\ude00", "\\ud83d", "\\u0000", "\\\\", '\\"', "a", "é"]),
    min_size=1,
    max_size=4,
).map("".join)


def string_paths(value: object, path: tuple = ()) -> list[tuple]:
    if isinstance(value, dict):
        return [p for key, item in value.items() for p in string_paths(item, (*path, key))]
    if isinstance(value, list):
        return [p for index, item in enumerate(value) for p in string_paths(item, (*path, index))]
    return [path] if isinstance(value, str) else []


@EXAMPLES_BUDGET
@given(data=st.data())
def test_json_strings_mutated_lone_surrogates_included(hub: RunningHub, data: st.DataObject) -> None:
    name = data.draw(st.sampled_from(JSON_NAMES))
    obj = json.loads((EXAMPLES / f"{name}.json").read_text(encoding="utf-8"))
    sender = obj["sender"]  # the token is the example's sender, whatever becomes of the field
    path = data.draw(st.sampled_from(string_paths(obj)))
    marker = "\u2063MUTATED\u2063"
    holder = obj
    for key in path[:-1]:
        holder = holder[key]
    holder[path[-1]] = marker
    # The replacement is spliced in as raw JSON text, so escapes such as \ud800 reach the hub's parser.
    raw = data.draw(st.one_of(ESCAPES, st.text(max_size=30).map(lambda t: json.dumps(t)[1:-1])))
    body = json.dumps(obj, ensure_ascii=False).replace(marker, raw).encode("utf-8", "surrogatepass")
    response = hub.post(body, as_=sender, content_type="application/json")
    if answered_without_failing(response):
        still_valid_json(body)


@EXAMPLES_BUDGET
@given(data=st.data())
def test_mutated_bytes_of_a_json_document(hub: RunningHub, data: st.DataObject) -> None:
    name = data.draw(st.sampled_from(JSON_NAMES))
    original = (EXAMPLES / f"{name}.json").read_bytes()
    sender = json.loads(original)["sender"]
    mutated = data.draw(mutated_bytes(original))
    response = hub.post(mutated, as_=sender, content_type="application/json")
    if answered_without_failing(response):
        still_valid_json(mutated)


def test_the_refusals_were_recorded_and_the_hub_still_serves(hub: RunningHub) -> None:
    # Runs after the properties above (file order): every refusal left its event, none crashed the hub.
    import sqlalchemy as sa

    engine = sa.create_engine(hub.settings.effective_database_url)
    with engine.connect() as conn:
        refused = conn.execute(sa.text("SELECT count(*) FROM events WHERE kind = 'message.refused'")).scalar()
        problems = conn.execute(
            sa.text(
                "SELECT count(*) FROM events WHERE kind = 'message.refused' AND data LIKE '%internal-error%'"
            )
        ).scalar()
    engine.dispose()
    assert refused > 0 and problems == 0
    assert hub.client.get("/healthz").status_code == 200
