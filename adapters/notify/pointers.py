"""Reading a JSON document by RFC 6901 pointer (the options name fields by pointer, like doctypes.yaml)."""

from __future__ import annotations

from typing import Any


def at(document: Any, pointer: str | None) -> Any:
    """The value at `pointer`, or None when any step is missing."""
    if pointer is None:
        return None
    value = document
    for raw in pointer.lstrip("/").split("/") if pointer else []:
        step = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(value, dict):
            value = value.get(step)
        elif isinstance(value, list) and step.isdigit() and int(step) < len(value):
            value = value[int(step)]
        else:
            return None
    return value
