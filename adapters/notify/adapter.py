"""The notify adapter: text messages and e-mails to citizens at each step of their dossier.

A notice is a ``dossier.status`` document routed to recipient ``notify`` — sent by the one-stop system,
or submitted by this adapter itself (as participant ``notify``) when another document it observes
becomes one (options.derive: a VNPost delivery, a paid fee). So every notice is a message of the
ledger: deduplicated by its event id (the type's natural key), retried and dead-lettered by the core,
on the dossier's timeline. `deliver` sends each channel once (done channels are remembered), holds SMS
in quiet hours and a contact over its rate limit (retryable, with the wait), and skips opted-out
contacts. Built with the adapter kit only (hub.spi, hub.problems).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, ClassVar

import httpx
from fastapi import APIRouter

from hub.spi import (
    Adapter,
    AdapterOptions,
    Capabilities,
    Delivered,
    DeliveryOutcome,
    DeliveryResult,
    HubServices,
    OutboundMessage,
    PermanentFailure,
    RetryableFailure,
    resolve_secret,
)

from .book import ADAPTER, Contacts, NotifyBook, mask
from .email_sender import EmailSender
from .messages import Messages
from .options import NotifyOptions
from .pointers import at
from .quiet import seconds_until_allowed
from .reports import build_router
from .sms_gateway import SmsGateway

log = logging.getLogger("adapters.notify")
NOTICE = "dossier.status"


class NotifyAdapter(Adapter):
    name = ADAPTER
    Options = NotifyOptions
    capabilities: ClassVar[Capabilities] = Capabilities(
        acknowledges=True,  # the gateway and the SMTP server answer whether they took it
        deduplicates=True,  # RequestId at the gateway; Message-ID and done channels for e-mail
        receipt="callback",  # an SMS's fate comes later, as a delivery report
        max_payload_bytes=16 * 1024,
    )

    def __init__(
        self, options: AdapterOptions, hub: HubServices, *, clock: Callable[[], datetime] | None = None
    ) -> None:
        if not isinstance(options, NotifyOptions):
            options = NotifyOptions.model_validate(options.model_dump())
        super().__init__(options, hub)
        self.options: NotifyOptions = options
        self.clock = clock or (lambda: datetime.now(UTC))
        self.book = NotifyBook(hub)
        self.messages = Messages(options.templates_file)
        missing = set(options.statuses) - self.messages.statuses()
        if missing:
            raise ValueError(f"notify: no template for statuses {sorted(missing)}")
        self._client = httpx.Client(timeout=options.timeout_seconds, follow_redirects=False, trust_env=False)
        self.sms = SmsGateway(options.sms, self._client) if options.sms else None
        self.email = EmailSender(options.email, options.timeout_seconds) if options.email else None

    # -- outbound ----------------------------------------------------------------------------------

    def deliver(self, message: OutboundMessage) -> DeliveryResult:
        if message.doctype != NOTICE:
            return PermanentFailure(reason=f"the notify adapter carries {NOTICE} only, not {message.doctype}")
        try:
            notice = json.loads(message.document)
            if not isinstance(notice, dict):
                raise ValueError("not an object")
        except (ValueError, UnicodeDecodeError) as error:
            return PermanentFailure(reason=f"{NOTICE} is not a JSON object: {error}")
        status, dossier = str(notice.get("status", "")), str(notice.get("dossier_number", ""))
        if status not in self.options.statuses:
            return Delivered(detail=f"status {status!r} does not notify citizens")
        given = notice.get("citizen")
        citizen: dict[str, Any] = given if isinstance(given, dict) else {}
        given_contacts = Contacts(citizen.get("name"), citizen.get("phone"), citizen.get("email"))
        if given_contacts.phone or given_contacts.email:  # kept for the dossier's later (derived) notices
            self.book.learn(dossier, given_contacts)
        contacts = given_contacts.merged_over(self.book.contacts(dossier))
        rendered = self.messages.render(
            status,
            {
                "dossier_number": dossier,
                "procedure_name": notice.get("procedure_name"),
                "agency_name": notice.get("agency_name"),
                "citizen_name": contacts.name,
                "note": notice.get("note"),
            },
            ascii_sms=bool(self.sms and self.sms.options.ascii_only),
        )
        outcomes: dict[str, DeliveryResult] = {}
        if self.sms is not None and contacts.phone:
            outcomes["sms"] = self._channel(
                message,
                "sms",
                contacts.phone,
                lambda: self._send_sms(message, contacts.phone or "", rendered.sms),
            )
        if self.email is not None and contacts.email:
            email, to = self.email, contacts.email
            outcomes["email"] = self._channel(
                message,
                "email",
                to,
                lambda: email.send(
                    to=to, subject=rendered.subject, body=rendered.email, message_id=message.message_id
                ),
            )
        return self._summarise(message, outcomes)

    def _channel(
        self, message: OutboundMessage, channel: str, contact: str, send: Callable[[], DeliveryResult]
    ) -> DeliveryResult:
        done = self.book.done(message.message_id, channel)
        if done is not None:
            return Delivered(peer_reference=done.get("peer_reference"), detail=done.get("detail"))
        if contact in self.options.opt_out or self.book.opted_out(contact):
            outcome = {"peer_reference": None, "detail": f"{channel}: {mask(contact)} opted out"}
            self.book.mark_done(message.message_id, channel, outcome)
            self.hub.record_event(
                ADAPTER, "skipped", {"channel": channel, "why": "opted out"}, message_id=message.message_id
            )
            return Delivered(detail=outcome["detail"])
        if channel == "sms":
            wait = seconds_until_allowed(self.options.quiet_hours, self.clock())
            if wait:
                return RetryableFailure(reason="sms: quiet hours", retry_after_seconds=wait)
        limit, now = self.options.rate_limit, self.clock().timestamp()
        wait = self.book.take_slot(contact, limit.max_messages, limit.per_seconds, now)
        if wait:
            return RetryableFailure(
                reason=f"{channel}: rate limit for {mask(contact)}", retry_after_seconds=wait
            )
        result = send()
        if isinstance(result, RetryableFailure):  # not sent: the retry must not use up the allowance
            self.book.release_slot(contact, now)
        if isinstance(result, Delivered):
            self.book.mark_done(
                message.message_id,
                channel,
                {"peer_reference": result.peer_reference, "detail": result.detail},
            )
            self.hub.record_event(
                ADAPTER,
                "sent",
                {"channel": channel, "to": mask(contact), "peer_reference": result.peer_reference},
                message_id=message.message_id,
            )
        elif isinstance(result, PermanentFailure):
            self.book.mark_done(
                message.message_id, channel, {"peer_reference": None, "detail": result.reason}
            )
            self.hub.record_event(
                ADAPTER,
                "failed",
                {"channel": channel, "to": mask(contact), "reason": result.reason},
                message_id=message.message_id,
            )
        return result

    def _send_sms(self, message: OutboundMessage, phone: str, text: str) -> DeliveryResult:
        assert self.sms is not None
        result = self.sms.send(phone=phone, text=text, request_id=message.message_id)
        if isinstance(result, Delivered) and result.peer_reference:
            self.book.remember_sms(result.peer_reference, message.message_id)
        return result

    @staticmethod
    def _summarise(message: OutboundMessage, outcomes: dict[str, DeliveryResult]) -> DeliveryResult:
        if not outcomes:
            return Delivered(detail="no channel reaches this citizen (no phone or e-mail known)")
        waiting = [(c, r) for c, r in outcomes.items() if isinstance(r, RetryableFailure)]
        if waiting:  # channels already done are skipped on the next attempt
            waits = [r.retry_after_seconds for _, r in waiting if r.retry_after_seconds]
            return RetryableFailure(
                reason="; ".join(r.reason for _, r in waiting),
                retry_after_seconds=max(waits) if waits else None,
            )
        delivered = {c: r for c, r in outcomes.items() if isinstance(r, Delivered)}
        failed = {c: r for c, r in outcomes.items() if isinstance(r, PermanentFailure)}
        if not delivered:
            return PermanentFailure(reason="; ".join(r.reason for r in failed.values()))
        detail = ", ".join(f"{c}: {r.detail or 'sent'}" for c, r in delivered.items())
        if failed:
            detail += "; " + "; ".join(f"{c} failed: {r.reason}" for c, r in failed.items())
        references = [r.peer_reference for r in delivered.values() if r.peer_reference]
        return Delivered(peer_reference=" ".join(references) or None, detail=detail)

    # -- learning from the dossier's other documents ------------------------------------------------

    def observe(self, outcome: DeliveryOutcome) -> None:
        if outcome.state != "delivered" or outcome.adapter == ADAPTER:
            return
        sources = [s for s in self.options.contacts_from if s.doctype == outcome.doctype]
        derive = [d for d in self.options.derive if d.doctype == outcome.doctype]
        if not (sources or derive):
            return
        found = self.hub.document(outcome.message_id)
        try:
            document = json.loads(found[0]) if found else None
        except (ValueError, UnicodeDecodeError):
            return
        if not isinstance(document, dict):
            return
        dossier = document.get("dossier_number") or outcome.correlation_key
        if not dossier:
            return
        for source in sources:
            learned = Contacts(
                at(document, source.name), at(document, source.phone), at(document, source.email)
            )
            if learned.phone or learned.email:
                self.book.learn(str(dossier), learned)
        for rule in derive:
            status = rule.statuses.get(str(at(document, rule.status_at)))
            if status:
                self._submit_notice(str(dossier), status, source_message=outcome.message_id)

    def _submit_notice(self, dossier: str, status: str, *, source_message: str) -> None:
        notice = {
            "type": NOTICE,
            "sender": self.options.participant,
            "recipients": [self.options.participant],
            "dossier_number": dossier,
            "event_id": f"n-{source_message}",  # one notice per source message, however many deliveries
            "status": status,
            "occurred_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        body = json.dumps(notice, ensure_ascii=False).encode()
        try:
            self.hub.submit(body, content_type="application/json", as_participant=self.options.participant)
        except Exception:  # observe must not raise; the source message stays, the notice is missed loudly
            log.exception("notify: could not submit the %s notice of dossier %s", status, dossier)

    # -- inbound doors -----------------------------------------------------------------------------

    def routers(self) -> list[APIRouter]:
        if self.sms is None:
            return []
        options = self.sms.options
        return [
            build_router(
                self.hub, self.book, lambda: resolve_secret(options.callback_token, "sms.callback_token")
            )
        ]

    def development_secrets(self) -> list[str]:
        return self.options.development_secrets()

    def close(self) -> None:
        self._client.close()
