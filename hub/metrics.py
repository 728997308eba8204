"""What the hub tells monitoring: Prometheus metrics (``/metrics``) and readiness (``/readyz``).

Counters and histograms of intake and delivery live in one process-wide registry, fed by two small
hooks (:func:`observe_intake`, :func:`observe_delivery`). Figures that live in the ledger (queue
depth, oldest undelivered message, ledger size) are computed at scrape time by
:class:`LedgerCollector` with a few cheap aggregate queries, so every process reports the same
truth whichever process did the work.

Readiness asks: can the ledger be read, does the queue answer (AMQP), is the hub's key usable (its
certificate within validity), and does every adapter's peer accept connections. Peer checks are TCP
connects to the http(s) URLs found in the adapters' options (fields named ``*url``), cached a few
seconds so a busy probe does not hammer peers; :class:`PeerWatch` also remembers since when a peer
is down, which the alert watcher uses.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import sqlalchemy as sa
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from hub.ledger import Ledger
    from hub.runtime import Runtime
    from hub.spi import Adapter

REGISTRY = CollectorRegistry(auto_describe=True)

INTAKE = Counter(
    "lienthong_intake",
    "Documents presented at intake, by type and outcome",
    ["type", "outcome"],
    registry=REGISTRY,
)
INTAKE_SECONDS = Histogram(
    "lienthong_intake_seconds",
    "Time from a document presented to its answer, by type and outcome",
    ["type", "outcome"],
    registry=REGISTRY,
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
REFUSALS = Counter(
    "lienthong_intake_refusals", "Refusals at intake by problem type", ["problem"], registry=REGISTRY
)
DELIVERIES = Counter(
    "lienthong_delivery_attempts",
    "Delivery attempts by adapter and outcome (delivered, retrying, dead)",
    ["adapter", "outcome"],
    registry=REGISTRY,
)
DELIVERY_SECONDS = Histogram(
    "lienthong_delivery_seconds",
    "Time of one delivery attempt, by adapter",
    ["adapter"],
    registry=REGISTRY,
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
RETRIES = Counter(
    "lienthong_delivery_retries", "Attempts that will be retried, by adapter", ["adapter"], registry=REGISTRY
)

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def observe_intake(doctype: str | None, outcome: str, started: float, problem: str | None = None) -> None:
    """Hook of :meth:`hub.intake.Intake.submit`: `outcome` is accepted, duplicate or refused."""
    labels = (doctype or "unknown", outcome)
    INTAKE.labels(*labels).inc()
    INTAKE_SECONDS.labels(*labels).observe(time.perf_counter() - started)
    if problem:
        REFUSALS.labels(problem).inc()


def observe_delivery(adapter: str | None, outcome: str, started: float) -> None:
    """Hook of :meth:`hub.delivery.DeliveryEngine.attempt`: one attempt ended in `outcome`."""
    name = adapter or "-"
    DELIVERIES.labels(name, outcome).inc()
    DELIVERY_SECONDS.labels(name).observe(time.perf_counter() - started)
    if outcome == "retrying":
        RETRIES.labels(name).inc()


class LedgerCollector(Collector):
    """Gauges read from the ledger at scrape time."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger

    def collect(self) -> Iterator[Metric]:
        figures = self.ledger.queue_figures()
        by_state = GaugeMetricFamily(
            "lienthong_deliveries",
            "Deliveries in the ledger by adapter and state",
            labels=["adapter", "state"],
        )
        depth = GaugeMetricFamily(
            "lienthong_queue_depth", "Deliveries not yet delivered nor dead, by adapter", labels=["adapter"]
        )
        waiting: dict[str, int] = {}
        for (adapter, state), count in sorted(figures.deliveries_by_state.items()):
            by_state.add_metric([adapter, state], count)
            if state in ("queued", "delivering", "retrying"):
                waiting[adapter] = waiting.get(adapter, 0) + count
        for adapter, count in sorted(waiting.items()):
            depth.add_metric([adapter], count)
        yield by_state
        yield depth
        yield GaugeMetricFamily(
            "lienthong_oldest_undelivered_seconds",
            "Age of the oldest delivery not yet delivered nor dead (0 when none)",
            value=figures.oldest_undelivered_age(),
        )
        yield GaugeMetricFamily(
            "lienthong_ledger_events", "Events recorded in the ledger's log", value=figures.ledger_events
        )
        yield GaugeMetricFamily(
            "lienthong_ledger_unsequenced_events",
            "Events the ledger's sequencer has not placed yet (near zero while it runs)",
            value=figures.unsequenced_events,
        )
        yield GaugeMetricFamily(
            "lienthong_ledger_tree_size",
            "Events covered by the ledger's latest signed checkpoint",
            value=figures.tree_size,
        )


def exposition(ledger: Ledger, ledger_registry: CollectorRegistry | None = None) -> bytes:
    """The Prometheus text of the process-wide counters and of `ledger`'s gauges."""
    if ledger_registry is None:
        ledger_registry = CollectorRegistry(auto_describe=False)
        ledger_registry.register(LedgerCollector(ledger))
    return generate_latest(REGISTRY) + generate_latest(ledger_registry)


# -- readiness -------------------------------------------------------------------------------------


@dataclass
class Check:
    name: str
    ok: bool
    detail: str


@dataclass
class _PeerState:
    url: str
    ok: bool = True
    detail: str = "not checked yet"
    checked: float = 0.0
    down_since: datetime | None = None


def adapter_peer_urls(adapter: Adapter) -> list[str]:
    """The http(s) URLs in an adapter's options (any field whose name ends in ``url``)."""
    found: list[str] = []

    def walk(value: Any, name: str = "") -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                walk(item, str(key))
        elif (
            isinstance(value, str)
            and name.lower().endswith("url")
            and value.startswith(("http://", "https://"))
        ):
            found.append(value)

    walk(adapter.options.model_dump())
    return list(dict.fromkeys(found))


def tcp_reachable(url: str, timeout: float = 2.0) -> tuple[bool, str]:
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

    peers: dict[str, list[str]]  # adapter → URLs
    cache_seconds: float = 5.0
    _states: dict[str, _PeerState] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def of(cls, adapters: Iterable[Adapter], cache_seconds: float) -> PeerWatch:
        return cls({a.name: adapter_peer_urls(a) for a in adapters}, cache_seconds)

    def check(self, *, fresh: bool = False) -> list[tuple[str, _PeerState]]:
        """(adapter, state) of every peer, checking again those whose last check is too old."""
        result = []
        for adapter, urls in sorted(self.peers.items()):
            for url in urls:
                with self._lock:
                    state = self._states.setdefault(url, _PeerState(url))
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


def readiness(runtime: Runtime, peers: PeerWatch) -> list[Check]:
    """Every readiness check of this process, in a stable order."""
    checks = [_database(runtime), _queue(runtime), _keys(runtime)]
    for adapter, state in peers.check():
        checks.append(Check(f"peer:{adapter}:{state.url}", state.ok, state.detail))
    return checks


def _database(runtime: Runtime) -> Check:
    try:
        with runtime.hub.ledger.engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except Exception as error:
        return Check("database", False, f"the ledger cannot be read: {type(error).__name__}: {error}")
    return Check("database", True, "the ledger answers")


def _queue(runtime: Runtime) -> Check:
    if runtime.queue is None:
        return Check("queue", True, "embedded (the ledger is the queue)")
    ok, detail = tcp_reachable(runtime.hub.settings.queue_url)
    if not ok:
        return Check("queue", False, f"RabbitMQ: {detail}")
    try:
        waiting = runtime.queue.depth()
    except Exception as error:
        return Check("queue", False, f"RabbitMQ does not answer: {type(error).__name__}: {error}")
    return Check("queue", True, f"RabbitMQ answers ({waiting} tickets ready)")


def _keys(runtime: Runtime) -> Check:
    try:
        certificate = runtime.hub.identity.certificate
    except Exception as error:
        return Check("keys", False, f"the hub's key cannot be loaded: {error}")
    now = datetime.now(UTC)
    if not certificate.not_valid_before_utc <= now <= certificate.not_valid_after_utc:
        return Check(
            "keys", False, f"the hub's certificate is not valid now (until {certificate.not_valid_after_utc})"
        )
    return Check(
        "keys",
        True,
        f"the hub's key is loaded; its certificate is valid until {certificate.not_valid_after_utc:%Y-%m-%d}",
    )
