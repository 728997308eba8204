"""RFC 9457 problem details: every refusal the hub makes, with a stable type.

A refusal anywhere in the core raises :class:`Problem` with a slug from :data:`PROBLEM_TYPES`.
The HTTP layer renders it as ``application/problem+json``; the CLI prints its detail and exits 1.
The ``type`` URI is ``/problems/<slug>`` (relative, resolved against the hub's base URL; the hub
serves a human page there). Slugs are public API: add new ones, never rename.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

PROBLEM_TYPE_PREFIX = "/problems/"


@dataclass(frozen=True)
class ProblemType:
    slug: str
    status: int
    title: str


def _types(*items: tuple[str, int, str]) -> dict[str, ProblemType]:
    return {slug: ProblemType(slug, status, title) for slug, status, title in items}


PROBLEM_TYPES: dict[str, ProblemType] = _types(
    # transport and authentication
    ("unauthenticated", 401, "Missing or unknown bearer token"),
    ("forbidden-sender", 403, "The participant may not send as this sender"),
    ("forbidden-operator", 403, "Only operators may do this"),
    ("not-found", 404, "No such resource"),
    ("body-too-large", 413, "The body exceeds the size limit"),
    ("headers-too-large", 431, "The request's headers exceed the count or size limit"),
    ("unsupported-media-type", 415, "The content type is not accepted"),
    ("invalid-encoding", 400, "The body is not valid UTF-8"),
    ("encoding-not-utf8", 400, "The document declares or uses an encoding other than UTF-8"),
    ("invalid-request", 400, "The request is malformed"),
    ("storage-unavailable", 503, "The ledger cannot be written now; try again later"),
    # hardened parsing
    ("xml-malformed", 400, "The XML is not well-formed"),
    ("xml-forbidden-construct", 400, "The XML uses a forbidden construct (DTD, entity, processing)"),
    ("xml-too-deep", 400, "The XML nests deeper than allowed"),
    ("json-malformed", 400, "The JSON is not well-formed"),
    ("json-duplicate-key", 400, "The JSON object repeats a key"),
    ("json-too-deep", 400, "The JSON nests deeper than allowed"),
    ("json-invalid-unicode", 400, "A JSON string escapes a lone surrogate, which is no Unicode character"),
    # type and schema
    ("unknown-type", 422, "The document is of no registered type"),
    ("schema-invalid", 422, "The document does not match its schema"),
    # signatures and trust
    ("signature-invalid", 422, "The signature does not verify"),
    ("signature-reference-invalid", 422, "The signature does not cover the whole document"),
    ("signature-algorithm-forbidden", 422, "The signature uses a forbidden algorithm"),
    ("signer-unknown", 422, "The signer is not a known participant"),
    ("signer-untrusted", 422, "The signer's certificate does not chain to a trusted CA"),
    ("signer-expired", 422, "The signer's certificate is expired or not yet valid"),
    ("signer-revoked", 422, "The signer's certificate is revoked"),
    ("signer-mismatch", 422, "The signer is neither the sender nor the submitting participant"),
    # duplicates and routing
    ("idempotency-key-reused", 422, "The Idempotency-Key was used for another document"),
    ("unknown-recipient", 422, "A recipient is not a known participant"),
    ("too-many-recipients", 422, "The document names more recipients than its type allows"),
    ("route-forbidden", 403, "No route allows this type from this sender to this recipient"),
    # adapters (docs/adapters/README.md)
    ("payload-too-large-for-adapter", 413, "The document is larger than the adapter routed to it accepts"),
    ("undeliverable", 422, "The adapter routed to this recipient refuses the document at intake"),
    ("forbidden-submitter", 403, "The adapter may not submit documents as this participant"),
    ("conflict", 409, "The resource is not in a state that allows this action"),
    ("document-unprocessable", 422, "The document could not be checked; nothing was accepted"),
    ("internal-error", 500, "The hub failed; nothing was accepted"),
    ("not-ready", 503, "The hub is not ready to serve"),
)


class Problem(Exception):
    """A refusal with a stable problem type; raised by any step, rendered at the edge."""

    def __init__(
        self,
        slug: str,
        detail: str,
        *,
        errors: list[dict[str, Any]] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        if slug not in PROBLEM_TYPES:
            raise ValueError(f"unregistered problem type {slug!r}")
        super().__init__(detail)
        self.problem_type = PROBLEM_TYPES[slug]
        self.detail = detail
        self.errors = errors or []
        self.extra = extra or {}

    @property
    def slug(self) -> str:
        return self.problem_type.slug

    @property
    def status(self) -> int:
        return self.problem_type.status

    def to_dict(self, instance: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": PROBLEM_TYPE_PREFIX + self.slug,
            "title": self.problem_type.title,
            "status": self.status,
            "detail": self.detail,
        }
        if instance:
            body["instance"] = instance
        if self.errors:
            body["errors"] = self.errors
        body.update(self.extra)
        return body

    def __repr__(self) -> str:
        return f"Problem({self.slug!r}, {self.detail!r})"
