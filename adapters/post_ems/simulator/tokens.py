"""OAuth2 client-credentials tokens: issued to configured clients, expiring, revocable at once."""

from __future__ import annotations

import hmac
import secrets
import threading
from dataclasses import dataclass

from .clock import Clock
from .config import ClientCredentials


@dataclass(frozen=True)
class Token:
    value: str
    client: ClientCredentials
    expires_at: float


class TokenStore:
    def __init__(self, clients: list[ClientCredentials], ttl_seconds: float, clock: Clock) -> None:
        self._clients = {c.key: c for c in clients}
        self._ttl = ttl_seconds
        self._clock = clock
        self._tokens: dict[str, Token] = {}
        self._lock = threading.Lock()

    @property
    def ttl_seconds(self) -> float:
        return self._ttl

    def authenticate(self, key: str, secret: str) -> ClientCredentials | None:
        client = self._clients.get(key)
        if client is None or not hmac.compare_digest(client.secret.encode(), secret.encode()):
            return None
        return client

    def issue(self, client: ClientCredentials) -> Token:
        token = Token(secrets.token_urlsafe(24), client, self._clock.now() + self._ttl)
        with self._lock:
            self._drop_expired()
            self._tokens[token.value] = token
        return token

    def check(self, value: str) -> ClientCredentials | None:
        """The client a live token belongs to, or None if the token is unknown or expired."""
        token = self._tokens.get(value)
        if token is None or token.expires_at <= self._clock.now():
            return None
        return token.client

    def expire_all(self) -> int:
        with self._lock:
            count = len(self._tokens)
            self._tokens.clear()
            return count

    def live_count(self) -> int:
        now = self._clock.now()
        return sum(1 for t in list(self._tokens.values()) if t.expires_at > now)

    def _drop_expired(self) -> None:
        now = self._clock.now()
        for value in [v for v, t in self._tokens.items() if t.expires_at <= now]:
            del self._tokens[value]
