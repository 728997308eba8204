"""The agency adapter: pushes hub messages to the province's own systems by webhook (HTTP POST).

Only transport lives here; what is sent and what the answer means is :mod:`adapters.agency.mapping`.
Retries, backoff and dead letters belong to the core's delivery engine: this adapter reports what the
peer said, once per call.
"""

from __future__ import annotations

import logging
import ssl
from typing import ClassVar

import httpx

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
        verify: bool | ssl.SSLContext = options.verify_tls
        if options.verify_tls and options.ca_file:
            verify = ssl.create_default_context(cafile=options.ca_file)
        self._client = httpx.Client(
            timeout=httpx.Timeout(options.timeout_seconds, connect=options.connect_timeout_seconds),
            limits=httpx.Limits(max_connections=options.max_connections),
            follow_redirects=False,
            verify=verify,
            trust_env=False,
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
            response = self._client.post(request.url, content=request.body, headers=request.headers)
        except httpx.TimeoutException as exc:
            return transport_failure("timeout", f"{type(exc).__name__} after {self._describe(request.url)}")
        except httpx.UnsupportedProtocol as exc:
            return PermanentFailure(reason=f"webhook URL not usable: {exc}")
        except httpx.TransportError as exc:
            return transport_failure("connection error", f"{type(exc).__name__} {exc} ({request.url})")
        return interpret_response(
            response.status_code,
            response.headers,
            response.content,
            reference_fields=self.options.reference_fields,
            reference_headers=self.options.reference_headers,
        )

    def _describe(self, url: str) -> str:
        return f"{self.options.timeout_seconds:g}s ({url})"

    def development_secrets(self) -> list[str]:
        return [f"webhook_tokens[{p}]" for p in self.options.development_tokens()]

    def close(self) -> None:
        self._client.close()
