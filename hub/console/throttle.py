"""Console login throttling: per operator account and per client address.

Failed logins are counted in a moving window (the ``limits`` library, in this process's memory).
Past the limit, the account or the address is locked out for ``lockout_seconds``, doubling with each
further lockout in a row (an attacker's 200 guesses in 20 s become a handful, then hours), and
released by a successful login from a place that is not locked. While locked, a login is refused
*without checking the password*, so even the right one does not get in until the lockout ends.

Audit stays bounded: a burst of failures is recorded once, when it starts, and once more when it
becomes a lockout (with its count) — never one ledger event per attempt.

With several `serve` processes each counts its own attempts (the limits multiply by the number of
processes); put a shared limiter in front of the console (the reverse proxy) if that matters.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from limits import RateLimitItem, parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter


@dataclass
class _Lockout:
    until: float = 0.0
    strikes: int = 0  # lockouts in a row


@dataclass(frozen=True)
class Verdict:
    """What a failed attempt amounts to: the first of a burst, the one that locked, or neither."""

    burst_started: bool
    locked_for: float  # seconds, 0 when this attempt locked nothing


class LoginThrottle:
    def __init__(
        self,
        *,
        per_account: str = "5/minute",
        per_address: str = "20/minute",
        lockout_seconds: float = 60.0,
        max_lockout_seconds: float = 3600.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._limits: dict[str, RateLimitItem] = {
            "account": parse(per_account),
            "address": parse(per_address),
        }
        self._limiter = MovingWindowRateLimiter(MemoryStorage())
        self._lockout_seconds = lockout_seconds
        self._max_lockout_seconds = max_lockout_seconds
        self._clock = clock
        self._lockouts: dict[tuple[str, str], _Lockout] = {}
        self._lock = threading.Lock()

    def _keys(self, account: str, address: str | None) -> list[tuple[str, str]]:
        return [("account", account.lower()), ("address", address or "-")]

    def wait(self, account: str, address: str | None) -> float:
        """Seconds until a login for `account` from `address` may be tried (0: now)."""
        now = self._clock()
        with self._lock:
            waits = [
                lockout.until - now
                for key in self._keys(account, address)
                if (lockout := self._lockouts.get(key)) and lockout.until > now
            ]
        return max(waits, default=0.0)

    def failed(self, account: str, address: str | None) -> Verdict:
        """Count a failed attempt; lock out what went over its limit."""
        now = self._clock()
        burst_started = False
        locked_for = 0.0
        with self._lock:
            for kind, ident in self._keys(account, address):
                item = self._limits[kind]
                stats = self._limiter.get_window_stats(item, kind, ident)
                if stats.remaining == item.amount:
                    burst_started = True
                if not self._limiter.hit(item, kind, ident):
                    lockout = self._lockouts.setdefault((kind, ident), _Lockout())
                    lockout.strikes += 1
                    seconds = min(
                        self._lockout_seconds * 2 ** (lockout.strikes - 1), self._max_lockout_seconds
                    )
                    lockout.until = now + seconds
                    self._limiter.clear(item, kind, ident)
                    locked_for = max(locked_for, seconds)
        return Verdict(burst_started, locked_for)

    def succeeded(self, account: str, address: str | None) -> None:
        """A right password from a place not locked: the account's count and strikes start again."""
        with self._lock:
            key = self._keys(account, address)[0]
            self._lockouts.pop(key, None)
            self._limiter.clear(self._limits["account"], *key)
