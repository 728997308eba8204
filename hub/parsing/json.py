"""Hardened JSON parsing: strict UTF-8, bounded size and depth, duplicate keys and NaN refused.

JSON's ``\\uXXXX`` escapes can spell a lone UTF-16 surrogate (``"\\ud800"``): valid JSON syntax, but
no Unicode character, so the text could be neither recorded nor forwarded as UTF-8. Such strings are
refused here (``json-invalid-unicode``) rather than failing later while the document is stored.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from hub.problems import Problem


@dataclass(frozen=True)
class JsonLimits:
    max_bytes: int = 32 * 1024 * 1024
    max_depth: int = 64


def _object_without_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj: dict[str, Any] = {}
    for key, value in pairs:
        if key in obj:
            raise Problem("json-duplicate-key", f"the key {key!r} appears twice in one object")
        obj[key] = value
    return obj


def _refuse_constant(name: str) -> Any:
    raise Problem("json-malformed", f"{name} is not valid JSON")


def _check_depth(value: Any, max_depth: int) -> None:
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children: Iterable[Any]
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > max_depth:
            raise Problem("json-too-deep", f"values nest deeper than {max_depth} levels")
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))


def _strings(value: Any) -> Any:
    """Every key and string value, depth first (the depth is already bounded)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            yield item
        elif isinstance(item, dict):
            yield from item.keys()
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def _refuse_lone_surrogates(text: str, value: Any) -> None:
    if "\\u" not in text:  # a surrogate can only come from an escape: the common case costs one scan
        return
    for string in _strings(value):
        try:
            string.encode("utf-8")
        except UnicodeEncodeError as bad:
            raise Problem(
                "json-invalid-unicode",
                f"a JSON string holds the lone surrogate U+{ord(string[bad.start]):04X}, which is no"
                " Unicode character",
            ) from None


def parse_json(data: bytes, *, limits: JsonLimits = JsonLimits()) -> Any:
    """Parse untrusted JSON bytes or raise :class:`Problem`."""
    if len(data) > limits.max_bytes:
        raise Problem("body-too-large", f"{len(data)} bytes exceed the limit of {limits.max_bytes}")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as bad:
        raise Problem("invalid-encoding", f"the body is not valid UTF-8 at byte {bad.start}") from None
    try:
        value = json.loads(
            text, object_pairs_hook=_object_without_duplicates, parse_constant=_refuse_constant
        )
    except RecursionError:
        raise Problem("json-too-deep", f"values nest deeper than {limits.max_depth} levels") from None
    except json.JSONDecodeError as error:
        raise Problem(
            "json-malformed",
            error.msg,
            errors=[{"location": f"line {error.lineno} column {error.colno}", "message": error.msg}],
        ) from None
    except ValueError as error:  # e.g. an integer longer than Python's digit limit
        raise Problem("json-malformed", str(error)) from None
    _check_depth(value, limits.max_depth)
    _refuse_lone_surrogates(text, value)
    return value
