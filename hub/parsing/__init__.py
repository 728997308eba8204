"""Hardened parsing of untrusted bodies, in one place: XML (:mod:`.xml`) and JSON (:mod:`.json`)."""

from hub.parsing.json import JsonLimits, parse_json
from hub.parsing.xml import ParsedXml, XmlLimits, parse_xml

__all__ = ["JsonLimits", "ParsedXml", "XmlLimits", "parse_json", "parse_xml"]
