"""The agency adapter: pushes hub messages to the province's own systems by webhook (HTTP POST).

Only transport lives here; what is sent and what the answer means is :mod:`adapters.agency.mapping`.
Retries, backoff and dead letters belong to the core's delivery engine: this adapter reports what the
peer said, once per call.

The transport is urllib3's pool (kept-alive connections per webhook host, thread-safe): it costs about
0.15 ms less CPU per POST than httpx's client on the same pool (bench/FINDINGS.md, issue 14).
"""

from __future__ import annotations

import logging
import ssl
from typing import ClassVar

import certifi
import urllib3
from urllib3.exceptions import HTTPError, LocationValueError, NewConnectionError
from urllib3.exceptions import TimeoutError as Urllib3Timeout

from hub.spi import (
    Adapter,
    AdapterOptions,
    Capabilities,
    DeliveryResult,
    HubServices,
    OutboundMessage,
    PermanentFailure,
)

from .mapping import MappingError, build_request, interpret_response, transport_failure
from .options import AgencyOptions

log = logging.getLogger("adapters.agency")


class AgencyAdapter(Adapter):
    """Delivers to `hub.participant(recipient).webhook_url`; receivers drop repeats by message id."""

    name: ClassVar[str] = "agency"
    Options: ClassVar[type[AdapterOptions]] = AgencyOptions
    capabilities: ClassVar[Capabilities] = Capabilities(
        acknowledges=True,
        deduplicates=True,
        receipt="synchronous",
        max_payload_bytes=AgencyOptions.model_fields["max_payload_bytes"].default,
    )

    def __init__(self, options: AdapterOptions, hub: HubServices) -> None:
        if not isinstance(options, AgencyOptions):
            options = AgencyOptions.model_validate(options.model_dump())
        super().__init__(options, hub)
        self.options: AgencyOptions = options
        self._tokens = options.resolve_tokens()
        if options.development_tokens():
            log.warning("development webhook tokens in use for: %s", ", ".join(options.development_tokens()))
        self._pool = urllib3.PoolManager(
            maxsize=options.max_connections,  # kept-alive connections per webhook host
            timeout=urllib3.Timeout(connect=options.connect_timeout_seconds, read=options.timeout_seconds),
            retries=False,  # one POST per call: retries are the core's; a redirect is answered, not followed
            ssl_context=_tls_context(options),
        )

    def deliver(self, message: OutboundMessage) -> DeliveryResult:
        """POST the document to the recipient's webhook; say what came of it (never raises for the peer)."""
        if len(message.document) > self.options.max_payload_bytes:
            return PermanentFailure(
                reason=f"document of {len(message.document)} bytes exceeds the agency webhook limit "
                f"of {self.options.max_payload_bytes} bytes"
            )
        participant = self.hub.participant(message.recipient)
        if participant is None:
            return PermanentFailure(reason=f"recipient {message.recipient!r} is not a known participant")
        try:
            request = build_request(message, participant.webhook_url, token=self._tokens.get(participant.id))
        except MappingError as exc:
            return PermanentFailure(reason=str(exc))
        try:
            response = self._pool.request(
                "POST", request.url, body=request.body, headers=request.headers, redirect=False
            )
        except NewConnectionError as exc:  # refused, unreachable, unknown host (urllib3 files it under
            # connect timeouts, so it is told apart first)
            return transport_failure("connection error", f"{type(exc).__name__} {exc} ({request.url})")
        except Urllib3Timeout as exc:
            return transport_failure("timeout", f"{type(exc).__name__} after {self._describe(request.url)}")
        except LocationValueError as exc:
            return PermanentFailure(reason=f"webhook URL not usable: {exc}")
        except (HTTPError, OSError) as exc:  # reset, closed mid-answer, TLS refused
            return transport_failure("connection error", f"{type(exc).__name__} {exc} ({request.url})")
        return interpret_response(
            response.status,
            response.headers,
            response.data,
            reference_fields=self.options.reference_fields,
            reference_headers=self.options.reference_headers,
        )

    def _describe(self, url: str) -> str:
        return f"{self.options.timeout_seconds:g}s ({url})"

    def development_secrets(self) -> list[str]:
        return [f"webhook_tokens[{p}]" for p in self.options.development_tokens()]

    def close(self) -> None:
        self._pool.clear()


def _tls_context(options: AgencyOptions) -> ssl.SSLContext:
    """The webhooks' TLS: the CA bundle of `ca_file` or certifi's (as httpx had it); none checked when
    `verify_tls` is off (the operator's choice, for a test bed)."""
    if not options.verify_tls:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    return ssl.create_default_context(cafile=options.ca_file or certifi.where())
