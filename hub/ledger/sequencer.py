"""The sequencer: one per hub, under a lease, places new events in the log and publishes checkpoints.

Every process of a hub (``serve``, ``worker``, ``run``) runs one :class:`Sequencer` thread; only the
holder of the lease ``ledger:sequencer`` (the pollers' lease mechanism, :meth:`DeliveryWork.hold_lease`)
works. If its process dies, the lease expires after ``lease_seconds`` and another process takes over.
Correctness does not rest on the lease: positions are unique in the database and a checkpoint's tree
size is its key, so two sequencers racing (one paused past its lease) cannot both commit a batch.

Each round, at most every ``interval`` seconds: place batches of unplaced events (each batch one
transaction: positions, tree, signed checkpoint), then publish the new checkpoints — append them to
the checkpoint file, ask the witnesses to co-sign and the TSA to time-stamp, and store what came back.
Publishing also catches up with checkpoints a dead sequencer committed but had not yet published.
"""

from __future__ import annotations

import logging
import threading
import uuid
from typing import TYPE_CHECKING

from hub.ledger.log import DEFAULT_BATCH, LogSigner
from hub.ledger.publish import CheckpointFile, TimestampAuthority, Witnesses
from hub.ledger.records import CheckpointRecord

if TYPE_CHECKING:
    from hub.ledger.store import Ledger

log = logging.getLogger("hub.ledger.sequencer")

LEASE = "ledger:sequencer"


class Sequencer:
    def __init__(
        self,
        ledger: Ledger,
        signer: LogSigner,
        *,
        checkpoint_file: CheckpointFile | None = None,
        witnesses: Witnesses | None = None,
        tsa: TimestampAuthority | None = None,
        interval: float = 1.0,
        lease_seconds: float = 10.0,
        batch: int = DEFAULT_BATCH,
        owner: str | None = None,
        cannot_sign: tuple[type[Exception], ...] = (),
    ) -> None:
        """``cannot_sign``: the signer's errors that mean "not now" (an HSM unreachable). The batch rolls
        back and is retried each round; they are logged in one line when signing stops and when it
        works again, not with a traceback every round."""
        self.ledger = ledger
        self.signer = signer
        self.file = checkpoint_file
        self.witnesses = witnesses
        self.tsa = tsa
        self.interval = interval
        self.lease_seconds = max(lease_seconds, 3 * interval)
        self.batch = batch
        self.owner = owner or f"sequencer-{uuid.uuid4().hex[:12]}"
        self._thread: threading.Thread | None = None
        self._published: int | None = None  # tree size of the last checkpoint published
        self.cannot_sign = cannot_sign
        self._signing_failed = False

    def run_once(self) -> list[CheckpointRecord]:
        """One round if this process holds the lease: the checkpoints signed in it."""
        if not self.ledger.hold_lease(LEASE, self.owner, seconds=self.lease_seconds):
            return []
        signed = []
        while (checkpoint := self.ledger.log.sequence(self.signer, limit=self.batch)) is not None:
            signed.append(checkpoint)
            if len(signed) >= 100:  # leave the rest for the next round: renew the lease first
                break
        self.publish()
        return signed

    def publish(self) -> None:
        """Publish the checkpoints signed since the last publication (by this or a dead sequencer)."""
        if self.file is not None:  # the file may be shared with this hub's other processes: ask it
            self._published = self.file.last_size()
        elif self._published is None:
            latest = self.ledger.log.latest_checkpoint()
            self._published = latest.tree_size if latest else 0
        pending = self.ledger.log.checkpoints_after(self._published)
        if not pending:
            return
        if self.file is not None:
            self.file.append(pending)
        latest = pending[-1]  # witnesses and the TSA see the newest; it covers every older one
        cosignatures = self.witnesses.cosign(latest) if self.witnesses and self.witnesses.urls else ""
        timestamp = None
        if self.tsa is not None:
            try:
                timestamp = self.tsa.stamp(latest.note)
            except Exception as error:  # a TSA outage must not stop sequencing
                log.error("the TSA did not time-stamp checkpoint %d: %s", latest.tree_size, error)
        self.ledger.log.record_publication(latest.tree_size, cosignatures=cosignatures, timestamp=timestamp)
        self._published = latest.tree_size

    def _loop(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                self.run_once()
            except self.cannot_sign as error:
                if not self._signing_failed:
                    log.error("the sequencer cannot sign checkpoints, events wait unplaced: %s", error)
                self._signing_failed = True
            except Exception:
                log.exception("the sequencer failed; trying again")
            else:
                if self._signing_failed:
                    log.warning("the sequencer signs checkpoints again")
                self._signing_failed = False
            stop.wait(self.interval)

    def start(self, stop: threading.Event) -> None:
        self._thread = threading.Thread(target=self._loop, args=(stop,), name="ledger-sequencer", daemon=True)
        self._thread.start()

    def join(self, timeout: float = 10.0) -> None:
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
