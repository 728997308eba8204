"""``python -m bench.publish MODE [N]``: what publishing intake's tickets costs, alone.

N tickets (default 3000) from 16 threads, one ticket per call, as 16 intake threads would hand them
over, to a RabbitMQ prefix of the run's own: ``sync`` calls ``AmqpWorkQueue.publish`` in the calling
thread (main's intake path before the background publisher); ``background`` hands them to
``TicketPublisher`` (hub/queue/publisher.py) and waits until all are confirmed. Prints the process's
CPU and RabbitMQ's (``beam.smp``, shared with the machine's other users) per ticket and the wall time.
"""

from __future__ import annotations

import resource
import sys
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from hub.queue import Ticket
from hub.queue.amqp import AmqpWorkQueue

from .backends import AMQP_URL, cpu_of_pid, pids_named


def _beam_cpu() -> float:
    return sum(cpu for pid in pids_named("beam.smp") if (cpu := cpu_of_pid(pid)) is not None)


def _own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main(argv: list[str]) -> int:
    mode = argv[0] if argv else "background"
    count = int(argv[1]) if len(argv) > 1 else 3000
    queue = AmqpWorkQueue(AMQP_URL, prefix=f"lienthong-bench-publish-{uuid.uuid4().hex[:8]}")
    tickets = [Ticket(str(uuid.uuid4()), str(uuid.uuid4()), "agency") for _ in range(count)]
    try:
        queue.publish(tickets[:1])  # connect and declare before measuring
        publisher = None
        send: Callable[[Ticket], None]
        if mode == "background":
            from hub.queue.breaker import PublishBreaker
            from hub.queue.publisher import TicketPublisher

            publisher = TicketPublisher(queue, PublishBreaker())
            send = lambda ticket: publisher.submit([ticket])  # noqa: E731
        else:
            send = lambda ticket: queue.publish([ticket])  # noqa: E731
        cpu, beam, began = _own_cpu(), _beam_cpu(), time.perf_counter()
        with ThreadPoolExecutor(16) as pool:
            list(pool.map(send, tickets[1:]))
        if publisher is not None:
            publisher.flush(60)
            publisher.close()
        wall = time.perf_counter() - began
        cpu, beam = _own_cpu() - cpu, _beam_cpu() - beam
        sent = count - 1
        batches = f", {publisher.batches} batches" if publisher is not None else ""
        print(
            f"{mode}: {sent} tickets, process CPU {1000 * cpu / sent:.3f} ms/ticket,"
            f" RabbitMQ {1000 * beam / sent:.3f} ms/ticket, wall {wall:.2f} s{batches}"
        )
        if publisher is not None:  # several tickets to a message: the broker counts messages
            if publisher.published != sent:
                raise SystemExit(f"{publisher.published} of {sent} tickets confirmed")
        elif queue.depth() != count:
            raise SystemExit(f"{queue.depth()} tickets in the queue, {count} published")
    finally:
        queue.delete_topology()
        queue.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
