"""One door-keeper for every route: request bodies and headers are capped before anything reads them.

An ASGI middleware, so every route the app has — the API, the console's forms, every adapter's
webhook and callback, and any route added later — is covered without its handler doing anything:

- a body whose declared ``Content-Length`` exceeds the route's limit is answered 413 at once, unread;
- a body that streams past the limit stops being read at the limit and is answered 413;
- more than ``max_header_count`` headers, or more than ``max_header_bytes`` of them, is answered 431;
- a NUL character in the path or the query (``%00``) is answered 400 ``invalid-request``: no id, key
  or filter holds one, and PostgreSQL cannot even compare text with it (a 500 otherwise).

The limit is ``max_body_bytes`` for document intake (``POST /v1/messages``) and ``max_form_bytes``
for everything else (forms, callbacks and webhooks carry a few kilobytes).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from hub.api.errors import PROBLEM_MEDIA_TYPE
from hub.problems import Problem

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

INTAKE_PATH = "/v1/messages"


class RequestLimits:
    """ASGI middleware enforcing the body and header limits (see the module's docstring)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body_bytes: int,
        max_form_bytes: int,
        max_header_count: int,
        max_header_bytes: int,
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.max_form_bytes = max_form_bytes
        self.max_header_count = max_header_count
        self.max_header_bytes = max_header_bytes

    def limit_for(self, scope: Scope) -> int:
        if scope.get("method") == "POST" and scope.get("path", "").rstrip("/") == INTAKE_PATH:
            return self.max_body_bytes
        return self.max_form_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers: list[tuple[bytes, bytes]] = scope.get("headers", [])
        size = sum(len(name) + len(value) + 4 for name, value in headers)
        if len(headers) > self.max_header_count or size > self.max_header_bytes:
            detail = (
                f"{len(headers)} headers of {size} bytes exceed the limits of "
                f"{self.max_header_count} headers and {self.max_header_bytes} bytes"
            )
            await _answer(scope, send, Problem("headers-too-large", detail))
            return
        if "\x00" in scope.get("path", "") or b"%00" in scope.get("query_string", b""):
            await _answer(
                scope, send, Problem("invalid-request", "a NUL character in the URL is not accepted")
            )
            return
        limit = self.limit_for(scope)
        declared = dict(headers).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > limit:
            await _answer(
                scope, send, Problem("body-too-large", f"{int(declared)} bytes exceed the limit of {limit}")
            )
            return
        await self.app(scope, _capped(receive, limit), send)


def _capped(receive: Receive, limit: int) -> Receive:
    """`receive`, raising the 413 problem (rendered by the app's handler) once the body passes `limit`."""
    seen = 0

    async def capped() -> Message:
        nonlocal seen
        if seen > limit:  # a handler that caught the first refusal and reads again
            raise Problem("body-too-large", f"the body exceeds the limit of {limit} bytes")
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise Problem("body-too-large", f"the body exceeds the limit of {limit} bytes")
        return message

    return capped


async def _answer(scope: Scope, send: Send, problem: Problem) -> None:
    """The problem+json answer, sent before the app sees the request (nothing was read)."""
    body = json.dumps(problem.to_dict(instance=scope.get("path", "")), ensure_ascii=False).encode()
    await send(
        {
            "type": "http.response.start",
            "status": problem.status,
            "headers": [
                (b"content-type", PROBLEM_MEDIA_TYPE.encode()),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
