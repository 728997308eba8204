"""Options of the agency adapter (validated at start-up from config/adapters.yaml).

Webhook bearer tokens are never written in the options as plain values: each is either ``env:NAME``
(read from the environment variable NAME when the adapter starts) or ``dev:VALUE`` (a literal,
marked as a development value so that it stands out in review and in production configuration).
"""

from __future__ import annotations

import os

from pydantic import Field, field_validator

from hub.spi import AdapterOptions

from .mapping import DEFAULT_REFERENCE_FIELDS, DEFAULT_REFERENCE_HEADERS

TOKEN_FROM_ENV = "env:"
TOKEN_DEV_LITERAL = "dev:"


class AgencyOptions(AdapterOptions):
    """`timeout_seconds` (inherited) bounds each whole request; the others tune the webhook POST."""

    connect_timeout_seconds: float = Field(default=5.0, gt=0, description="connecting to the webhook")
    max_payload_bytes: int = Field(
        default=20 * 1024 * 1024, gt=0, description="larger documents fail permanently, unsent"
    )
    webhook_tokens: dict[str, str] = Field(
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

    @field_validator("webhook_tokens")
    @classmethod
    def _marked(cls, tokens: dict[str, str]) -> dict[str, str]:
        for participant, spec in tokens.items():
            if not spec.startswith((TOKEN_FROM_ENV, TOKEN_DEV_LITERAL)) or len(spec) <= 4:
                raise ValueError(
                    f"webhook token of {participant!r} must be 'env:VARIABLE' or 'dev:literal-value'"
                )
        return tokens

    def resolve_tokens(self) -> dict[str, str]:
        """participant id → the token itself; raises ValueError for a variable that is not set."""
        resolved: dict[str, str] = {}
        for participant, spec in self.webhook_tokens.items():
            if spec.startswith(TOKEN_FROM_ENV):
                name = spec[len(TOKEN_FROM_ENV) :]
                value = os.environ.get(name)
                if not value:
                    raise ValueError(f"webhook token of {participant!r}: variable {name} is not set")
                resolved[participant] = value
            else:
                resolved[participant] = spec[len(TOKEN_DEV_LITERAL) :]
        return resolved

    def development_tokens(self) -> list[str]:
        """Participants whose webhook token is a development literal (production should refuse them)."""
        return [p for p, spec in self.webhook_tokens.items() if spec.startswith(TOKEN_DEV_LITERAL)]
