"""The benchmark suite: which processes to start, what to send them, in which order."""

from __future__ import annotations

import importlib
import shutil
import socket
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from hub.context import HubContext
from hub.settings import Settings

from . import loadgen, machine
from .documents import AGENCY_RECIPIENT, AXIS_RECIPIENT, DocumentSet, edxml_document, edxml_set, json_set
from .floor import json_floor, xml_floor
from .ledgerview import LedgerView
from .lockwait import LockWaitSampler
from .procs import Proc, hub_env, make_config, set_adapter_options, start_hub, start_simulator, start_worker
from .scenarios import (
    Load,
    measure_end_to_end,
    measure_intake,
    measure_memory,
    requests_for,
    wait_delivered,
)

POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
AMQP_URL = "amqp://guest:guest@127.0.0.1:5672//"
AGENCY_SIMULATOR = "adapters.agency.simulator"
AXIS_SIMULATOR = "adapters.gov_axis.simulator"
SMALL = "edxml-small-signed"


@dataclass(frozen=True)
class Case:
    name: str
    target_bytes: int  # 0 for JSON
    signed: bool
    load: Load


@dataclass
class Plan:
    cases: list[Case]
    e2e_saturation: int
    e2e_rate: float
    e2e_fixed: int
    memory_bytes: int
    scale_out: bool
    axis_saturation: int = 500
    axis_rate: float = 50
    axis_fixed: int = 250
    scale_out_workers: int = 2
    api_processes: int = 2  # `serve --workers 0` processes in the scaled-out mode
    quick: bool = False
    log: Callable[[str], None] = field(default=print)

    @property
    def pool_size(self) -> int:
        """Small signed documents needed by one hub: the scale-out run's intake, then its end to end."""
        small = next(c for c in self.cases if c.name == SMALL).load
        return small.warmup + small.saturation + small.fixed + self.e2e_saturation + self.e2e_fixed


def full_plan() -> Plan:
    return Plan(
        cases=[
            Case("edxml-small-signed", 2048, True, Load(100, 4000, 200, 2000)),
            Case("edxml-small-unsigned", 2048, False, Load(100, 2000, 200, 1000)),
            Case("edxml-20k-signed", 20 * 1024, True, Load(50, 1500, 100, 1000)),
            Case("edxml-200k-signed", 200 * 1024, True, Load(10, 300, 20, 200)),
            Case("json-1k-signed", 0, True, Load(100, 4000, 200, 2000)),
        ],
        e2e_saturation=2000,
        e2e_rate=100,
        e2e_fixed=1000,
        memory_bytes=10 * 1024 * 1024,
        scale_out=True,
    )


def quick_plan(*, scale_out: bool = False) -> Plan:
    return Plan(
        cases=[
            Case("edxml-small-signed", 2048, True, Load(5, 40, 20, 20, connections=4)),
            Case("json-1k-signed", 0, True, Load(5, 40, 20, 20, connections=4)),
        ],
        e2e_saturation=20,
        e2e_rate=20,
        e2e_fixed=10,
        memory_bytes=1024 * 1024,
        scale_out=scale_out,
        axis_saturation=10,
        axis_rate=10,
        axis_fixed=5,
        quick=True,
    )


def _answers(url: str, port: int) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or port), 2):
            return True
    except OSError:
        return False


def axis_adapter_installed() -> bool:
    try:
        return hasattr(importlib.import_module("adapters.gov_axis"), "GovAxisAdapter")
    except ImportError:
        return False


class Suite:
    def __init__(self, plan: Plan, workdir: Path) -> None:
        self.plan = plan
        self.workdir = workdir
        self.logs = workdir / "logs"
        self.log = plan.log
        self.procs: list[Proc] = []
        self.hub = HubContext(Settings())

    # -- processes ---------------------------------------------------------------------------------

    @contextmanager
    def running(self, *procs: Proc) -> Iterator[None]:
        try:
            yield
        finally:
            for proc in reversed(procs):
                proc.stop()

    def _agency(self, name: str) -> Proc:
        return start_simulator(name, AGENCY_SIMULATOR, self.logs)

    # -- the run -----------------------------------------------------------------------------------

    def run(self) -> dict[str, Any]:
        results: dict[str, Any] = {
            "command": " ".join(["python -m bench", *sys.argv[1:]]),
            "quick": self.plan.quick,
            "machine": machine.describe(),
        }
        began = time.perf_counter()
        self.log("generating documents …")
        sets = self._documents()
        self.log("timing the floor …")
        results["floor"] = self._floor(sets)
        results["intake"] = {"embedded": self._intake_embedded(sets)}
        results["end_to_end"] = {"embedded": self._end_to_end_embedded(sets["pool"], sets.get("axis"))}
        results["memory"] = results["end_to_end"]["embedded"].pop("memory")
        if self.plan.scale_out:
            scaled = self._scaled_out(sets["pool"])
            results["intake"]["scaled_out"] = scaled.pop("intake", None)
            results["end_to_end"]["scaled_out"] = scaled
        else:
            results["intake"]["scaled_out"] = None
            results["end_to_end"]["scaled_out"] = {"skipped": "not requested (quick mode)"}
        results["machine"]["load_average_at_end"] = machine.load_average()
        results["duration_s"] = time.perf_counter() - began
        return results

    def _documents(self) -> dict[str, DocumentSet]:
        sets: dict[str, DocumentSet] = {}
        for case in self.plan.cases:
            count = case.load.warmup + case.load.saturation + case.load.fixed
            if case.name == SMALL:  # also the pool of the end-to-end and scale-out runs
                count = max(count, self.plan.pool_size)
            started = time.perf_counter()
            if case.target_bytes:
                sets[case.name] = edxml_set(case.name, count, case.target_bytes, signed=case.signed)
            else:
                sets[case.name] = json_set(case.name, count)
            took = time.perf_counter() - started
            self.log(f"  {case.name}: {count} × {sets[case.name].mean_size} B in {took:.1f}s")
        sets["pool"] = sets[SMALL]
        if axis_adapter_installed():
            count = 1 + self.plan.axis_saturation + self.plan.axis_fixed
            sets["axis"] = edxml_set(
                "edxml-small-signed", count, 2048, recipient=AXIS_RECIPIENT, first_serial=700_000
            )
        return sets

    def _floor(self, sets: dict[str, DocumentSet]) -> dict[str, Any]:
        floors: dict[str, Any] = {}
        for case in self.plan.cases:
            documents = sets[case.name]
            if documents.content_type == "application/json":
                floor = json_floor(self.hub, documents)
            else:
                count = min(200, len(documents.bodies))
                attachment = _attachment_of(case)
                unsigned = [edxml_document(i, attachment_bytes=attachment) for i in range(count)]
                floor = xml_floor(self.hub, documents, unsigned, sample=count)
            floors[case.name] = floor.as_dict()
            self.log(f"  {case.name}: floor {1000 * floor.total:.3f} ms ({', '.join(floor.steps)})")
        return floors

    def _intake_embedded(self, sets: dict[str, DocumentSet]) -> dict[str, Any]:
        """Each case on a fresh `serve --workers 0` (API only: intake's cost alone), embedded ledger."""
        out: dict[str, Any] = {}
        config = make_config(self.workdir / "config-intake", webhook_base="http://127.0.0.1:9")
        for case in self.plan.cases:
            data = self.workdir / f"data-{case.name}"
            hub = start_hub(f"serve-{case.name}", hub_env(data, config), self.logs, workers=0)
            with self.running(hub):
                out[case.name] = measure_intake(hub, sets[case.name], case.load)
            shutil.rmtree(data, ignore_errors=True)
            self._say_intake(case.name, out[case.name])
        return out

    def _say_intake(self, name: str, figures: dict[str, Any]) -> None:
        sat, fixed = figures["saturation"], figures["fixed_rate"]
        cpu = sat["cpu_s_per_message"]
        self.log(
            f"  {name}: {sat['accepted_per_s']:.0f}/s saturated (p99 {sat['p99_ms']:.1f} ms),"
            f" at {fixed['offered_per_s']:.0f}/s p50 {fixed['p50_ms']:.1f} p99 {fixed['p99_ms']:.1f} ms,"
            f" CPU {1000 * cpu:.2f} ms/msg"
            if cpu
            else f"  {name}: nothing accepted"
        )

    def _end_to_end_embedded(self, pool: DocumentSet, axis_pool: DocumentSet | None) -> dict[str, Any]:
        """`serve` with its delivery threads, the agency simulator and (when its adapter is installed)
        the national axis simulator; then peak memory, same processes."""
        agency = self._agency("agency-sim-embedded")
        axis = start_simulator("axis-sim-embedded", AXIS_SIMULATOR, self.logs) if axis_pool else None
        sims = [p for p in (agency, axis) if p is not None]
        with self.running(*sims):
            assert agency.url
            config = make_config(self.workdir / "config-e2e", webhook_base=agency.url)
            if axis is not None:
                set_adapter_options(config, "gov_axis", {"base_url": axis.url})
            data = self.workdir / "data-e2e"
            hub = start_hub("serve-e2e", hub_env(data, config), self.logs)
            ledger = LedgerView(f"sqlite:///{data / 'ledger.sqlite3'}")
            with self.running(hub):
                out = measure_end_to_end(
                    hub,
                    [hub],
                    ledger,
                    pool,
                    adapter="agency",
                    saturation=self.plan.e2e_saturation,
                    rate=self.plan.e2e_rate,
                    fixed=self.plan.e2e_fixed,
                )
                self._say_e2e("embedded → agency", out)
                out["axis"] = self._axis(hub, [hub], ledger, axis_pool)
                self.log(f"  memory: a {self.plan.memory_bytes // 1024} KiB document …")
                out["memory"] = measure_memory(hub, ledger, self.plan.memory_bytes, self.workdir)
                self.log(
                    f"  memory: peak +{out['memory']['peak_growth_bytes'] / 2**20:.1f} MiB"
                    f" = {out['memory']['peak_growth_per_document_byte']:.1f}× the document"
                )
            ledger.close()
        shutil.rmtree(data, ignore_errors=True)
        return out

    def _axis(
        self, hub: Proc, procs: list[Proc], ledger: LedgerView, axis_pool: DocumentSet | None
    ) -> dict[str, Any]:
        """End to end to the axis simulator (the adapter's default face), once the adapter has
        synchronised the axis directory (its recipients are routed by `directory:gov_axis`)."""
        if axis_pool is None:
            return {"pending": "the gov_axis adapter is not installed"}
        probe = requests_for(hub.url or "", axis_pool, 0, 1)
        deadline = time.monotonic() + 60
        while loadgen.saturate(hub.url or "", probe, connections=1).statuses[202] != 1:
            if time.monotonic() > deadline:
                return {"pending": "the hub did not learn the axis directory within 60 s"}
            time.sleep(0.5)
        wait_delivered(ledger, "gov_axis", 1, 60)
        out = measure_end_to_end(
            hub,
            procs,
            ledger,
            _slice(axis_pool, 1, None),
            adapter="gov_axis",
            saturation=self.plan.axis_saturation,
            rate=self.plan.axis_rate,
            fixed=self.plan.axis_fixed,
        )
        self._say_e2e("embedded → national axis", out)
        return out

    def _say_e2e(self, label: str, out: dict[str, Any]) -> None:
        sat, fixed = out["saturation"], out["fixed_rate"]
        latency = fixed["intake_to_delivery"]
        self.log(
            f"  {label}: {sat['delivered']}/{sat['sent']} delivered at {sat['delivered_per_s']:.0f}/s;"
            f" at {fixed['offered_per_s']:.0f}/s intake→delivery p50"
            f" {latency['p50_ms']:.0f} ms p99 {latency['p99_ms']:.0f} ms"
        )

    def _scaled_out(self, pool: DocumentSet) -> dict[str, Any]:
        """PostgreSQL + RabbitMQ: one `serve --workers 0` and N `lienthong worker` processes."""
        if not (_answers(POSTGRES_URL, 5432) and _answers(AMQP_URL, 5672)):
            return {"skipped": "PostgreSQL or RabbitMQ does not answer on this machine"}
        import sqlalchemy as sa

        from hub.queue.amqp import AmqpWorkQueue

        name = f"lienthong_bench_{uuid.uuid4().hex[:10]}"
        prefix = f"lienthong-bench-{uuid.uuid4().hex[:8]}"
        admin = sa.create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        database_url = POSTGRES_URL.rsplit("/", 1)[0] + "/" + name
        self.log(f"scaled out: database {name}, queue prefix {prefix}, {self.plan.scale_out_workers} workers")
        try:
            return self._scaled_out_run(pool, database_url, prefix)
        finally:
            queue = AmqpWorkQueue(AMQP_URL, prefix=prefix)
            try:
                queue.delete_topology()
            finally:
                queue.close()
            with admin.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()

    def _scaled_out_run(self, pool: DocumentSet, database_url: str, prefix: str) -> dict[str, Any]:
        small = next(c for c in self.plan.cases if c.name == SMALL)
        agency = self._agency("agency-sim-scaled")
        with self.running(agency):
            assert agency.url
            config = make_config(self.workdir / "config-scaled", webhook_base=agency.url)
            env = hub_env(
                self.workdir / "data-scaled",
                config,
                database_url=database_url,
                queue_url=AMQP_URL,
                queue_prefix=prefix,
            )
            hub = start_hub("serve-scaled", env, self.logs, workers=0)
            apis = [
                start_hub(f"serve-scaled-{i}", env, self.logs, workers=0)
                for i in range(1, self.plan.api_processes)
            ]
            workers = [
                start_worker(f"worker-{i}", env, self.logs) for i in range(self.plan.scale_out_workers)
            ]
            ledger = LedgerView(database_url)
            with self.running(hub, *apis, *workers):
                out: dict[str, Any] = {"workers": len(workers), "api_processes": 1 + len(apis)}
                # Intake: the pool's first documents; deliveries flow to the workers meanwhile.
                out["intake"] = measure_intake(
                    hub, _slice(pool, 0, small.load), small.load, cpu_of=workers, more_apis=apis
                )
                self._say_intake("scaled-out edxml-small-signed", out["intake"])
                used = small.load.warmup + small.load.saturation + small.load.fixed
                accepted = used
                _drain(ledger, accepted)
                e2e = measure_end_to_end(
                    hub,
                    [hub, *apis, *workers],
                    ledger,
                    _slice(pool, used, None),
                    adapter="agency",
                    saturation=self.plan.e2e_saturation,
                    rate=self.plan.e2e_rate,
                    fixed=self.plan.e2e_fixed,
                    more_apis=apis,
                )
                out.update(e2e)
                self._say_e2e("scaled out → agency", out)
            ledger.close()
        return out


class ScaleOutIntake:
    """`python -m bench --scale-out-only`: the scaled-out mode's intake (PostgreSQL + RabbitMQ, workers
    delivering meanwhile) with one and then two `serve --workers 0` processes, PostgreSQL's lock
    waits sampled during each; and one embedded (SQLite) process on the same documents' size."""

    def __init__(self, suite: Suite) -> None:
        self.suite = suite
        self.plan = suite.plan
        self.log = suite.log

    def run(self) -> dict[str, Any]:
        small = next(c for c in self.plan.cases if c.name == SMALL)
        load = small.load
        per_run = load.warmup + load.saturation + load.fixed
        results: dict[str, Any] = {
            "command": " ".join(["python -m bench", *sys.argv[1:]]),
            "quick": self.plan.quick,
            "machine": machine.describe(),
        }
        self.log(f"generating {3 * per_run} documents …")
        pool = edxml_set(SMALL, 3 * per_run, small.target_bytes, signed=True)
        began = time.perf_counter()
        results["embedded"] = self._embedded(_slice(pool, 0, load), load)
        if not (_answers(POSTGRES_URL, 5432) and _answers(AMQP_URL, 5672)):
            results["scaled_out"] = {"skipped": "PostgreSQL or RabbitMQ does not answer on this machine"}
        else:
            results["scaled_out"] = self._scaled(pool, per_run, load)
        results["machine"]["load_average_at_end"] = machine.load_average()
        results["duration_s"] = time.perf_counter() - began
        return results

    def _embedded(self, documents: DocumentSet, load: Load) -> dict[str, Any]:
        config = make_config(self.suite.workdir / "config-embedded", webhook_base="http://127.0.0.1:9")
        data = self.suite.workdir / "data-embedded"
        hub = start_hub("serve-embedded", hub_env(data, config), self.suite.logs, workers=0)
        with self.suite.running(hub):
            figures = measure_intake(hub, documents, load)
        self.suite._say_intake("embedded, one process", figures)
        return figures

    def _scaled(self, pool: DocumentSet, per_run: int, load: Load) -> dict[str, Any]:
        import sqlalchemy as sa

        from hub.queue.amqp import AmqpWorkQueue

        name = f"lienthong_bench_{uuid.uuid4().hex[:10]}"
        prefix = f"lienthong-bench-{uuid.uuid4().hex[:8]}"
        admin = sa.create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        database_url = POSTGRES_URL.rsplit("/", 1)[0] + "/" + name
        try:
            agency = self.suite._agency("agency-sim-scaled")
            with self.suite.running(agency):
                assert agency.url
                config = make_config(self.suite.workdir / "config-scaled", webhook_base=agency.url)
                env = hub_env(
                    self.suite.workdir / "data-scaled",
                    config,
                    database_url=database_url,
                    queue_url=AMQP_URL,
                    queue_prefix=prefix,
                )
                first = start_hub("serve-scaled-0", env, self.suite.logs, workers=0)
                workers = [
                    start_worker(f"worker-{i}", env, self.suite.logs)
                    for i in range(self.plan.scale_out_workers)
                ]
                out: dict[str, Any] = {"workers": len(workers)}
                with self.suite.running(first, *workers):
                    with LockWaitSampler(database_url) as sampler:
                        one = measure_intake(first, _slice(pool, per_run, load), load, cpu_of=workers)
                    out["one_api"] = {**one, "postgres": sampler.figures()}
                    self._say("scaled out, one API process", out["one_api"])
                    second = start_hub("serve-scaled-1", env, self.suite.logs, workers=0)
                    with self.suite.running(second):
                        with LockWaitSampler(database_url) as sampler:
                            two = measure_intake(
                                first,
                                _slice(pool, 2 * per_run, load),
                                load,
                                cpu_of=workers,
                                more_apis=[second],
                            )
                        out["two_apis"] = {**two, "postgres": sampler.figures()}
                        self._say("scaled out, two API processes", out["two_apis"])
            return out
        finally:
            queue = AmqpWorkQueue(AMQP_URL, prefix=prefix)
            try:
                queue.delete_topology()
            finally:
                queue.close()
            with admin.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()

    def _say(self, label: str, figures: dict[str, Any]) -> None:
        self.suite._say_intake(label, figures)
        pg = figures["postgres"]
        self.log(
            f"    PostgreSQL: {100 * pg['lock_wait_share']:.1f} % of busy backends waiting on a Lock"
            f" ({pg['lock_wait_backend_samples']}/{pg['active_backend_samples']} in {pg['samples']} samples);"
            f" waits {pg['wait_events']}"
        )


def _attachment_of(case: Case) -> int:
    from .documents import attachment_for

    return attachment_for(case.target_bytes, signed=case.signed)


def _slice(documents: DocumentSet, start: int, load: Load | None) -> DocumentSet:
    end = start + (load.warmup + load.saturation + load.fixed) if load else len(documents.bodies)
    return DocumentSet(
        documents.name,
        documents.content_type,
        documents.bodies[start:end],
        documents.headers[start:end],
        documents.signed,
    )


def _drain(ledger: LedgerView, expected: int, timeout: float = 180.0) -> None:
    """Wait until the intake run's deliveries are all delivered, so the next phase starts clean."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and ledger.count("delivered", "agency") < expected:
        time.sleep(0.2)


__all__ = ["AGENCY_RECIPIENT", "Plan", "ScaleOutIntake", "Suite", "full_plan", "quick_plan"]
