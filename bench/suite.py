"""The benchmark suite: which processes to start, what to send them, in which order."""

from __future__ import annotations

import importlib
import shutil
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from hub.context import HubContext
from hub.directory import CACHE_SECONDS as DIRECTORY_CACHE_SECONDS
from hub.settings import Settings

from . import loadgen, machine
from .backends import Backends, ServerCpu, scaled_out_backends
from .backends import available as backends_available
from .documents import AGENCY_RECIPIENT, AXIS_RECIPIENT, DocumentSet, edxml_document, edxml_set, json_set
from .floor import json_floor, xml_floor
from .ledgerview import LedgerView
from .lockwait import LockWaitSampler
from .procs import (
    Proc,
    hub_env,
    make_config,
    set_adapter_options,
    start_baseline,
    start_hub,
    start_simulator,
    start_worker,
)
from .scenarios import (
    Load,
    limits,
    measure_end_to_end,
    measure_intake,
    measure_memory,
    requests_for,
    wait_delivered,
)

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
    # The same burst as the agency's. A burst of 500 lasts ~1.3 s, about what a document waits in a
    # burst before delivery (scaled out, to the agency: p50 ~0.3 s), so its delivered/s measured that
    # wait more than the rate delivery keeps up with.
    axis_saturation: int = 2000
    axis_rate: float = 50
    axis_fixed: int = 250
    scale_out_workers: int = 2
    api_processes: int = 2  # `serve --workers 0` processes in the scaled-out mode
    quick: bool = False
    log: Callable[[str], None] = field(default=print)

    @property
    def pool_size(self) -> int:
        """Small signed documents needed by one ledger at most: the scaled-out intake's three phases
        with workers idle, or its two with workers delivering and then end to end (each ledger and
        queue is fresh, so one ledger's documents are used again in the next)."""
        small = next(c for c in self.cases if c.name == SMALL).load
        per_run = small.warmup + small.saturation + small.fixed
        return max(3 * per_run, 2 * per_run + self.e2e_saturation + self.e2e_fixed)


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
        results["baseline"] = self._baseline(sets[SMALL])
        results["intake"] = {"embedded": self._intake_embedded(sets)}
        results["end_to_end"] = {"embedded": self._end_to_end_embedded(sets["pool"], sets.get("axis"))}
        results["memory"] = results["end_to_end"]["embedded"].pop("memory")
        if self.plan.scale_out:
            scaled = self._scaled_out(sets["pool"], sets.get("axis"))
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
                out[case.name] = measure_intake(hub, sets[case.name], case.load, servers=ServerCpu(None))
            shutil.rmtree(data, ignore_errors=True)
            self._say_intake(case.name, out[case.name])
        return out

    def _baseline(self, documents: DocumentSet) -> dict[str, Any]:
        """The hand-written minimal service (bench/baseline_service.py) on the signed small documents,
        with each XMLDSig library, just before the hub's own run on the same documents; then its
        answer-only form (token, body, 202): what one HTTP exchange costs."""
        small = next(c for c in self.plan.cases if c.name == SMALL)
        out: dict[str, Any] = {}
        for verify in ("xmlsec", "signxml", "none"):
            db = self.workdir / f"baseline-{verify}.sqlite3"
            service = start_baseline(f"baseline-{verify}", self.logs, db, verify=verify)
            with self.running(service):
                out[verify] = measure_intake(service, documents, small.load)
            for leftover in self.workdir.glob(f"baseline-{verify}.sqlite3*"):
                leftover.unlink()
            form = "answer only" if verify == "none" else verify
            self._say_intake(f"hand-written minimal service ({form})", out[verify])
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

    def end_to_end_only(self, delivery: str | None = None, workers: int | None = None) -> dict[str, Any]:
        """``python -m bench --end-to-end-only``: the embedded end-to-end phase alone (agency, then the
        axis), as the full run measures it, without peak memory; `delivery` sets LIENTHONG_DELIVERY
        (default: the hub's own default) and `workers` LIENTHONG_WORKERS, for same-minute A/B rounds."""
        results: dict[str, Any] = {
            "command": " ".join(["python -m bench", *sys.argv[1:]]),
            "quick": self.plan.quick,
            "machine": machine.describe(),
            "delivery": delivery or "default",
            "workers": workers or "default",
        }
        self.log("generating documents …")
        pool = edxml_set(SMALL, self.plan.e2e_saturation + self.plan.e2e_fixed, 2048)
        axis = None
        if axis_adapter_installed():
            count = 1 + self.plan.axis_saturation + self.plan.axis_fixed
            axis = edxml_set(SMALL, count, 2048, recipient=AXIS_RECIPIENT, first_serial=700_000)
        results["end_to_end"] = {
            "embedded": self._end_to_end_embedded(pool, axis, delivery, workers, memory=False)
        }
        results["machine"]["load_average_at_end"] = machine.load_average()
        return results

    def _end_to_end_embedded(
        self,
        pool: DocumentSet,
        axis_pool: DocumentSet | None,
        delivery: str | None = None,
        workers: int | None = None,
        *,
        memory: bool = True,
    ) -> dict[str, Any]:
        """`serve` with its delivery (a child process by default: LIENTHONG_DELIVERY), the agency
        simulator and (when its adapter is installed) the national axis simulator; then peak memory,
        same processes. The hub's CPU is serve's and its delivery process's together."""
        agency = self._agency("agency-sim-embedded")
        axis = start_simulator("axis-sim-embedded", AXIS_SIMULATOR, self.logs) if axis_pool else None
        sims = [p for p in (agency, axis) if p is not None]
        with self.running(*sims):
            assert agency.url
            config = make_config(self.workdir / "config-e2e", webhook_base=agency.url)
            if axis is not None:
                set_adapter_options(config, "gov_axis", {"base_url": axis.url})
            data = self.workdir / "data-e2e"
            settings: dict[str, object] = {"delivery": delivery} if delivery else {}
            if workers:
                settings["workers"] = workers
            hub = start_hub("serve-e2e", hub_env(data, config, **settings), self.logs)
            ledger = LedgerView(f"sqlite:///{data / 'ledger.sqlite3'}")
            with self.running(hub):
                how = _delivery_of(hub)
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
                out["delivery"] = how
                self._say_e2e("embedded → agency", out)
                out["axis"] = self._axis(hub, [hub], ledger, axis_pool)
                out["axis"]["delivery"] = how
                if memory:
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
        self,
        hub: Proc,
        procs: list[Proc],
        ledger: LedgerView,
        axis_pool: DocumentSet | None,
        *,
        label: str = "embedded → national axis",
        more_apis: Sequence[Proc] = (),
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
        if more_apis:  # they may have cached the directory before the adapter published it
            time.sleep(DIRECTORY_CACHE_SECONDS + 1)
        out = measure_end_to_end(
            hub,
            procs,
            ledger,
            _slice(axis_pool, 1, None),
            adapter="gov_axis",
            saturation=self.plan.axis_saturation,
            rate=self.plan.axis_rate,
            fixed=self.plan.axis_fixed,
            more_apis=more_apis,
        )
        self._say_e2e(label, out)
        return out

    def _say_e2e(self, label: str, out: dict[str, Any]) -> None:
        sat, fixed = out["saturation"], out["fixed_rate"]
        latency = fixed["intake_to_delivery"]
        self.log(
            f"  {label}: {sat['delivered']}/{sat['sent']} delivered at {sat['delivered_per_s']:.0f}/s;"
            f" at {fixed['offered_per_s']:.0f}/s intake→delivery p50"
            f" {latency['p50_ms']:.0f} ms p99 {latency['p99_ms']:.0f} ms"
        )

    def _scaled_out(self, pool: DocumentSet, axis_pool: DocumentSet | None = None) -> dict[str, Any]:
        """PostgreSQL + RabbitMQ: the intake phases of :class:`ScaledOutIntake`, then end to end with
        the API processes and `lienthong worker` processes delivering to the agency simulator, then
        to the national axis simulator (`axis_pool`, when its adapter is installed)."""
        if not backends_available():
            return {"skipped": "PostgreSQL or RabbitMQ does not answer on this machine"}
        small = next(c for c in self.plan.cases if c.name == SMALL)
        scaled = ScaledOutIntake(self)
        out: dict[str, Any] = {"intake": scaled.idle(Documents(pool), small.load)}
        delivering = scaled.delivering(Documents(pool), small.load, end_to_end=True, axis_pool=axis_pool)
        out["intake"].update(delivering.pop("intake"))
        out.update(delivering)
        return out


def _delivery_of(hub: Proc) -> dict[str, Any]:
    """How the `serve` delivers, as its /healthz says (mode: a child process or threads; workers)."""
    answer = httpx.get(f"{hub.url}/healthz", timeout=5).json()
    delivery: dict[str, Any] = answer.get("delivery") or {}
    return {"mode": delivery.get("mode"), "workers": delivery.get("workers")}


@dataclass
class Documents:
    """A pool of documents handed out in order, each used once."""

    pool: DocumentSet
    position: int = 0

    def take(self, load: Load | None = None, count: int | None = None) -> DocumentSet:
        size = load.warmup + load.saturation + load.fixed if load else count
        if size is None:
            size = len(self.pool.bodies) - self.position
        if self.position + size > len(self.pool.bodies):
            raise ValueError(f"{self.position + size} documents needed, {len(self.pool.bodies)} made")
        taken = _slice(self.pool, self.position, size)
        self.position += size
        return taken


#: The scaled-out intake's phases, in the order the report shows them.
PHASES = {
    "idle_one_api": "1 `serve --workers 0`, workers idle",
    "idle_two_apis": "2 `serve --workers 0`, workers idle",
    "idle_processes_2": "1 `serve --workers 0 --processes 2`, workers idle",
    "delivering_one_api": "1 `serve --workers 0`, 2 workers delivering",
    "delivering_two_apis": "2 `serve --workers 0`, 2 workers delivering",
}


class ScaledOutIntake:
    """The scaled-out mode's intake (PostgreSQL + RabbitMQ), compared like with like with one embedded
    `serve --workers 0` (whose deliveries stay queued in SQLite):

    - *workers idle*: no `lienthong worker` runs, the tickets stay queued in RabbitMQ — the API
      processes' work alone; with one and two `serve --workers 0` processes, and one
      `serve --processes 2` (uvicorn's worker processes sharing one port);
    - *workers delivering*: two `lienthong worker` processes deliver to the agency simulator meanwhile,
      with one and two API processes (as a deployment runs).

    Each phase has a database and queue prefix of its kind (idle / delivering), PostgreSQL's backends
    sampled for lock waits, and the CPU of every process involved read from /proc: the API processes,
    the workers, the database's PostgreSQL backends, RabbitMQ, the load generator, and the machine.
    """

    def __init__(self, suite: Suite) -> None:
        self.suite = suite
        self.plan = suite.plan
        self.log = suite.log

    def _env(self, backends: Backends, config: Path, data: str) -> dict[str, str]:
        return hub_env(
            self.suite.workdir / data,
            config,
            database_url=backends.database_url,
            queue_url=backends.queue_url,
            queue_prefix=backends.prefix,
        )

    def _phase(
        self,
        name: str,
        backends: Backends,
        apis: list[Proc],
        workers: list[Proc],
        documents: DocumentSet,
        load: Load,
        simulators: Sequence[Proc] = (),
        *,
        processes_per_api: int = 1,
    ) -> dict[str, Any]:
        servers = ServerCpu(backends, [p.pid for p in simulators])
        with LockWaitSampler(backends.database_url) as sampler:
            figures = measure_intake(
                apis[0], documents, load, cpu_of=workers, more_apis=apis[1:], servers=servers
            )
        figures["postgres"] = sampler.figures()
        figures["api_processes"] = len(apis)
        figures["processes_per_api"] = processes_per_api  # `serve --processes N`
        figures["workers"] = len(workers)
        figures["label"] = PHASES[name]
        self._say(PHASES[name], figures)
        return figures

    def idle(self, documents: Documents, load: Load) -> dict[str, Any]:
        """Workers idle: one and two `serve --workers 0`, then `serve --processes 2`."""
        out: dict[str, Any] = {}
        config = make_config(self.suite.workdir / "config-scaled-idle", webhook_base="http://127.0.0.1:9")
        logs = self.suite.logs
        with scaled_out_backends() as backends:
            self.log(
                f"scaled out, workers idle: database {backends.database}, queue prefix {backends.prefix}"
            )
            env = self._env(backends, config, "data-scaled-idle")
            first = start_hub("serve-idle-0", env, logs, workers=0)
            with self.suite.running(first):
                out["idle_one_api"] = self._phase(
                    "idle_one_api", backends, [first], [], documents.take(load), load
                )
                second = start_hub("serve-idle-1", env, logs, workers=0)
                with self.suite.running(second):
                    out["idle_two_apis"] = self._phase(
                        "idle_two_apis", backends, [first, second], [], documents.take(load), load
                    )
            both = start_hub("serve-idle-processes", env, logs, workers=0, processes=2)
            with self.suite.running(both):
                out["idle_processes_2"] = self._phase(
                    "idle_processes_2", backends, [both], [], documents.take(load), load, processes_per_api=2
                )
        return out

    def delivering(
        self,
        documents: Documents,
        load: Load,
        *,
        end_to_end: bool = False,
        axis_pool: DocumentSet | None = None,
    ) -> dict[str, Any]:
        """Workers delivering meanwhile: one and two `serve --workers 0`; then, if asked, end to end
        (to the agency, then to the axis with `axis_pool`)."""
        out: dict[str, Any] = {"intake": {}, "workers": self.plan.scale_out_workers}
        logs = self.suite.logs
        with scaled_out_backends() as backends:
            self.log(
                f"scaled out, workers delivering: database {backends.database}, prefix {backends.prefix}"
            )
            agency = self.suite._agency("agency-sim-scaled")
            axis = None
            if end_to_end and axis_pool is not None:
                axis = start_simulator("axis-sim-scaled", AXIS_SIMULATOR, logs)
            sims = [p for p in (agency, axis) if p is not None]
            with self.suite.running(*sims):
                assert agency.url
                config = make_config(self.suite.workdir / "config-scaled", webhook_base=agency.url)
                if axis is not None:
                    set_adapter_options(config, "gov_axis", {"base_url": axis.url})
                env = self._env(backends, config, "data-scaled")
                first = start_hub("serve-scaled", env, logs, workers=0)
                workers = [start_worker(f"worker-{i}", env, logs) for i in range(self.plan.scale_out_workers)]
                ledger = LedgerView(backends.database_url)
                with self.suite.running(first, *workers):
                    accepted = 0
                    one = self._phase(
                        "delivering_one_api", backends, [first], workers, documents.take(load), load, [agency]
                    )
                    out["intake"]["delivering_one_api"] = one
                    accepted += load.warmup + load.saturation + load.fixed
                    _drain(ledger, accepted)
                    second = start_hub("serve-scaled-1", env, logs, workers=0)
                    with self.suite.running(second):
                        two = self._phase(
                            "delivering_two_apis",
                            backends,
                            [first, second],
                            workers,
                            documents.take(load),
                            load,
                            [agency],
                        )
                        out["intake"]["delivering_two_apis"] = two
                        accepted += load.warmup + load.saturation + load.fixed
                        _drain(ledger, accepted)
                        if end_to_end:
                            out["api_processes"] = 2
                            out.update(
                                measure_end_to_end(
                                    first,
                                    [first, second, *workers],
                                    ledger,
                                    documents.take(),
                                    adapter="agency",
                                    saturation=self.plan.e2e_saturation,
                                    rate=self.plan.e2e_rate,
                                    fixed=self.plan.e2e_fixed,
                                    more_apis=[second],
                                )
                            )
                            self.suite._say_e2e("scaled out → agency", out)
                            if axis is not None:
                                out["axis"] = self.suite._axis(
                                    first,
                                    [first, second, *workers],
                                    ledger,
                                    axis_pool,
                                    label="scaled out → national axis",
                                    more_apis=[second],
                                )
                ledger.close()
        return out

    def _say(self, label: str, figures: dict[str, Any]) -> None:
        self.suite._say_intake(label, figures)
        pg = figures["postgres"]
        self.log(
            f"    PostgreSQL: {100 * pg['lock_wait_share']:.1f} % of busy backends waiting on a Lock"
            f" ({pg['lock_wait_backend_samples']}/{pg['active_backend_samples']} in {pg['samples']} samples);"
            f" waits {pg['wait_events']}"
        )
        self.log(f"    at saturation, limit: {limits(figures)}")


class ScaleOutIntake:
    """`python -m bench --scale-out-only`: one embedded `serve --workers 0` (SQLite), then the phases of
    :class:`ScaledOutIntake`, on signed small edXML."""

    def __init__(self, suite: Suite, *, saturation: int | None = None) -> None:
        self.suite = suite
        self.plan = suite.plan
        self.log = suite.log
        self.saturation = saturation

    def run(self) -> dict[str, Any]:
        small = next(c for c in self.plan.cases if c.name == SMALL)
        load = small.load
        if self.saturation:
            load = Load(load.warmup, self.saturation, load.rate, self.saturation // 2, load.connections)
        per_run = load.warmup + load.saturation + load.fixed
        results: dict[str, Any] = {
            "command": " ".join(["python -m bench", *sys.argv[1:]]),
            "quick": self.plan.quick,
            "machine": machine.describe(),
            "load": {"warmup": load.warmup, "saturation": load.saturation, "fixed": load.fixed},
        }
        # Each ledger is fresh (SQLite; idle; delivering): the same documents serve each, at most 3 runs.
        self.log(f"generating {3 * per_run} documents …")
        pool = edxml_set(SMALL, 3 * per_run, small.target_bytes, signed=True)
        began = time.perf_counter()
        results["embedded"] = self._embedded(Documents(pool).take(load), load)
        if not backends_available():
            results["scaled_out"] = {"skipped": "PostgreSQL or RabbitMQ does not answer on this machine"}
        else:
            scaled = ScaledOutIntake(self.suite)
            results["scaled_out"] = scaled.idle(Documents(pool), load)
            results["scaled_out"].update(scaled.delivering(Documents(pool), load)["intake"])
        results["machine"]["load_average_at_end"] = machine.load_average()
        results["duration_s"] = time.perf_counter() - began
        return results

    def _embedded(self, documents: DocumentSet, load: Load) -> dict[str, Any]:
        config = make_config(self.suite.workdir / "config-embedded", webhook_base="http://127.0.0.1:9")
        data = self.suite.workdir / "data-embedded"
        hub = start_hub("serve-embedded", hub_env(data, config), self.suite.logs, workers=0)
        with self.suite.running(hub):
            figures = measure_intake(hub, documents, load, servers=ServerCpu(None))
        figures["api_processes"] = 1
        self.suite._say_intake("embedded, one process", figures)
        self.log(f"    at saturation, limit: {limits(figures)}")
        return figures


def _attachment_of(case: Case) -> int:
    from .documents import attachment_for

    return attachment_for(case.target_bytes, signed=case.signed)


def _slice(documents: DocumentSet, start: int, size: Load | int | None) -> DocumentSet:
    if isinstance(size, Load):
        size = size.warmup + size.saturation + size.fixed
    end = start + size if size is not None else len(documents.bodies)
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
