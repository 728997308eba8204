"""Group commit: many threads' writes in one transaction, one durable commit (one fsync) for all.

Every accepted message must be on disk before its 202. With SQLite (``synchronous=FULL``) each commit
costs an fsync, and writers queue for one write lock whose busy handler sleeps in steps of up to
100 ms; with PostgreSQL each commit waits for the WAL flush.
So concurrent callers do not commit one by one: the first becomes the *leader*, takes every pending
item (up to a batch limit), writes them in one transaction and wakes the others with their own
result — each caller still returns only after the commit that holds its item. A caller that arrives
while a batch is being written waits for the next one, which one of the waiting callers leads.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")

BatchWriter = Callable[[Sequence[T]], Sequence["R | BaseException"]]


@dataclass
class _Slot(Generic[T, R]):
    item: T
    size: int
    done: bool = False
    result: R | None = None
    error: BaseException | None = field(default=None, repr=False)


class GroupCommitter(Generic[T, R]):
    """Batches :meth:`submit` calls from many threads through `write_batch`.

    ``write_batch(items)`` writes the items in one transaction and returns one outcome per item, in
    order: a result, or an exception for that item alone (e.g. a duplicate). If it raises, every item
    of the batch gets that exception.
    """

    def __init__(
        self, write_batch: BatchWriter[T, R], *, max_items: int = 64, max_bytes: int = 16 * 1024 * 1024
    ) -> None:
        self._write = write_batch
        self.max_items = max_items
        self.max_bytes = max_bytes
        self._cond = threading.Condition()
        self._pending: list[_Slot[T, R]] = []
        self._leading = False
        self.batches = 0  # how many transactions were written (for tests and benchmarks)

    def submit(self, item: T, *, size: int = 0) -> R:
        """Write `item` (in some batch); return its result once that batch is committed."""
        slot: _Slot[T, R] = _Slot(item, size)
        with self._cond:
            self._pending.append(slot)
        while True:
            with self._cond:
                while not slot.done and self._leading:
                    self._cond.wait()
                if slot.done:
                    break
                self._leading = True
                batch = self._take()
            try:
                self._run(batch)
            finally:
                with self._cond:
                    self._leading = False
                    self._cond.notify_all()
        if slot.error is not None:
            raise slot.error
        return slot.result  # type: ignore[return-value]

    def _take(self) -> list[_Slot[T, R]]:
        """The oldest pending slots, within the limits (always at least one)."""
        taken, total = 0, 0
        for slot in self._pending:
            if taken and (taken >= self.max_items or total + slot.size > self.max_bytes):
                break
            taken += 1
            total += slot.size
        batch, self._pending = self._pending[:taken], self._pending[taken:]
        return batch

    def _run(self, batch: list[_Slot[T, R]]) -> None:
        try:
            outcomes = self._write([slot.item for slot in batch])
            if len(outcomes) != len(batch):
                raise RuntimeError(f"batch writer returned {len(outcomes)} outcomes for {len(batch)} items")
        except BaseException as error:
            outcomes = [error] * len(batch)
        self.batches += 1
        with self._cond:
            for slot, outcome in zip(batch, outcomes, strict=True):
                if isinstance(outcome, BaseException):
                    slot.error = outcome
                else:
                    slot.result = outcome
                slot.done = True
