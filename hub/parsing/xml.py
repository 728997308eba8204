"""Hardened XML parsing: no entity expansion, no DTD, no network, bounded size and depth.

The parser never resolves entities or loads external resources; a document that declares a DTD
(internal or external) or contains entity references is refused outright rather than parsed with
the construct ignored, so that what the hub signs is exactly what it validated.

The lenient profile (for packets from the national axis) additionally tolerates stray bytes before
the first ``<`` (seen in real packets) and reports each such repair as a warning.

Documents must be UTF-8, in both profiles: a UTF-8 byte order mark is tolerated with a warning; any
other declared encoding (``<?xml … encoding="ISO-8859-1"?>``) or detected one (a UTF-16/32 byte order
mark, or the zero bytes of UTF-16 around the first ``<``) is refused with ``encoding-not-utf8``. One
encoding everywhere means the bytes the hub signs, records and forwards read the same to every receiver.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

from lxml import etree

from hub.problems import Problem


def _new_parser() -> etree.XMLParser:
    """No entities, no network, no DTD, no huge trees; comments and PIs kept (they are evidence).
    A fresh parser per call: lxml parsers are not thread-safe, and creating one costs ~1 µs."""
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=False,
        remove_pis=False,
    )


@dataclass(frozen=True)
class XmlLimits:
    max_bytes: int = 32 * 1024 * 1024
    max_depth: int = 100


@dataclass
class ParsedXml:
    """A parsed document: its root, the bytes that were parsed, and repairs made (lenient only)."""

    root: etree._Element
    data: bytes
    warnings: list[str] = field(default_factory=list)


UTF8_BOM = b"\xef\xbb\xbf"
# Longest first: a UTF-32 LE mark begins with the UTF-16 LE one.
_OTHER_BYTE_ORDER_MARKS = (
    (b"\xff\xfe\x00\x00", "UTF-32"),
    (b"\x00\x00\xfe\xff", "UTF-32"),
    (b"\xff\xfe", "UTF-16"),
    (b"\xfe\xff", "UTF-16"),
)
_DECLARED_ENCODING = re.compile(rb"""\s*<\?xml\s[^>]*?\bencoding\s*=\s*["']([^"']*)["']""")
_UTF8_NAMES = frozenset({"utf-8", "utf8"})


def _refuse_other_byte_order(data: bytes) -> None:
    for mark, name in _OTHER_BYTE_ORDER_MARKS:
        if data.startswith(mark):
            raise Problem("encoding-not-utf8", f"the document is {name} (byte order mark); send UTF-8")
    head = data.lstrip(b" \t\r\n")[:4]
    if head[:2] in (b"\x00<", b"<\x00") or head[:4] in (b"\x00\x00\x00<", b"<\x00\x00\x00"):
        raise Problem("encoding-not-utf8", "the document is UTF-16 or UTF-32 (zero bytes); send UTF-8")


def _refuse_declared_encoding(data: bytes) -> None:
    declared = _DECLARED_ENCODING.match(data.removeprefix(UTF8_BOM))
    if declared and declared.group(1).decode("ascii", "replace").strip().lower() not in _UTF8_NAMES:
        name = declared.group(1).decode("ascii", "replace")
        raise Problem("encoding-not-utf8", f"the document declares encoding {name!r}; send UTF-8")


def _strip_stray_prefix(data: bytes, warnings: list[str]) -> bytes:
    start = data.find(b"<")
    if start > 0 and data[:start].strip(b" \t\r\n\xef\xbb\xbf"):
        warnings.append(f"{start} stray byte(s) before the XML declaration removed")
        return data[start:]
    return data


@lru_cache(maxsize=8)
def _deeper_than(max_depth: int) -> etree.XPath:
    """True when an element lies deeper than `max_depth` levels, the root being level 1: evaluated in
    libxml2, not by a walk of every node in Python (a quarter of parsing a 5 KB edXML,
    bench/FINDINGS.md)."""
    return etree.XPath("boolean(" + "/".join(["*"] * max_depth) + ")")


def _check_depth(root: etree._Element, max_depth: int) -> None:
    if max_depth < 1 or _deeper_than(max_depth)(root):
        raise Problem("xml-too-deep", f"elements nest deeper than {max_depth} levels")


def _classify_syntax_error(data: bytes, error: etree.XMLSyntaxError) -> Problem:
    message = str(error)
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as bad:
        return Problem("invalid-encoding", f"the body is not valid UTF-8 at byte {bad.start}")
    lowered = message.lower()
    if "entity" in lowered or "doctype" in lowered or "dtd" in lowered:
        return Problem("xml-forbidden-construct", f"forbidden XML construct: {message}")
    if "depth" in lowered or "nested too deep" in lowered:
        return Problem("xml-too-deep", message)
    return Problem(
        "xml-malformed", message, errors=[{"location": f"line {error.lineno}", "message": message}]
    )


def parse_xml(data: bytes, *, limits: XmlLimits = XmlLimits(), lenient: bool = False) -> ParsedXml:
    """Parse untrusted XML bytes or raise :class:`Problem`."""
    if len(data) > limits.max_bytes:
        raise Problem("body-too-large", f"{len(data)} bytes exceed the limit of {limits.max_bytes}")
    warnings: list[str] = []
    _refuse_other_byte_order(data)
    if lenient:
        data = _strip_stray_prefix(data, warnings)
    _refuse_declared_encoding(data)
    if data.startswith(UTF8_BOM):
        warnings.append("a UTF-8 byte order mark precedes the document (tolerated)")
    try:
        root = etree.fromstring(data, _new_parser())
    except etree.XMLSyntaxError as error:
        raise _classify_syntax_error(data, error) from None
    tree = root.getroottree()
    if (tree.docinfo.encoding or "UTF-8").lower() not in _UTF8_NAMES:  # belt and braces
        raise Problem("encoding-not-utf8", f"the document is {tree.docinfo.encoding}; send UTF-8")
    if tree.docinfo.doctype or tree.docinfo.internalDTD is not None:
        raise Problem("xml-forbidden-construct", "a DOCTYPE declaration is not allowed")
    for _ in root.iter(etree.Entity):
        raise Problem("xml-forbidden-construct", "entity references are not allowed")
    _check_depth(root, limits.max_depth)
    return ParsedXml(root=root, data=data, warnings=warnings)
