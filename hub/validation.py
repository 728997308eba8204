"""Schema validation with located errors: XSD through lxml, JSON Schema through jsonschema-rs.

Every schema of every registered type is compiled once, when the :class:`Validator` is built. The
fast path only asks "valid?"; the error list (capped) is built only for invalid documents.

XML types have two profiles. ``strict`` refuses any deviation from the type's XSD. ``lenient`` (the
national axis, and agencies whose software writes the axis SDK's packets) validates strict first; if
that fails, the tolerant reader (:mod:`hub.tolerant`) decides: a packet that is usable comes back with
every deviation as a warning :class:`Issue`; an unusable one is refused. No XSD sequence is involved
in the lenient decision.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import jsonschema_rs
from lxml import etree

from hub.doctypes import DSIG_NS, EDXML_NS, DocType, DocTypeConfigError, DocTypeRegistry
from hub.problems import Problem
from hub.tolerant import SequenceTable, deviations, unusable

Profile = Literal["strict", "lenient"]
PROFILES: tuple[Profile, ...] = ("strict", "lenient")
MAX_ERRORS = 50
_MAX_MESSAGE = 400
_XS = "http://www.w3.org/2001/XMLSchema"


@dataclass(frozen=True)
class Issue:
    """One schema error or lenient-profile warning. XML: ``line N at /path``; JSON: a JSON pointer."""

    location: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"location": self.location, "message": self.message}

    def __str__(self) -> str:
        return f"{self.location}: {self.message}" if self.location else self.message


# --------------------------------------------------------------------------------------------------
# XML


def _safe_schema_parser() -> etree.XMLParser:
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)


def _schema_documents(path: Path) -> Iterable[etree._ElementTree]:
    """The schema document and every document it includes or imports (local files only)."""
    seen: set[Path] = set()
    pending = [path.resolve()]
    while pending:
        current = pending.pop()
        if current in seen:
            continue
        seen.add(current)
        tree = etree.parse(str(current), _safe_schema_parser())
        yield tree
        for ref in tree.getroot().iterfind(f"{{{_XS}}}include"):
            pending.append((current.parent / ref.get("schemaLocation", "")).resolve())
        for ref in tree.getroot().iterfind(f"{{{_XS}}}import"):
            if ref.get("schemaLocation"):
                pending.append((current.parent / ref.get("schemaLocation", "")).resolve())


_PATTERN_ERROR = re.compile(
    r"\[facet 'pattern'\] The value '(?P<value>.*)' is not accepted by the pattern '(?P<pattern>.*)'\.$", re.S
)
_PREFIXED_STEP = re.compile(r"(?<=/)[A-Za-z_][\w.-]*:")
_PATH_STEP = re.compile(r"(?:[A-Za-z_][\w.-]*:)?(?P<name>[A-Za-z_][\w.-]*|\*)(?P<index>\[[0-9]+\])?")


def _readable_path(root: etree._Element, libxml_path: str) -> str:
    """libxml2's node path (``/*/edXML:edXMLEnvelope/*[2]``) as local names: ``/edXML/edXMLEnvelope/…``.

    libxml2 writes ``*[n]`` (n-th child element) for elements in a default namespace; the step is
    resolved against the document to recover its name. Falls back to the prefix-stripped path.
    """
    fallback = _PREFIXED_STEP.sub("", libxml_path)
    steps = libxml_path.split("/")[1:]
    if not libxml_path.startswith("/") or not steps:
        return fallback
    node = root
    if _PATH_STEP.fullmatch(steps[0]) is None:
        return fallback
    for step in steps[1:]:
        match = _PATH_STEP.fullmatch(step)
        if match is None:
            return fallback
        position = int(match["index"][1:-1]) if match["index"] else 1
        children = [c for c in node if isinstance(c.tag, str)]
        if match["name"] != "*":
            children = [c for c in children if etree.QName(c).localname == match["name"]]
        if len(children) < position:
            return fallback
        node = children[position - 1]
    parts: list[str] = []
    current: etree._Element | None = node
    while current is not None:
        name = etree.QName(current).localname
        parent = current.getparent()
        same = [c for c in parent if c.tag == current.tag] if parent is not None else [current]
        parts.append(f"{name}[{same.index(current) + 1}]" if len(same) > 1 else name)
        current = parent
    return "/" + "/".join(reversed(parts))


class _XmlSchema:
    """One compiled XSD. lxml keeps the error log on the validator, hence the lock."""

    def __init__(self, path: Path) -> None:
        self.path = path
        documents = list(_schema_documents(path))
        try:
            self._schema = etree.XMLSchema(documents[0])
        except etree.XMLSchemaParseError as exc:
            raise DocTypeConfigError(f"schema {path} does not compile: {exc}") from exc
        self._lock = threading.Lock()
        self._pattern_names = self._named_patterns(documents)
        self.sequences = SequenceTable.from_schema(documents)

    @staticmethod
    def _named_patterns(documents: list[etree._ElementTree]) -> dict[str, str]:
        """Pattern text -> a human name of the simple type it belongs to, for readable messages."""
        names: dict[str, str] = {}
        for tree in documents:
            for simple in tree.getroot().iterfind(f"{{{_XS}}}simpleType[@name]"):
                patterns = [p.get("value", "") for p in simple.iter(f"{{{_XS}}}pattern")]
                doc = simple.findtext(f"{{{_XS}}}annotation/{{{_XS}}}documentation")
                label = simple.get("name", "")
                if doc:
                    label += f" ({' '.join(doc.split())})"
                for pattern in patterns:
                    names[pattern] = label
                if len(patterns) > 1:  # libxml2 reports alternatives joined with '|'
                    names["|".join(patterns)] = label
        return names

    def errors(self, root: etree._Element, limit: int) -> list[Issue]:
        """The schema errors of ``root`` (empty when valid), at most ``limit``."""
        with self._lock:
            if self._schema.validate(root):
                return []
            entries = list(self._schema.error_log)
        return [Issue(self._location(e, root), self._message(e.message)) for e in entries[:limit]]

    @staticmethod
    def _location(entry: Any, root: etree._Element) -> str:
        location = f"line {entry.line}" if entry.line else "line ?"
        path = _readable_path(root, entry.path or "")
        return f"{location} at {path}" if path else location

    def _message(self, message: str) -> str:
        message = message.replace("{" + EDXML_NS + "}", "edXML:").replace("{" + DSIG_NS + "}", "ds:")
        match = _PATTERN_ERROR.search(message)
        if match:
            name = self._pattern_names.get(match["pattern"])
            pattern = match["pattern"]
            expected = f"is not a valid {name}" if name else f"does not match the pattern '{pattern}'"
            message = message[: match.start()] + f"the value '{match['value']}' {expected}."
        return message[:_MAX_MESSAGE]


# --------------------------------------------------------------------------------------------------
# JSON


_SCHEMA_SUFFIX = ".schema.json"


def _escape_token(token: Any) -> str:
    return str(token).replace("~", "~0").replace("/", "~1")


def _pointer(path: Iterable[Any]) -> str:
    return "".join("/" + _escape_token(token) for token in path)


def _load_json(path: Path) -> dict[str, Any]:
    try:
        loaded = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DocTypeConfigError(f"cannot read JSON schema {path}: {exc}") from exc
    if not isinstance(loaded, dict):
        raise DocTypeConfigError(f"JSON schema {path} is not an object")
    return loaded


def _refuse_retrieval(uri: str) -> Any:
    raise DocTypeConfigError(f"schema reference {uri} is not a local schema under schemas/ (no fetching)")


class _JsonSchemas:
    """Every ``*.schema.json`` under schemas/, registered by its ``$id`` so ``$ref`` between files works."""

    def __init__(self, schemas_dir: Path) -> None:
        resources: list[tuple[str, dict[str, Any]]] = []
        for path in sorted(schemas_dir.rglob("*" + _SCHEMA_SUFFIX)):
            schema = _load_json(path)
            if "$id" in schema:
                resources.append((schema["$id"], schema))
        self._registry = jsonschema_rs.Registry(resources) if resources else None

    def compile(self, path: Path) -> Any:
        schema = _load_json(path)
        try:
            return jsonschema_rs.validator_for(
                schema, validate_formats=True, registry=self._registry, retriever=_refuse_retrieval
            )
        except (ValueError, jsonschema_rs.ReferencingError) as exc:
            raise DocTypeConfigError(f"JSON schema {path} does not compile: {exc}") from exc


def _json_issue(error: Any) -> Issue:
    """A jsonschema-rs error as an Issue; for missing or unexpected members, point at the member."""
    path = list(error.instance_path)
    kind = error.kind
    kind_name = type(kind).__name__
    if kind_name == "Required" and isinstance(getattr(kind, "property", None), str):
        path.append(kind.property)
    elif kind_name == "AdditionalProperties":
        unexpected = getattr(kind, "unexpected", None) or []
        if len(unexpected) == 1:
            path.append(unexpected[0])
    message = error.message
    if len(message) > _MAX_MESSAGE:
        message = message[: _MAX_MESSAGE - 1] + "…"
    return Issue(_pointer(path), message)


# --------------------------------------------------------------------------------------------------
# the validator


class Validator:
    """Validates documents against their type's schema; built once per process."""

    def __init__(self, registry: DocTypeRegistry, *, max_errors: int = MAX_ERRORS) -> None:
        self.registry = registry
        self.max_errors = max_errors
        xml_cache: dict[Path, _XmlSchema] = {}
        self._xml: dict[str, _XmlSchema] = {}
        self._json: dict[str, Any] = {}
        json_schemas: _JsonSchemas | None = None

        def xml_schema(path: Path) -> _XmlSchema:
            if path not in xml_cache:
                xml_cache[path] = _XmlSchema(path)
            return xml_cache[path]

        for doctype in registry.all():
            if doctype.format == "xml":
                self._xml[doctype.name] = xml_schema(doctype.schema_file)
            else:
                if json_schemas is None:
                    json_schemas = _JsonSchemas(registry.schemas_dir)
                self._json[doctype.name] = json_schemas.compile(doctype.schema_file)

    def validate_xml(
        self, doctype: DocType, root: etree._Element, *, profile: Profile = "strict"
    ) -> list[Issue]:
        """Validate; return the warnings (lenient deviations) or raise ``Problem('schema-invalid')``.

        Lenient: a packet the tolerant reader can use passes with each deviation as a warning — those
        it notes while normalising a copy (null/empty values, order), then the strict errors that
        remain on the normalised copy; an unusable packet is refused with the reasons.
        """
        if profile not in PROFILES:
            raise ValueError(f"unknown validation profile {profile!r}")
        try:
            strict = self._xml[doctype.name]
        except KeyError:
            raise TypeError(f"{doctype.name} is not a registered XML type") from None
        if isinstance(root, etree._ElementTree):
            root = root.getroot()
        errors = strict.errors(root, self.max_errors)
        if not errors:
            return []
        if profile == "strict":
            raise self._refusal(doctype, "strict", errors)
        reasons = unusable(doctype, root)
        if reasons:
            raise self._refusal(doctype, "lenient", [Issue(r.location, r.message) for r in reasons])
        normalised, found = deviations(root, strict.sequences)
        remaining = strict.errors(normalised, self.max_errors)
        return ([Issue(d.location, d.message) for d in found] + remaining)[: self.max_errors]

    def validate_json(self, doctype: DocType, obj: Any) -> None:
        """Validate; raise ``Problem('schema-invalid')`` with JSON-pointer locations."""
        try:
            validator = self._json[doctype.name]
        except KeyError:
            raise TypeError(f"{doctype.name} is not a registered JSON type") from None
        if validator.is_valid(obj):
            return
        issues: list[Issue] = []
        for error in validator.iter_errors(obj):
            issue = _json_issue(error)
            if issue not in issues:
                issues.append(issue)
            if len(issues) >= self.max_errors:
                break
        raise Problem(
            "schema-invalid",
            f"the document does not match the {doctype.name} schema: {_count(issues, self.max_errors)}",
            errors=[issue.as_dict() for issue in issues],
        )

    def validate_document(
        self, document: etree._Element | dict[str, Any], *, profile: Profile = "strict"
    ) -> tuple[DocType, list[Issue]]:
        """Identify the type of a parsed document, then validate it (for the CLI and tools)."""
        if isinstance(document, etree._Element | etree._ElementTree):
            doctype = self.registry.identify_xml(document)
            return doctype, self.validate_xml(doctype, document, profile=profile)
        doctype = self.registry.identify_json(document)
        self.validate_json(doctype, document)
        return doctype, []

    def _refusal(self, doctype: DocType, profile: Profile, issues: list[Issue]) -> Problem:
        if profile == "lenient":
            detail = (
                f"the {doctype.name} packet is unusable even under the lenient profile: "
                f"{_count(issues, self.max_errors)}"
            )
        else:
            count = _count(issues, self.max_errors)
            detail = f"the document does not match the strict {doctype.name} schema: {count}"
        return Problem(
            "schema-invalid", detail, errors=[issue.as_dict() for issue in issues[: self.max_errors]]
        )


def _count(issues: list[Issue], cap: int) -> str:
    n = len(issues)
    suffix = " (first ones only)" if n >= cap else ""
    return f"{n} error{'s' if n != 1 else ''}{suffix}"
