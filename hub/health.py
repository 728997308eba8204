"""Readiness: can this hub accept and record a document right now?

Ready means the ledger takes a write, the queue answers (when RabbitMQ is configured) and the hub's
signing key is usable. Outside peers are not part of it (see :mod:`hub.peers`): a load balancer that
pulled a hub whenever one bank was down would stop intake for every agency.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from hub.context import HubContext
from hub.peers import tcp_reachable
from hub.queue import WorkQueue

PROBE_OWNER = "lienthong.readiness"


@dataclass
class Check:
    name: str
    ok: bool
    detail: str


def readiness(hub: HubContext, queue: WorkQueue | None) -> list[Check]:
    """Every readiness check of this process, in a stable order."""
    return [database_writable(hub), queue_answers(hub, queue), keys_usable(hub)]


def database_writable(hub: HubContext) -> Check:
    """A small committed write: a full disk or a read-only database fails here, not at intake."""
    try:
        hub.ledger.set_state(PROBE_OWNER, "probe", datetime.now(UTC).isoformat())
    except Exception as error:
        return Check("database", False, f"the ledger cannot be written: {type(error).__name__}: {error}")
    return Check("database", True, "the ledger takes writes")


def queue_answers(hub: HubContext, queue: WorkQueue | None) -> Check:
    if queue is None:
        return Check("queue", True, "embedded (the ledger is the queue)")
    ok, detail = tcp_reachable(hub.settings.queue_url)
    if not ok:
        return Check("queue", False, f"RabbitMQ: {detail}")
    try:
        waiting = queue.depth()
    except Exception as error:
        return Check("queue", False, f"RabbitMQ does not answer: {type(error).__name__}: {error}")
    return Check("queue", True, f"RabbitMQ answers ({waiting} tickets ready)")


def keys_usable(hub: HubContext) -> Check:
    try:
        certificate = hub.identity.certificate
    except Exception as error:
        return Check("keys", False, f"the hub's key cannot be loaded: {error}")
    now = datetime.now(UTC)
    until = certificate.not_valid_after_utc
    if not certificate.not_valid_before_utc <= now <= until:
        return Check("keys", False, f"the hub's certificate is not valid now (until {until})")
    return Check("keys", True, f"the hub's key is loaded; its certificate is valid until {until:%Y-%m-%d}")
