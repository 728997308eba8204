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
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from hub.ledger import Ledger
from hub.ledger.models import deliveries
from hub.ledger.work import INBOX_ADAPTER

UNDELIVERED = ("queued", "delivering", "retrying")

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


@dataclass(frozen=True)
class Waiting:
    """How long deliveries have waited, split between those the hub pushes (a stuck one is the hub's
    problem) and those waiting in an agency's pull inbox (the agency has not fetched yet: no alarm)."""

    oldest_by_adapter: dict[str, datetime]

    def _age(self, moment: datetime | None, now: datetime | None) -> float:
        if moment is None:
            return 0.0
        return max(0.0, ((now or datetime.now(UTC)) - moment).total_seconds())

    def oldest_pushed_age(self, now: datetime | None = None) -> float:
        pushed = [m for a, m in self.oldest_by_adapter.items() if a != INBOX_ADAPTER]
        return self._age(min(pushed, default=None), now)

    def oldest_in_inbox_age(self, now: datetime | None = None) -> float:
        return self._age(self.oldest_by_adapter.get(INBOX_ADAPTER), now)

    def age_by_adapter(self, now: datetime | None = None) -> dict[str, float]:
        return {a: self._age(m, now) for a, m in sorted(self.oldest_by_adapter.items())}


def waiting_ages(ledger: Ledger) -> Waiting:
    """The oldest undelivered delivery of every adapter (one aggregate query).

    Read here rather than through ``Ledger.queue_figures``, whose single "oldest undelivered" counts
    documents waiting in a pull inbox: a commune that does not pull over a weekend would hide a
    truly stuck push and set off age alerts."""
    query = (
        sa.select(deliveries.c.adapter, sa.func.min(deliveries.c.created_at))
        .where(deliveries.c.state.in_(UNDELIVERED))
        .group_by(deliveries.c.adapter)
    )
    with ledger.engine.connect() as conn:
        rows = conn.execute(query).all()
    oldest: dict[str, datetime] = {}
    for adapter, moment in rows:
        if moment is None:
            continue
        if isinstance(moment, str):  # SQLite returns an aggregate's datetime as text
            moment = datetime.fromisoformat(moment)
        oldest[adapter or "-"] = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return Waiting(oldest)


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
        ages = waiting_ages(self.ledger)
        yield GaugeMetricFamily(
            "lienthong_oldest_undelivered_seconds",
            "Age of the oldest delivery the hub pushes that is not yet delivered nor dead (0 when none;"
            " documents waiting in a pull inbox are lienthong_oldest_in_inbox_seconds)",
            value=ages.oldest_pushed_age(),
        )
        yield GaugeMetricFamily(
            "lienthong_oldest_in_inbox_seconds",
            "Age of the oldest document waiting for its recipient to pull it from its inbox (0 when none)",
            value=ages.oldest_in_inbox_age(),
        )
        by_adapter = GaugeMetricFamily(
            "lienthong_oldest_undelivered_by_adapter_seconds",
            "Age of the oldest undelivered delivery, by adapter (inbox included)",
            labels=["adapter"],
        )
        for adapter, age in ages.age_by_adapter().items():
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


def exposition(ledger: Ledger, ledger_registry: CollectorRegistry | None = None) -> bytes:
    """The Prometheus text of the process-wide counters and of `ledger`'s gauges."""
    if ledger_registry is None:
        ledger_registry = CollectorRegistry(auto_describe=False)
        ledger_registry.register(LedgerCollector(ledger))
    return generate_latest(REGISTRY) + generate_latest(ledger_registry)
