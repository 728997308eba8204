"""``python -m bench.ledgerwrite [N] [THREADS]``: what recording messages costs on PostgreSQL, alone.

N messages (default 1600, 5 KB each, one delivery) recorded by THREADS threads (default 4: group
commits of ~2 messages, as two API processes with 16 connections form them) into a database of the
run's own on the machine's PostgreSQL. Prints the writer's CPU (RUSAGE_SELF) and that of the
database's backends (/proc) per message, the group commits written and the wall time. Run it from
another checkout (its own venv) to compare that checkout's ledger.
"""

from __future__ import annotations

import hashlib
import resource
import sys
import threading
import time
import uuid

import sqlalchemy as sa

from hub.ledger.records import NewMessage
from hub.ledger.store import Ledger

from .backends import POSTGRES_URL, cpu_of_pid


def _own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main(argv: list[str]) -> int:
    count = int(argv[0]) if argv else 1600
    threads = int(argv[1]) if len(argv) > 1 else 4
    name = f"lienthong_bench_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))

    def backends_cpu() -> float:
        with admin.connect() as conn:
            pids = conn.execute(
                sa.text("SELECT pid FROM pg_stat_activity WHERE datname = :db AND pid <> pg_backend_pid()"),
                {"db": name},
            ).scalars()
            return sum(cpu for pid in pids if (cpu := cpu_of_pid(int(pid))) is not None)

    body = b"<doc>" + b"x" * 5000 + b"</doc>"
    digest = hashlib.sha256(body).hexdigest()

    def message() -> NewMessage:
        return NewMessage(
            id=str(uuid.uuid4()),
            doctype="bench",
            sender="sender",
            submitted_by="sender",
            recipients=["recipient"],
            digest=digest,
            original=body,
            document=body,
            document_digest=digest,
            content_type="application/xml",
            adapters={"recipient": "agency"},
        )

    try:
        ledger = Ledger(POSTGRES_URL.rsplit("/", 1)[0] + "/" + name)
        ledger.migrate()
        for _ in range(20):  # connections made, statements prepared
            ledger.record_message(message())
        per_thread = count // threads
        batches = ledger._committer.batches
        pg, cpu, began = backends_cpu(), _own_cpu(), time.perf_counter()

        def write() -> None:
            for _ in range(per_thread):
                ledger.record_message(message())

        workers = [threading.Thread(target=write) for _ in range(threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        wall, cpu, pg = time.perf_counter() - began, _own_cpu() - cpu, backends_cpu() - pg
        written = per_thread * threads
        print(
            f"{written} messages from {threads} threads in {ledger._committer.batches - batches} group"
            f" commits: writer {1000 * cpu / written:.3f} ms/message, PostgreSQL backends"
            f" {1000 * pg / written:.3f} ms/message, wall {wall:.2f} s"
        )
        ledger.dispose()
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
