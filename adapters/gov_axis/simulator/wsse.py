"""WS-Security UsernameToken authentication of the SOAP face (Username = systemid, secret as password).

PasswordDigest (``Base64(SHA-1(nonce + created + secret))``, OASIS UsernameToken Profile 1.0) is
preferred: the secret never travels, ``Created`` must be fresh and a nonce is accepted once.
PasswordText is accepted too (for clients behind TLS); its ``Created``, when sent, must be fresh.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import threading
from collections.abc import Callable
from datetime import datetime, timedelta

from lxml import etree

from .errors import AxisError, ErrorCode

WSSE_NS = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSU_NS = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
_NS = {"wsse": WSSE_NS, "wsu": WSU_NS}


class UsernameTokenVerifier:
    def __init__(self, secret_of: Callable[[str], str | None], window_seconds: float) -> None:
        self.secret_of = secret_of
        self.window = timedelta(seconds=window_seconds)
        self._nonces: dict[str, datetime] = {}
        self._lock = threading.Lock()

    def _fresh(self, created_text: str, now: datetime) -> datetime:
        try:
            created = datetime.fromisoformat(created_text.strip().replace("Z", "+00:00"))
        except ValueError as exc:
            raise AxisError(ErrorCode.TIMESTAMP_STALE, "wsu:Created is unreadable") from exc
        if created.tzinfo is None or abs(now - created) > self.window:
            raise AxisError(ErrorCode.TIMESTAMP_STALE, "wsu:Created is outside the accepted window")
        return created

    def _once(self, nonce: str, now: datetime) -> None:
        with self._lock:
            for seen, at in list(self._nonces.items()):
                if now - at > 2 * self.window:
                    del self._nonces[seen]
            if nonce in self._nonces:
                raise AxisError(ErrorCode.AUTHENTICATION_FAILED, "the UsernameToken nonce was already used")
            self._nonces[nonce] = now

    def verify(self, header: etree._Element | None, now: datetime) -> str:
        """The authenticated systemid, from the ``soap:Header`` element (or raise :class:`AxisError`)."""
        token = None if header is None else header.find("wsse:Security/wsse:UsernameToken", _NS)
        if token is None:
            raise AxisError(
                ErrorCode.AUTHENTICATION_FAILED, "a wsse:Security UsernameToken header is required"
            )
        systemid = (token.findtext("wsse:Username", default="", namespaces=_NS)).strip()
        password = token.find("wsse:Password", _NS)
        if not systemid or password is None:
            raise AxisError(
                ErrorCode.AUTHENTICATION_FAILED, "the UsernameToken needs a Username and a Password"
            )
        secret = self.secret_of(systemid)
        if secret is None:
            raise AxisError(ErrorCode.UNKNOWN_SYSTEM, f"unknown systemid {systemid!r}")
        kind = password.get("Type", "#PasswordText").rsplit("#", 1)[-1]
        created_text = token.findtext("wsu:Created", namespaces=_NS)
        given = (password.text or "").strip()
        if kind == "PasswordDigest":
            nonce_text = token.findtext("wsse:Nonce", namespaces=_NS)
            if not nonce_text or not created_text:
                raise AxisError(ErrorCode.AUTHENTICATION_FAILED, "PasswordDigest needs a Nonce and a Created")
            try:
                nonce = base64.b64decode(nonce_text.strip(), validate=True)
            except binascii.Error as exc:
                raise AxisError(ErrorCode.AUTHENTICATION_FAILED, "the Nonce is not base64") from exc
            self._fresh(created_text, now)
            expected = base64.b64encode(
                hashlib.sha1(nonce + created_text.strip().encode() + secret.encode()).digest()
            ).decode("ascii")
            if not hmac.compare_digest(expected, given):
                raise AxisError(ErrorCode.AUTHENTICATION_FAILED, "wrong password digest")
            self._once(nonce_text.strip(), now)
        elif kind == "PasswordText":
            if created_text:
                self._fresh(created_text, now)
            if not hmac.compare_digest(secret.encode(), given.encode()):
                raise AxisError(ErrorCode.AUTHENTICATION_FAILED, "wrong password")
        else:
            raise AxisError(ErrorCode.AUTHENTICATION_FAILED, f"unsupported password type {kind!r}")
        return systemid
