"""Intake: the one path every document walks, up to a durably recorded message.

parse (hardened) → identify type → validate (schema, profile) → verify signature → extract (from
signed data only) → authorise sender → route (an adapter per recipient) → deduplicate → the routed
adapters' gate (payload size, `check_intake`) → sign (if unsigned) → record (ledger) → tell the
listeners (the delivery engine) what was recorded.

Authentication happens at the door (HTTP, adapter) before :meth:`Intake.submit`; a replay enters
here too. Every refusal is a :class:`~hub.problems.Problem` and is recorded in the ledger before it
propagates, so the caller's error and the ledger's evidence always agree.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

from lxml import etree
from uuid6 import uuid7

from hub.context import HubContext
from hub.doctypes import EDXML_NS, DocType, Extracted, extract_json, extract_xml
from hub.ledger import DuplicateMessage, MessageRecord, NewMessage
from hub.logging import message_context, set_message_id
from hub.memory import return_big_blocks_when_freed
from hub.metrics import observe_intake
from hub.parsing import JsonLimits, XmlLimits, parse_json, parse_xml
from hub.participants import Participant
from hub.problems import Problem
from hub.signing.jws import sign_detached, verify_detached
from hub.signing.keys import SigningUnavailable
from hub.signing.xmldsig import find_signatures, sign_enveloped, verify_enveloped
from hub.spi import IntakeDocument

Format = Literal["xml", "json"]
log = logging.getLogger("hub.intake")


def media_format(content_type: str | None) -> Format:
    """Which parser a ``Content-Type`` calls for; anything else is refused with 415."""
    media = (content_type or "").split(";", 1)[0].strip().lower()
    if media in ("application/xml", "text/xml") or media.endswith("+xml"):
        return "xml"
    if media == "application/json" or media.endswith("+json"):
        return "json"
    raise Problem(
        "unsupported-media-type",
        f"Content-Type {media or '(none)'!r} is not accepted; send application/xml or application/json",
    )


@contextlib.contextmanager
def _checking(fmt: Format) -> Iterator[None]:
    """Any failure while a document is being checked or signed is the document's refusal, never a 5xx.

    The checking steps raise :class:`Problem` for every case they know; anything else (a library
    choking on input nobody foresaw) becomes ``document-unprocessable``: recorded like any refusal,
    logged on one line so that a developer can give it a problem type of its own.
    """
    try:
        yield
    except (Problem, SigningUnavailable):  # a refusal already, or the hub's trouble (503), not the document's
        raise
    except Exception as error:
        log.warning("a %s document could not be checked: %s: %s", fmt, type(error).__name__, error)
        raise Problem(
            "document-unprocessable", f"the document could not be checked ({type(error).__name__})"
        ) from None


def _refuse_nul_in_keys(extracted: Extracted) -> None:
    """JSON may escape a NUL (``\\u0000``); no sender, recipient or key the hub records may hold one
    (XML cannot: NUL is no XML character)."""
    fields = [
        extracted.sender,
        *extracted.recipients,
        extracted.correlation_key or "",
        extracted.natural_key or "",
    ]
    if any("\x00" in str(value) for value in fields):
        raise Problem("schema-invalid", "a sender, recipient or key of the document holds a NUL character")


def _refuse_header_comments(root: etree._Element) -> None:
    """No comment or processing instruction inside ``edXMLHeader``.

    Canonicalisation drops comments, so one inserted after signing (``<OrganId>000.01<!--x-->.02</…>``)
    leaves the signature valid and the hub's routing right, yet shows a naive reader of the delivered
    bytes another text. The header is the part every receiver reads: it must read one way only.
    """
    for header in root.iter("{*}edXMLHeader"):
        for node in header.iter(etree.Comment, etree.ProcessingInstruction):
            kind = "comment" if isinstance(node, etree._Comment) else "processing instruction"
            raise Problem("xml-forbidden-construct", f"a {kind} inside edXMLHeader is not allowed")


@dataclass
class Submission:
    """One document presented at a door, after authentication."""

    body: bytes
    content_type: str | None
    submitted_by: Participant
    idempotency_key: str | None = None
    jws_signature: str | None = None  # the x-jws-signature header of a JSON document


@dataclass(frozen=True)
class Replay:
    original_id: str
    by: str


@dataclass
class IntakeResult:
    message: MessageRecord
    duplicate: bool = False
    warnings: list[str] = field(default_factory=list)


@dataclass
class _Checked:
    """What the checking steps learned about a document before it is signed and recorded.

    `sign` is set when the hub must sign the document: it is called only once the document has
    passed routing and deduplication, so refused and repeated documents cost no signature.
    """

    doctype: DocType
    extracted: Extracted
    document: bytes
    signature: str | None
    signer: str
    warnings: list[str]
    sign: Callable[[], tuple[bytes, str | None]] | None = None
    parsed: Any = None  # the JSON object (None for XML), for the adapters' intake checks

    def signed(self) -> tuple[bytes, str | None]:
        return self.sign() if self.sign else (self.document, self.signature)


RecordedListener = Callable[[MessageRecord], None]
#: Called with recipient → adapter and the document before it is recorded; raises Problem to refuse
#: (the adapters' capabilities and intake checks, set by the runtime: the core names no adapter).
AdapterGate = Callable[[dict[str, str], IntakeDocument], None]


class Intake:
    def __init__(self, hub: HubContext, listeners: list[RecordedListener] | None = None) -> None:
        self.hub = hub
        self.listeners: list[RecordedListener] = list(listeners or [])
        self.adapter_gate: AdapterGate | None = None
        settings = hub.settings
        self.xml_limits = XmlLimits(max_bytes=settings.max_body_bytes, max_depth=settings.xml_max_depth)
        self.json_limits = JsonLimits(max_bytes=settings.max_body_bytes, max_depth=settings.json_max_depth)
        return_big_blocks_when_freed()  # every process that takes documents in (serve, worker) has one

    # -- the public step ---------------------------------------------------------------------------

    def submit(self, submission: Submission, *, replay: Replay | None = None) -> IntakeResult:
        """Check, sign and record one document; refusals are recorded, then raised."""
        digest = hashlib.sha256(submission.body).hexdigest()
        context: dict[str, Any] = {"doctype": None, "sender": None}
        started = time.perf_counter()
        try:
            with message_context():
                result = self._submit(submission, digest, context, replay)
            observe_intake(result.message.doctype, "duplicate" if result.duplicate else "accepted", started)
            return result
        except Problem as problem:
            observe_intake(context["doctype"], "refused", started, problem.slug)
            self.hub.ledger.record_refusal(
                problem=problem.slug,
                detail=problem.detail,
                submitted_by=submission.submitted_by.id,
                sender=context["sender"],
                doctype=context["doctype"],
                digest=digest,
                size=len(submission.body),
                errors=problem.errors[:20] or None,
            )
            raise

    def replay(self, message_id: str, *, by: str) -> IntakeResult:
        """Run a recorded message's original bytes through the path again, as its original submitter,
        without authentication or deduplication: a new message linked to the original (routes,
        directories and trust are those of today)."""
        original = self.hub.ledger.get_message(message_id)
        stored = self.hub.ledger.get_original(message_id)
        if original is None or stored is None:
            raise Problem("not-found", f"no message {message_id}")
        submitter = self.hub.participants.get(original.submitted_by)
        if submitter is None:
            raise Problem(
                "conflict", f"the original submitter {original.submitted_by} is no longer a participant"
            )
        body, content_type, signature, signer = stored
        # A JSON document's own detached signature travels beside it; one the hub added is made anew.
        jws = signature if signer != self.hub.identity.participant_id else None
        submission = Submission(
            body=body, content_type=content_type, submitted_by=submitter, jws_signature=jws
        )
        return self.submit(submission, replay=Replay(message_id, by))

    def _submit(
        self, submission: Submission, digest: str, context: dict[str, Any], replay: Replay | None = None
    ) -> IntakeResult:
        ledger = self.hub.ledger
        submitter = submission.submitted_by
        if submission.idempotency_key and replay is None:
            earlier = ledger.find_by_idempotency_key(submitter.id, submission.idempotency_key)
            if earlier is not None:
                if earlier.digest != digest:
                    raise Problem(
                        "idempotency-key-reused",
                        f"Idempotency-Key {submission.idempotency_key!r} was used for message {earlier.id}"
                        " with a different document",
                    )
                return self._duplicate(earlier, submitter, "idempotency-key")

        fmt = media_format(submission.content_type)
        with _checking(fmt):
            if fmt == "xml":
                checked = self._check_xml(submission, context)
            else:
                checked = self._check_json(submission, context)

        extracted = checked.extracted
        deliver_to = self._recipients_to_deliver(submitter, extracted)
        adapters = self.hub.routes.resolve(
            checked.doctype.name,
            extracted.sender,
            deliver_to,
            self.hub.participants,
            self.hub.directories.contains,
        )
        # Looked up first only when the hub would sign: a repeat must not cost a signature. Otherwise
        # the unique index answers: recording a repeat raises DuplicateMessage (below), one read less.
        if extracted.natural_key and replay is None and checked.sign is not None:
            earlier = ledger.find_by_natural_key(
                extracted.sender, checked.doctype.name, extracted.natural_key
            )
            if earlier is not None:
                return self._duplicate(earlier, submitter, "natural-key")
        if self.adapter_gate is not None:
            self.adapter_gate(
                adapters,
                IntakeDocument(
                    doctype=checked.doctype.name,
                    sender=extracted.sender,
                    recipient="",
                    document=checked.document,
                    content_type=checked.doctype.content_types[0],
                    parsed=checked.parsed,
                ),
            )

        with _checking(fmt):
            document, signature = checked.signed()
        new = NewMessage(
            id=str(uuid7()),  # time-ordered: inserts land on the indexes' last pages
            doctype=checked.doctype.name,
            sender=extracted.sender,
            submitted_by=submitter.id,
            recipients=list(extracted.recipients),
            correlation_key=extracted.correlation_key,
            natural_key=None if replay else extracted.natural_key,  # the original holds the natural key
            idempotency_key=None if replay else submission.idempotency_key,
            digest=digest,
            original=submission.body,
            document=document,
            # a document delivered as received (sender-signed) has the body's digest: not hashed twice
            document_digest=digest if document == submission.body else hashlib.sha256(document).hexdigest(),
            content_type=checked.doctype.content_types[0],
            signature=signature,
            signer=checked.signer,
            warnings=checked.warnings,
            adapters=adapters,
            deliver_to=deliver_to,
            replay_of=replay.original_id if replay else None,
            replayed_by=replay.by if replay else None,
        )
        set_message_id(new.id)
        try:
            record = ledger.record_message(new)
        except DuplicateMessage as race:  # the same document arrived twice at once
            return self._duplicate(race.existing, submitter, "natural-key")
        log.info("accepted %s from %s", record.doctype, record.sender, extra={"submitted_by": submitter.id})
        for listener in self.listeners:
            try:
                listener(record)
            except Exception:  # the message is durable; a listener's failure must not undo the 202
                log.exception("listener failed after recording message %s", record.id)
        return IntakeResult(message=record, warnings=checked.warnings)

    # -- XML ---------------------------------------------------------------------------------------

    def _check_xml(self, submission: Submission, context: dict[str, Any]) -> _Checked:
        hub, submitter = self.hub, submission.submitted_by
        lenient = submitter.inbound_profile == "lenient"
        parsed = parse_xml(submission.body, limits=self.xml_limits, lenient=lenient)
        _refuse_header_comments(parsed.root)
        doctype = hub.doctypes.identify_xml(parsed.root)
        context["doctype"] = doctype.name
        issues = hub.validator.validate_xml(doctype, parsed.root, profile=submitter.inbound_profile)
        warnings = parsed.warnings + [f"{issue.location}: {issue.message}" for issue in issues]

        if find_signatures(parsed.root):
            # parsed.root is not read after this: verification strips it in place, no copy of the tree
            verified = verify_enveloped(
                parsed.root, hub.trust, allow_sha1=hub.settings.allow_sha1_signatures, consume=True
            )
            extracted = extract_xml(doctype, verified.signed_root)  # only what the signature covers
            context["sender"] = extracted.sender
            self._authorise(submitter, extracted, signer=verified.signer)
            # Signed by a trusted participant: passed on unchanged (bar stray bytes before '<').
            return _Checked(doctype, extracted, parsed.data, None, verified.signer, warnings)

        extracted = extract_xml(doctype, parsed.root)
        context["sender"] = extracted.sender
        self._authorise(submitter, extracted, signer=None)
        parent = self._signature_parent(doctype, parsed.root)

        def sign() -> tuple[bytes, str | None]:
            # only the signature is inserted: the rest keeps the received bytes (line endings included)
            return sign_enveloped(parsed.root, hub.identity, parent=parent, received=parsed.data), None

        return _Checked(doctype, extracted, parsed.data, None, hub.identity.participant_id, warnings, sign)

    @staticmethod
    def _signature_parent(doctype: DocType, root: etree._Element) -> etree._Element:
        if not doctype.signature_parent:
            return root
        found = root.xpath(doctype.signature_parent, namespaces={"e": EDXML_NS})
        parent = found[0] if isinstance(found, list) and found else None
        if not isinstance(parent, etree._Element):
            raise Problem("schema-invalid", f"no element at {doctype.signature_parent} to hold the signature")
        return parent

    # -- JSON --------------------------------------------------------------------------------------

    def _check_json(self, submission: Submission, context: dict[str, Any]) -> _Checked:
        hub, submitter = self.hub, submission.submitted_by
        obj = parse_json(submission.body, limits=self.json_limits)
        if not isinstance(obj, dict):
            raise Problem("schema-invalid", "a JSON document must be an object")
        doctype = hub.doctypes.identify_json(obj)
        context["doctype"] = doctype.name
        hub.validator.validate_json(doctype, obj)
        # A detached JWS covers the exact body bytes, so the parsed object *is* the signed data.
        extracted = extract_json(doctype, obj)
        _refuse_nul_in_keys(extracted)
        context["sender"] = extracted.sender
        if submission.jws_signature:
            verified = verify_detached(submission.body, submission.jws_signature, hub.trust)
            self._authorise(submitter, extracted, signer=verified.signer)
            return _Checked(
                doctype, extracted, submission.body, submission.jws_signature, verified.signer, [], parsed=obj
            )
        self._authorise(submitter, extracted, signer=None)

        def sign() -> tuple[bytes, str | None]:
            return submission.body, sign_detached(submission.body, hub.identity)

        return _Checked(
            doctype, extracted, submission.body, None, hub.identity.participant_id, [], sign, parsed=obj
        )

    # -- shared steps ------------------------------------------------------------------------------

    def _authorise(self, submitter: Participant, extracted: Extracted, *, signer: str | None) -> None:
        if not self.hub.participants.may_send_as(submitter, extracted.sender):
            raise Problem(
                "forbidden-sender",
                f"participant {submitter.id} may not send documents whose sender is {extracted.sender}",
            )
        if signer is not None and signer not in (extracted.sender, submitter.id):
            raise Problem(
                "signer-mismatch",
                f"the document is signed by {signer}, but its sender is {extracted.sender}"
                f" and it was submitted by {submitter.id}",
            )

    def _recipients_to_deliver(self, submitter: Participant, extracted: Extracted) -> list[str]:
        """All recipients — except, for a relay that already reached them, those outside the hub."""
        if submitter.external_recipients == "deliver":
            return list(extracted.recipients)
        local = [r for r in extracted.recipients if r in self.hub.participants]
        if not local:
            raise Problem(
                "unknown-recipient",
                f"none of the recipients {', '.join(extracted.recipients)} is a participant of this hub",
            )
        return local

    def _duplicate(self, original: MessageRecord, submitter: Participant, matched_on: str) -> IntakeResult:
        self.hub.ledger.append_event(
            "message.duplicate",
            message_id=original.id,
            data={"submitted_by": submitter.id, "matched_on": matched_on},
        )
        return IntakeResult(message=original, duplicate=True)
