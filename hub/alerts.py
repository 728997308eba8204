"""Alerts: events in the ledger that operators and agencies can receive.

- ``alert.delivery-dead``: a delivery became dead (its last error, recipient and adapter);
- ``alert.peer-down``: an adapter's peer has not accepted connections for longer than
  ``LIENTHONG_ALERT_PEER_DOWN_SECONDS``;
- ``alert.certificate-expiring``: the hub's certificate or a trust anchor expires within
  ``LIENTHONG_ALERT_CERTIFICATE_DAYS``;
- ``alert.ledger-broken``: verifying the hash chain found a fault.
- ``alert.<kind>`` raised by an adapter through ``HubServices.raise_alert`` (e.g. the bank adapter's
  ``alert.payment-duplicate``, ``alert.payment-late``, ``alert.payment-discrepancy``), with the
  adapter's name in its data.

A small watcher thread (:class:`AlertWatcher`) looks every ``LIENTHONG_ALERT_INTERVAL_SECONDS`` in
the processes that run pollers. What it has already reported is kept in the ledger's adapter state
(under ``alerts``), so a restart does not repeat alerts. Every alert is also POSTed as JSON to
``LIENTHONG_ALERT_WEBHOOK_URL`` when set (best effort: the ledger is the record), with the ledger's
latest signed checkpoint, so that whoever receives alerts also holds evidence of the log's history.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import httpx
from cryptography import x509

from hub.ledger import ChainReport, EventRecord

if TYPE_CHECKING:
    from hub.context import HubContext
    from hub.peers import PeerWatch
    from hub.runtime import Runtime

log = logging.getLogger("hub.alerts")

DELIVERY_DEAD = "alert.delivery-dead"
PEER_DOWN = "alert.peer-down"
CERTIFICATE_EXPIRING = "alert.certificate-expiring"
LEDGER_BROKEN = "alert.ledger-broken"
ALERT_KINDS = (DELIVERY_DEAD, PEER_DOWN, CERTIFICATE_EXPIRING, LEDGER_BROKEN)
VERIFIED = "ledger.verified"
STATE_OWNER = "alerts"  # adapter_state rows of the watcher


def raise_alert(
    runtime: Runtime,
    kind: str,
    data: dict[str, Any],
    *,
    message_id: str | None = None,
    delivery_id: str | None = None,
) -> EventRecord:
    """Record an alert in the ledger, then POST it to the operators' webhook, if any."""
    return record_alert(runtime.hub, kind, data, message_id=message_id, delivery_id=delivery_id)


def record_alert(
    hub: HubContext,
    kind: str,
    data: dict[str, Any],
    *,
    message_id: str | None = None,
    delivery_id: str | None = None,
) -> EventRecord:
    """:func:`raise_alert` for a caller that holds only the hub's context (e.g. an adapter's alert)."""
    event = hub.ledger.append_event(kind, message_id=message_id, delivery_id=delivery_id, data=data)
    log.warning("%s: %s", kind, json.dumps(data, ensure_ascii=False, default=str))
    url = hub.settings.alert_webhook_url
    if url:
        checkpoint = hub.ledger.latest_checkpoint()
        payload = {
            "kind": kind,
            "event_id": event.id,
            # the log's latest signed checkpoint: whoever keeps alerts also holds the ledger's history
            "checkpoint": checkpoint.signed_note if checkpoint else None,
            "at": event.at.isoformat(),
            "hub": hub.settings.hub_participant_id,
            "message_id": event.message_id,
            "delivery_id": event.delivery_id,
            "data": event.data,
        }
        try:
            httpx.post(url, json=payload, timeout=5).raise_for_status()
        except httpx.HTTPError as error:
            log.error("the alert webhook %s did not take %s: %s", url, kind, error)
    return event


def record_verification(runtime: Runtime, *, by: str) -> ChainReport:
    """Verify the whole ledger, record the verdict (``ledger.verified``) and alert when broken."""
    from hub.runtime import verify_ledger

    report = verify_ledger(runtime.hub.ledger, runtime.hub.settings)
    verdict = {
        "ok": report.ok,
        "events_checked": report.events_checked,
        "first_bad_seq": report.first_bad_seq,
        "reason": report.reason,
        "faults": [str(f) for f in report.faults[:100]],
        "fault_count": len(report.faults),
        "by": by,
    }
    runtime.hub.ledger.append_event(VERIFIED, data=verdict)
    if not report.ok:
        raise_alert(runtime, LEDGER_BROKEN, verdict)
    return report


class AlertWatcher:
    """Looks for what deserves an alert; one :meth:`run_once` per interval in a daemon thread."""

    def __init__(self, runtime: Runtime, peers: PeerWatch) -> None:
        self.runtime = runtime
        self.peers = peers
        self.settings = runtime.hub.settings
        self._last_verified = time.monotonic()
        self._thread: threading.Thread | None = None
        if self._seen("dead-cursor") is None:  # first start: what died before is no news
            self._remember("dead-cursor", str(runtime.hub.ledger.queue_figures().ledger_events))

    # -- the checks --------------------------------------------------------------------------------

    def _seen(self, key: str) -> str | None:
        return self.runtime.hub.ledger.get_state(STATE_OWNER, key)

    def _remember(self, key: str, value: str) -> None:
        self.runtime.hub.ledger.set_state(STATE_OWNER, key, value)

    def dead_deliveries(self) -> list[EventRecord]:
        """An alert for every ``delivery.dead`` event recorded since the last look."""
        ledger = self.runtime.hub.ledger
        cursor = int(self._seen("dead-cursor") or 0)
        raised = []
        while True:
            batch = ledger.events_of_kinds(["delivery.dead"], after_id=cursor, limit=200)
            for event in batch:
                data = {
                    "recipient": event.data.get("recipient"),
                    "adapter": event.data.get("adapter"),
                    "attempts": event.data.get("attempt"),
                    "error": event.data.get("error"),
                    "dead_event": event.id,
                }
                raised.append(
                    raise_alert(
                        self.runtime,
                        DELIVERY_DEAD,
                        data,
                        message_id=event.message_id,
                        delivery_id=event.delivery_id,
                    )
                )
                cursor = event.id
                self._remember("dead-cursor", str(cursor))
            if len(batch) < 200:
                return raised

    def peers_down(self, now: datetime | None = None) -> list[EventRecord]:
        now = now or datetime.now(UTC)
        threshold = timedelta(seconds=self.settings.alert_peer_down_seconds)
        raised = []
        for adapter, state in self.peers.check():
            key = f"peer-down:{state.url}"
            if state.down_since is None:
                if self._seen(key):
                    self._remember(key, "")  # back up: the next outage alerts again
                continue
            if now - state.down_since >= threshold and not self._seen(key):
                data = {
                    "adapter": adapter,
                    "url": state.url,
                    "down_since": state.down_since.isoformat(),
                    "detail": state.detail,
                }
                raised.append(raise_alert(self.runtime, PEER_DOWN, data))
                self._remember(key, state.down_since.isoformat())
        return raised

    def certificates(self, now: datetime | None = None) -> list[EventRecord]:
        now = now or datetime.now(UTC)
        horizon = now + timedelta(days=self.settings.alert_certificate_days)
        hub = self.runtime.hub
        watched: list[tuple[str, x509.Certificate]] = [("hub", hub.identity.certificate)]
        watched += [("trust anchor", anchor) for anchor in hub.trust.anchors]
        raised = []
        for role, cert in watched:
            key = f"certificate:{cert.serial_number:x}"
            if cert.not_valid_after_utc > horizon or self._seen(key):
                continue
            data = {
                "role": role,
                "subject": cert.subject.rfc4514_string(),
                "serial": format(cert.serial_number, "x"),
                "not_after": cert.not_valid_after_utc.isoformat(),
                "days_left": round((cert.not_valid_after_utc - now).total_seconds() / 86400, 1),
            }
            raised.append(raise_alert(self.runtime, CERTIFICATE_EXPIRING, data))
            self._remember(key, now.isoformat())
        return raised

    def run_once(self, *, verify: bool | None = None) -> list[EventRecord]:
        """Every check once; the ledger is verified when `verify` or when its interval has passed."""
        raised = self.dead_deliveries() + self.peers_down() + self.certificates()
        due = time.monotonic() - self._last_verified >= self.settings.alert_verify_interval_seconds
        if verify or (verify is None and due):
            self._last_verified = time.monotonic()
            report = record_verification(self.runtime, by="alert-watcher")
            if not report.ok:
                raised += self.runtime.hub.ledger.events_of_kinds([LEDGER_BROKEN], limit=1)
        return raised

    # -- the thread --------------------------------------------------------------------------------

    def _loop(self, stop: threading.Event) -> None:
        while not stop.wait(self.settings.alert_interval_seconds):
            try:
                self.run_once()
            except Exception:
                log.exception("the alert watcher failed; going on")

    def start(self, stop: threading.Event) -> None:
        self._thread = threading.Thread(target=self._loop, args=(stop,), name="alert-watcher", daemon=True)
        self._thread.start()

    def join(self, timeout: float = 10.0) -> None:
        if self._thread is not None:
            self._thread.join(timeout)
