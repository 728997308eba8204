"""Options of the agency adapter (validated at start-up from config/adapters.yaml).

Webhook bearer tokens are never written in the options as plain values: each is either ``env:NAME``
(read from the environment variable NAME when the adapter starts) or ``dev:VALUE`` (a literal,
marked as a development value so that it stands out in review and in production configuration).
"""

from __future__ import annotations

from pydantic import Field

from hub.spi import AdapterOptions, SecretSpec, is_development_secret, resolve_secret

from .mapping import DEFAULT_REFERENCE_FIELDS, DEFAULT_REFERENCE_HEADERS


class AgencyOptions(AdapterOptions):
    """`timeout_seconds` (inherited) bounds each whole request; the others tune the webhook POST."""

    connect_timeout_seconds: float = Field(default=5.0, gt=0, description="connecting to the webhook")
    max_payload_bytes: int = Field(
        default=32 * 1024 * 1024,
        gt=0,
        description="larger documents are refused at intake (the hub's own default limit: 32 MiB)",
    )
    webhook_tokens: dict[str, SecretSpec] = Field(
        default_factory=dict,
        description="participant id → bearer token for its webhook: 'env:VARIABLE' or 'dev:literal'",
    )
    verify_tls: bool = Field(default=True, description="check the webhook's TLS certificate")
    ca_file: str | None = Field(default=None, description="CA bundle for agency webhooks (PEM)")
    max_connections: int = Field(default=50, ge=1, description="connection pool size (all webhooks)")
    reference_fields: list[str] = Field(
        default_factory=lambda: list(DEFAULT_REFERENCE_FIELDS),
        description="JSON answer fields holding the receiver's own id, first found wins",
    )
    reference_headers: list[str] = Field(
        default_factory=lambda: list(DEFAULT_REFERENCE_HEADERS),
        description="answer headers holding the receiver's own id, when the JSON has none",
    )

    def resolve_tokens(self) -> dict[str, str]:
        """participant id → the token itself; raises ValueError for a variable that is not set."""
        return {p: resolve_secret(spec, f"webhook token of {p!r}") for p, spec in self.webhook_tokens.items()}

    def development_tokens(self) -> list[str]:
        """Participants whose webhook token is a development literal (production should refuse them)."""
        return [p for p, spec in self.webhook_tokens.items() if is_development_secret(spec)]
