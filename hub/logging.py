"""Structured logs: one JSON object a line, with the message (and delivery) id on every line logged
while a message is being handled.

The ids travel in context variables: intake and the delivery engine set them for the duration of
their work (:func:`message_context`), so every line logged meanwhile — by the core, an adapter or a
library — carries them without being passed along. ``serve``, ``worker`` and ``run`` call
:func:`configure_logging`.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

_message_id: ContextVar[str | None] = ContextVar("lienthong_message_id", default=None)
_delivery_id: ContextVar[str | None] = ContextVar("lienthong_delivery_id", default=None)

# Attributes every LogRecord has; anything else was passed with `extra=` and is logged as a field.
_STANDARD = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}


@contextmanager
def message_context(message_id: str | None = None, delivery_id: str | None = None) -> Iterator[None]:
    """Lines logged inside carry these ids; the previous ids are restored on the way out."""
    tokens = (_message_id.set(message_id), _delivery_id.set(delivery_id))
    try:
        yield
    finally:
        _delivery_id.reset(tokens[1])
        _message_id.reset(tokens[0])


def set_message_id(message_id: str) -> None:
    """Name the message once it has an id (inside a :func:`message_context`)."""
    _message_id.set(message_id)


def current_ids() -> dict[str, str]:
    ids = {"message_id": _message_id.get(), "delivery_id": _delivery_id.get()}
    return {k: v for k, v in ids.items() if v}


class ContextFilter(logging.Filter):
    """Puts the current message and delivery ids on each record (unless the caller gave them)."""

    def filter(self, record: logging.LogRecord) -> bool:
        for key, value in current_ids().items():
            if getattr(record, key, None) is None:
                setattr(record, key, value)
        return True


#: ``name=value`` where the name says checksum, hash, signature, secret or token: e.g. a VNPAY IPN's
#: ``vnp_SecureHash`` in the query string uvicorn's access log writes.
_SECRET_VALUE = re.compile(
    r"(?i)((?:^|[?&\s;,])[\w.-]*(?:hash|sum|signature|secret|token|password)[\w.-]*=)[^&\s\"',;]+"
)


class RedactFilter(logging.Filter):
    """Withholds values derived from secrets (checksums, secure hashes, tokens) from every line."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "=" not in message:  # nothing the pattern can match (it needs `name=`), and ~30 us saved
            return True
        redacted = _SECRET_VALUE.sub(r"\1(withheld)", message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_") and value is not None:
                line[key] = value if isinstance(value, str | int | float | bool) else str(value)
        if record.exc_info:
            line["error"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        ids = " ".join(
            f"{k}={getattr(record, k)}" for k in ("message_id", "delivery_id") if getattr(record, k, None)
        )
        return f"{text} [{ids}]" if ids else text


def make_handler(fmt: str = "json", stream: Any = None) -> logging.Handler:
    """The hub's log handler: `fmt` lines on `stream` (stderr), with the message ids, secrets withheld."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler.addFilter(ContextFilter())
    handler.addFilter(RedactFilter())
    return handler


def configure_logging(fmt: str = "json", level: str = "INFO", stream: Any = None) -> logging.Handler:
    """Route every logger (uvicorn's too) to one handler on stderr in `fmt`; returns the handler."""
    handler = make_handler(fmt, stream)
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        named = logging.getLogger(name)
        named.handlers.clear()
        named.propagate = True
    return handler
