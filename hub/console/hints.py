"""What an operator should do about a failed delivery: its failure class, read from the adapter's
last error and whether the adapter called the failure permanent, and a hint per class (i18n keys
``hint_<class>``). A permanent refusal is not offered the Retry button: sending the same document
again cannot succeed."""

from __future__ import annotations

import re

_CREDENTIALS = re.compile(r"credential|unauthori[sz]ed|\b401\b|\b403\b|forbidden|secret|token", re.I)
_EXPIRED = re.compile(r"expire|hết hạn", re.I)
_UNREACHABLE = re.compile(
    r"connect|timed? ?out|unreachable|refused|reset|\b50[234]\b|name or service|no route|ssl", re.I
)

#: class → whether Retry can help
RETRYABLE = {"credentials": True, "unreachable": True, "peer-error": True, "expired": False, "refused": False}


def failure_class(last_error: str | None, permanent: bool) -> str:
    text = last_error or ""
    if _EXPIRED.search(text):
        return "expired"
    if _CREDENTIALS.search(text):
        return "credentials"
    if permanent:
        return "refused"
    if _UNREACHABLE.search(text):
        return "unreachable"
    return "peer-error"
