"""Inbound from the axis: the receive loop (list → fetch → hand to the hub's intake → mark done or fail)
and the directory synchronisation (getAgenciesList → the hub's ``directory:gov_axis``).

Restart safety: a packet is marked ``done`` on the axis only after :meth:`HubServices.submit` returned,
i.e. after the hub recorded it. A crash in between leaves it pending on the axis; the next poll fetches
and submits it again, and intake's natural-key dedupe answers with the original message (no second
delivery). A packet the hub refuses is marked ``fail`` with the problem's words and recorded.
"""

from __future__ import annotations

import logging

from hub.problems import Problem
from hub.spi import HubServices, Poller

from .client import AxisClient
from .mapping import AxisRefused, AxisUnavailable, MappingError, ReceivedPacket, parse_edxml, sender_organ
from .options import GovAxisOptions

log = logging.getLogger("adapters.gov_axis")
ADAPTER = "gov_axis"
CONTENT_TYPE = "application/xml"


class InboundPoller(Poller):
    """Takes every packet waiting for the hub's organs, documents and statuses alike."""

    name = "gov_axis-inbound"

    def __init__(self, client: AxisClient, hub: HubServices, options: GovAxisOptions) -> None:
        self.client = client
        self.hub = hub
        self.options = options
        self.interval_seconds = options.poll_interval_seconds

    def poll_once(self) -> int:
        try:
            rows = self.client.received()
        except (AxisUnavailable, AxisRefused) as exc:
            log.warning("axis: cannot list received packets: %s", exc)
            return 0
        handled = 0
        seen: set[str] = set()
        for row in rows:
            if row.doc_id in seen:  # one row per recipient organ; one packet is taken once
                continue
            seen.add(row.doc_id)
            try:
                handled += self.take(row)
            except (AxisUnavailable, AxisRefused) as exc:
                log.warning("axis: packet %s left pending: %s", row.doc_id, exc)
        return handled

    def take(self, row: ReceivedPacket) -> int:
        """Fetch one packet, submit it, then mark it on the axis; returns 1 when the packet was settled."""
        content = self.client.get(row.doc_id)
        refusal = self._spoofed_sender(row, content)
        if refusal is not None:
            return self._refuse(row, "axis-sender-mismatch", refusal)
        try:
            result = self.hub.submit(
                content, content_type=CONTENT_TYPE, as_participant=self.options.participant
            )
        except Problem as problem:
            if problem.status >= 500:  # the hub's own trouble: leave the packet for the next poll
                log.error("hub could not take axis packet %s: %s", row.doc_id, problem.detail)
                return 0
            return self._refuse(row, problem.slug, problem.detail)
        self.client.update_status(row.doc_id, "done")
        log.info(
            "axis packet %s (%s from %s) recorded as message %s%s",
            row.doc_id, row.message_type, row.from_organ, result.message_id,
            " (duplicate)" if result.duplicate else "",
        )  # fmt: skip
        return 1

    @staticmethod
    def _spoofed_sender(row: ReceivedPacket, content: bytes) -> str | None:
        """The axis vouches for the sending organ: an edXML ``From`` naming another organ is refused."""
        try:
            claimed = sender_organ(parse_edxml(content))
        except MappingError:
            return None  # not readable edXML: intake refuses it with the precise problem
        if row.from_organ and claimed and claimed != row.from_organ:
            return f"the packet says it is from {claimed}, but the axis received it from {row.from_organ}"
        return None

    def _refuse(self, row: ReceivedPacket, slug: str, detail: str) -> int:
        self.hub.record_event(
            ADAPTER,
            "inbound-refused",
            {
                "doc_id": row.doc_id,
                "message_type": row.message_type,
                "from": row.from_organ,
                "to": row.to_organ,
                "problem": slug,
                "detail": detail,
            },
        )
        self.client.update_status(row.doc_id, "fail", f"{slug}: {detail}")
        log.warning("axis packet %s refused (%s): %s", row.doc_id, slug, detail)
        return 1


class DirectoryPoller(Poller):
    """Publishes the axis directory, minus the hub's own organs, as ``directory:gov_axis``."""

    name = "gov_axis-directory"

    def __init__(self, client: AxisClient, hub: HubServices, options: GovAxisOptions) -> None:
        self.client = client
        self.hub = hub
        self.options = options
        self.interval_seconds = options.directory_refresh_seconds

    def poll_once(self) -> int:
        try:
            agencies = self.client.agencies()
        except (AxisUnavailable, AxisRefused) as exc:
            log.warning("axis: directory not refreshed (the last one stays): %s", exc)
            return 0
        if not agencies:
            log.warning("axis: the directory came back empty; the last one stays")
            return 0
        own = set(self.options.organs)
        entries = {code: name for code, name in agencies.items() if code not in own}
        self.hub.set_directory(ADAPTER, entries)
        return len(entries)
