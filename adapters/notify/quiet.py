"""Quiet hours: how long an SMS must wait, if the local time is inside the quiet window."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from .options import QuietHours


def _at(day: datetime, hh_mm: str) -> datetime:
    hours, minutes = (int(part) for part in hh_mm.split(":"))
    return datetime.combine(day.date(), time(hours, minutes), tzinfo=day.tzinfo)


def seconds_until_allowed(quiet: QuietHours | None, now: datetime) -> float:
    """0 outside quiet hours; else seconds until they end (a window may span midnight)."""
    if quiet is None:
        return 0.0
    local = now.astimezone(ZoneInfo(quiet.timezone))
    start, end = _at(local, quiet.start), _at(local, quiet.end)
    if start == end:
        return 0.0
    if start < end:  # e.g. 12:00–13:30
        return (end - local).total_seconds() if start <= local < end else 0.0
    if local >= start:  # e.g. 21:00–07:00, after 21:00
        return (end + timedelta(days=1) - local).total_seconds()
    if local < end:  # before 07:00
        return (end - local).total_seconds()
    return 0.0
