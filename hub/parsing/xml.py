"""Hardened XML parsing: no entity expansion, no DTD, no network, bounded size and depth.

The parser never resolves entities or loads external resources; a document that declares a DTD
(internal or external) or contains entity references is refused outright rather than parsed with
the construct ignored, so that what the hub signs is exactly what it validated.

The lenient profile (for packets from the national axis) additionally tolerates stray bytes before
the first ``<`` (seen in real packets) and reports each such repair as a warning.
"""

from __future__ import annotations

from dataclasses import dataclass, field

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


def _strip_stray_prefix(data: bytes, warnings: list[str]) -> bytes:
    start = data.find(b"<")
    if start > 0 and data[:start].strip(b" \t\r\n\xef\xbb\xbf"):
        warnings.append(f"{start} stray byte(s) before the XML declaration removed")
        return data[start:]
    return data


def _check_depth(root: etree._Element, max_depth: int) -> None:
    depth = 0
    for event, _ in etree.iterwalk(root, events=("start", "end")):
        if event == "start":
            depth += 1
            if depth > max_depth:
                raise Problem("xml-too-deep", f"elements nest deeper than {max_depth} levels")
        else:
            depth -= 1


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
    if lenient:
        data = _strip_stray_prefix(data, warnings)
    try:
        root = etree.fromstring(data, _new_parser())
    except etree.XMLSyntaxError as error:
        raise _classify_syntax_error(data, error) from None
    tree = root.getroottree()
    if tree.docinfo.doctype or tree.docinfo.internalDTD is not None:
        raise Problem("xml-forbidden-construct", "a DOCTYPE declaration is not allowed")
    for _ in root.iter(etree.Entity):
        raise Problem("xml-forbidden-construct", "entity references are not allowed")
    _check_depth(root, limits.max_depth)
    return ParsedXml(root=root, data=data, warnings=warnings)
