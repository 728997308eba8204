"""The VXP REST face's request signing (VNPT/VPCP SDK scheme) and the ``hash-file`` quirk.

A client sends every parameter ``h`` as a header, re-sends it as ``XroadVnpt-<h>``, lists the names in
``XroadVnpt-sign-header-key`` (joined by ``;``), puts a JSON object ``{"XroadVnpt-<h>": value}`` in
``XroadVnpt-sign-header`` and ``hex(HMAC-SHA256(secret, that JSON))`` in ``XroadVnpt-hash-header``.
``systemid`` and ``timestamp`` are always among the signed headers. Used by the simulator to verify and
by :mod:`.peer` (and tests) to sign.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone

from .errors import AxisError, ErrorCode

PREFIX = "XroadVnpt-"
SIGN_KEY_HEADER = "XroadVnpt-sign-header-key"
SIGN_HEADER = "XroadVnpt-sign-header"
HASH_HEADER = "XroadVnpt-hash-header"
REQUIRED_SIGNED = ("systemid", "timestamp")

_SDK_TIMESTAMP = re.compile(r"^(\d{2})(\d{2})(\d{4})T(\d{2})(\d{2})(\d{2})\+(\d{1,4})$")


def hash_file(data: bytes) -> str:
    """SHA-256 of ``data`` as the SDK writes it: each byte in hex WITHOUT zero padding (``0x0a`` → ``a``)."""
    return "".join(format(b, "x") for b in hashlib.sha256(data).digest())


def sdk_timestamp(now: datetime | None = None, utc_offset_hours: int = 7) -> str:
    """A timestamp as the SDK formats it (``ddMMyyyy'T'HHmmss+SSSS``, local time, milliseconds after '+')."""
    local = (now or datetime.now(UTC)).astimezone(timezone(timedelta(hours=utc_offset_hours)))
    return local.strftime("%d%m%YT%H%M%S") + f"+{local.microsecond // 1000:04d}"


def parse_timestamp(value: str, utc_offset_hours: int = 7) -> datetime:
    """Parse the SDK form (local time at ``utc_offset_hours``) or ISO 8601 with an explicit offset."""
    match = _SDK_TIMESTAMP.match(value.strip())
    if match:
        day, month, year, hour, minute, second, millis = (int(g) for g in match.groups())
        tz = timezone(timedelta(hours=utc_offset_hours))
        return datetime(year, month, day, hour, minute, second, millis * 1000 % 1_000_000, tzinfo=tz)
    parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        raise ValueError("an ISO 8601 timestamp needs an offset")
    return parsed


def sign_headers(
    systemid: str, secret: str, params: Mapping[str, str], *, timestamp: str | None = None
) -> dict[str, str]:
    """Headers of one signed request: the parameters, their ``XroadVnpt-`` copies and the signature."""
    plain = {"systemid": systemid, "timestamp": timestamp or sdk_timestamp(), **params}
    signed = {PREFIX + name: value for name, value in plain.items()}
    sign_json = json.dumps(signed, separators=(",", ":"), ensure_ascii=True)
    digest = hmac.new(secret.encode("utf-8"), sign_json.encode("utf-8"), hashlib.sha256).hexdigest()
    return {
        **plain,
        **signed,
        SIGN_KEY_HEADER: ";".join(plain),
        SIGN_HEADER: sign_json,
        HASH_HEADER: digest,
    }


@dataclass(frozen=True)
class VerifiedRequest:
    """Who called, and the signed parameters (names lower-cased) that the operation may trust."""

    systemid: str
    params: dict[str, str]

    def get(self, name: str) -> str | None:
        return self.params.get(name.lower())


def verify_request(
    headers: Mapping[str, str],
    secret_of: Callable[[str], str | None],
    *,
    now: datetime,
    window_seconds: float,
    utc_offset_hours: int = 7,
) -> VerifiedRequest:
    """Check the signature, the consistency of every signed header and the timestamp's freshness.

    ``headers`` must look names up case-insensitively (Starlette's ``Headers`` does). Raises
    :class:`AxisError` with UNKNOWN_SYSTEM, SIGNATURE_INVALID, TIMESTAMP_STALE or MISSING_PARAMETER.
    """
    systemid = headers.get("systemid") or headers.get(PREFIX + "systemid")
    if not systemid:
        raise AxisError(ErrorCode.MISSING_PARAMETER, "header systemid is missing")
    secret = secret_of(systemid)
    if secret is None:
        raise AxisError(ErrorCode.UNKNOWN_SYSTEM, f"unknown systemid {systemid!r}")
    key_list, sign_json, given = (headers.get(h) for h in (SIGN_KEY_HEADER, SIGN_HEADER, HASH_HEADER))
    if not key_list or not sign_json or not given:
        raise AxisError(ErrorCode.SIGNATURE_INVALID, "the XroadVnpt signature headers are missing")
    expected = hmac.new(secret.encode("utf-8"), sign_json.encode("utf-8"), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, given.strip().lower()):
        raise AxisError(
            ErrorCode.SIGNATURE_INVALID, "XroadVnpt-hash-header does not match the signed headers"
        )
    try:
        signed = json.loads(sign_json)
    except ValueError as exc:
        raise AxisError(ErrorCode.SIGNATURE_INVALID, "XroadVnpt-sign-header is not JSON") from exc
    if not isinstance(signed, dict) or not all(isinstance(v, str) for v in signed.values()):
        raise AxisError(ErrorCode.SIGNATURE_INVALID, "XroadVnpt-sign-header is not an object of strings")
    names = [n.strip() for n in key_list.split(";") if n.strip()]
    signed_lower = {k.lower(): v for k, v in signed.items()}
    if len(signed_lower) != len(signed) or sorted(signed_lower) != sorted(
        (PREFIX + n).lower() for n in names
    ):
        raise AxisError(
            ErrorCode.SIGNATURE_INVALID, "XroadVnpt-sign-header-key does not list the signed headers"
        )
    params: dict[str, str] = {}
    for name in names:
        value = signed_lower[(PREFIX + name).lower()]
        for sent_as in (PREFIX + name, name):
            sent = headers.get(sent_as)
            if sent is not None and sent != value:
                raise AxisError(
                    ErrorCode.SIGNATURE_INVALID, f"header {sent_as} differs from its signed value"
                )
        if headers.get(PREFIX + name) is None:
            raise AxisError(ErrorCode.SIGNATURE_INVALID, f"header {PREFIX + name} is missing")
        params[name.lower()] = value
    missing = [n for n in REQUIRED_SIGNED if n not in params]
    if missing:
        raise AxisError(ErrorCode.SIGNATURE_INVALID, f"headers {', '.join(missing)} must be signed")
    if params["systemid"] != systemid:
        raise AxisError(ErrorCode.SIGNATURE_INVALID, "the signed systemid differs from the header systemid")
    try:
        sent_at = parse_timestamp(params["timestamp"], utc_offset_hours)
    except ValueError as exc:
        raise AxisError(
            ErrorCode.TIMESTAMP_STALE, f"timestamp {params['timestamp']!r} is unreadable"
        ) from exc
    skew = abs((now - sent_at).total_seconds())
    if skew > window_seconds:
        raise AxisError(
            ErrorCode.TIMESTAMP_STALE,
            f"timestamp is {skew:.0f}s away from the axis clock (window {window_seconds:g}s)",
        )
    return VerifiedRequest(systemid=systemid, params=params)
