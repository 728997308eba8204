"""``python -m bench.publish MODE [N] [RATE]``: what publishing intake's tickets costs, alone.

N tickets (default 3000) from 16 threads, one ticket per call, as 16 intake threads would hand them
over, to a RabbitMQ prefix of the run's own — as fast as they go, or RATE tickets/s in all:
``sync`` calls ``AmqpWorkQueue.publish`` in the calling thread (intake before the background
publisher); ``background`` hands them to ``TicketPublisher`` (hub/queue/publisher.py) as intake does,
several tickets to a message after a short wait; ``one-per-message`` the same publisher without the
wait and with one ticket to a message (intake before that). Waits until all are confirmed. Prints the
process's CPU and RabbitMQ's (``beam.smp``, shared with the machine's other users) per ticket, the
wall time and the messages the broker holds.
"""

from __future__ import annotations

import resource
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

from hub.queue import Ticket
from hub.queue.amqp import AmqpWorkQueue

from .backends import AMQP_URL, cpu_of_pid, pids_named


def _beam_cpu() -> float:
    return sum(cpu for pid in pids_named("beam.smp") if (cpu := cpu_of_pid(pid)) is not None)


def _own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class _OnePerMessage(AmqpWorkQueue):
    """The queue as intake's publisher used it before: one ticket to a message."""

    def publish_together(self, tickets: Sequence[Ticket]) -> None:
        self.publish(tickets)


def main(argv: list[str]) -> int:
    mode = argv[0] if argv else "background"
    count = int(argv[1]) if len(argv) > 1 else 3000
    rate = float(argv[2]) if len(argv) > 2 else 0.0
    kind = _OnePerMessage if mode == "one-per-message" else AmqpWorkQueue
    queue = kind(AMQP_URL, prefix=f"lienthong-bench-publish-{uuid.uuid4().hex[:8]}")
    tickets = [Ticket(str(uuid.uuid4()), str(uuid.uuid4()), "agency") for _ in range(count)]
    try:
        queue.publish(tickets[:1])  # connect and declare before measuring
        publisher = None
        send: Callable[[Ticket], None]
        if mode in ("background", "one-per-message"):
            from hub.queue.breaker import PublishBreaker
            from hub.queue.publisher import TicketPublisher

            if mode == "background":
                publisher = TicketPublisher(queue, PublishBreaker())
            else:
                publisher = TicketPublisher(queue, PublishBreaker(), linger=0.0)
            send = lambda ticket: publisher.submit([ticket])  # noqa: E731
        else:
            send = lambda ticket: queue.publish([ticket])  # noqa: E731
        pace = 16 / rate if rate > 0 else 0.0

        def paced(ticket: Ticket) -> None:
            send(ticket)
            if pace:
                time.sleep(pace)

        cpu, beam, began = _own_cpu(), _beam_cpu(), time.perf_counter()
        with ThreadPoolExecutor(16) as pool:
            list(pool.map(paced, tickets[1:]))
        if publisher is not None:
            publisher.flush(60)
            publisher.close()
        wall = time.perf_counter() - began
        cpu, beam = _own_cpu() - cpu, _beam_cpu() - beam
        sent = count - 1
        batches = f", {publisher.batches} batches" if publisher is not None else ""
        print(
            f"{mode}: {sent} tickets{f' at {rate:g}/s' if rate else ''}, process CPU"
            f" {1000 * cpu / sent:.3f} ms/ticket, RabbitMQ {1000 * beam / sent:.3f} ms/ticket,"
            f" wall {wall:.2f} s{batches}, {queue.depth()} messages"
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
