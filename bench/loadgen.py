"""A bounded loopback HTTP/1.1 load generator on raw asyncio streams (uvloop when available).

Requests are serialised to bytes before the clock starts, connections are kept alive and responses
are parsed by hand, so the generator costs tens of microseconds per request (an httpx loop costs
milliseconds and measures itself). Two modes, each sending exactly the requests it is given:

- closed loop (:func:`saturate`): N connections, each sends its next request as soon as the previous
  answer arrives — the hub's saturation throughput, and latency under that load;
- open loop (:func:`offered_rate`): request i is due at ``start + i / rate`` whatever happened before;
  latency is measured from the due time, not the send time, so a stalled hub is not hidden
  (no coordinated omission), and connections are added while all are busy, up to a bound.

The generator's own CPU time is reported so readers can see it did not compete much with the hub.
"""

from __future__ import annotations

import asyncio
import math
import resource
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

uvloop: Any
try:  # uvicorn[standard] brings uvloop; plain asyncio works too
    import uvloop
except ImportError:  # pragma: no cover
    uvloop = None


@dataclass
class LoadResult:
    """What one load run saw: per-request latencies (s), statuses, wall time and the client's CPU."""

    mode: str
    sent: int
    statuses: Counter[int] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    wall_seconds: float = 0.0
    client_cpu_seconds: float = 0.0
    offered_rate: float | None = None
    connections: int = 0

    @property
    def completed(self) -> int:
        return sum(self.statuses.values())

    def ok(self, *codes: int) -> int:
        return sum(self.statuses[c] for c in codes or (200, 201, 202))

    @property
    def throughput(self) -> float:
        return self.completed / self.wall_seconds if self.wall_seconds else 0.0


def build_request(url: str, path: str, body: bytes, headers: dict[str, str]) -> bytes:
    """One keep-alive POST as raw bytes."""
    host = urlsplit(url).netloc
    lines = [f"POST {path} HTTP/1.1", f"Host: {host}", f"Content-Length: {len(body)}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


# uvicorn closes a kept-alive connection idle for 5 s (its timeout_keep_alive). A request written on a
# connection the server is closing at that moment fails without an answer: a client's artefact, not
# the server's refusal. Like HTTP clients that track the keep-alive timeout, a connection idle this
# long is not used again.
IDLE_LIMIT_SECONDS = 4.0


class _Connection:
    def __init__(
        self, address: tuple[str, int], reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.address, self.reader, self.writer = address, reader, writer
        self.last_used = time.monotonic()

    @property
    def stale(self) -> bool:
        """Idle long enough that the server may be closing it."""
        return time.monotonic() - self.last_used >= IDLE_LIMIT_SECONDS

    @classmethod
    async def open(cls, address: tuple[str, int]) -> _Connection:
        reader, writer = await asyncio.open_connection(*address, limit=1 << 20)
        return cls(address, reader, writer)

    async def exchange(self, request: bytes) -> int:
        """Send one request, read its whole answer, return the status code."""
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status_line, _, rest = head.partition(b"\r\n")
        status = int(status_line.split(b" ", 2)[1])
        length = 0
        chunked = False
        for line in rest.split(b"\r\n"):
            name, _, value = line.partition(b":")
            lowered = name.strip().lower()
            if lowered == b"content-length":
                length = int(value)
            elif lowered == b"transfer-encoding" and b"chunked" in value.lower():
                chunked = True
        if chunked:
            while True:
                size = int((await self.reader.readline()).split(b";")[0], 16)
                await self.reader.readexactly(size + 2)
                if size == 0:
                    break
        elif length:
            await self.reader.readexactly(length)
        self.last_used = time.monotonic()
        return status

    def close(self) -> None:
        self.writer.close()


def _addresses(urls: str | Sequence[str]) -> list[tuple[str, int]]:
    """Where to connect; several URLs (API processes of one hub) share the connections in turn."""
    out = []
    for url in [urls] if isinstance(urls, str) else urls:
        parts = urlsplit(url)
        out.append((parts.hostname or "127.0.0.1", parts.port or 80))
    return out


async def _saturate(
    urls: str | Sequence[str], requests: Sequence[bytes], connections: int, result: LoadResult
) -> None:
    addresses = _addresses(urls)
    pool = [await _Connection.open(addresses[i % len(addresses)]) for i in range(connections)]
    position = 0

    async def worker(connection: _Connection) -> None:
        nonlocal position
        while position < len(requests):
            request = requests[position]
            position += 1
            began = time.perf_counter()
            try:
                status = await connection.exchange(request)
            except (OSError, asyncio.IncompleteReadError, ValueError) as error:
                result.errors.append(repr(error))
                connection.close()
                connection = await _Connection.open(connection.address)
                continue
            result.latencies.append(time.perf_counter() - began)
            result.statuses[status] += 1
        connection.close()

    began = time.perf_counter()
    await asyncio.gather(*(worker(c) for c in pool))
    result.wall_seconds = time.perf_counter() - began


async def _offered(
    urls: str | Sequence[str],
    requests: Sequence[bytes],
    rate: float,
    max_connections: int,
    result: LoadResult,
) -> None:
    addresses = _addresses(urls)
    idle: list[_Connection] = [
        await _Connection.open(addresses[i % len(addresses)]) for i in range(min(8, max_connections))
    ]
    opened = len(idle)
    available = asyncio.Condition()
    tasks: list[asyncio.Task[None]] = []

    async def one(request: bytes, due: float) -> None:
        nonlocal opened
        async with available:
            while not idle and opened >= max_connections:
                await available.wait()
            if idle:
                connection = idle.pop()
            else:
                opened += 1
                connection = None
        if connection is not None and connection.stale:
            connection.close()
            connection = await _Connection.open(connection.address)
        if connection is None:
            connection = await _Connection.open(addresses[opened % len(addresses)])
        try:
            status = await connection.exchange(request)
            result.latencies.append(time.perf_counter() - due)
            result.statuses[status] += 1
        except (OSError, asyncio.IncompleteReadError, ValueError) as error:
            result.errors.append(repr(error))
            connection.close()
            connection = await _Connection.open(connection.address)
        async with available:
            idle.append(connection)
            available.notify()

    start = time.perf_counter() + 0.05
    for i, request in enumerate(requests):
        due = start + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(request, due)))
    await asyncio.gather(*tasks)
    result.wall_seconds = time.perf_counter() - start
    result.connections = opened
    for connection in idle:
        connection.close()


def _run(coroutine_factory: object) -> None:
    if uvloop is not None:
        uvloop.run(coroutine_factory)
    else:  # pragma: no cover
        asyncio.run(coroutine_factory)  # type: ignore[arg-type]


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def saturate(url: str | Sequence[str], requests: Sequence[bytes], *, connections: int = 16) -> LoadResult:
    """Send every request as fast as `connections` keep-alive connections allow."""
    result = LoadResult(mode="saturation", sent=len(requests), connections=connections)
    cpu = _cpu()
    _run(_saturate(url, requests, connections, result))
    result.client_cpu_seconds = _cpu() - cpu
    return result


def offered_rate(
    url: str | Sequence[str], requests: Sequence[bytes], *, rate: float, max_connections: int = 256
) -> LoadResult:
    """Send request i at ``i / rate`` seconds; latency counts from when it was due."""
    result = LoadResult(mode="fixed-rate", sent=len(requests), offered_rate=rate)
    cpu = _cpu()
    _run(_offered(url, requests, rate, max_connections, result))
    result.client_cpu_seconds = _cpu() - cpu
    return result


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100) of `values`; 0.0 when empty."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, min(len(ordered), math.ceil(p / 100 * len(ordered))))
    return ordered[rank - 1]
