"""The scaled-out mode's servers for one benchmark run: a PostgreSQL database and a RabbitMQ prefix of
its own on the machine's shared servers, made at the start and removed at the end (nothing else on
those servers is touched), and the CPU time of their processes read from /proc."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
AMQP_URL = "amqp://guest:guest@127.0.0.1:5672//"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def answers(url: str, port: int) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or port), 2):
            return True
    except OSError:
        return False


def available() -> bool:
    return answers(POSTGRES_URL, 5432) and answers(AMQP_URL, 5672)


@dataclass(frozen=True)
class Backends:
    database_url: str
    database: str
    queue_url: str
    prefix: str


@contextmanager
def scaled_out_backends() -> Iterator[Backends]:
    """A fresh database and queue prefix; both dropped afterwards (the database WITH (FORCE))."""
    import sqlalchemy as sa

    from hub.queue.amqp import AmqpWorkQueue

    name = f"lienthong_bench_{uuid.uuid4().hex[:10]}"
    prefix = f"lienthong-bench-{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield Backends(POSTGRES_URL.rsplit("/", 1)[0] + "/" + name, name, AMQP_URL, prefix)
    finally:
        queue = AmqpWorkQueue(AMQP_URL, prefix=prefix)
        try:
            queue.delete_topology()
        finally:
            queue.close()
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def cpu_of_pid(pid: int) -> float | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:  # the process ended
        return None
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def pids_named(name: str) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            comm = (entry / "comm").read_text().strip()
        except OSError:
            continue
        if comm == name:
            pids.append(int(entry.name))
    return pids


def _since(before: dict[int, float]) -> float:
    total = 0.0
    for pid, cpu in before.items():
        now = cpu_of_pid(pid)
        if now is not None:
            total += now - cpu
    return total


class ServerCpu:
    """CPU seconds used by the database's PostgreSQL backends, the RabbitMQ server and the run's
    simulators during a run.

    The backends are those connected to this run's database (`pg_stat_activity`, read at the end: the
    hub's pools keep their connections, so a backend that came and went early is missed). RabbitMQ
    (`beam.smp`) is shared with whoever else uses the broker meanwhile, so its figure is an upper bound.
    The machine's busy share (/proc/stat) says whether the two cores had anything left.
    """

    def __init__(self, backends: Backends | None, simulators: Sequence[int] = ()) -> None:
        self.backends = backends
        self.simulators = list(simulators)  # pids of the run's simulators of outside systems
        self._sims: dict[int, float] = {}
        self._pg: dict[int, float] = {}
        self._beam: dict[int, float] = {}
        self._machine: tuple[int, int] = (0, 0)

    def _pg_pids(self) -> list[int]:
        if self.backends is None:  # the embedded mode: no PostgreSQL
            return []
        import sqlalchemy as sa

        engine = sa.create_engine(self.backends.database_url, pool_size=1)
        try:
            with engine.connect() as conn:
                rows = conn.execute(
                    sa.text(
                        "SELECT pid FROM pg_stat_activity WHERE datname = :db AND pid <> pg_backend_pid()"
                    ),
                    {"db": self.backends.database},
                ).all()
        finally:
            engine.dispose()
        return [int(r.pid) for r in rows]

    @staticmethod
    def _machine_ticks() -> tuple[int, int]:
        """(busy, total) jiffies of all CPUs so far."""
        values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:9]]
        idle = values[3] + values[4]  # idle + iowait
        return sum(values) - idle, sum(values)

    def start(self) -> None:
        self._pg = {pid: cpu for pid in self._pg_pids() if (cpu := cpu_of_pid(pid)) is not None}
        self._beam = {pid: cpu for pid in pids_named("beam.smp") if (cpu := cpu_of_pid(pid)) is not None}
        self._sims = {pid: cpu for pid in self.simulators if (cpu := cpu_of_pid(pid)) is not None}
        self._machine = self._machine_ticks()

    def stop(self) -> dict[str, float]:
        """CPU seconds since :meth:`start`: PostgreSQL backends of the database, RabbitMQ, the machine."""
        pg = 0.0
        for pid in self._pg_pids():
            cpu = cpu_of_pid(pid)
            if cpu is not None:
                pg += cpu - self._pg.get(pid, 0.0)
        beam = _since(self._beam)
        sims = _since(self._sims)
        busy, total = self._machine_ticks()
        busy0, total0 = self._machine
        return {
            "postgres_backends_cpu_s": pg,
            "rabbitmq_cpu_s": beam,
            "simulators_cpu_s": sims,
            "machine_busy_share": (busy - busy0) / (total - total0) if total > total0 else 0.0,
        }
