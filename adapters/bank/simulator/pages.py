"""Minimal HTML pages the gateways show to the customer's browser (payment page, error page)."""

from __future__ import annotations

import html

from fastapi.responses import HTMLResponse


def html_page(title: str, *lines: str, status_code: int = 200) -> HTMLResponse:
    """A page with ``title`` and one paragraph per line; every text is escaped."""
    body = "".join(f"<p>{html.escape(line)}</p>" for line in lines)
    return HTMLResponse(
        "<!doctype html><html lang='vi'><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title></head><body><h1>{html.escape(title)}</h1>{body}</body></html>",
        status_code=status_code,
    )
