"""Watching the outside systems the adapters call: reachable or not, and since when.

Each adapter names the URLs it calls (:meth:`hub.spi.Adapter.peer_urls`); a check is a TCP connect,
reused for ``cache_seconds`` so a busy probe does not hammer peers. What is found is *reported* —
``/healthz``, the ``lienthong_peer_up`` gauge, the console, the peer-down alert — and never makes
the hub unready: a hub whose VNPost is down still accepts and records every agency's documents.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import urlsplit

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from hub.spi import Adapter


@dataclass
class PeerState:
    """The last check of one URL."""

    url: str
    ok: bool = True
    detail: str = "not checked yet"
    checked: float = 0.0
    down_since: datetime | None = None


def tcp_reachable(url: str, timeout: float = 2.0) -> tuple[bool, str]:
    """Whether the URL's host and port accept a TCP connection, and a sentence saying so."""
    parts = urlsplit(url)
    host = parts.hostname or "127.0.0.1"
    port = parts.port or (
        443 if parts.scheme in ("https", "amqps") else 5672 if parts.scheme == "amqp" else 80
    )
    try:
        with socket.create_connection((host, port), timeout):
            return True, f"{host}:{port} accepts connections"
    except OSError as error:
        return False, f"{host}:{port} does not answer ({error.strerror or error})"


@dataclass
class PeerWatch:
    """Reachability of every adapter's peers, each check reused for `cache_seconds`."""

    peers: dict[str, list[str]]  # adapter → URLs it calls
    cache_seconds: float = 5.0
    _states: dict[str, PeerState] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def of(cls, adapters: Iterable[Adapter], cache_seconds: float) -> PeerWatch:
        return cls({a.name: list(dict.fromkeys(a.peer_urls())) for a in adapters}, cache_seconds)

    def check(self, *, fresh: bool = False) -> list[tuple[str, PeerState]]:
        """(adapter, state) of every peer, checking again those whose last check is too old."""
        result = []
        for adapter, urls in sorted(self.peers.items()):
            for url in urls:
                with self._lock:
                    state = self._states.setdefault(url, PeerState(url))
                now = time.monotonic()
                if fresh or not state.checked or now - state.checked >= self.cache_seconds:
                    ok, detail = tcp_reachable(url)
                    state.ok, state.detail, state.checked = ok, detail, now
                    if ok:
                        state.down_since = None
                    elif state.down_since is None:
                        state.down_since = datetime.now(UTC)
                result.append((adapter, state))
        return result

    def report(self) -> list[dict[str, object]]:
        """What `/healthz` shows of the peers."""
        return [
            {
                "adapter": adapter,
                "url": state.url,
                "ok": state.ok,
                "detail": state.detail,
                "down_since": state.down_since.isoformat() if state.down_since else None,
            }
            for adapter, state in self.check()
        ]


class PeerCollector(Collector):
    """``lienthong_peer_up{adapter,url}``: 1 while the peer accepts connections, at scrape time."""

    def __init__(self, peers: PeerWatch) -> None:
        self.peers = peers

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily(
            "lienthong_peer_up",
            "Outside system accepts connections (1) or not (0)",
            labels=["adapter", "url"],
        )
        for adapter, state in self.peers.check():
            up.add_metric([adapter, state.url], 1.0 if state.ok else 0.0)
        yield up
