"""The province's clock for the console: every time is shown in one zone (``LIENTHONG_TIMEZONE``,
Asia/Ho_Chi_Minh by default), labelled with its UTC offset, and the From/Until filters are read in
that same zone, so what an operator types and what the rows show agree."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DEFAULT_ZONE = "Asia/Ho_Chi_Minh"


def zone_named(name: str) -> ZoneInfo:
    """The zone `name`; ValueError naming it when the IANA database does not know it."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise ValueError(f"unknown time zone {name!r} (an IANA name such as {DEFAULT_ZONE})") from error


def offset_label(zone: ZoneInfo, at: datetime | None = None) -> str:
    """``UTC+07:00`` for Asia/Ho_Chi_Minh."""
    offset = (at or datetime.now(UTC)).astimezone(zone).strftime("%z")
    return f"UTC{offset[:3]}:{offset[3:]}"


def shown(value: datetime | None, zone: ZoneInfo, fmt: str = "%Y-%m-%d %H:%M:%S") -> str:
    """A stored (UTC) moment as the province's clock reads it."""
    if value is None:
        return "—"
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(zone).strftime(fmt)


def read_input(value: str | None, zone: ZoneInfo) -> datetime | None:
    """A datetime-local value typed in the console (the province's clock), or an ISO moment with its
    own offset; None for nothing or nonsense."""
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment.replace(tzinfo=zone) if moment.tzinfo is None else moment
