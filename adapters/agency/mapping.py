"""Mapping for the agency webhook: a hub message → an HTTP request, and the answer → a delivery result.

Pure functions without I/O, so every rule here is tested without a network. The transport
(:mod:`adapters.agency.adapter`) only sends what :func:`build_request` builds and hands the answer to
:func:`interpret_response` (or a transport error to :func:`transport_failure`).

Header values are percent-encoded UTF-8 (RFC 3986, unreserved characters and ``:@+/`` unchanged),
so participant ids, types and ordinary correlation keys read as they are, and a key with Vietnamese
letters or control characters can neither break HTTP nor inject a header.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from urllib.parse import quote, urlsplit

from hub.spi import Delivered, DeliveryResult, OutboundMessage, PermanentFailure, RetryableFailure

USER_AGENT = "lienthong-agency-adapter/1"

HEADER_MESSAGE_ID = "X-Lienthong-Message-Id"
HEADER_DELIVERY_ID = "X-Lienthong-Delivery-Id"
HEADER_TYPE = "X-Lienthong-Type"
HEADER_SENDER = "X-Lienthong-Sender"
HEADER_RECIPIENT = "X-Lienthong-Recipient"
HEADER_CORRELATION_KEY = "X-Lienthong-Correlation-Key"
HEADER_ATTEMPT = "X-Lienthong-Attempt"
HEADER_JWS = "x-jws-signature"

#: Statuses worth trying again: the peer is busy, early, rate-limiting or broken for now.
RETRYABLE_STATUSES = frozenset({408, 425, 429})

#: Where a receiver's own id for the document is looked for, first match wins.
DEFAULT_REFERENCE_FIELDS: tuple[str, ...] = ("reference", "id", "receipt_id", "receiptId", "document_id")
DEFAULT_REFERENCE_HEADERS: tuple[str, ...] = ("X-Reference", "X-Receipt-Id", "Location")

PEER_TEXT_LIMIT = 200
_JSON_MEDIA = re.compile(r"^application/([\w.+-]+\+)?json$", re.IGNORECASE)
_SPACES = re.compile(r"\s+")
_ERROR_FIELDS = ("title", "detail", "message", "error", "error_description")


class MappingError(ValueError):
    """The message cannot be turned into a webhook request; retrying the same message will not help."""


@dataclass(frozen=True)
class WebhookRequest:
    """Exactly what is POSTed to the agency system."""

    url: str
    headers: dict[str, str]
    body: bytes


def is_json(content_type: str) -> bool:
    """`application/json` or any `application/*+json`, parameters ignored."""
    return bool(_JSON_MEDIA.match(content_type.split(";", 1)[0].strip()))


def header_value(text: str) -> str:
    """`text` made safe for an HTTP header (see the module docstring)."""
    return quote(text, safe=":@+/")


def check_webhook_url(url: str | None, recipient: str) -> str:
    """The webhook URL of `recipient`, or MappingError when it has none or it is not http(s)."""
    if not url:
        raise MappingError(f"participant {recipient!r} has no webhook_url: nothing to deliver to")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise MappingError(f"webhook_url of {recipient!r} is not an http(s) URL: {url!r}")
    return url


def content_digest(body: bytes) -> str:
    """RFC 9530 ``Content-Digest`` of `body` (SHA-256, a structured-field byte sequence), so a
    receiver can tell a complete body from a truncated one before it acts on the message id."""
    return f"sha-256=:{base64.b64encode(hashlib.sha256(body).digest()).decode('ascii')}:"


def build_request(
    message: OutboundMessage, webhook_url: str | None, *, token: str | None = None
) -> WebhookRequest:
    """The POST for `message`: the exact document bytes, its content type and the hub's headers."""
    url = check_webhook_url(webhook_url, message.recipient)
    headers = {
        "Content-Type": message.content_type,
        "Content-Length": str(len(message.document)),
        "Content-Digest": content_digest(message.document),
        "Accept": "application/json",
        "User-Agent": USER_AGENT,
        HEADER_MESSAGE_ID: header_value(message.message_id),
        HEADER_DELIVERY_ID: header_value(message.delivery_id),
        HEADER_TYPE: header_value(message.doctype),
        HEADER_SENDER: header_value(message.sender),
        HEADER_RECIPIENT: header_value(message.recipient),
        HEADER_ATTEMPT: str(message.attempt),
    }
    if message.correlation_key:
        headers[HEADER_CORRELATION_KEY] = header_value(message.correlation_key)
    if is_json(message.content_type):
        if not message.signature:
            raise MappingError("a JSON document must carry its detached JWS; refusing to deliver it unsigned")
        headers[HEADER_JWS] = message.signature
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return WebhookRequest(url=url, headers=headers, body=message.document)


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After value (delay-seconds or HTTP-date); None when absent or bad."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def _json_object(body: bytes) -> dict[str, object] | None:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    return data if isinstance(data, dict) else None


def peer_text(body: bytes, limit: int = PEER_TEXT_LIMIT) -> str:
    """A short, single-line rendering of what the peer said (a JSON error's words when there are any)."""
    data = _json_object(body) or {}
    words = [str(data[k]) for k in _ERROR_FIELDS if data.get(k)]
    text = ": ".join(dict.fromkeys(words)) if words else body.decode("utf-8", "replace")
    text = _SPACES.sub(" ", text).strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _reason(status: int, body: bytes) -> str:
    text = peer_text(body)
    return f"HTTP {status}: {text}" if text else f"HTTP {status}"


def find_reference(
    headers: Mapping[str, str],
    body: bytes,
    *,
    fields: Sequence[str] = DEFAULT_REFERENCE_FIELDS,
    header_names: Sequence[str] = DEFAULT_REFERENCE_HEADERS,
) -> str | None:
    """The receiver's own id of the document: a JSON answer field, else a header; None if neither."""
    data = _json_object(body)
    if data is not None:
        for name in fields:
            value = data.get(name)
            if isinstance(value, str | int) and not isinstance(value, bool) and str(value):
                return str(value)
    lowered = {k.lower(): v for k, v in headers.items()}
    for name in header_names:
        value = lowered.get(name.lower())
        if value:
            return value
    return None


def interpret_response(
    status: int,
    headers: Mapping[str, str],
    body: bytes,
    *,
    now: datetime | None = None,
    reference_fields: Sequence[str] = DEFAULT_REFERENCE_FIELDS,
    reference_headers: Sequence[str] = DEFAULT_REFERENCE_HEADERS,
) -> DeliveryResult:
    """2xx → Delivered; 408, 425, 429, 5xx → RetryableFailure; anything else → PermanentFailure."""
    if 200 <= status < 300:
        reference = find_reference(headers, body, fields=reference_fields, header_names=reference_headers)
        return Delivered(peer_reference=reference, detail=f"HTTP {status}")
    if status in RETRYABLE_STATUSES or 500 <= status < 600:
        retry_after = parse_retry_after(_header(headers, "Retry-After"), now=now)
        return RetryableFailure(reason=_reason(status, body), retry_after_seconds=retry_after)
    if 300 <= status < 400:
        location = _header(headers, "Location") or "?"
        return PermanentFailure(reason=f"HTTP {status}: webhook redirects to {location}; not followed")
    return PermanentFailure(reason=_reason(status, body))


def _header(headers: Mapping[str, str], name: str) -> str | None:
    for key, value in headers.items():
        if key.lower() == name.lower():
            return value
    return None


def transport_failure(kind: str, detail: str) -> RetryableFailure:
    """A failure before any HTTP answer (timeout, refused or reset connection): the peer may come back."""
    detail = _SPACES.sub(" ", detail).strip()
    return RetryableFailure(reason=f"{kind}: {detail}" if detail else kind)
