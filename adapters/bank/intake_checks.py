"""The bank's check at intake: a payment.request whose `expires_at` has already passed is refused there
(422, undeliverable) instead of being accepted with 202 and failing at delivery."""

from __future__ import annotations

from datetime import datetime

from hub.problems import Problem
from hub.spi import IntakeDocument


def expired_request(document: IntakeDocument, now: datetime) -> list[Problem]:
    if document.doctype != "payment.request" or not isinstance(document.parsed, dict):
        return []
    text = document.parsed.get("expires_at")
    if not isinstance(text, str):
        return []
    try:
        expires = datetime.fromisoformat(text)
    except ValueError:
        return []  # the schema judges the format; the adapter only judges time
    if expires.tzinfo is None or expires > now:
        return []
    return [Problem("undeliverable", f"the payment request expired at {text}; ask for a new one")]
