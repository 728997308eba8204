"""Console sessions: a signed cookie (HMAC-SHA256), HttpOnly, SameSite=Strict, Secure over HTTPS,
holding the operator's id, an expiry and the session's CSRF token.

Every console POST must carry that token in its form (synchronizer token) and, when the browser
sends an ``Origin`` header, come from the console's own origin. The login form, which has no
session yet, uses a double-submit token in a short-lived cookie instead.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import Response

SESSION_COOKIE = "lienthong_console"
LOGIN_CSRF_COOKIE = "lienthong_console_login"
COOKIE_PATH = "/console"


@dataclass(frozen=True)
class Session:
    operator_id: str
    expires: float
    csrf: str


def _b64(data: bytes) -> str:
    """URL-safe base64 without padding: a cookie value that needs no quoting."""
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def derive_secret(configured: str | None, key_file: Path) -> bytes:
    """The configured secret, or one derived from the hub's private key (the same in every process
    that shares the key, so sessions survive a restart and work across API processes)."""
    if configured:
        return hashlib.sha256(b"lienthong console\0" + configured.encode("utf-8")).digest()
    return hashlib.sha256(b"lienthong console\0" + key_file.read_bytes()).digest()


class SessionSigner:
    def __init__(self, secret: bytes, lifetime_seconds: float) -> None:
        self._secret = secret
        self.lifetime = lifetime_seconds

    def _sign(self, payload: bytes) -> str:
        return _b64(hmac.new(self._secret, payload, hashlib.sha256).digest())

    def issue(self, operator_id: str, *, now: float | None = None) -> tuple[Session, str]:
        session = Session(operator_id, (now or time.time()) + self.lifetime, secrets.token_urlsafe(24))
        payload = json.dumps(
            {"op": session.operator_id, "exp": session.expires, "csrf": session.csrf}
        ).encode()
        value = _b64(payload) + "." + self._sign(payload)
        return session, value

    def read(self, value: str | None, *, now: float | None = None) -> Session | None:
        """The session a cookie value stands for; None if absent, forged, malformed or expired."""
        if not value or "." not in value:
            return None
        encoded, signature = value.rsplit(".", 1)
        try:
            payload = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
        except ValueError:
            return None
        if not hmac.compare_digest(self._sign(payload), signature):
            return None
        try:
            data = json.loads(payload)
            session = Session(str(data["op"]), float(data["exp"]), str(data["csrf"]))
        except (ValueError, KeyError, TypeError):
            return None
        return session if session.expires > (now or time.time()) else None


def is_https(request: Request) -> bool:
    return request.url.scheme == "https" or request.headers.get("x-forwarded-proto") == "https"


def set_cookie(response: Response, request: Request, name: str, value: str, max_age: int | None) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path=COOKIE_PATH,
        httponly=True,
        samesite="strict",
        secure=is_https(request),
    )


def same_origin(request: Request) -> bool:
    """False only when the browser says the request comes from another origin."""
    origin = request.headers.get("origin")
    if not origin or origin == "null":
        return origin is None
    parts = urlsplit(origin)
    return parts.netloc == request.headers.get("host", request.url.netloc)


def tokens_match(expected: str | None, given: str | None) -> bool:
    return bool(expected) and bool(given) and hmac.compare_digest(str(expected), str(given))
