"""Document types as data: what each registered type is, how to recognise it, where its keys are.

Everything comes from ``config/doctypes.yaml`` (the single source); adding a type is adding a block
there and a schema file under ``schemas/``. Paths are XPath 1.0 (prefix ``e`` = edXML, ``ds`` =
XMLDSig) for XML types and JSON pointers (RFC 6901) for JSON types; all are compiled at load time.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml
from lxml import etree
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from hub.problems import Problem

EDXML_NS = "http://www.mic.gov.vn/TBT/QCVN_102_2016"
DSIG_NS = "http://www.w3.org/2000/09/xmldsig#"
XPATH_NAMESPACES = {"e": EDXML_NS, "ds": DSIG_NS}

#: XML values that stand for no value: real edXML writes the literal text ``null`` for a missing id.
XML_NULLS = frozenset({"null", "nil", "none", "undefined"})

Format = Literal["xml", "json"]
Signing = Literal["xmldsig-enveloped", "jws-detached"]
_SIGNING_FOR_FORMAT = {"xml": "xmldsig-enveloped", "json": "jws-detached"}


class DocTypeConfigError(ValueError):
    """The document-type configuration is wrong; raised at start-up, never per request."""


# --------------------------------------------------------------------------------------------------
# compiled paths


def _compile_xpath(expression: str, where: str) -> etree.XPath:
    try:
        return etree.XPath(expression, namespaces=XPATH_NAMESPACES)
    except etree.XPathSyntaxError as exc:
        raise DocTypeConfigError(f"{where}: invalid XPath {expression!r}: {exc}") from exc


def _parse_pointer(pointer: str, where: str) -> tuple[str, ...]:
    if pointer == "":
        return ()
    if not pointer.startswith("/"):
        raise DocTypeConfigError(f"{where}: JSON pointer {pointer!r} must start with '/'")
    return tuple(token.replace("~1", "/").replace("~0", "~") for token in pointer[1:].split("/"))


_MISSING = object()


def _resolve_pointer(obj: Any, tokens: tuple[str, ...]) -> Any:
    """The value at a parsed JSON pointer, or ``_MISSING``."""
    current = obj
    for token in tokens:
        if isinstance(current, dict):
            if token not in current:
                return _MISSING
            current = current[token]
        elif isinstance(current, list) and token.isdigit() and (token == "0" or not token.startswith("0")):
            index = int(token)
            if index >= len(current):
                return _MISSING
            current = current[index]
        else:
            return _MISSING
    return current


@dataclass(frozen=True)
class _Path:
    """One configured path, compiled for its format; ``values(doc)`` gives stripped non-empty strings."""

    source: str
    xpath: etree.XPath | None = None
    pointer: tuple[str, ...] | None = None

    @classmethod
    def compile(cls, source: str, fmt: Format, where: str) -> _Path:
        if fmt == "xml":
            return cls(source, xpath=_compile_xpath(source, where))
        return cls(source, pointer=_parse_pointer(source, where))

    def values(self, document: Any) -> list[str]:
        if self.xpath is not None:
            raw = self.xpath(document)
            items = raw if isinstance(raw, list) else [raw]
        else:
            assert self.pointer is not None
            found = _resolve_pointer(document, self.pointer)
            if found is _MISSING or found is None:
                items = []
            else:
                items = found if isinstance(found, list) else [found]
        out: list[str] = []
        for item in items:
            text = _as_text(item)
            if text and not (self.xpath is not None and text.lower() in XML_NULLS):
                out.append(text)
        return out


def _as_text(item: Any) -> str:
    if isinstance(item, etree._Element):
        if len(item) == 0:  # no child (element, comment or PI): its text is all there is
            return (item.text or "").strip()
        return "".join(item.itertext()).strip()
    if isinstance(item, bool):
        return "true" if item else "false"
    if isinstance(item, float) and item.is_integer():
        return str(int(item))
    if isinstance(item, str | int | float):
        return str(item).strip()
    return ""  # objects, arrays inside arrays, XPath node sets of attributes are not key values


@dataclass(frozen=True)
class _Compiled:
    sender: _Path
    recipients: _Path
    correlation_key: _Path
    natural_key: tuple[_Path, ...]
    identify_test: etree.XPath | None
    identify_pointer: tuple[str, ...] | None


# --------------------------------------------------------------------------------------------------
# the public model


@dataclass(frozen=True)
class DocType:
    """A registered document type. Paths are XPath (XML) or JSON pointers (JSON), as configured."""

    name: str
    format: Format
    content_types: tuple[str, ...]
    schema_file: Path
    sender: str
    recipients: str
    correlation_key: str
    natural_key: tuple[str, ...]
    signing: Signing
    signature_parent: str | None
    natural_key_defaults: tuple[str | None, ...] = ()
    max_recipients: int | None = None  # e.g. 1 for payment.request: one fee, one gateway
    identify_root: str | None = None  # XML: Clark name of the root element, {ns}local
    identify_test: str | None = None  # XML: XPath that must be true on the root
    identify_pointer: str | None = None  # JSON: pointer to the member naming the type
    identify_equals: str | None = None  # JSON: the value that member must have
    _compiled: _Compiled | None = field(default=None, compare=False, repr=False, hash=False)

    @property
    def compiled(self) -> _Compiled:
        assert self._compiled is not None, "DocType built outside DocTypeRegistry.load"
        return self._compiled


@dataclass(frozen=True)
class Extracted:
    sender: str
    recipients: tuple[str, ...]
    correlation_key: str | None
    natural_key: str | None


# --------------------------------------------------------------------------------------------------
# configuration file


class _KeyPartSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    path: str
    default: str | None = None


class _IdentifySpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    root: str | None = None
    test: str | None = None
    pointer: str | None = None
    equals: str | None = None


class _DocTypeSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    name: str = Field(pattern=r"^[a-z][a-z0-9_-]*(\.[a-z0-9_-]+)+$")
    format: Format
    content_types: list[str] = Field(min_length=1)
    identify: _IdentifySpec
    schema_path: str = Field(alias="schema")
    sender: str
    recipients: str
    correlation_key: str
    natural_key: list[str | _KeyPartSpec] = Field(min_length=1)
    signing: Signing
    signature_parent: str | None = None
    max_recipients: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _consistent(self) -> _DocTypeSpec:
        if self.signing != _SIGNING_FOR_FORMAT[self.format]:
            raise ValueError(f"a {self.format} type is signed {_SIGNING_FOR_FORMAT[self.format]}")
        if self.format == "xml":
            if not self.identify.root or self.identify.pointer or self.identify.equals is not None:
                raise ValueError("an xml type is identified by 'root' (and optionally 'test')")
        else:
            if not self.identify.pointer or self.identify.equals is None or self.identify.root:
                raise ValueError("a json type is identified by 'pointer' and 'equals'")
            if self.signature_parent:
                raise ValueError("signature_parent applies to xml types only")
        return self


class _FileSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: int = 1
    types: list[_DocTypeSpec] = Field(min_length=1)


def _build(spec: _DocTypeSpec, schemas_dir: Path) -> DocType:
    where = f"type {spec.name}"

    def schema(rel: str) -> Path:
        path = (schemas_dir / rel).resolve()
        if not path.is_file():
            raise DocTypeConfigError(f"{where}: schema file {path} does not exist")
        return path

    parts = [p if isinstance(p, _KeyPartSpec) else _KeyPartSpec(path=p) for p in spec.natural_key]
    compiled = _Compiled(
        sender=_Path.compile(spec.sender, spec.format, f"{where} sender"),
        recipients=_Path.compile(spec.recipients, spec.format, f"{where} recipients"),
        correlation_key=_Path.compile(spec.correlation_key, spec.format, f"{where} correlation_key"),
        natural_key=tuple(_Path.compile(p.path, spec.format, f"{where} natural_key") for p in parts),
        identify_test=(
            _compile_xpath(spec.identify.test, f"{where} identify.test") if spec.identify.test else None
        ),
        identify_pointer=(
            _parse_pointer(spec.identify.pointer, f"{where} identify.pointer")
            if spec.identify.pointer
            else None
        ),
    )
    if spec.signature_parent:
        _compile_xpath(spec.signature_parent, f"{where} signature_parent")
    if spec.identify.root and not spec.identify.root.startswith("{"):
        raise DocTypeConfigError(f"{where}: identify.root must be a Clark name {{namespace}}local")
    return DocType(
        name=spec.name,
        format=spec.format,
        content_types=tuple(spec.content_types),
        schema_file=schema(spec.schema_path),
        sender=spec.sender,
        recipients=spec.recipients,
        correlation_key=spec.correlation_key,
        natural_key=tuple(p.path for p in parts),
        natural_key_defaults=tuple(p.default for p in parts),
        max_recipients=spec.max_recipients,
        signing=spec.signing,
        signature_parent=spec.signature_parent,
        identify_root=spec.identify.root,
        identify_test=spec.identify.test,
        identify_pointer=spec.identify.pointer,
        identify_equals=spec.identify.equals,
        _compiled=compiled,
    )


# --------------------------------------------------------------------------------------------------
# registry


class DocTypeRegistry:
    """The registered types, in configuration order (which is also identification order)."""

    def __init__(self, doctypes: list[DocType], schemas_dir: Path) -> None:
        self._types: dict[str, DocType] = {}
        for doctype in doctypes:
            if doctype.name in self._types:
                raise DocTypeConfigError(f"type {doctype.name} is declared twice")
            self._types[doctype.name] = doctype
        self.schemas_dir = schemas_dir

    @classmethod
    def load(cls, path: Path | str, schemas_dir: Path | str) -> DocTypeRegistry:
        path, schemas_dir = Path(path), Path(schemas_dir)
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            raise DocTypeConfigError(f"cannot read {path}: {exc}") from exc
        try:
            spec = _FileSpec.model_validate(raw)
        except ValidationError as exc:
            raise DocTypeConfigError(f"{path}: {exc}") from exc
        return cls([_build(t, schemas_dir) for t in spec.types], schemas_dir)

    def get(self, name: str) -> DocType:
        try:
            return self._types[name]
        except KeyError:
            raise Problem("unknown-type", f"no registered type is named {name!r}") from None

    def all(self) -> tuple[DocType, ...]:
        return tuple(self._types.values())

    def names(self) -> tuple[str, ...]:
        return tuple(self._types)

    def __contains__(self, name: object) -> bool:
        return name in self._types

    def __iter__(self) -> Iterator[DocType]:
        return iter(self._types.values())

    def __len__(self) -> int:
        return len(self._types)

    def identify_xml(self, root: etree._Element | etree._ElementTree) -> DocType:
        if isinstance(root, etree._ElementTree):
            root = root.getroot()
        for doctype in self._types.values():
            if doctype.format != "xml" or root.tag != doctype.identify_root:
                continue
            test = doctype.compiled.identify_test
            if test is None or bool(test(root)):
                return doctype
        raise Problem("unknown-type", f"no registered XML type has the root element {root.tag!s}")

    def identify_json(self, obj: Any) -> DocType:
        if not isinstance(obj, dict):
            raise Problem("unknown-type", "a JSON document must be an object with a 'type' member")
        for doctype in self._types.values():
            pointer = doctype.compiled.identify_pointer
            if (
                doctype.format == "json"
                and pointer is not None
                and _resolve_pointer(obj, pointer) == doctype.identify_equals
            ):
                return doctype
        named = obj.get("type")
        what = f"type {named!r}" if isinstance(named, str) else "document without a string 'type' member"
        raise Problem("unknown-type", f"no registered JSON type matches this {what}")


# --------------------------------------------------------------------------------------------------
# extraction


def _extract(doctype: DocType, document: Any) -> Extracted:
    compiled = doctype.compiled
    found: dict[str, list[str]] = {}  # a path named twice (edXML's DocumentId) is evaluated once

    def values(path: _Path) -> list[str]:
        if path.source not in found:
            found[path.source] = path.values(document)
        return found[path.source]

    senders = list(dict.fromkeys(values(compiled.sender)))
    if not senders:
        raise Problem("schema-invalid", f"{doctype.name}: no sender at {doctype.sender}")
    if len(senders) > 1:
        raise Problem("schema-invalid", f"{doctype.name}: more than one sender at {doctype.sender}")
    recipients = tuple(dict.fromkeys(values(compiled.recipients)))
    if not recipients:
        raise Problem("schema-invalid", f"{doctype.name}: no recipient at {doctype.recipients}")
    if doctype.max_recipients is not None and len(recipients) > doctype.max_recipients:
        raise Problem(
            "too-many-recipients",
            f"{doctype.name} names {len(recipients)} recipients ({', '.join(recipients)}); "
            f"it may name at most {doctype.max_recipients}",
        )
    correlation = values(compiled.correlation_key)
    parts: list[str] = []
    for path, default in zip(compiled.natural_key, _defaults(doctype), strict=True):
        texts = values(path)
        value = texts[0] if texts else default
        if value is None:
            break
        parts.append(value)
    natural = "|".join(parts) if len(parts) == len(compiled.natural_key) else None
    return Extracted(senders[0], recipients, correlation[0] if correlation else None, natural)


def _defaults(doctype: DocType) -> tuple[str | None, ...]:
    return doctype.natural_key_defaults or (None,) * len(doctype.natural_key)


def extract_xml(doctype: DocType, root: etree._Element | etree._ElementTree) -> Extracted:
    """Sender, recipients and keys of an XML document (whitespace stripped)."""
    if doctype.format != "xml":
        raise TypeError(f"{doctype.name} is not an XML type")
    if isinstance(root, etree._ElementTree):
        root = root.getroot()
    return _extract(doctype, root)


def extract_json(doctype: DocType, obj: dict[str, Any]) -> Extracted:
    """Sender, recipients and keys of a JSON document (whitespace stripped)."""
    if doctype.format != "json":
        raise TypeError(f"{doctype.name} is not a JSON type")
    return _extract(doctype, obj)
