"""A stored document as an operator reads it: pretty-printed, with its attachments listed and their
base64 content (and other very long text) folded, so a 20 MB edXML stays readable in a page."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass

from lxml import etree

from hub.parsing import parse_json, parse_xml
from hub.problems import Problem

FOLD_AFTER = 160  # characters of one text node shown before it is folded


@dataclass(frozen=True)
class Attachment:
    name: str
    content_type: str | None
    description: str | None
    size: int | None  # decoded bytes


@dataclass(frozen=True)
class ReadableDocument:
    text: str
    attachments: tuple[Attachment, ...]


def _local(tag: object) -> str:
    return etree.QName(tag).localname if isinstance(tag, str) else ""


def _child_text(element: etree._Element, name: str) -> str | None:
    for child in element:
        if _local(child.tag) == name:
            return (child.text or "").strip() or None
    return None


def _decoded_size(encoded: str | None) -> int | None:
    if not encoded:
        return None
    try:
        return len(base64.b64decode("".join(encoded.split()), validate=False))
    except (binascii.Error, ValueError):
        return None


def readable(document: bytes, content_type: str) -> ReadableDocument:
    if content_type.endswith("json"):
        try:
            return ReadableDocument(json.dumps(parse_json(document), indent=2, ensure_ascii=False), ())
        except Problem:
            return ReadableDocument(document.decode("utf-8", "replace"), ())
    try:
        root = parse_xml(document).root
    except Problem:
        return ReadableDocument(document.decode("utf-8", "replace"), ())
    tree = etree.fromstring(etree.tostring(root))  # a copy: folding must not touch anything else
    attachments = []
    for element in tree.iter():
        if _local(element.tag) == "Attachment":
            attachments.append(
                Attachment(
                    name=_child_text(element, "AttachmentName") or "?",
                    content_type=_child_text(element, "ContentType"),
                    description=_child_text(element, "Description"),
                    size=_decoded_size(_child_text(element, "ContentTransferEncoded")),
                )
            )
        text = element.text
        if isinstance(element.tag, str) and text and len(text.strip()) > FOLD_AFTER:
            element.text = f"{text.strip()[:48]}… [{len(text.strip())} characters folded]"
    for element in tree.iter():
        if isinstance(element.tag, str) and element.text is not None and not element.text.strip():
            element.text = None
        if element.tail is not None and not element.tail.strip():
            element.tail = None
    text = etree.tostring(tree, pretty_print=True, encoding="unicode")
    return ReadableDocument(text, tuple(attachments))
