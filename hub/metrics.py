"""What the hub tells monitoring: Prometheus metrics (``/metrics``).

Counters and histograms of intake and delivery live in one process-wide registry, fed by two small
hooks (:func:`observe_intake`, :func:`observe_delivery`). Figures that live in the ledger (queue
depth, oldest undelivered message, ledger size) are computed at scrape time by
:class:`LedgerCollector` with a few cheap aggregate queries, so every process reports the same
truth whichever process did the work.

Readiness is :mod:`hub.health`; the outside peers' reachability is :mod:`hub.peers`.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from hub.delivery_process import DELIVERY_FAMILIES, DeliveryProcess, only_families
from hub.ledger import Ledger

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
            "Age of the oldest delivery the hub pushes that is not yet delivered nor dead (0 when none;"
            " documents waiting in a pull inbox are lienthong_oldest_in_inbox_seconds)",
            value=figures.oldest_pushed_age(),
        )
        yield GaugeMetricFamily(
            "lienthong_oldest_in_inbox_seconds",
            "Age of the oldest document waiting for its recipient to pull it from its inbox (0 when none)",
            value=figures.oldest_in_inbox_age(),
        )
        by_adapter = GaugeMetricFamily(
            "lienthong_oldest_undelivered_by_adapter_seconds",
            "Age of the oldest undelivered delivery, by adapter (inbox included)",
            labels=["adapter"],
        )
        for adapter, age in figures.age_by_adapter().items():
            by_adapter.add_metric([adapter], age)
        yield by_adapter
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


class DeliveryProcessCollector(Collector):
    """`serve` whose delivery runs in a child process (hub.delivery_process): is it up, how often
    was it restarted. Its delivery counters and histograms are that process's, not in this registry;
    the ledger's gauges above tell the queue's truth either way."""

    def __init__(self, child: DeliveryProcess) -> None:
        self.child = child

    def collect(self) -> Iterator[Metric]:
        status = self.child.status()
        yield GaugeMetricFamily(
            "lienthong_delivery_process_up",
            "1 while serve's delivery process runs, 0 while it is down (restarted after a backoff)",
            value=1 if status.state in ("starting", "running") else 0,
        )
        yield GaugeMetricFamily(
            "lienthong_delivery_process_restarts",
            "Times serve restarted its delivery process since serve started",
            value=status.restarts,
        )


def exposition(
    ledger: Ledger, ledger_registry: CollectorRegistry | None = None, child: DeliveryProcess | None = None
) -> bytes:
    """The Prometheus text of the process-wide counters and of `ledger`'s gauges; with `child`
    (`serve`'s delivery process) the delivery counters are the child's, not this process's."""
    if ledger_registry is None:
        ledger_registry = CollectorRegistry(auto_describe=False)
        ledger_registry.register(LedgerCollector(ledger))
    own = generate_latest(REGISTRY)
    if child is not None:
        own = only_families(own, DELIVERY_FAMILIES, keep=False) + child.metrics_text()
    return own + generate_latest(ledger_registry)
