"""The VXP REST face's wire rules, client side: ``XroadVnpt-*`` header signing and the ``hash-file`` quirk.

Every parameter ``h`` travels as a plain header and again as ``XroadVnpt-<h>``; ``XroadVnpt-sign-header-key``
lists the names joined by ``;``, ``XroadVnpt-sign-header`` holds a JSON object of the prefixed headers, and
``XroadVnpt-hash-header`` is ``hex(HMAC-SHA256(secret, that JSON))``. ``systemid`` and ``timestamp`` are
always signed. Pure functions: no I/O.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import unicodedata
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, timezone

PREFIX = "XroadVnpt-"
SIGN_KEY_HEADER = "XroadVnpt-sign-header-key"
SIGN_HEADER = "XroadVnpt-sign-header"
HASH_HEADER = "XroadVnpt-hash-header"
HASH_FILE = "hash-file"


def hash_file(data: bytes) -> str:
    """SHA-256 of ``data`` as the SDK writes it: each byte in hex WITHOUT zero padding (``0x0a`` → ``a``)."""
    return "".join(format(byte, "x") for byte in hashlib.sha256(data).digest())


def sdk_timestamp(now: datetime | None = None, utc_offset_hours: int = 7) -> str:
    """``ddMMyyyy'T'HHmmss+SSSS`` in the axis's local time; the four digits after '+' are milliseconds."""
    local = (now or datetime.now(UTC)).astimezone(timezone(timedelta(hours=utc_offset_hours)))
    return local.strftime("%d%m%YT%H%M%S") + f"+{local.microsecond // 1000:04d}"


def header_text(text: str, limit: int = 500) -> str:
    """``text`` reduced to printable ASCII for an HTTP header (accents dropped, đ → d), at most ``limit``."""
    text = text.replace("đ", "d").replace("Đ", "D")
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    cleaned = "".join(ch if 32 <= ord(ch) < 127 else " " for ch in ascii_text)
    cleaned = " ".join(cleaned.split())
    return cleaned if len(cleaned) <= limit else cleaned[: limit - 3] + "..."


def sign_headers(
    systemid: str,
    secret: str,
    params: Mapping[str, str],
    *,
    body: bytes | None = None,
    timestamp: str | None = None,
) -> dict[str, str]:
    """The headers of one signed call: parameters (plus ``hash-file`` of ``body``), copies, signature."""
    plain = {"systemid": systemid, "timestamp": timestamp or sdk_timestamp(), **params}
    if body is not None:
        plain[HASH_FILE] = hash_file(body)
    signed = {PREFIX + name: value for name, value in plain.items()}
    sign_json = json.dumps(signed, separators=(",", ":"), ensure_ascii=True)
    digest = hmac.new(secret.encode("utf-8"), sign_json.encode("utf-8"), hashlib.sha256).hexdigest()
    return {**plain, **signed, SIGN_KEY_HEADER: ";".join(plain), SIGN_HEADER: sign_json, HASH_HEADER: digest}
