"""VNPost's check at intake: an ems.order whose CustomerCode this hub holds no VNPost credentials for
is refused there (422, undeliverable), not accepted with 202 to die at delivery."""

from __future__ import annotations

from collections.abc import Collection

from hub.problems import Problem
from hub.spi import IntakeDocument


def unknown_customer_code(document: IntakeDocument, known: Collection[str]) -> list[Problem]:
    if document.doctype != "ems.order" or not isinstance(document.parsed, dict):
        return []
    order = document.parsed.get("order")
    code = order.get("CustomerCode") if isinstance(order, dict) else None
    if not isinstance(code, str) or code in known:
        return []
    return [
        Problem(
            "undeliverable",
            f"CustomerCode {code!r} has no VNPost contract in this hub (known: {', '.join(sorted(known))})",
        )
    ]
