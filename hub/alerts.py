"""Alerts: events in the ledger that operators and agencies can receive.

- ``alert.delivery-dead``: a delivery became dead (its last error, recipient and adapter);
- ``alert.peer-down``: an adapter's peer has not accepted connections for longer than
  ``LIENTHONG_ALERT_PEER_DOWN_SECONDS``;
- ``alert.certificate-expiring``: the hub's certificate or a trust anchor expires within
  ``LIENTHONG_ALERT_CERTIFICATE_DAYS``;
- ``alert.ledger-broken``: verifying the ledger (its log, checkpoints and state rows) found a fault.
- ``alert.<kind>`` raised by an adapter through ``HubServices.raise_alert`` (e.g. the bank adapter's
  ``alert.payment-duplicate``, ``alert.payment-late``, ``alert.payment-discrepancy``), with the
  adapter's name in its data.

A small watcher thread (:class:`AlertWatcher`) looks every ``LIENTHONG_ALERT_INTERVAL_SECONDS`` in
the processes that run pollers. Each alert is about a *condition* (this delivery dead, this peer down,
this certificate expiring, this parcel stalled) kept in the ledger's adapter state (owner ``alerts``):
a compare-and-set claims the condition before anything is recorded or posted, so it is raised once
however many processes look at the same time, and a restart does not repeat it. When the condition
clears (the delivery is delivered after a retry, the peer answers, the certificate is replaced, the
parcel moves) the watcher records ``alert-resolved`` once. Operators acknowledge an alert from the
console (``alert-acknowledged``). Every alert and every resolution is also POSTed as JSON to
``LIENTHONG_ALERT_WEBHOOK_URL`` when set (best effort: the ledger is the record), with the ledger's
latest signed checkpoint, so that whoever receives alerts also holds evidence of the log's history.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import httpx
from cryptography import x509

from hub.evidence import verify_ledger
from hub.ledger import ChainReport, EventRecord

if TYPE_CHECKING:
    from hub.context import HubContext
    from hub.peers import PeerWatch

log = logging.getLogger("hub.alerts")

DELIVERY_DEAD = "alert.delivery-dead"
PEER_DOWN = "alert.peer-down"
CERTIFICATE_EXPIRING = "alert.certificate-expiring"
LEDGER_BROKEN = "alert.ledger-broken"
ALERT_KINDS = (DELIVERY_DEAD, PEER_DOWN, CERTIFICATE_EXPIRING, LEDGER_BROKEN)
RESOLVED = "alert-resolved"  # not "alert.": a resolution is not itself an alert
ACKNOWLEDGED = "alert-acknowledged"
VERIFIED = "ledger.verified"
STATE_OWNER = "alerts"  # adapter_state rows of the watcher


def record_alert(
    hub: HubContext,
    kind: str,
    data: dict[str, Any],
    *,
    message_id: str | None = None,
    delivery_id: str | None = None,
) -> EventRecord:
    """Record an alert in the ledger, then POST it to the operators' webhook, if any."""
    event = hub.ledger.append_event(kind, message_id=message_id, delivery_id=delivery_id, data=data)
    log.warning("%s: %s", kind, json.dumps(data, ensure_ascii=False, default=str))
    _post_webhook(hub, event)
    return event


def _post_webhook(hub: HubContext, event: EventRecord) -> None:
    """POST `event` to the operators' webhook (best effort: the ledger is the record)."""
    url = hub.settings.alert_webhook_url
    if not url:
        return
    checkpoint = hub.ledger.latest_checkpoint()
    payload = {
        "kind": event.kind,
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
        log.error("the alert webhook %s did not take %s: %s", url, event.kind, error)


# -- conditions: raised once across processes, resolved when they clear ------------------------------
#
# A condition (a dead delivery, a peer down, a parcel stalled...) has one row in the ledger's adapter
# state, owner "alerts", key "condition:<kind>:<subject>". Its value walks
#     (absent) or "resolved:<event id>"  →  "raising:<token>"  →  "open:<event id>"  →  "resolved:<event id>"
# and every step is a compare-and-set, so of N processes that notice the same condition at once
# exactly one wins the claim, records the alert and POSTs the webhook; the others see it claimed.
# The claim is taken *before* the (possibly slow) webhook, which is what made the old
# "check, raise, then remember" repeat alerts under two `serve` processes.


def condition_key(kind: str, subject: str) -> str:
    return f"condition:{kind}:{subject}"


def condition_state(hub: HubContext, kind: str, subject: str) -> str | None:
    """``open``, ``raising``, ``resolved`` or None (never raised) for one condition."""
    value = hub.ledger.get_state(STATE_OWNER, condition_key(kind, subject))
    return value.split(":", 1)[0] if value else None


def raise_condition(
    hub: HubContext,
    kind: str,
    subject: str,
    data: dict[str, Any],
    *,
    message_id: str | None = None,
    delivery_id: str | None = None,
) -> EventRecord | None:
    """Raise `kind` for `subject` unless it is already open: the alert event, or None when another
    process (or an earlier look) already raised it."""
    ledger = hub.ledger
    key = condition_key(kind, subject)
    claim = f"raising:{uuid.uuid4().hex}"
    while True:
        current = ledger.get_state(STATE_OWNER, key)
        if current is not None and not current.startswith("resolved:"):
            return None  # open, or being raised by someone else right now
        if ledger.compare_and_set_state(STATE_OWNER, key, current, claim):
            break
    event = record_alert(
        hub, kind, {**data, "condition": subject}, message_id=message_id, delivery_id=delivery_id
    )
    ledger.compare_and_set_state(STATE_OWNER, key, claim, f"open:{event.id}")
    return event


def resolve_condition(
    hub: HubContext, kind: str, subject: str, data: dict[str, Any] | None = None
) -> EventRecord | None:
    """Record that an open condition cleared (event ``alert-resolved``, POSTed to the webhook once);
    None when it was not open or another process resolved it first."""
    ledger = hub.ledger
    key = condition_key(kind, subject)
    current = ledger.get_state(STATE_OWNER, key)
    if current is None or not current.startswith("open:"):
        return None
    raised_id = int(current.split(":", 1)[1])
    if not ledger.compare_and_set_state(STATE_OWNER, key, current, f"resolving:{uuid.uuid4().hex}"):
        return None
    event = ledger.append_event(
        RESOLVED, data={"alert": kind, "condition": subject, "raised_event": raised_id, **(data or {})}
    )
    ledger.set_state(STATE_OWNER, key, f"resolved:{event.id}")
    log.warning("%s resolved: %s", kind, subject)
    _post_webhook(hub, event)
    return event


def acknowledge(hub: HubContext, alert_id: int, *, by: str, note: str = "") -> EventRecord:
    """An operator took an alert in hand (event ``alert-acknowledged``); it stays open until resolved."""
    return hub.ledger.append_event(
        ACKNOWLEDGED, data={"raised_event": alert_id, "by": by, "note": note[:500]}
    )


def record_verification(hub: HubContext, *, by: str) -> ChainReport:
    """Verify the whole ledger, record the verdict (``ledger.verified``) and alert when broken."""
    report = verify_ledger(hub.ledger, hub.settings)
    verdict = {
        "ok": report.ok,
        "events_checked": report.events_checked,
        "first_bad_seq": report.first_bad_seq,
        "reason": report.reason,
        "faults": [str(f) for f in report.faults[:100]],
        "fault_count": len(report.faults),
        "by": by,
    }
    hub.ledger.append_event(VERIFIED, data=verdict)
    if report.ok:
        resolve_condition(hub, LEDGER_BROKEN, "chain", {"events_checked": report.events_checked})
    else:
        raise_condition(hub, LEDGER_BROKEN, "chain", verdict)
    return report


class AlertWatcher:
    """Looks for what deserves an alert; one :meth:`run_once` per interval in a daemon thread."""

    def __init__(self, hub: HubContext, peers: PeerWatch) -> None:
        self.hub = hub
        self.peers = peers
        self.settings = hub.settings
        self._last_verified = time.monotonic()
        self._thread: threading.Thread | None = None
        if self._seen("dead-cursor") is None:  # first start: what died before is no news
            events = str(hub.ledger.queue_figures().ledger_events)
            hub.ledger.compare_and_set_state(STATE_OWNER, "dead-cursor", None, events)

    # -- the checks --------------------------------------------------------------------------------

    def _seen(self, key: str) -> str | None:
        return self.hub.ledger.get_state(STATE_OWNER, key)

    def dead_deliveries(self) -> list[EventRecord]:
        """An alert for every delivery that died since the last look (one per delivery, however many
        processes look), and a resolution for every alerted delivery since delivered."""
        ledger = self.hub.ledger
        hub = self.hub
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
                alert = raise_condition(
                    hub,
                    DELIVERY_DEAD,
                    event.delivery_id or f"event-{event.id}",
                    data,
                    message_id=event.message_id,
                    delivery_id=event.delivery_id,
                )
                if alert is not None:
                    raised.append(alert)
                cursor = event.id
            self._advance("dead-cursor", cursor)
            if len(batch) < 200:
                break
        for alert in ledger.events_of_kinds([DELIVERY_DEAD], limit=500):
            if alert.delivery_id is None or condition_state(hub, DELIVERY_DEAD, alert.delivery_id) != "open":
                continue
            delivery = ledger.get_delivery(alert.delivery_id)
            if delivery is not None and delivery.state == "delivered":
                resolve_condition(hub, DELIVERY_DEAD, alert.delivery_id, {"state": delivery.state})
        return raised

    def _advance(self, key: str, cursor: int) -> None:
        """Move a shared cursor forward only (another process may be ahead already)."""
        while True:
            current = self._seen(key)
            if current is not None and int(current) >= cursor:
                return
            if self.hub.ledger.compare_and_set_state(STATE_OWNER, key, current, str(cursor)):
                return

    def peers_down(self, now: datetime | None = None) -> list[EventRecord]:
        """An alert for a peer down longer than the setting; its resolution when it answers again."""
        now = now or datetime.now(UTC)
        threshold = timedelta(seconds=self.settings.alert_peer_down_seconds)
        hub = self.hub
        raised = []
        for adapter, state in self.peers.check():
            if state.down_since is None:
                resolve_condition(hub, PEER_DOWN, state.url, {"adapter": adapter})
                continue
            if now - state.down_since >= threshold:
                data = {
                    "adapter": adapter,
                    "url": state.url,
                    "down_since": state.down_since.isoformat(),
                    "detail": state.detail,
                }
                alert = raise_condition(hub, PEER_DOWN, state.url, data)
                if alert is not None:
                    raised.append(alert)
        return raised

    def certificates(self, now: datetime | None = None) -> list[EventRecord]:
        """An alert per certificate expiring within the setting; resolved once it no longer does."""
        now = now or datetime.now(UTC)
        horizon = now + timedelta(days=self.settings.alert_certificate_days)
        hub = self.hub
        watched: list[tuple[str, x509.Certificate]] = [("hub", hub.identity.certificate)]
        watched += [("trust anchor", anchor) for anchor in hub.trust.anchors]
        raised = []
        for role, cert in watched:
            serial = format(cert.serial_number, "x")
            if cert.not_valid_after_utc > horizon:
                resolve_condition(hub, CERTIFICATE_EXPIRING, serial)
                continue
            data = {
                "role": role,
                "subject": cert.subject.rfc4514_string(),
                "serial": serial,
                "not_after": cert.not_valid_after_utc.isoformat(),
                "days_left": round((cert.not_valid_after_utc - now).total_seconds() / 86400, 1),
            }
            alert = raise_condition(hub, CERTIFICATE_EXPIRING, serial, data)
            if alert is not None:
                raised.append(alert)
        return raised

    def run_once(self, *, verify: bool | None = None) -> list[EventRecord]:
        """Every check once; the ledger is verified when `verify` or when its interval has passed."""
        raised = self.dead_deliveries() + self.peers_down() + self.certificates()
        due = time.monotonic() - self._last_verified >= self.settings.alert_verify_interval_seconds
        if verify or (verify is None and due):
            self._last_verified = time.monotonic()
            report = record_verification(self.hub, by="alert-watcher")
            if not report.ok:
                raised += self.hub.ledger.events_of_kinds([LEDGER_BROKEN], limit=1)
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
