"""The processes under measurement: `lienthong serve` / `lienthong worker` and the simulators, each a
subprocess on a free loopback port with its own data dir, so CPU time and resident memory can be read
per process from /proc."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import yaml

from hub.servers import free_port
from hub.settings import PROJECT_ROOT

VENV_BIN = Path(sys.executable).parent
LIENTHONG = str(VENV_BIN / "lienthong") if (VENV_BIN / "lienthong").exists() else "lienthong"
DEV_WEBHOOK_BASE = "${simulator:agency}"  # what config/participants.yaml's webhook URLs start with
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_KIB = os.sysconf("SC_PAGE_SIZE") // 1024


@dataclass
class Proc:
    """A started process, its log file, and readings from /proc."""

    name: str
    popen: subprocess.Popen[bytes]
    log: Path
    url: str | None = None

    @property
    def pid(self) -> int:
        return self.popen.pid

    def family(self) -> list[int]:
        """The process and its live descendants (`serve --processes N`: uvicorn's worker processes)."""
        children: dict[int, list[int]] = {}
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):  # gone meanwhile
                continue
            children.setdefault(parent, []).append(int(entry.name))
        found, todo = [], [self.pid]
        while todo:
            pid = todo.pop()
            found.append(pid)
            todo.extend(children.get(pid, []))
        return found

    def cpu_seconds(self) -> float:
        """User + system CPU time of the process and its live descendants so far."""
        return self._cpu_of(self.family())

    def descendants_cpu_seconds(self) -> float:
        """User + system CPU time of the live descendants alone (`serve`'s delivery process)."""
        return self._cpu_of([pid for pid in self.family() if pid != self.pid])

    @staticmethod
    def _cpu_of(pids: list[int]) -> float:
        total = 0
        for pid in pids:
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:  # a descendant ended meanwhile
                continue
            total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15)
        return total / CLOCK_TICKS

    def io_counters(self) -> dict[str, int]:
        """Bytes written: `write_bytes` reached the storage layer (the disk), `wchar` went through write()."""
        totals = {"write_bytes": 0, "wchar": 0}
        for pid in self.family():
            try:
                text = Path(f"/proc/{pid}/io").read_text()
            except OSError:
                continue
            fields = dict(line.split(": ", 1) for line in text.splitlines())
            for key in totals:
                totals[key] += int(fields[key])
        return totals

    def voluntary_switches(self) -> int:
        """Voluntary context switches of all live threads of the process and its descendants."""
        total = 0
        for pid in self.family():
            try:
                tasks = list(Path(f"/proc/{pid}/task").iterdir())
            except OSError:
                continue
            for task in tasks:
                try:
                    status = (task / "status").read_text()
                except OSError:  # the thread ended meanwhile
                    continue
                for line in status.splitlines():
                    if line.startswith("voluntary_ctxt_switches:"):
                        total += int(line.split()[1])
        return total

    def _status_kib(self, key: str, pid: int | None = None) -> int:
        for line in Path(f"/proc/{pid or self.pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
        raise KeyError(key)

    def rss_bytes(self, pid: int | None = None) -> int:
        """Resident memory of the process (or of `pid`, one of its :meth:`family`)."""
        return self._status_kib("VmRSS", pid) * 1024

    def peak_rss_bytes(self, pid: int | None = None) -> int:
        """The high-water mark of resident memory (since start or the last :meth:`reset_peak`)."""
        return self._status_kib("VmHWM", pid) * 1024

    def reset_peak(self, pid: int | None = None) -> bool:
        """Reset VmHWM to the current RSS (Linux clear_refs 5); False where not permitted."""
        try:
            Path(f"/proc/{pid or self.pid}/clear_refs").write_text("5")
            return True
        except OSError:
            return False

    def stop(self, timeout: float = 15.0) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(5)


def make_config(target: Path, *, webhook_base: str) -> Path:
    """A copy of config/ whose agencies' webhooks point at this run's agency simulator."""
    target.mkdir(parents=True, exist_ok=True)
    for source in (PROJECT_ROOT / "config").glob("*.yaml"):
        shutil.copy(source, target / source.name)
    participants = target / "participants.yaml"
    participants.write_text(
        participants.read_text(encoding="utf-8").replace(DEV_WEBHOOK_BASE, webhook_base), encoding="utf-8"
    )
    return target


def set_adapter_options(config_dir: Path, name: str, options: dict[str, object]) -> None:
    path = config_dir / "adapters.yaml"
    loaded = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    adapters = loaded.setdefault("adapters", {}) or {}
    loaded["adapters"] = adapters
    adapters[name] = {**(adapters.get(name) or {}), **options}
    path.write_text(yaml.safe_dump(loaded, allow_unicode=True), encoding="utf-8")


def hub_env(data_dir: Path, config_dir: Path, **settings: object) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIENTHONG_")}
    env.update(
        LIENTHONG_DATA_DIR=str(data_dir),
        LIENTHONG_CONFIG_DIR=str(config_dir),
        PYTHONUNBUFFERED="1",
    )
    env.update({f"LIENTHONG_{key.upper()}": str(value) for key, value in settings.items()})
    return env


def _spawn(name: str, argv: list[str], env: dict[str, str], logs: Path) -> Proc:
    logs.mkdir(parents=True, exist_ok=True)
    log = logs / f"{name}.log"
    with log.open("ab") as out:
        popen = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=PROJECT_ROOT)
    return Proc(name, popen, log)


def _wait_http(proc: Proc, url: str, path: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.popen.poll() is not None:
            raise RuntimeError(f"{proc.name} exited ({proc.popen.returncode}); see {proc.log}")
        try:
            if httpx.get(url + path, timeout=1).status_code < 500:
                proc.url = url
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    proc.stop()
    raise RuntimeError(f"{proc.name} did not answer at {url} within {timeout}s; see {proc.log}")


def start_hub(
    name: str, env: dict[str, str], logs: Path, *, workers: int | None = None, processes: int = 1
) -> Proc:
    """`lienthong serve` on a free port; returns once /healthz answers."""
    port = free_port()
    argv = [LIENTHONG, "serve", "--port", str(port)]
    if workers is not None:
        argv += ["--workers", str(workers)]
    if processes > 1:
        argv += ["--processes", str(processes)]
    proc = _spawn(name, argv, env, logs)
    _wait_http(proc, f"http://127.0.0.1:{port}", "/healthz")
    if processes > 1:
        _wait_started(proc, processes)
    _wait_delivery(proc)
    return proc


def _wait_started(proc: Proc, processes: int, timeout: float = 60.0) -> None:
    """Until each of `serve --processes N`'s processes has started its application. /healthz answers
    as soon as the first has: connections opened before the others are up all go to that one and
    stay there (kept alive), and the run measures one process instead of N."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.log.read_text(errors="replace").count("Application startup complete") >= processes:
            return
        time.sleep(0.1)
    proc.stop()
    raise RuntimeError(f"{proc.name}: not all {processes} processes started in {timeout}s; see {proc.log}")


def _wait_delivery(proc: Proc, timeout: float = 60.0) -> None:
    """Until the hub's delivery runs: at once with threads, once its delivery process is up with one."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            delivery = httpx.get(f"{proc.url}/healthz", timeout=5).json().get("delivery") or {}
        except httpx.HTTPError:  # a busy machine: ask again
            delivery = {"state": "unknown"}
        if delivery.get("state") in (None, "running"):
            return
        time.sleep(0.1)
    proc.stop()
    raise RuntimeError(f"{proc.name}'s delivery process did not start within {timeout}s; see {proc.log}")


def start_worker(name: str, env: dict[str, str], logs: Path) -> Proc:
    """`lienthong worker --no-pollers` (delivery only)."""
    proc = _spawn(name, [LIENTHONG, "worker", "--no-pollers"], env, logs)
    deadline = time.monotonic() + 60
    while b"lienthong worker" not in proc.log.read_bytes():  # printed once it consumes
        if proc.popen.poll() is not None:
            raise RuntimeError(f"{name} exited ({proc.popen.returncode}); see {proc.log}")
        if time.monotonic() > deadline:
            proc.stop()
            raise RuntimeError(f"{name} did not start within 60s; see {proc.log}")
        time.sleep(0.1)
    return proc


def start_baseline(name: str, logs: Path, db: Path, *, verify: str) -> Proc:
    """The hand-written minimal service (bench/baseline_service.py) on a free port, fresh SQLite file."""
    port = free_port()
    argv = [sys.executable, "-m", "bench.baseline_service", "--port", str(port), "--db", str(db)]
    proc = _spawn(name, [*argv, "--verify", verify], dict(os.environ), logs)
    _wait_http(proc, f"http://127.0.0.1:{port}", "/healthz")
    return proc


def start_simulator(name: str, module: str, logs: Path, *extra: str) -> Proc:
    """A simulator of an outside system: ``python -m <module> --port N``."""
    port = free_port()
    argv = [sys.executable, "-m", module, "--port", str(port), *extra]
    proc = _spawn(name, argv, dict(os.environ), logs)
    _wait_http(proc, f"http://127.0.0.1:{port}", "/openapi.json")
    return proc
