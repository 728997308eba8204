"""The measurements: intake (saturation and a fixed offered rate), end to end to the simulators, and
peak memory with a large document — each against `lienthong` processes started for the purpose."""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from hub.devpki import dev_token

from . import loadgen
from .documents import AGENCY_RECIPIENT, SENDER, DocumentSet, edxml_set
from .ledgerview import LedgerView
from .procs import Proc

MESSAGES_PATH = "/v1/messages"


def requests_for(hub_url: str, documents: DocumentSet, start: int, count: int) -> list[bytes]:
    """Raw POSTs of documents[start:start+count], as their sender (the JSON sender for JSON)."""
    participant = "bank.vnpay" if documents.content_type == "application/json" else SENDER
    common = {"Authorization": f"Bearer {dev_token(participant)}", "Content-Type": documents.content_type}
    if start + count > len(documents.bodies):
        raise ValueError(f"{documents.name}: {start + count} documents needed, {len(documents.bodies)} made")
    return [
        loadgen.build_request(hub_url, MESSAGES_PATH, body, {**common, **headers})
        for body, headers in zip(
            documents.bodies[start : start + count], documents.headers[start : start + count], strict=True
        )
    ]


def latency_summary(values: Sequence[float]) -> dict[str, float]:
    """p50 / p95 / p99 / max in milliseconds."""
    return {
        "p50_ms": 1000 * loadgen.percentile(values, 50),
        "p95_ms": 1000 * loadgen.percentile(values, 95),
        "p99_ms": 1000 * loadgen.percentile(values, 99),
        "max_ms": 1000 * max(values, default=0.0),
    }


def _load_figures(result: loadgen.LoadResult, cpu: dict[str, float]) -> dict[str, Any]:
    accepted = result.statuses[202]
    figures: dict[str, Any] = {
        "requests": result.sent,
        "accepted_202": accepted,
        "other_statuses": {str(k): v for k, v in result.statuses.items() if k != 202},
        "errors": len(result.errors),
        "wall_s": result.wall_seconds,
        "accepted_per_s": accepted / result.wall_seconds if result.wall_seconds else 0.0,
        **latency_summary(result.latencies),
        "cpu_s": cpu,
        "cpu_s_per_message": sum(cpu.values()) / accepted if accepted else None,
        "client_cpu_s_per_request": result.client_cpu_seconds / max(1, result.sent),
    }
    if result.offered_rate is not None:
        figures["offered_per_s"] = result.offered_rate
        figures["connections_used"] = result.connections
    else:
        figures["connections"] = result.connections
    return figures


def _cpu(procs: Sequence[Proc]) -> dict[str, float]:
    return {p.name: p.cpu_seconds() for p in procs}


def _cpu_delta(before: dict[str, float], procs: Sequence[Proc]) -> dict[str, float]:
    return {p.name: p.cpu_seconds() - before[p.name] for p in procs}


def _bookkeeping(procs: Sequence[Proc]) -> dict[str, int]:
    """What the processes wrote to disk and how often their threads gave up the CPU, so far."""
    totals = {"disk_write_bytes": 0, "write_call_bytes": 0, "voluntary_switches": 0}
    for p in procs:
        io = p.io_counters()
        totals["disk_write_bytes"] += io["write_bytes"]
        totals["write_call_bytes"] += io["wchar"]
        totals["voluntary_switches"] += p.voluntary_switches()
    return totals


def _per_message(before: dict[str, int], procs: Sequence[Proc], count: int) -> dict[str, float | None]:
    """Per message since `before`: bytes written to disk and by write(), voluntary context switches."""
    after = _bookkeeping(procs)
    return {f"{key}_per_message": (after[key] - before[key]) / count if count else None for key in after}


@dataclass
class Load:
    """How much to send in one intake case."""

    warmup: int
    saturation: int
    rate: float
    fixed: int
    connections: int = 16


class ServerWatch(Protocol):
    """CPU of the servers outside the hub's processes over a run (bench.backends.ServerCpu)."""

    def start(self) -> None: ...

    def stop(self) -> dict[str, float]: ...


def measure_intake(
    hub: Proc,
    documents: DocumentSet,
    load: Load,
    *,
    cpu_of: Sequence[Proc] = (),
    more_apis: Sequence[Proc] = (),
    servers: ServerWatch | None = None,
) -> dict[str, Any]:
    """Warm up, saturate, then offer a fixed rate (capped at 70 % of saturation) — one hub, fresh ledger.

    `more_apis`: further `serve` processes of the same hub; connections are spread over all of them.
    `servers`: read over the saturation run too (its figures go in ``saturation["servers"]`` and the
    cores each kind of process used in ``saturation["cores"]``).
    """
    assert hub.url
    urls = [hub.url, *(p.url or "" for p in more_apis)]
    watched = [hub, *more_apis, *cpu_of]
    position = 0

    def take(count: int) -> list[bytes]:
        nonlocal position
        requests = requests_for(hub.url or "", documents, position, count)
        position += count
        return requests

    warm = loadgen.saturate(urls, take(load.warmup), connections=min(4, load.connections))
    if warm.statuses[202] != load.warmup:
        raise RuntimeError(f"{documents.name}: warm-up answered {dict(warm.statuses)} {warm.errors[:1]}")
    requests = take(load.saturation)
    before, books = _cpu(watched), _bookkeeping(watched)
    if servers is not None:
        servers.start()
    saturated = loadgen.saturate(urls, requests, connections=load.connections)
    saturation = _load_figures(saturated, _cpu_delta(before, watched))
    if servers is not None:
        saturation["servers"] = servers.stop()
        saturation["cores"] = cores_used(saturation)
    saturation.update(_per_message(books, watched, saturation["accepted_202"]))
    rate = min(load.rate, 0.7 * saturation["accepted_per_s"]) if saturation["accepted_per_s"] else load.rate
    rate = max(1.0, round(rate))
    before = _cpu(watched)
    fixed = loadgen.offered_rate(urls, take(load.fixed), rate=rate)
    return {
        "document": {
            "kind": documents.name,
            "mean_bytes": documents.mean_size,
            "signed_by_sender": documents.signed,
        },
        "saturation": saturation,
        "fixed_rate": _load_figures(fixed, _cpu_delta(before, watched)),
    }


def cores_used(figures: dict[str, Any]) -> dict[str, float]:
    """Cores each kind of process kept busy during a load run (CPU seconds ÷ wall seconds), and the
    machine's busy cores; *others* is what the machine did beyond the processes of the run."""
    wall = figures["wall_s"] or 1.0
    cpu = figures["cpu_s"]
    servers = figures.get("servers") or {}
    cores: dict[str, float] = {
        "api": sum(v for k, v in cpu.items() if k.startswith("serve")) / wall,
        "workers": sum(v for k, v in cpu.items() if k.startswith("worker")) / wall,
        "postgres": servers.get("postgres_backends_cpu_s", 0.0) / wall,
        "rabbitmq": servers.get("rabbitmq_cpu_s", 0.0) / wall,
        "simulator": servers.get("simulators_cpu_s", 0.0) / wall,
        "load_generator": figures["client_cpu_s_per_request"] * figures["requests"] / wall,
    }
    busy = servers.get("machine_busy_share", 0.0) * (os.cpu_count() or 1)
    cores["others"] = max(0.0, busy - sum(cores.values()))
    cores["machine"] = busy
    return cores


CORE_LABELS = {
    "api": "API processes",
    "workers": "workers",
    "postgres": "PostgreSQL backends",
    "rabbitmq": "RabbitMQ",
    "simulator": "agency simulator",
    "load_generator": "bench process (load generator, samplers)",
    "others": "others (outside the run)",
}


def limits(figures: dict[str, Any]) -> str:
    """What bounded a saturated intake run, in words, from the cores each process used (/proc)."""
    cores = {k: 0.0 for k in (*CORE_LABELS, "machine")} | (figures["saturation"].get("cores") or {})
    if not cores["machine"]:
        return "not measured"
    total = os.cpu_count() or 1
    parts = ", ".join(f"{CORE_LABELS[k]} {cores[k]:.2f}" for k in CORE_LABELS if cores[k] >= 0.005)
    busiest = max(CORE_LABELS, key=lambda k: cores[k])
    rate = figures["saturation"]["accepted_per_s"]
    own = sum(v for k, v in cores.items() if k not in ("others", "machine"))
    ceiling = ""
    if rate and own:
        per_message = own / rate
        ceiling = (
            f"; the run's own processes spent {1000 * per_message:.2f} ms of CPU per accepted message,"
            f" so {total} cores of its own would carry at most ≈ {total / per_message:.0f}/s"
        )
    processes = figures.get("api_processes", 1) * figures.get("processes_per_api", 1)
    if cores["machine"] >= 0.9 * total:
        verdict = f"CPU: the machine was {100 * cores['machine'] / total:.0f} % busy"
    elif cores["api"] >= 0.85 and processes == 1:
        verdict = "CPU of the one API process (≈ one core: its GIL)"
    else:
        verdict = (
            f"not CPU alone: {total - cores['machine']:.2f} of {total} cores idle (waits: see PostgreSQL)"
        )
    return f"{verdict}; cores used — {parts}; the most: {CORE_LABELS[busiest]}{ceiling}"


def wait_delivered(ledger: LedgerView, adapter: str, expected: int, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    done = 0
    while time.monotonic() < deadline:
        done = ledger.count("delivered", adapter)
        if done >= expected:
            break
        time.sleep(0.1)
    return done


def measure_end_to_end(
    hub: Proc,
    procs: Sequence[Proc],
    ledger: LedgerView,
    documents: DocumentSet,
    *,
    adapter: str,
    saturation: int,
    rate: float,
    fixed: int,
    timeout: float = 180.0,
    more_apis: Sequence[Proc] = (),
) -> dict[str, Any]:
    """Documents per second delivered, and intake→delivery time: a burst at saturation, then a fixed rate."""
    assert hub.url
    results: dict[str, Any] = {"adapter": adapter, "document_bytes": documents.mean_size}
    urls = [hub.url, *(p.url or "" for p in more_apis)]
    position = 0
    for phase, count in (("saturation", saturation), ("fixed_rate", fixed)):
        already = ledger.count("delivered", adapter)
        requests = requests_for(hub.url, documents, position, count)
        position += count
        since = datetime.now(UTC)
        before, books = _cpu(procs), _bookkeeping(procs)
        children_before = {p.name: p.descendants_cpu_seconds() for p in procs}
        began = time.perf_counter()
        if phase == "saturation":
            sent = loadgen.saturate(urls, requests, connections=16)
        else:
            sent = loadgen.offered_rate(urls, requests, rate=rate)
        accepted = sent.statuses[202]
        done = wait_delivered(ledger, adapter, already + accepted, timeout) - already
        elapsed = time.perf_counter() - began
        timings = ledger.delivered(adapter, since)
        first = min((t.accepted_at for t in timings), default=since)
        last = max((t.delivered_at for t in timings), default=since)
        span = (last - first).total_seconds()
        cpu = _cpu_delta(before, procs)
        children = {p.name: p.descendants_cpu_seconds() - children_before[p.name] for p in procs}
        results[phase] = {
            "sent": count,
            "accepted_202": accepted,
            # what the hub answered instead of 202, and the load generator's own errors (first few)
            "other_statuses": {str(k): v for k, v in sent.statuses.items() if k != 202},
            "errors": [str(e) for e in sent.errors[:5]],
            "delivered": done,
            "offered_per_s": rate if phase == "fixed_rate" else None,
            "accepted_per_s": accepted / sent.wall_seconds if sent.wall_seconds else 0.0,
            "delivered_per_s": len(timings) / span if span > 0 else 0.0,
            "wall_s": elapsed,
            "intake_to_delivery": latency_summary([t.seconds for t in timings]),
            "cpu_s": cpu,
            "cpu_s_per_message": sum(cpu.values()) / done if done else None,
            # of that, the child processes' (embedded `serve`: its delivery process)
            "children_cpu_s": children,
            **_per_message(books, procs, done),
        }
    return results


def measure_memory(hub: Proc, ledger: LedgerView, size: int, workdir: Path) -> dict[str, Any]:
    """Peak resident memory of the hub while it accepts and delivers one `size`-byte document: of each
    of its processes (`serve` and its delivery process), the growth of the one that grew most."""
    assert hub.url
    [document] = edxml_set("large", 1, size, first_serial=900_000).bodies
    (workdir / "large.edxml").write_bytes(document)
    already = ledger.count("delivered", "agency")
    time.sleep(0.5)
    pids = hub.family()
    before = {pid: hub.rss_bytes(pid) for pid in pids}
    reset = all([hub.reset_peak(pid) for pid in pids])
    peak_before = max(hub.peak_rss_bytes(pid) for pid in pids)
    request = requests_for(
        hub.url,
        DocumentSet("large", "application/xml", [document], [{}], True),
        0,
        1,
    )
    began = time.perf_counter()
    answer = loadgen.saturate(hub.url, request, connections=1)
    intake_s = time.perf_counter() - began
    delivered = wait_delivered(ledger, "agency", already + 1, 120) - already
    growths = {pid: hub.peak_rss_bytes(pid) - before[pid] for pid in pids}
    largest = max(growths, key=lambda pid: growths[pid])
    growth = growths[largest]
    return {
        "document_bytes": len(document),
        "recipient": AGENCY_RECIPIENT,
        "status": dict(answer.statuses),
        "delivered": delivered,
        "intake_s": intake_s,
        "rss_before_bytes": before[largest],
        "peak_rss_bytes": before[largest] + growth,
        "peak_growth_by_process_bytes": {
            ("serve" if pid == hub.pid else f"child {pid}"): grown for pid, grown in growths.items()
        },
        "peak_growth_bytes": growth,
        "peak_growth_per_document_byte": growth / len(document),
        "peak_reset": reset,
        "peak_before_reset_bytes": None if reset else peak_before,
    }
