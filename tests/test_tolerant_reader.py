"""The tolerant reader (lenient profile) against generated variations of real and strict packets.

Every base packet — the two strict fixtures, the SDK's samples and the packets captured from the axis —
is varied the way real traffic varies: the children of every header group in another order, optional
elements left out, values written as ``null`` or empty. Whatever the variation, the reader finds the
same sender, recipients and DocumentId, and records each deviation as a located warning; a variation
that takes away what routing needs is refused. Hypothesis draws the variations (bounded by
``max_examples``, never by time).
"""

from __future__ import annotations

import copy
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from hub.doctypes import EDXML_NS, DocType, DocTypeRegistry, extract_xml
from hub.problems import Problem
from hub.settings import PROJECT_ROOT, Settings
from hub.tolerant import SequenceTable
from hub.validation import Validator

SAMPLES = PROJECT_ROOT / "tests" / "fixtures" / "samples-edxml"
FIXTURES = PROJECT_ROOT / "tests" / "fixtures" / "edxml"
BASES = [*sorted(p.name for p in SAMPLES.glob("*.edxml")), "document_strict.edxml", "status_strict.edxml"]
REAL_AND_SDK = [p.name for p in SAMPLES.glob("*.edxml")]
E = f"{{{EDXML_NS}}}"
LOCATED = re.compile(r"line [0-9?]+ at /edXML(/[A-Za-z][A-Za-z0-9]*(\[[0-9]+\])?)*$")
PROPERTY = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(scope="module")
def registry() -> DocTypeRegistry:
    s = Settings()
    return DocTypeRegistry.load(s.doctypes_file, s.schemas_dir)


@pytest.fixture(scope="module")
def validator(registry: DocTypeRegistry) -> Validator:
    return Validator(registry)


def load(name: str) -> etree._Element:
    path = SAMPLES / name if (SAMPLES / name).exists() else FIXTURES / name
    data = path.read_bytes()
    return etree.fromstring(
        data[data.index(b"<") :], etree.XMLParser(resolve_entities=False, no_network=True)
    )


def needed(doctype: DocType, root: etree._Element) -> set[etree._Element]:
    """The elements holding what routing needs, and their ancestors: never dropped nor nulled."""
    keep: set[etree._Element] = set()
    compiled = doctype.compiled
    for path in (compiled.sender, compiled.recipients, compiled.correlation_key):
        assert path.xpath is not None
        for element in path.xpath(root):
            keep.add(element)
            keep.update(element.iterancestors())
    for element in root.iter(f"{E}StatusCode"):  # what makes a status packet one
        keep.add(element)
        keep.update(element.iterancestors())
    return keep


def header(root: etree._Element) -> etree._Element:
    found = root.find(f"{E}edXMLEnvelope/{E}edXMLHeader")
    assert found is not None
    return found


def groups(root: etree._Element) -> list[etree._Element]:
    """Every element of the header with at least two child elements (the edXML Signature aside)."""
    return [
        element
        for element in header(root).iter(f"{E}*")
        if len([c for c in element if isinstance(c.tag, str)]) > 1 and element.tag != f"{E}Signature"
    ]


def reorder(element: etree._Element, order: list[etree._Element]) -> None:
    for child in list(element):
        element.remove(child)
    element.extend(order)


@st.composite
def variation(draw: st.DrawFn, base: etree._Element, doctype: DocType) -> tuple[etree._Element, bool]:
    """A copy of ``base`` with reorderings, absences and null/empty values; and whether it differs."""
    root = copy.deepcopy(base)
    keep = needed(doctype, root)
    for element in groups(root):
        children = [c for c in element if isinstance(c.tag, str)]
        reorder(element, draw(st.permutations(children)))
    optional = [
        e
        for e in header(root).iter(f"{E}*")
        if e not in keep and e is not header(root) and e.getparent() is not None
    ]
    for element in draw(st.lists(st.sampled_from(optional), max_size=4, unique=True)) if optional else []:
        if any(a is header(root) for a in element.iterancestors()):
            element.getparent().remove(element)
    leaves = [
        e
        for e in header(root).iter(f"{E}*")
        if e not in keep and not any(isinstance(c.tag, str) for c in e) and e.tag != f"{E}Signature"
    ]
    for element in draw(st.lists(st.sampled_from(leaves), max_size=3, unique=True)) if leaves else []:
        element.text = draw(st.sampled_from(["null", "", " ", "NULL"]))
    changed = etree.tostring(root, method="c14n") != etree.tostring(base, method="c14n")
    return root, changed


@pytest.mark.parametrize("name", BASES)
def test_every_variation_of_a_real_packet_is_read_the_same(
    registry: DocTypeRegistry, validator: Validator, name: str
) -> None:
    base = load(name)
    doctype = registry.identify_xml(base)
    facts = extract_xml(doctype, base)

    @PROPERTY
    @given(variation(base, doctype))
    def check(varied: tuple[etree._Element, bool]) -> None:
        root, changed = varied
        assert registry.identify_xml(root).name == doctype.name
        warnings = validator.validate_xml(doctype, root, profile="lenient")
        found = extract_xml(doctype, root)
        assert (found.sender, set(found.recipients), found.correlation_key) == (
            facts.sender,
            set(facts.recipients),
            facts.correlation_key,
        )
        assert [w for w in warnings if not LOCATED.match(w.location)] == []
        if changed and name.endswith("_strict.edxml"):
            assert warnings, "a deviation from a strict packet is recorded"

    check()


@pytest.mark.parametrize("name", BASES)
def test_a_variation_without_sender_recipient_or_document_id_is_refused(
    registry: DocTypeRegistry, validator: Validator, name: str
) -> None:
    base = load(name)
    doctype = registry.identify_xml(base)
    compiled = doctype.compiled
    paths = {
        "sender": compiled.sender,
        "recipient": compiled.recipients,
        "document id": compiled.correlation_key,
    }

    @PROPERTY
    @given(variation(base, doctype), st.sampled_from(sorted(paths)), st.sampled_from(["null", "", "Null"]))
    def check(varied: tuple[etree._Element, bool], field: str, blank: str) -> None:
        root, _ = varied
        assert paths[field].xpath is not None
        for element in paths[field].xpath(root):
            element.text = blank
        with pytest.raises(Problem) as caught:
            validator.validate_xml(doctype, root, profile="lenient")
        assert caught.value.slug == "schema-invalid"
        assert any(f"no {field}" in e["message"] for e in caught.value.errors), caught.value.errors

    check()


def test_the_order_table_comes_from_the_strict_xsd() -> None:
    schemas = PROJECT_ROOT / "schemas" / "edxml"
    docs = [etree.parse(str(schemas / f)) for f in ("document-strict.xsd", "qcvn102-common-strict.xsd")]
    table = SequenceTable.from_schema(docs)
    head = ("edXML", "edXMLEnvelope", "edXMLHeader")
    assert table.order_of(head) == ("MessageHeader", "TraceHeaderList", "*")
    assert table.order_of((*head, "TraceHeaderList")) == ("TraceHeader", "Bussiness")
    assert table.order_of((*head, "MessageHeader", "From"))[:3] == (
        "OrganId",
        "OrganizationInCharge",
        "OrganName",
    )
    assert table.order_of(("edXML", "AttachmentEncoded", "Attachment"))[-1] == "ContentTransferEncoded"


def test_a_reordering_is_recorded_where_it_is(registry: DocTypeRegistry, validator: Validator) -> None:
    root = load("real-1da394ba-2117-4354-a23f-6ec3e47ba81b.edxml")
    warnings = [str(w) for w in validator.validate_xml(registry.identify_xml(root), root, profile="lenient")]
    assert (
        "line 45 at /edXML/edXMLEnvelope/edXMLHeader/TraceHeaderList: children in the order Bussiness, "
        "TraceHeader; QCVN 102 orders them TraceHeader, Bussiness"
    ) in warnings
    assert any("ContentTransferEncoded: written with the prefix 'edXML'" in w for w in warnings)


def test_an_empty_response_for_and_a_null_trace_organ_are_recorded(
    registry: DocTypeRegistry, validator: Validator
) -> None:
    root = load("real-852e179c-8eca-4502-ac38-0b97321f29c3.edxml")
    header(root).find(f"{E}TraceHeaderList/{E}TraceHeader/{E}OrganId").text = "null"
    warnings = [str(w) for w in validator.validate_xml(registry.identify_xml(root), root, profile="lenient")]
    assert (
        "line 57 at /edXML/edXMLEnvelope/edXMLHeader/MessageHeader/ResponseFor: empty element: ignored"
        in warnings
    )
    assert any("TraceHeader[1]/OrganId: the value 'null' stands for no value" in w for w in warnings), (
        warnings
    )


@pytest.mark.parametrize("name", ["document_strict.edxml", "status_strict.edxml", *sorted(REAL_AND_SDK)])
def test_each_element_the_hub_does_not_need_may_be_absent_or_null_one_at_a_time(
    registry: DocTypeRegistry, validator: Validator, name: str
) -> None:
    """Exhaustive where hypothesis samples: every header element, alone, absent; every leaf, alone, null."""
    base = load(name)
    doctype = registry.identify_xml(base)
    facts = extract_xml(doctype, base)
    positions = [i for i, e in enumerate(header(base).iter(f"{E}*")) if e not in needed(doctype, base)]
    assert positions
    for index in positions:
        for change in ("absent", "null"):
            root = copy.deepcopy(base)
            element = list(header(root).iter(f"{E}*"))[index]
            if change == "absent":
                element.getparent().remove(element)
            elif any(isinstance(c.tag, str) for c in element):
                continue  # a group: "null" is for values
            else:
                element.text = "null"
            validator.validate_xml(doctype, root, profile="lenient")  # no refusal
            found = extract_xml(doctype, root)
            assert (found.sender, set(found.recipients), found.correlation_key) == (
                facts.sender,
                set(facts.recipients),
                facts.correlation_key,
            ), (change, etree.QName(element).localname)
