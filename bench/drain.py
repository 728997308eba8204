"""``python -m bench.drain``: CPU per delivery of a `lienthong worker` draining a backlog, without a profiler.

A fresh `serve --workers 0` (SQLite ledger, embedded queue) records N signed small edXML documents for
one adapter's recipient (the agency webhook, or the national axis through gov_axis), then stops; a
`lienthong worker --no-pollers` alone delivers the backlog to the simulator. Its CPU time (user +
system) and voluntary context switches are read from /proc before and after: per delivery, they are
the delivery path's cost alone (claim, read, adapter HTTP, outcome, log, metrics). The simulator runs
in its own process, so its CPU is not counted. Prints one line per round; ``--rounds`` repeats it.

``--scale-out``: the same on a fresh PostgreSQL database and RabbitMQ prefix — `serve --workers 0`
records the backlog and publishes its tickets (packed, as intake does), then the worker drains the
queue; the database's backends' and RabbitMQ's CPU per delivery are printed too.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

from . import loadgen
from .backends import Backends, ServerCpu, scaled_out_backends
from .documents import AXIS_RECIPIENT, edxml_set
from .ledgerview import LedgerView
from .procs import (
    VENV_BIN,
    hub_env,
    make_config,
    set_adapter_options,
    start_hub,
    start_simulator,
    start_worker,
)
from .scenarios import requests_for, wait_delivered

SIMULATORS = {"agency": "adapters.agency.simulator", "gov_axis": "adapters.gov_axis.simulator"}


def _loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def drain_once(
    adapter: str,
    count: int,
    threads: int | None,
    label: str,
    profile: Path | None = None,
    scale_out: bool = False,
) -> dict[str, float]:
    """One round: record `count` documents, then time a worker delivering them all (with `profile`,
    under py-spy, GIL samples only, written there as collapsed stacks; with `scale_out`, on
    PostgreSQL and RabbitMQ)."""
    if adapter == "gov_axis":
        documents = edxml_set(
            f"drain-{label}", count + 1, 2048, recipient=AXIS_RECIPIENT, first_serial=700_000
        )
    else:
        documents = edxml_set(f"drain-{label}", count + 1, 2048)
    with ExitStack() as stack:
        tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="lienthong-drain-"))
        backends: Backends | None = stack.enter_context(scaled_out_backends()) if scale_out else None
        work = Path(tmp)
        agency = start_simulator("agency", SIMULATORS["agency"], work / "logs")
        axis = (
            start_simulator("axis", SIMULATORS["gov_axis"], work / "logs") if adapter == "gov_axis" else None
        )
        try:
            config = make_config(work / "config", webhook_base=agency.url or "")
            if axis is not None:
                set_adapter_options(config, "gov_axis", {"base_url": axis.url})
            settings: dict[str, object] = {"workers": threads} if threads else {}
            ledger_url = f"sqlite:///{work / 'data' / 'ledger.sqlite3'}"
            if backends is not None:
                ledger_url = backends.database_url
                settings.update(
                    database_url=ledger_url, queue_url=backends.queue_url, queue_prefix=backends.prefix
                )
            env = hub_env(work / "data", config, **settings)
            ledger = LedgerView(ledger_url)
            hub = start_hub("serve-drain", env, work / "logs", workers=0)
            url = hub.url or ""
            try:
                probe = requests_for(url, documents, 0, 1)
                deadline = time.monotonic() + 60
                # the axis recipient is routed once the hub has learnt the axis directory (its poller)
                while loadgen.saturate(url, probe, connections=1).statuses[202] != 1:
                    if time.monotonic() > deadline:
                        raise RuntimeError("the hub did not accept the first document within 60 s")
                    time.sleep(0.5)
                result = loadgen.saturate(url, requests_for(url, documents, 1, count))
                if result.statuses[202] != count:
                    raise RuntimeError(f"only {result.statuses[202]} of {count} accepted: {result.statuses}")
            finally:
                hub.stop()
            expected = count + 1
            worker = start_worker("worker-drain", env, work / "logs")
            spy = None
            if profile is not None:
                py_spy = shutil.which("py-spy") or str(VENV_BIN / "py-spy")
                argv = [py_spy, "record", "--format", "raw", "--output", str(profile), "--rate", "250"]
                argv += ["--nonblocking", "--gil", "--pid", str(worker.pid)]
                spy = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            servers = ServerCpu(backends)
            try:
                servers.start()
                cpu, switches = worker.cpu_seconds(), worker.voluntary_switches()
                began = time.perf_counter()
                done = wait_delivered(ledger, adapter, expected, 600)
                took = time.perf_counter() - began
                cpu, switches = worker.cpu_seconds() - cpu, worker.voluntary_switches() - switches
                server_cpu = servers.stop()
            finally:
                if spy is not None:
                    spy.send_signal(signal.SIGINT)  # py-spy writes its output and exits
                    spy.wait(30)
                worker.stop()
                ledger.close()
            if done < expected:
                raise RuntimeError(f"only {done} of {expected} delivered; see {work / 'logs'}")
        finally:
            agency.stop()
            if axis is not None:
                axis.stop()
    return {
        "delivered_per_s": expected / took,
        "cpu_ms_per_delivery": 1000 * cpu / expected,
        "voluntary_switches_per_delivery": switches / expected,
        "postgres_ms_per_delivery": 1000 * server_cpu["postgres_backends_cpu_s"] / expected,
        "rabbitmq_ms_per_delivery": 1000 * server_cpu["rabbitmq_cpu_s"] / expected,
        # every process of the machine (the simulator, the ledger polling, others' work included):
        # the backends' figure misses a pooled connection that came and went during the drain
        "machine_ms_per_delivery": 1000
        * server_cpu["machine_busy_share"]
        * (os.cpu_count() or 1)
        * took
        / expected,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.drain", description=__doc__)
    parser.add_argument("--adapter", choices=sorted(SIMULATORS), default="agency")
    parser.add_argument("--count", type=int, default=1500, help="deliveries in the backlog")
    parser.add_argument("--threads", type=int, help="delivery threads of the worker (LIENTHONG_WORKERS)")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument(
        "--label", default=os.environ.get("DRAIN_LABEL", "run"), help="printed with each line"
    )
    parser.add_argument("--profile", type=Path, help="record the worker with py-spy (GIL) into this file")
    parser.add_argument("--scale-out", action="store_true", help="on PostgreSQL and RabbitMQ")
    args = parser.parse_args(argv)
    for round_ in range(args.rounds):
        before = _loadavg()
        figures = drain_once(
            args.adapter, args.count, args.threads, f"{args.label}{round_}", args.profile, args.scale_out
        )
        servers = ""
        if args.scale_out:
            servers = (
                f" PostgreSQL {figures['postgres_ms_per_delivery']:.2f},"
                f" RabbitMQ {figures['rabbitmq_ms_per_delivery']:.2f},"
                f" whole machine {figures['machine_ms_per_delivery']:.2f} ms/delivery,"
            )
        print(
            f"{args.label} {args.adapter} n={args.count}: {figures['delivered_per_s']:.0f} delivered/s,"
            f" worker CPU {figures['cpu_ms_per_delivery']:.2f} ms/delivery,{servers}"
            f" {figures['voluntary_switches_per_delivery']:.1f} vol. switches/delivery"
            f" (load {before} → {_loadavg()})",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
