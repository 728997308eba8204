"""The adapter contract: the small public surface of the core that adapters import.

An adapter speaks one outside system's protocol. It declares its name, its options (a pydantic
model, validated at start-up), its capabilities, an outbound :meth:`Adapter.deliver`, and optionally
inbound doors: HTTP routers (webhooks, callbacks; mounted under ``/adapters/<name>``) and pollers
(cursor feeds). Inbound doors hand documents to :meth:`HubServices.submit`, the same intake path as
the HTTP API. Retries, dead-lettering, deduplication, signing and evidence belong to the core: an
adapter only maps and transports, and reports what the peer said.

Adapters are found through the ``lienthong.adapters`` entry-point group (name → Adapter subclass),
so an integrator's own package can add one without touching this repository.

Only ``hub.spi`` and ``hub.problems`` may be imported by adapters (their tests may use ``hub.kit``).

The contract is versioned (:data:`SPI_VERSION`, docs/adapters/README.md says what the version promises).
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal, Protocol

from fastapi import APIRouter
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from hub.problems import Problem

if TYPE_CHECKING:
    import typer

__all__ = [
    "RESERVED_ADAPTER_NAMES",
    "SPI_VERSION",
    "Adapter",
    "AdapterOptions",
    "Capabilities",
    "Delivered",
    "DeliveryOutcome",
    "DeliveryResult",
    "HubServices",
    "IntakeDocument",
    "OutboundMessage",
    "ParticipantInfo",
    "PermanentFailure",
    "Poller",
    "Problem",
    "Report",
    "RetryPolicy",
    "RetryableFailure",
    "SecretSpec",
    "SubmitResult",
    "is_development_secret",
    "resolve_secret",
]


#: MAJOR.MINOR of this contract. A MINOR adds (a hook with a default, an optional field, a new call);
#: a MAJOR removes or changes something, after one MINOR in which it was marked deprecated.
SPI_VERSION = "1.1"

#: Names no adapter may take: the core's own ledger-state owners and built-in adapters (checked at start-up).
RESERVED_ADAPTER_NAMES = frozenset({"inbox", "alerts", "hub", "lienthong", "core", "v1", "console"})

SECRET_FROM_ENV = "env:"
SECRET_DEV_LITERAL = "dev:"


def _check_secret_spec(spec: str) -> str:
    if not spec.startswith((SECRET_FROM_ENV, SECRET_DEV_LITERAL)) or len(spec) <= 4:
        raise ValueError("a secret must be 'env:VARIABLE' or 'dev:literal-value'")
    return spec


#: An option holding a secret, never a plain value: ``env:VARIABLE`` (read from the environment when
#: the adapter starts) or ``dev:literal`` (a development value; production mode refuses to start).
SecretSpec = Annotated[str, AfterValidator(_check_secret_spec)]


def resolve_secret(spec: str, what: str) -> str:
    """The secret a SecretSpec names; ValueError (naming `what`) when its variable is not set."""
    if spec.startswith(SECRET_FROM_ENV):
        name = spec[len(SECRET_FROM_ENV) :]
        value = os.environ.get(name)
        if not value:
            raise ValueError(f"{what}: variable {name} is not set")
        return value
    return spec[len(SECRET_DEV_LITERAL) :]


def is_development_secret(spec: str) -> bool:
    return spec.startswith(SECRET_DEV_LITERAL)


class Capabilities(BaseModel):
    """What the outside system does, so operators and the core know what a delivery proves."""

    model_config = ConfigDict(frozen=True)

    acknowledges: bool = Field(description="the peer answers whether it took the message")
    deduplicates: bool = Field(description="the peer drops repeats of the same hub message id")
    receipt: Literal["synchronous", "callback", "none"] = "synchronous"
    max_payload_bytes: int | None = None


class RetryPolicy(BaseModel):
    """Exponential backoff with jitter; after `max_attempts` the delivery is dead."""

    max_attempts: int = Field(default=8, ge=1)
    initial_delay_seconds: float = Field(default=5.0, gt=0)
    multiplier: float = Field(default=2.0, ge=1)
    max_delay_seconds: float = Field(default=3600.0, gt=0)
    jitter: float = Field(default=0.2, ge=0, le=1, description="± fraction of the delay chosen at random")


class AdapterOptions(BaseModel):
    """Base of every adapter's options; `retry` is read by the core's delivery engine."""

    model_config = ConfigDict(extra="forbid")

    retry: RetryPolicy = Field(default_factory=RetryPolicy)
    timeout_seconds: float = Field(default=30.0, gt=0)
    submits_as: list[str] = Field(
        default_factory=list,
        description="participant ids (shell globs) this adapter may submit documents as; read by the core",
    )


@dataclass(frozen=True)
class OutboundMessage:
    """One message to one recipient, as the adapter must transport it."""

    message_id: str  # the hub message id: peers use it to drop duplicates
    delivery_id: str
    doctype: str
    sender: str
    recipient: str
    correlation_key: str | None
    document: bytes  # exactly the bytes to deliver (hub-signed, or as signed by the sender)
    content_type: str
    signature: str | None  # detached JWS (RFC 7797) of a JSON document, for `x-jws-signature`
    attempt: int


@dataclass(frozen=True)
class IntakeDocument:
    """A document at intake, checked and routed but not yet recorded, for :meth:`Adapter.check_intake`."""

    doctype: str
    sender: str
    recipient: str  # the recipient this adapter is routed to deliver to
    document: bytes
    content_type: str
    parsed: Any  # the parsed JSON object, or None for XML


@dataclass(frozen=True)
class Delivered:
    peer_reference: str | None = None
    detail: str | None = None


@dataclass(frozen=True)
class RetryableFailure:
    reason: str  # the peer's words
    retry_after_seconds: float | None = None


@dataclass(frozen=True)
class PermanentFailure:
    reason: str  # the peer's words


DeliveryResult = Delivered | RetryableFailure | PermanentFailure


@dataclass(frozen=True)
class DeliveryOutcome:
    """A delivery that reached a final state (delivered or dead), as every adapter may observe it."""

    message_id: str
    delivery_id: str
    doctype: str
    sender: str
    submitted_by: str
    recipient: str
    adapter: str | None
    correlation_key: str | None
    state: Literal["delivered", "dead"]
    peer_reference: str | None
    error: str | None


@dataclass(frozen=True)
class SubmitResult:
    message_id: str
    duplicate: bool
    state: str
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ParticipantInfo:
    id: str
    name: str
    kind: str
    webhook_url: str | None
    attributes: dict[str, Any]


class HubServices(Protocol):
    """What the core offers adapters (inbound doors and pollers use it)."""

    def submit(
        self,
        body: bytes,
        *,
        content_type: str,
        as_participant: str,
        idempotency_key: str | None = None,
        jws_signature: str | None = None,
    ) -> SubmitResult:
        """Feed a document to the intake path as `as_participant`; raises Problem when refused."""
        ...

    def participant(self, participant_id: str) -> ParticipantInfo | None: ...

    def document(self, message_id: str) -> tuple[bytes, str] | None:
        """A recorded message's document (as delivered) and its content type."""
        ...

    def set_directory(self, adapter: str, entries: dict[str, str]) -> None:
        """Publish the recipients (id → name) this adapter can reach outside the hub's participants.

        Routes whose recipients say ``directory:<adapter>`` match exactly these ids, so a document to
        an id the outside system does not know is refused at intake (unknown-recipient)."""
        ...

    def record_event(
        self, adapter: str, kind: str, data: dict[str, Any], *, message_id: str | None = None
    ) -> None:
        """Put evidence in the ledger that is not a message: e.g. a forged or mismatched callback refused
        by the adapter. Recorded as event kind ``adapter.<kind>`` with the adapter's name in its data."""
        ...

    def raise_alert(
        self,
        adapter: str,
        kind: str,
        data: dict[str, Any],
        *,
        message_id: str | None = None,
        condition: str | None = None,
    ) -> None:
        """Tell the operators something needs a person (e.g. a fee paid twice): recorded as event kind
        ``alert.<kind>`` with the adapter's name in its data, listed on the console's alerts page and
        POSTed to the operators' alert webhook like the core's own alerts.

        With `condition` (a stable name of what is wrong, e.g. an order number) the alert is raised
        once however many processes raise it, until :meth:`resolve_alert` clears it."""
        ...

    def resolve_alert(self, adapter: str, kind: str, condition: str, data: dict[str, Any]) -> None:
        """The `condition` of an alert raised with one has cleared (e.g. the stalled parcel moved):
        recorded once as ``alert-resolved`` and POSTed to the webhook; nothing when it was not open."""
        ...

    def get_state(self, adapter: str, key: str) -> str | None:
        """A value the adapter persisted (e.g. a poller's cursor), or None."""
        ...

    def set_state(self, adapter: str, key: str, value: str) -> None:
        """Persist a value durably (e.g. a poller's cursor, after the items before it are recorded)."""
        ...

    def compare_and_set_state(self, adapter: str, key: str, expected: str | None, value: str) -> bool:
        """Set a value only if it still is `expected` (None: not set yet), atomically across every
        process of the hub; False when another process changed it first (read again and retry)."""
        ...


@dataclass(frozen=True)
class Report:
    """A table an adapter offers operators (e.g. a day's payment reconciliation). The console lists it
    under /console/reports and renders ``rows(params)`` generically, with a CSV download; ``params`` are
    the query parameters named in ``parameters`` (e.g. ``date``), as given (possibly empty)."""

    name: str  # stable, URL-safe: /console/reports/<adapter>/<name>
    title: str
    columns: Sequence[str]
    rows: Callable[[Mapping[str, str]], Sequence[Sequence[Any]]]
    parameters: Sequence[str] = ()
    description: str = ""


class Poller(ABC):
    """An inbound feed the core calls every `interval_seconds`. One process at a time runs a given
    poller (a lease in the ledger, named `<adapter>:<poller name>`, so names must be stable); if
    that process dies, another takes over when the lease expires."""

    name: str = "poller"
    interval_seconds: float = 5.0

    @abstractmethod
    def poll_once(self) -> int:
        """Fetch and submit what is new; return how many items were handled."""


class Adapter(ABC):
    """Subclass this; register the subclass under the `lienthong.adapters` entry-point group."""

    name: ClassVar[str]
    Options: ClassVar[type[AdapterOptions]] = AdapterOptions
    capabilities: ClassVar[Capabilities]

    def __init__(self, options: AdapterOptions, hub: HubServices) -> None:
        self.options = options
        self.hub = hub

    @abstractmethod
    def deliver(self, message: OutboundMessage) -> DeliveryResult:
        """Transport one message; never raise for a peer's refusal — return a failure instead."""

    def routers(self) -> list[APIRouter]:
        """Inbound HTTP doors (webhooks, callbacks), mounted under /adapters/<name>."""
        return []

    def pollers(self) -> list[Poller]:
        return []

    def reports(self) -> list[Report]:
        """Tables for operators, shown on the console (/console/reports) with a CSV download."""
        return []

    @classmethod
    def commands(cls, connect: Callable[[], Adapter]) -> typer.Typer | None:
        """Operators' commands, added to the CLI as one group (``lienthong <group name> ...``).

        Called when the CLI starts, before any hub runs; ``connect()`` (call it inside a command) builds
        the hub from the settings and returns this adapter, configured and connected to it."""
        return None

    def check_intake(self, document: IntakeDocument) -> list[Problem]:
        """Problems that make `document` undeliverable by this adapter, found at intake (the sender gets
        the first one, e.g. 422, instead of a 202 that dies at delivery). Quick, local, never raises."""
        return []

    def observe(self, outcome: DeliveryOutcome) -> None:  # noqa: B027 - optional hook, empty by default
        """Called after ANY delivery (any adapter's, or an inbox acknowledgement) becomes delivered or
        dead, in the process that recorded it. Must be quick and must not raise (errors are logged)."""

    def peer_urls(self) -> list[str]:
        """URLs of the outside systems this adapter calls; the hub watches their reachability
        (reported in /healthz, metrics and alerts; never part of readiness). Default: every http(s)
        option whose field name ends in ``url``. Override to leave out a URL the hub never calls
        (a browser's return page, say)."""
        return _option_urls(self.options.model_dump())

    def development_secrets(self) -> list[str]:
        """Names of options that still hold development values; production mode refuses to start
        while any remains."""
        return []

    def close(self) -> None:  # noqa: B027 - optional hook, empty by default
        """Release connections (called at shutdown)."""


def _option_urls(value: Any, name: str = "") -> list[str]:
    """The http(s) URLs in an options dump held by fields whose name ends in ``url``, in order."""
    if isinstance(value, dict):
        return [url for key, item in value.items() for url in _option_urls(item, str(key))]
    if isinstance(value, list):
        return [url for item in value for url in _option_urls(item, name)]
    if isinstance(value, str) and name.lower().endswith("url") and value.startswith(("http://", "https://")):
        return [value]
    return []
