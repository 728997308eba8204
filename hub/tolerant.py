"""The tolerant reader of inbound edXML (the lenient profile).

Real packets from the national axis deviate from QCVN 102 in many ways at once: header children in
other orders, optional groups left out, ``null`` or empty values, system ids instead of organ ids. A
reader that validates them against the standard's sequence refuses half of real traffic, so the
lenient profile does not: it

1. **reads by name** — everything the hub needs (sender, recipients, DocumentId, business type,
   ResponseFor, replacement targets) is found by namespace-qualified element name, wherever it
   stands under the header (the paths of ``config/doctypes.yaml`` say which names);
2. **records every deviation** as a warning :class:`~hub.validation.Issue` with its location: on a
   copy of the packet it notes and drops ``null``/empty values, notes and undoes each out-of-order
   group (the standard's order is read from the type's strict XSD, so there is one source of truth),
   then validates the copy strictly — what is still wrong (missing fields, odd values, unknown
   elements) is recorded too;
3. **refuses only what makes a packet unusable** (:func:`unusable`): no header, no sender, no
   recipient, no DocumentId (correlation key), identifiers that cannot be routed, a business type or
   status code outside the standard's list, an attachment that cannot be decoded or two with the
   same content id. Parsing (hostile constructs) and signatures are refused before and after this.

The packet itself is never changed: the copy only serves to find deviations. The hub forwards the
received bytes (signed in place when unsigned).
"""

from __future__ import annotations

import base64
import binascii
import copy
import re
from collections.abc import Iterable
from dataclasses import dataclass

from lxml import etree

from hub.doctypes import EDXML_NS, XML_NULLS, DocType

_XS = "http://www.w3.org/2001/XMLSchema"
_E = f"{{{EDXML_NS}}}"
WILDCARD = "*"

#: What a routing identifier (organ id, system id) may look like: groups of letters and digits
#: joined by '.', '-' or '_' (``000.00.00.H41``, ``28.22.H17``, ``vxp.saas.03``).
IDENTIFIER = re.compile(r"[A-Za-z0-9]+(?:[._-][A-Za-z0-9]+)*")
_MAX_IDENTIFIER = 64

#: Coded values the hub acts on: outside these lists a packet means nothing the hub can route.
CODED_VALUES: dict[str, frozenset[str]] = {
    "BussinessDocType": frozenset({"0", "1", "2", "3"}),
    "StatusCode": frozenset({"01", "02", "03", "04", "05", "06", "13", "15", "16"}),
}

#: Coded elements that make the packet what it is (a status packet is one because it has a StatusCode).
MEANINGLESS_WITHOUT_VALUE = frozenset({"StatusCode"})


@dataclass(frozen=True)
class Deviation:
    """One departure from the standard (a warning) or one reason a packet is unusable."""

    location: str
    message: str


# --------------------------------------------------------------------------------------------------
# the standard's order, read from the strict XSD


def _local(qname: str | None) -> str:
    return (qname or "").rsplit(":", 1)[-1]


class SequenceTable:
    """For each element path (local names from the root), the order of its children in the standard.

    Built by walking the strict XSD from its root element declaration through named and inline
    complex types and groups. ``xs:any`` is kept as :data:`WILDCARD` (where a signature goes).
    """

    def __init__(self, orders: dict[tuple[str, ...], tuple[str, ...]]) -> None:
        self.orders = orders

    @classmethod
    def from_schema(cls, documents: Iterable[etree._ElementTree]) -> SequenceTable:
        docs = list(documents)
        types: dict[str, etree._Element] = {}
        groups: dict[str, etree._Element] = {}
        for tree in docs:
            for node in tree.getroot().iterfind(f"{{{_XS}}}complexType[@name]"):
                types[node.get("name", "")] = node
            for node in tree.getroot().iterfind(f"{{{_XS}}}group[@name]"):
                groups[node.get("name", "")] = node
        orders: dict[tuple[str, ...], tuple[str, ...]] = {}

        def particles(node: etree._Element) -> Iterable[etree._Element]:
            for child in node:
                if child.tag in (f"{{{_XS}}}sequence", f"{{{_XS}}}choice", f"{{{_XS}}}all"):
                    yield from particles(child)
                elif child.tag == f"{{{_XS}}}group" and child.get("ref"):
                    group = groups.get(_local(child.get("ref")))
                    if group is not None:
                        yield from particles(group)
                elif child.tag in (f"{{{_XS}}}element", f"{{{_XS}}}any"):
                    yield child

        def walk(path: tuple[str, ...], complex_type: etree._Element) -> None:
            if len(path) > 32 or path in orders:
                return
            names: list[str] = []
            for particle in particles(complex_type):
                if particle.tag == f"{{{_XS}}}any":
                    names.append(WILDCARD)
                    continue
                name = particle.get("name", "")
                names.append(name)
                inline = particle.find(f"{{{_XS}}}complexType")
                named = types.get(_local(particle.get("type")))
                child_type = inline if inline is not None else named
                if child_type is not None:
                    walk((*path, name), child_type)
            orders[path] = tuple(dict.fromkeys(names))

        root_decl = docs[0].getroot().find(f"{{{_XS}}}element")
        if root_decl is not None:
            inline = root_decl.find(f"{{{_XS}}}complexType")
            if inline is not None:
                walk((root_decl.get("name", ""),), inline)
        return cls(orders)

    def order_of(self, path: tuple[str, ...]) -> tuple[str, ...] | None:
        return self.orders.get(path)


# --------------------------------------------------------------------------------------------------
# locations


def element_path(element: etree._Element) -> str:
    """``/edXML/edXMLEnvelope/…/OrganId`` in local names, ``[n]`` where siblings share a name."""
    parts: list[str] = []
    current: etree._Element | None = element
    while current is not None:
        parent = current.getparent()
        name = etree.QName(current).localname
        if parent is not None:
            same = [c for c in parent if c.tag == current.tag]
            if len(same) > 1:
                name += f"[{same.index(current) + 1}]"
        parts.append(name)
        current = parent
    return "/" + "/".join(reversed(parts))


def location(element: etree._Element) -> str:
    return f"line {element.sourceline or '?'} at {element_path(element)}"


def _names(elements: Iterable[etree._Element]) -> str:
    return ", ".join(etree.QName(e).localname for e in elements)


# --------------------------------------------------------------------------------------------------
# deviations


def _is_edxml(element: object) -> bool:
    return isinstance(element, etree._Element) and isinstance(element.tag, str) and element.tag.startswith(_E)


def _drop_empty_values(root: etree._Element) -> list[Deviation]:
    """Remove (from the copy) edXML leaves whose text is empty or ``null``; report each."""
    found: list[Deviation] = []
    # deepest first, so a group emptied by the removal of its only child is reported and dropped too
    for element in reversed(list(root.iter())):
        if not _is_edxml(element) or element is root or element.attrib:
            continue
        if any(isinstance(child.tag, str) for child in element):
            continue
        text = (element.text or "").strip()
        if text and text.lower() not in XML_NULLS:
            continue
        what = f"the value {text!r} stands for no value" if text else "empty element"
        found.append(Deviation(location(element), f"{what}: ignored"))
        parent = element.getparent()
        if parent is not None:
            _remove_keeping_tail(element)
    return found


def _remove_keeping_tail(element: etree._Element) -> None:
    parent = element.getparent()
    assert parent is not None
    if element.tail:
        previous = element.getprevious()
        if previous is not None:
            previous.tail = (previous.tail or "") + element.tail
        else:
            parent.text = (parent.text or "") + element.tail
    parent.remove(element)


def _restore_order(root: etree._Element, table: SequenceTable) -> list[Deviation]:
    """Put the children of every known group of the copy in the standard's order; report each group."""
    found: list[Deviation] = []

    def visit(element: etree._Element, path: tuple[str, ...]) -> None:
        order = table.order_of(path)
        children = [c for c in element if isinstance(c.tag, str)]
        if order is not None and len(children) > 1:
            positions = {name: index for index, name in enumerate(order)}
            wildcard = positions.get(WILDCARD, len(order))

            def rank(child: etree._Element) -> int:
                if not _is_edxml(child):
                    return wildcard
                return positions.get(etree.QName(child).localname, wildcard)

            wanted = sorted(children, key=rank)  # stable: repeated elements keep their order
            if wanted != children:
                found.append(
                    Deviation(
                        location(element),
                        f"children in the order {_names(children)}; QCVN 102 orders them {_names(wanted)}",
                    )
                )
                for child in children:
                    child.tail = None
                    element.remove(child)
                element.extend(wanted)
        for child in children:
            if _is_edxml(child):
                visit(child, (*path, etree.QName(child).localname))

    visit(root, (etree.QName(root).localname,))
    return found


def _foreign_prefixes(root: etree._Element) -> list[Deviation]:
    """Outside the envelope the standard writes edXML elements with the root's prefix (none)."""
    found: list[Deviation] = []
    for top in root:
        if top.tag == f"{_E}edXMLEnvelope":
            continue  # the standard's own form prefixes the envelope and everything in it
        for element in top.iter(f"{_E}*"):
            if element.prefix != root.prefix:
                found.append(
                    Deviation(
                        location(element),
                        f"written with the prefix {element.prefix!r} (same namespace; the standard "
                        "uses the root's prefix outside the envelope)",
                    )
                )
    return found


def deviations(root: etree._Element, table: SequenceTable) -> tuple[etree._Element, list[Deviation]]:
    """A normalised copy of ``root`` (no null/empty values, standard order) and what was changed.

    The caller validates the copy strictly to find what normalising cannot explain.
    """
    normalised = copy.deepcopy(root)
    found = _foreign_prefixes(root)
    found += _drop_empty_values(normalised)
    found += _restore_order(normalised, table)
    return normalised, found


# --------------------------------------------------------------------------------------------------
# what makes a packet unusable


def unusable(doctype: DocType, root: etree._Element) -> list[Deviation]:
    """The reasons the hub cannot use this packet at all (empty = usable). Reads by name only."""
    reasons: list[Deviation] = []
    header = root.find(f"{_E}edXMLEnvelope/{_E}edXMLHeader")
    if header is None:
        return [Deviation(location(root), "no edXMLEnvelope/edXMLHeader: nothing to route")]
    compiled = doctype.compiled
    senders = list(dict.fromkeys(compiled.sender.values(root)))
    if not senders:
        reasons.append(Deviation(location(header), f"no sender ({doctype.sender})"))
    elif len(senders) > 1:
        reasons.append(Deviation(location(header), f"more than one sender: {', '.join(senders)}"))
    recipients = compiled.recipients.values(root)
    if not recipients:
        reasons.append(Deviation(location(header), f"no recipient ({doctype.recipients})"))
    for value in [*senders, *recipients]:
        if not IDENTIFIER.fullmatch(value) or len(value) > _MAX_IDENTIFIER:
            reasons.append(
                Deviation(location(header), f"{value!r} cannot be routed: not an organ or system id")
            )
    if not compiled.correlation_key.values(root):
        reasons.append(Deviation(location(header), f"no document id ({doctype.correlation_key})"))
    for name, allowed in CODED_VALUES.items():
        for element in header.iter(f"{_E}{name}"):
            value = (element.text or "").strip()
            if name in MEANINGLESS_WITHOUT_VALUE and (not value or value.lower() in XML_NULLS):
                reasons.append(
                    Deviation(location(element), f"{name} without a value: the packet says nothing")
                )
            elif value and value.lower() not in XML_NULLS and value not in allowed:
                reasons.append(
                    Deviation(location(element), f"{name} {value!r} is none of {', '.join(sorted(allowed))}")
                )
    reasons += _attachment_problems(root)
    return reasons


def _attachment_problems(root: etree._Element) -> list[Deviation]:
    reasons: list[Deviation] = []
    for group, item in (("edXMLManifest", "Reference"), ("AttachmentEncoded", "Attachment")):
        seen: set[str] = set()
        for container in root.iter(f"{_E}{group}"):
            for element in container.iterfind(f"{_E}{item}"):
                content_id = (element.findtext(f"{_E}ContentId") or "").strip()
                if content_id and content_id in seen:
                    reasons.append(Deviation(location(element), f"content id {content_id!r} appears twice"))
                seen.add(content_id)
    for encoded in root.iter(f"{_E}ContentTransferEncoded"):
        data = "".join((encoded.text or "").split())
        try:
            base64.b64decode(data, validate=True)
        except (binascii.Error, ValueError):
            reasons.append(Deviation(location(encoded), "the attachment is not base64: it cannot be decoded"))
    return reasons
