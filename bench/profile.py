"""``python -m bench.profile``: where a saturated `lienthong serve` spends its time, sampled by py-spy.

Starts `serve --workers 0` (embedded) on a fresh data dir, loads it with signed small edXML (or JSON)
at saturation and records the process with ``py-spy record --format raw`` (collapsed stacks, which
flame-graph tools read). Prints the functions with the most inclusive and self samples. With
``--delivery``, a `lienthong worker` draining that backlog to the agency simulator is recorded
instead. With ``--scale-out``, the `serve --workers 0` is the scaled-out mode's API process: its ledger on
a PostgreSQL database and its tickets in a RabbitMQ prefix of the run's own (bench/backends.py), no
worker running (the tickets stay queued). py-spy is in the dev extras; it needs ptrace (root or
CAP_SYS_PTRACE).
"""

from __future__ import annotations

import argparse
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from contextlib import ExitStack
from pathlib import Path

from . import loadgen
from .backends import scaled_out_backends
from .documents import edxml_set, json_set
from .ledgerview import LedgerView
from .procs import VENV_BIN, hub_env, make_config, start_hub, start_simulator, start_worker
from .scenarios import requests_for

AGENCY_SIMULATOR = "adapters.agency.simulator"


def top(collapsed: Path, count: int = 25) -> tuple[int, list[tuple[str, int]], list[tuple[str, int]]]:
    """(total samples, most inclusive frames, most self frames) of a py-spy raw (collapsed) file."""
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for line in collapsed.read_text(encoding="utf-8").splitlines():
        stack, _, samples = line.rpartition(" ")
        if not stack or not samples.isdigit():  # a frame name holding a line break continues here
            continue
        n = int(samples)
        total += n
        frames = [
            f.split(" (", 1)[0] + " (" + f.split(" (", 1)[1].split(":")[0] + ")" if " (" in f else f
            for f in stack.split(";")
        ]
        for frame in set(frames):
            inclusive[frame] += n
        own[frames[-1]] += n
    return total, inclusive.most_common(count), own.most_common(count)


#: Where a message's time goes: the first bucket whose function is on a sample's stack takes it.
INTAKE_STEPS = [
    ("parse", ("parse_xml (hub/parsing/xml.py", "parse_json (hub/parsing/json.py")),
    (
        "identify + validate",
        (
            "Validator.validate_xml",
            "Validator.validate_json",
            "identify_xml (hub/doctypes.py",
            "identify_json (hub/doctypes.py",
        ),
    ),
    ("verify", ("verify_enveloped (hub/signing/xmldsig.py", "verify_detached (hub/signing/jws.py")),
    ("sign", ("sign_enveloped (hub/signing/xmldsig.py", "sign_detached (hub/signing/jws.py")),
    ("ledger (record, group commit)", ("Ledger.record_message",)),
    ("ticket publish (RabbitMQ)", ("DeliveryEngine.enqueue_deliveries", "TicketPublisher.")),
    ("extract, authorise, route, log", ("Intake.submit (hub/intake.py",)),
    ("sequencer, checkpoints", ("Sequencer._loop",)),
    ("auth (bearer token)", ("authenticate (hub/api/auth.py", "current_participant (hub/api/auth.py")),
    ("HTTP (uvicorn, Starlette, FastAPI, thread hand-off)", ("",)),
]
DELIVERY_STEPS = [
    ("claim", ("DeliveryEngine._claim",)),
    ("read a document over 1 MiB (the claim carries smaller ones)", ("Ledger.get_document",)),
    ("delivery HTTP (adapter, urllib3)", ("AgencyAdapter.deliver",)),
    ("outcome (record, group commit)", ("DeliveryEngine._record",)),
    ("log line, metrics", ("Logger.info", "Logger.debug", "observe_delivery")),
    ("sequencer, checkpoints", ("Sequencer._loop",)),
    ("pool, threads, rest", ("",)),
]


def breakdown(collapsed: Path, steps: list[tuple[str, tuple[str, ...]]]) -> list[tuple[str, float]]:
    """Share of the samples per step (a sample goes to the first step with a frame on its stack)."""
    counts: Counter[str] = Counter()
    total = 0
    for line in collapsed.read_text(encoding="utf-8").splitlines():
        stack, _, samples = line.rpartition(" ")
        if not stack or not samples.isdigit():
            continue
        total += int(samples)
        for name, frames in steps:
            if any(frame in stack for frame in frames):
                counts[name] += int(samples)
                break
    return [(name, counts[name] / total if total else 0.0) for name, _ in steps]


def _record(spy: list[str], pid: int) -> subprocess.Popen[bytes]:
    recorder = subprocess.Popen([*spy, "--pid", str(pid)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    time.sleep(1.0)  # let py-spy attach
    return recorder


def _stop(recorder: subprocess.Popen[bytes]) -> None:
    recorder.send_signal(signal.SIGINT)  # py-spy writes its output and exits
    recorder.wait(30)


def _drain(work: Path, expected: int, timeout: float = 300.0) -> float:
    ledger = LedgerView(f"sqlite:///{work / 'data' / 'ledger.sqlite3'}")
    began = time.perf_counter()
    try:
        while ledger.count("delivered", "agency") < expected and time.perf_counter() - began < timeout:
            time.sleep(0.2)
    finally:
        ledger.close()
    return time.perf_counter() - began


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__)
    parser.add_argument("--kind", choices=["edxml", "json"], default="edxml")
    parser.add_argument("--count", type=int, default=4000, help="documents sent at saturation")
    parser.add_argument("--label", default="profile", help="name of the output file")
    parser.add_argument("--out", type=Path, help="where the collapsed stacks go (default: the temp dir)")
    parser.add_argument("--gil", action="store_true", help="only samples holding the GIL (Python CPU)")
    parser.add_argument(
        "--delivery",
        action="store_true",
        help="profile a `lienthong worker` draining a backlog to the agency simulator, not intake",
    )
    parser.add_argument("--threads", type=int, help="delivery threads of the worker (LIENTHONG_WORKERS)")
    parser.add_argument(
        "--scale-out",
        action="store_true",
        help="the API process of the scaled-out mode: PostgreSQL + RabbitMQ, no worker (intake only)",
    )
    args = parser.parse_args(argv)
    if args.scale_out and args.delivery:
        parser.error("--scale-out profiles intake only")
    py_spy = shutil.which("py-spy") or str(VENV_BIN / "py-spy")
    documents = edxml_set("p", args.count, 2048) if args.kind == "edxml" else json_set("p", args.count)
    raw = args.out or Path(tempfile.gettempdir()) / f"lienthong-{args.label}.txt"
    spy = [py_spy, "record", "--format", "raw", "--output", str(raw), "--rate", "250", "--nonblocking"]
    spy += ["--gil"] if args.gil else []
    with ExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="lienthong-profile-")))
        agency = start_simulator("agency", AGENCY_SIMULATOR, work / "logs") if args.delivery else None
        webhooks = agency.url if agency and agency.url else "http://127.0.0.1:9"
        settings: dict[str, object] = {"workers": args.threads} if args.threads else {}
        if args.scale_out:
            backends = stack.enter_context(scaled_out_backends())
            settings.update(
                database_url=backends.database_url, queue_url=backends.queue_url, queue_prefix=backends.prefix
            )
        env = hub_env(work / "data", make_config(work / "config", webhook_base=webhooks), **settings)
        hub = start_hub("serve-profile", env, work / "logs", workers=0)
        url = hub.url or ""
        try:
            loadgen.saturate(url, requests_for(url, documents, 0, 50), connections=4)
            cpu = hub.cpu_seconds()
            if not args.delivery:
                recorder = _record(spy, hub.pid)
            result = loadgen.saturate(url, requests_for(url, documents, 50, args.count - 50))
            if args.delivery:  # the backlog is recorded; a worker alone drains it under the profiler
                hub.stop()
                worker = start_worker("worker-profile", env, work / "logs")
                recorder = _record(spy, worker.pid)
                cpu = worker.cpu_seconds()
                took = _drain(work, args.count)
                cpu = worker.cpu_seconds() - cpu
                worker.stop()
                print(
                    f"{args.count} delivered in {took:.1f}s ({args.count / took:.0f}/s),"
                    f" worker CPU {1000 * cpu / args.count:.2f} ms per delivery"
                )
            _stop(recorder)
            if not args.delivery:
                cpu = hub.cpu_seconds() - cpu
                sent = args.count - 50
                print(f"serve CPU {1000 * cpu / sent:.2f} ms per document (under the profiler)")
        finally:
            hub.stop()
            if agency:
                agency.stop()
    print(f"{result.statuses[202]} accepted at {result.throughput:.0f}/s; stacks in {raw}")
    total, inclusive, own = top(raw)
    print(f"\n{total} samples. Inclusive:")
    for frame, n in inclusive:
        print(f"  {100 * n / total:5.1f}%  {frame}")
    print("Self:")
    for frame, n in own:
        print(f"  {100 * n / total:5.1f}%  {frame}")
    print("By step (share of samples; times the process's CPU per message gives ms per message):")
    for name, share in breakdown(raw, DELIVERY_STEPS if args.delivery else INTAKE_STEPS):
        print(f"  {100 * share:5.1f}%  {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
