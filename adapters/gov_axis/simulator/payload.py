"""Hardened XML parsing for both faces, and the light edXML check the axis makes on a sent packet.

The axis only checks that a packet is well-formed edXML (root ``edXML`` in the QCVN 102 namespace) and
reads its subject and notation for ``getSentEdocList``; it stores and forwards the bytes unchanged.
Like the real axis it tolerates stray bytes before the XML declaration (the SDK's own sample has them).
"""

from __future__ import annotations

from dataclasses import dataclass

from lxml import etree

from .errors import AxisError, ErrorCode

EDXML_NS = "http://www.mic.gov.vn/TBT/QCVN_102_2016"


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_pis=True,
    )


def _depth_exceeds(root: etree._Element, limit: int) -> bool:
    stack = [(root, 1)]
    while stack:
        element, depth = stack.pop()
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in element)
    return False


def safe_parse(data: bytes, max_depth: int) -> etree._Element:
    """Parse untrusted XML: no DTD, no entities, no network, bounded depth. Raises ``ValueError``."""
    try:
        tree = etree.fromstring(data, _parser()).getroottree()
    except etree.XMLSyntaxError as exc:
        raise ValueError(f"not well-formed XML: {exc}") from exc
    if tree.docinfo.doctype or tree.docinfo.internalDTD is not None:
        raise ValueError("a DOCTYPE is not allowed")
    root = tree.getroot()
    if _depth_exceeds(root, max_depth):
        raise ValueError(f"the XML nests deeper than {max_depth}")
    return root


@dataclass(frozen=True)
class EdxmlSummary:
    title: str
    notation: str


def inspect_edxml(content: bytes, max_depth: int) -> EdxmlSummary:
    """Check ``content`` is well-formed edXML and read its subject and notation (empty when absent)."""
    start = content.find(b"<")
    if start < 0:
        raise AxisError(ErrorCode.PAYLOAD_INVALID, "the packet is not XML")
    try:
        root = safe_parse(content[start:], max_depth)
    except ValueError as exc:
        raise AxisError(ErrorCode.PAYLOAD_INVALID, str(exc)) from exc
    if root.tag != f"{{{EDXML_NS}}}edXML":
        raise AxisError(ErrorCode.PAYLOAD_INVALID, f"the root element is {root.tag!s}, not edXML of QCVN 102")
    ns = {"e": EDXML_NS}
    subject = root.findtext(".//e:MessageHeader/e:Subject", default="", namespaces=ns)
    number = root.findtext(".//e:MessageHeader/e:Code/e:CodeNumber", default="", namespaces=ns)
    notation = root.findtext(".//e:MessageHeader/e:Code/e:CodeNotation", default="", namespaces=ns)
    code = "/".join(part.strip() for part in (number, notation) if part.strip())
    return EdxmlSummary(title=subject.strip(), notation=code)
